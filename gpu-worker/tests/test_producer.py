"""The producer against a real Redis: what emit writes, and that trimming never drops an entry
a consumer group still needs."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from proteus_worker.contract import EventValidationError, contract, contract_dir, validate_event
from proteus_worker.producer import Producer, _after, make_event

INVALID = sorted((contract_dir().parent / "test-vectors" / "invalid").glob("*.json"))
HOUR_MS = 3_600_000


class FakeClock:
    """Seconds since the epoch, moved only by the test."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stream() -> str:
    return contract().streams["lifecycle"]


@pytest.fixture
def group(stream: str) -> str:
    return contract().stream_groups[stream]


def progress(step: int = 1) -> dict[str, Any]:
    return make_event("dev.proteus.tryon.progress", {"jobId": "job-1", "userId": "u1", "step": step, "steps": 50})


def fill(r: redis.Redis, stream: str, count: int) -> list[str]:
    """Append `count` valid entries directly (fast), returning their ids in order."""
    field = contract().entry_field
    pipe = r.pipeline(transaction=False)
    for step in range(count):
        pipe.xadd(stream, {field: json.dumps(progress(step + 1), separators=(",", ":"))})
    return [str(entry_id) for entry_id in pipe.execute()]


def read(r: redis.Redis, stream: str, group: str, count: int, consumer: str = "c1") -> list[str]:
    """Deliver the next `count` entries of `group` to `consumer`, returning their ids."""
    answer: Any = r.xreadgroup(group, consumer, {stream: ">"}, count=count)
    return [entry_id for _, entries in answer for entry_id, _ in entries]


def ids(r: redis.Redis, stream: str) -> list[str]:
    entries: Any = r.xrange(stream)
    return [entry_id for entry_id, _ in entries]


def emit_many(producer: Producer, stream: str, count: int) -> None:
    for step in range(count):
        producer.emit(stream, progress(step + 1))


def trimming_producer(r: redis.Redis, clock: FakeClock | None = None) -> Producer:
    """No retention window, a fresh safe point on every emit."""
    return Producer(r, retention_ms=0, refresh_s=0, clock=clock or FakeClock(time.time() + HOUR_MS / 1000))


def test_emit_writes_one_entry_holding_the_event_as_compact_json(r: redis.Redis, stream: str) -> None:
    event = make_event(
        "dev.proteus.tryon.progress", {"jobId": "job-1", "userId": "u1", "step": 3, "steps": 50}, subject="Jüne’s job"
    )
    entry_id = Producer(r).emit(stream, event)
    entries: Any = r.xrange(stream)
    [(got_id, fields)] = entries
    assert got_id == entry_id
    assert fields == {contract().entry_field: json.dumps(event, separators=(",", ":"), ensure_ascii=False)}
    assert json.loads(fields["event"]) == event
    assert '"subject":"Jüne’s job"' in fields["event"]


def test_emit_returns_bytes_ids_as_text(redis_url: str, stream: str) -> None:
    client = redis.Redis.from_url(redis_url)  # no decode_responses
    try:
        producer = trimming_producer(client)
        client.xgroup_create(stream, contract().stream_groups[stream], id="0", mkstream=True)
        entry_id = producer.emit(stream, progress())
        assert isinstance(entry_id, str) and re.fullmatch(r"\d+-\d+", entry_id)
        assert producer.safe_trim_id(stream) == "0-1"
    finally:
        client.close()


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_event_raises_and_writes_nothing(r: redis.Redis, stream: str, path: Path) -> None:
    fill(r, stream, 1)
    case = json.loads(path.read_text())
    with pytest.raises(EventValidationError):
        Producer(r).emit(stream, case["event"])
    assert r.xlen(stream) == 1


def test_make_event_builds_a_valid_cloudevent() -> None:
    event = progress(7)
    assert validate_event(event) is event
    assert list(event) == ["specversion", "id", "source", "type", "time", "datacontenttype", "data"]
    assert (event["specversion"], event["source"], event["datacontenttype"]) == (
        "1.0",
        "/proteus/gpu-worker",
        "application/json",
    )
    assert uuid.UUID(event["id"]).version == 4
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"])
    assert progress()["id"] != progress()["id"]

    given = make_event(
        "dev.proteus.tryon.progress",
        {"jobId": "j", "userId": "u", "step": 1, "steps": 2},
        source="/proteus/test",
        id="evt-9",
        time="2026-01-02T03:04:05.678Z",
        subject="j",
    )
    assert (given["source"], given["id"], given["time"], given["subject"]) == (
        "/proteus/test",
        "evt-9",
        "2026-01-02T03:04:05.678Z",
        "j",
    )


def test_make_event_rejects_bad_data() -> None:
    with pytest.raises(EventValidationError, match="data.step"):
        make_event("dev.proteus.tryon.progress", {"jobId": "j", "userId": "u", "step": 1.5, "steps": 2})


def test_missing_stream_has_nothing_to_trim(r: redis.Redis, stream: str) -> None:
    producer = trimming_producer(r)
    assert producer.safe_trim_id(stream) is None
    entry_id = producer.emit(stream, progress())
    assert ids(r, stream) == [entry_id]


