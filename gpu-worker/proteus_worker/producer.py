"""
The producer, twin of eventing's `createProducer`: `emit` validates a CloudEvent against the
contract and XADDs it as one field holding compact JSON. Streams stay bounded without ever
trimming an entry a consumer group still needs: XADD trims with `MINID ~` below the oldest
entry any group has pending or not yet delivered, and never inside the retention window.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from proteus_worker.contract import contract, validate_event

DEFAULT_SOURCE = "/proteus/gpu-worker"
DEFAULT_RETENTION_MS = 600_000
DEFAULT_REFRESH_S = 1.0

StreamId = tuple[int, int]
_MAX_SEQ = 2**64 - 1


def make_event(
    type: str,
    data: Mapping[str, Any],
    source: str = DEFAULT_SOURCE,
    id: str | None = None,
    time: str | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """A CloudEvent 1.0 envelope of `type` around `data`, validated against the contract."""
    event: dict[str, Any] = {
        "specversion": contract().specversion,
        "id": id if id is not None else str(uuid.uuid4()),
        "source": source,
        "type": type,
        "time": time if time is not None else _iso_now(),
        "datacontenttype": "application/json",
    }
    if subject is not None:
        event["subject"] = subject
    event["data"] = dict(data)
    return validate_event(event)


class Producer:
    """Appends validated events to streams, trimming each below its safe point.

    The safe point of a stream is the lowest id some consumer group may still read: the
    smallest pending id of a group with pending entries, else the id right after the group's
    last-delivered-id; the minimum over all groups. A stream with no group is never trimmed.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        refresh_s: float = DEFAULT_REFRESH_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if retention_ms < 0:
            raise ValueError(f"retention_ms {retention_ms} must be 0 or more")
        if refresh_s < 0:
            raise ValueError(f"refresh_s {refresh_s} must be 0 or more")
        self._client = client
        self._retention_ms = retention_ms
        self._refresh_s = refresh_s
        self._clock = clock
        self._entry_field = contract().entry_field
        # stream -> (clock reading when computed, safe point or None)
        self._safe_points: dict[str, tuple[float, StreamId | None]] = {}

    def emit(self, stream: str, event: Mapping[str, Any]) -> str:
        """Validate `event` and append it to `stream`; return the new entry id.

        An invalid event raises EventValidationError before anything is written.
        """
        valid = validate_event(event)
        # Same text as JSON.stringify: compact, key order kept, non-ASCII as is.
        payload = json.dumps(valid, separators=(",", ":"), ensure_ascii=False)
        now = self._clock()
        minid = self._trim_point(stream, now)
        if minid is None:
            entry_id = self._client.xadd(stream, {self._entry_field: payload})
        else:
            entry_id = self._client.xadd(stream, {self._entry_field: payload}, minid=minid, approximate=True)
        return _text(entry_id)

    def emit_many(self, stream: str, events: Sequence[Mapping[str, Any]]) -> list[str]:
        """Validate every event, then append them to `stream` in one round trip; their new entry ids."""
        payloads = [json.dumps(validate_event(e), separators=(",", ":"), ensure_ascii=False) for e in events]
        if not payloads:
            return []
        minid = self.trim_point(stream)
        pipe = self._client.pipeline(transaction=False)
        for payload in payloads:
            if minid is None:
                pipe.xadd(stream, {self._entry_field: payload})
            else:
                pipe.xadd(stream, {self._entry_field: payload}, minid=minid, approximate=True)
        return [_text(entry_id) for entry_id in pipe.execute()]

    def trim_point(self, stream: str) -> str | None:
        """The MINID an XADD to `stream` may trim to now (cached safe point, retention window); None: no trim."""
        return self._trim_point(stream, self._clock())

    def safe_trim_id(self, stream: str) -> str | None:
        """The stream's safe point as read now (no cache, no retention window); None: do not trim."""
        point = self._read_safe_point(stream)
        return None if point is None else _format(point)

    def _trim_point(self, stream: str, now: float) -> str | None:
        cached = self._safe_points.get(stream)
        if cached is None or now - cached[0] >= self._refresh_s:
            # A cached point only lags behind the true one (groups move forward), so using it
            # between refreshes trims less, never more.
            cached = (now, self._read_safe_point(stream))
            self._safe_points[stream] = cached
        safe = cached[1]
        if safe is None:
            return None
        retention_floor = (max(0, int(now * 1000) - self._retention_ms), 0)
        return _format(min(safe, retention_floor))

    def _read_safe_point(self, stream: str) -> StreamId | None:
        try:
            groups = self._client.xinfo_groups(stream)
        except redis.ResponseError as error:
            if "no such key" in str(error).lower():
                return None
            raise
        lowest: StreamId | None = None
        for group in groups:
            name = _text(group["name"])
            # Read last-delivered before the pending summary: anything delivered in between is
            # above it, so the point found is never too high.
            point = _after(_parse(_text(group["last-delivered-id"])))
            if int(group["pending"]) > 0:
                summary = self._client.xpending(stream, name)
                if int(summary["pending"]) > 0 and summary["min"] is not None:
                    point = min(point, _parse(_text(summary["min"])))
            lowest = point if lowest is None else min(lowest, point)
        return lowest


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _parse(entry_id: str) -> StreamId:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _format(entry_id: StreamId) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


def _after(entry_id: StreamId) -> StreamId:
    """The smallest id above `entry_id`."""
    ms, seq = entry_id
    return (ms + 1, 0) if seq == _MAX_SEQ else (ms, seq + 1)
