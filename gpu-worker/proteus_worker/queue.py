"""
The worker's side of `queue:jobs`: new entries by XREADGROUP as this consumer, entries other
(dead or stalled) consumers left idle by XAUTOCLAIM, and at start this consumer's own pending
entries from a previous life. Every entry comes back as a Delivery carrying its delivery count,
which decides when a job that keeps failing goes to the dead letters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from proteus_worker.contract import Contract


@dataclass
class Delivery:
    """One entry of the jobs stream as this worker received it."""

    entry_id: str
    raw: str | None
    """the entry's event text; None when the entry has no event field (or was deleted)"""
    attempts: int
    """deliveries so far, this one included"""
    read_at: float
    """monotonic clock reading when it was received"""

    @property
    def enqueued_ms(self) -> int:
        """When it was added (the entry id's millisecond part)."""
        return int(self.entry_id.split("-", 1)[0])


class JobQueue:
    def __init__(
        self,
        client: redis.Redis,
        c: Contract,
        consumer: str,
        reclaim_idle_ms: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._stream = c.jobs_stream
        self._group = c.jobs_group
        self._field = c.entry_field
        self.consumer = consumer
        self._reclaim_idle_ms = reclaim_idle_ms
        self._clock = clock
        self._cursor = "0-0"

    def read(self, count: int, block_ms: int) -> list[Delivery]:
        """Up to `count` new entries, waiting at most `block_ms` (0: do not wait) for the first."""
        if count <= 0:
            return []
        answer: Any = self._client.xreadgroup(
            self._group, self.consumer, {self._stream: ">"}, count=count, block=block_ms if block_ms > 0 else None
        )
        now = self._clock()
        out: list[Delivery] = []
        for _stream, entries in answer or []:
            for entry_id, fields in entries:
                out.append(Delivery(str(entry_id), self._event_of(fields), 1, now))
        return out

    def reclaim(self, count: int) -> list[Delivery]:
        """Up to `count` entries idle for the reclaim time on any consumer, now this one's."""
        if count <= 0:
            return []
        answer: Any = self._client.xautoclaim(
            self._stream, self._group, self.consumer, self._reclaim_idle_ms, start_id=self._cursor, count=count
        )
        self._cursor = str(answer[0])
        # entries deleted from the stream while pending (answer[2]) are dropped from the group by
        # XAUTOCLAIM itself: there is nothing left to run or to park
        return self._with_attempts([(str(entry_id), fields) for entry_id, fields in answer[1]])

    def claim_own(self, count: int) -> list[Delivery]:
        """This consumer's pending entries (left by an earlier process of the same name), claimed again."""
        pending = self._client.xpending_range(self._stream, self._group, "-", "+", count, consumername=self.consumer)
        ids = [str(p["message_id"]) for p in pending]
        if not ids:
            return []
        claimed: Any = self._client.xclaim(self._stream, self._group, self.consumer, 0, list[Any](ids))
        # entries deleted from the stream meanwhile are not returned (and leave the group)
        return self._with_attempts([(str(entry_id), fields) for entry_id, fields in claimed if fields is not None])

    def attempts(self, ids: Sequence[str]) -> dict[str, int]:
        """Delivery counts of pending entries (absent: no longer pending)."""
        pipe = self._client.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xpending_range(self._stream, self._group, entry_id, entry_id, 1)
        counts: dict[str, int] = {}
        for entry_id, rows in zip(ids, pipe.execute(), strict=True):
            if rows:
                counts[entry_id] = int(rows[0]["times_delivered"])
        return counts

    def _with_attempts(self, entries: list[tuple[str, Any]]) -> list[Delivery]:
        if not entries:
            return []
        counts = self.attempts([entry_id for entry_id, _ in entries])
        now = self._clock()
        return [
            Delivery(entry_id, self._event_of(fields), counts.get(entry_id, 1), now)
            for entry_id, fields in entries
            if entry_id in counts
        ]

    def _event_of(self, fields: Any) -> str | None:
        if not fields:
            return None
        value = fields.get(self._field)
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        return value if isinstance(value, str) else None