def test_stream_without_group_keeps_every_entry(r: redis.Redis, stream: str) -> None:
    filled = fill(r, stream, 300)
    producer = trimming_producer(r)
    assert producer.safe_trim_id(stream) is None
    emit_many(producer, stream, 20)
    assert r.xlen(stream) == 320
    assert ids(r, stream)[:300] == filled


def test_undelivered_entries_are_never_trimmed(r: redis.Redis, stream: str, group: str) -> None:
    r.xgroup_create(stream, group, id="0", mkstream=True)
    producer = trimming_producer(r)
    assert producer.safe_trim_id(stream) == "0-1"
    filled = fill(r, stream, 300)
    emit_many(producer, stream, 20)
    assert ids(r, stream)[:300] == filled and r.xlen(stream) == 320


def test_acked_entries_are_trimmed_but_pending_and_undelivered_stay(r: redis.Redis, stream: str, group: str) -> None:
    r.xgroup_create(stream, group, id="0", mkstream=True)
    filled = fill(r, stream, 500)
    delivered = read(r, stream, group, 300)
    assert delivered == filled[:300]
    pending = [filled[250], filled[280]]
    r.xack(stream, group, *[entry_id for entry_id in delivered if entry_id not in pending])

    producer = trimming_producer(r)
    assert producer.safe_trim_id(stream) == pending[0]
    emit_many(producer, stream, 50)
    kept = set(ids(r, stream))
    assert set(filled[250:]) <= kept, "a pending or undelivered entry was trimmed"
    assert r.xlen(stream) < 450, "acked entries older than the oldest pending one were not trimmed"

    # Once the pending ones are acked, the safe point moves past every delivered entry.
    r.xack(stream, group, *pending)
    assert producer.safe_trim_id(stream) == _after_id(filled[299])
    emit_many(producer, stream, 50)
    assert set(filled[300:]) <= set(ids(r, stream))
    assert r.xlen(stream) < 400


def test_the_slower_group_bounds_trimming(r: redis.Redis, stream: str, group: str) -> None:
    slow = "slow-readers"
    r.xgroup_create(stream, group, id="0", mkstream=True)
    r.xgroup_create(stream, slow, id="0")
    filled = fill(r, stream, 500)
    r.xack(stream, group, *read(r, stream, group, 500))
    r.xack(stream, slow, *read(r, stream, slow, 150, consumer="s1"))

    producer = trimming_producer(r)
    assert producer.safe_trim_id(stream) == _after_id(filled[149])
    emit_many(producer, stream, 30)
    assert set(filled[150:]) <= set(ids(r, stream)), "trimmed an entry the slower group has not read"

    r.xack(stream, slow, *read(r, stream, slow, 1000, consumer="s1"))
    emit_many(producer, stream, 30)
    assert r.xlen(stream) < 200, "both groups acked everything, yet the stream was not trimmed"


def test_retention_window_keeps_young_entries(r: redis.Redis, stream: str, group: str) -> None:
    r.xgroup_create(stream, group, id="0", mkstream=True)
    fill(r, stream, 500)
    r.xack(stream, group, *read(r, stream, group, 500))

    clock = FakeClock()
    producer = Producer(r, retention_ms=600_000, refresh_s=0, clock=clock)
    emit_many(producer, stream, 20)
    assert r.xlen(stream) == 520, "entries younger than the retention window were trimmed"

    clock.now += 11 * 60
    emit_many(producer, stream, 20)
    assert r.xlen(stream) < 200, "entries older than the retention window were not trimmed"


def test_safe_point_is_cached_between_refreshes(r: redis.Redis, stream: str, group: str) -> None:
    r.xgroup_create(stream, group, id="0", mkstream=True)
    fill(r, stream, 500)
    delivered = read(r, stream, group, 500)

    clock = FakeClock(time.time() + HOUR_MS / 1000)
    producer = Producer(r, retention_ms=0, refresh_s=10, clock=clock)
    producer.emit(stream, progress())  # computes the point: everything is still pending
    r.xack(stream, group, *delivered)
    emit_many(producer, stream, 5)
    assert r.xlen(stream) == 506, "the cached point should have been used until the refresh"

    clock.now += 10
    producer.emit(stream, progress())
    assert r.xlen(stream) < 200


def test_after_rolls_over_the_sequence() -> None:
    assert _after((5, 7)) == (5, 8)
    assert _after((5, 2**64 - 1)) == (6, 0)


def test_rejects_negative_settings(r: redis.Redis) -> None:
    with pytest.raises(ValueError, match="retention_ms -1"):
        Producer(r, retention_ms=-1)
    with pytest.raises(ValueError, match="refresh_s -0.5"):
        Producer(r, refresh_s=-0.5)


def _after_id(entry_id: str) -> str:
    ms, seq = entry_id.split("-")
    ms_seq = _after((int(ms), int(seq)))
    return f"{ms_seq[0]}-{ms_seq[1]}"
