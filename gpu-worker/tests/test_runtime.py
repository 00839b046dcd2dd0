"""The Weaver in-process against the real Redis and S3 server, with a fake engine: batching,
outcomes, progress, the latency profile, claims, retries and dead letters."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from PIL import Image

from proteus_worker.contract import contract
from proteus_worker.engines.registry import Engines
from proteus_worker.engines.warp import WarpEngine
from proteus_worker.log import Logger
from proteus_worker.queue import JobQueue
from tests.conftest import S3Server
from tests.fakes import FakeEngine
from tests.runtime_support import FakeClock, make_weaver, turn_until
from tests.tryon import Objects, dead_letters, enqueue, garment_png, jpeg, lifecycle, of_type, pending, pose, request


@pytest.fixture
def objects(s3_server: S3Server, bucket: str) -> Objects:
    return Objects(s3_server, bucket)


def jobs(objects: Objects, count: int, *, width: int = 48, height: int = 64, first_seed: int = 1) -> list[dict[str, Any]]:
    person = objects.person(jpeg(width, height))
    garment = objects.garment()
    return [request(person, garment, seed=first_seed + i, landmarks=pose()) for i in range(count)]


def test_a_batch_fills_to_config_batch_size(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    engine = FakeEngine()
    clock = FakeClock()  # frozen: the window never passes, only a full batch is released
    weaver = make_weaver(redis_url, s3_server, bucket, engine, clock=clock)
    r.set("config:batch_size", "4")
    requests = jobs(objects, 5)
    enqueue(r, *requests)
    turn_until(weaver, lambda: len(engine.batches) == 1)
    assert engine.batches == [[str(e["data"]["jobId"]) for e in requests[:4]]]
    completed = of_type(lifecycle(r), "completed")
    assert [e["data"]["batchSize"] for e in completed] == [4, 4, 4, 4]
    assert len(weaver.collector) == 1  # the fifth waits for its window


def test_a_partial_batch_is_released_when_its_window_passes(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    engine = FakeEngine()
    clock = FakeClock()
    weaver = make_weaver(redis_url, s3_server, bucket, engine, clock=clock, WORKER_BATCH_WINDOW_MS="500")
    r.set("config:batch_size", "4")
    enqueue(r, *jobs(objects, 2))
    for _ in range(3):
        weaver.turn()
    assert engine.batches == [] and len(weaver.collector) == 2
    clock.advance(0.499)
    weaver.turn()
    assert engine.batches == []
    clock.advance(0.001)
    weaver.turn()
    assert [len(b) for b in engine.batches] == [2]


def test_batches_group_jobs_by_shape(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    engine = FakeEngine()
    weaver = make_weaver(redis_url, s3_server, bucket, engine, clock=FakeClock())
    r.set("config:batch_size", "2")
    small, large = jobs(objects, 2, width=48, height=64), jobs(objects, 2, width=96, height=128, first_seed=10)
    enqueue(r, small[0], large[0], small[1], large[1])
    turn_until(weaver, lambda: len(engine.batches) == 2)
    assert engine.batches == [
        [str(small[0]["data"]["jobId"]), str(small[1]["data"]["jobId"])],
        [str(large[0]["data"]["jobId"]), str(large[1]["data"]["jobId"])],
    ]
    assert [s.resolution for s in engine.shapes] == ["48x64", "96x128"]


def test_batch_size_changes_take_effect_between_batches(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    engine = FakeEngine()
    weaver = make_weaver(redis_url, s3_server, bucket, engine, clock=FakeClock())
    r.set("config:batch_size", "2")
    enqueue(r, *jobs(objects, 6))
    turn_until(weaver, lambda: len(engine.batches) == 1)
    r.set("config:batch_size", "4")
    turn_until(weaver, lambda: len(engine.batches) == 2)
    assert [len(b) for b in engine.batches] == [2, 4]


@pytest.mark.parametrize(("value", "size"), [(None, 1), ("not a number", 1), ("0", 1), ("500", 8)])
def test_batch_size_falls_back_and_is_capped(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, value: str | None, size: int
) -> None:
    weaver = make_weaver(redis_url, s3_server, bucket, FakeEngine(), WORKER_MAX_BATCH_SIZE="8")
    if value is not None:
        r.set("config:batch_size", value)
    r.set("config:degraded_mode", "1")
    assert weaver.policy() == (size, True)


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("config:batch_size", "-3"),
        ("config:batch_size", "2.5"),
        ("config:batch_size", "８"),
        ("config:degraded_mode", "maybe"),
        ("config:degraded_mode", "2"),
    ],
)
def test_an_unknown_config_value_is_ignored_with_one_warning_and_the_last_good_one_kept(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, key: str, bad: str
) -> None:
    weaver = make_weaver(redis_url, s3_server, bucket, FakeEngine(), WORKER_MAX_BATCH_SIZE="8")
    out = io.StringIO()
    weaver.log = Logger(level="warn", out=out)
    r.set("config:batch_size", "4")
    r.set("config:degraded_mode", "1")
    assert weaver.policy() == (4, True)
    r.set(key, bad)
    assert weaver.policy() == (4, True)
    assert weaver.policy() == (4, True)
    warnings = [json.loads(line) for line in out.getvalue().splitlines()]
    kept = 4 if key == "config:batch_size" else True
    assert warnings == [{**warnings[0], "level": "warn", "msg": "ignoring an unknown config value", "key": key, "value": bad, "kept": kept}]
    r.set("config:batch_size", "2")
    r.set("config:degraded_mode", "0")
    assert weaver.policy() == (2, False)
    r.set(key, bad)  # the same unknown value again after a good one: warned again, the new good value kept
    assert weaver.policy() == (2, False)
    assert len(out.getvalue().splitlines()) == 2


def test_unknown_values_before_any_good_one_fall_back_to_batch_1_at_full_resolution(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str
) -> None:
    weaver = make_weaver(redis_url, s3_server, bucket, FakeEngine())
    out = io.StringIO()
    weaver.log = Logger(level="warn", out=out)
    r.set("config:batch_size", "many")
    r.set("config:degraded_mode", "yes please")
    assert weaver.policy() == (1, False)
    assert [json.loads(line)["key"] for line in out.getvalue().splitlines()] == ["config:batch_size", "config:degraded_mode"]
    r.set("config:degraded_mode", "TRUE")
    assert weaver.policy() == (1, True)
    r.delete("config:batch_size", "config:degraded_mode")
    assert weaver.policy() == (1, False)


def test_degraded_mode_changes_the_shape(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    engine = FakeEngine()
    weaver = make_weaver(redis_url, s3_server, bucket, engine)
    r.set("config:degraded_mode", "1")
    enqueue(r, *jobs(objects, 1, width=96, height=128))
    turn_until(weaver, lambda: len(engine.batches) == 1)
    assert engine.shapes[0].resolution == "48x64"


def test_completion_uploads_emits_and_acks(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    engine = FakeEngine(steps=3)
    weaver = make_weaver(redis_url, s3_server, bucket, engine)
    [job] = jobs(objects, 1, first_seed=5)
    [entry] = enqueue(r, job)
    turn_until(weaver, lambda: len(engine.batches) == 1)
    data = job["data"]
    key = f"users/u1/results/{data['jobId']}.png"
    result = Image.open(io.BytesIO(objects.get(key)))
    assert (result.format, result.size, result.getpixel((0, 0))) == ("PNG", (48, 64), (5 * 37 % 256, 5 * 101 % 256, 35))

    events = lifecycle(r)
    assert [e["type"] for e in events] == ["dev.proteus.tryon.progress", "dev.proteus.tryon.completed"]
    started, completed = events
    assert started["data"] == {"jobId": data["jobId"], "userId": "u1", "step": 0, "steps": 3}
    done = completed["data"]
    assert (done["jobId"], done["vtonId"], done["resultKey"], done["attempts"]) == (
        data["jobId"], data["vtonId"], key, 1,
    )
    assert (done["engine"], done["resolution"], done["batchSize"]) == ("catvton", "48x64", 1)
    assert done["waitMs"] >= 0 and done["runMs"] >= 0
    assert completed["id"] == f"{data['jobId']}.completed" and completed["source"] == "/proteus/gpu-worker"
    assert pending(r) == [] and r.xlen("queue:jobs") == 1 and entry


def test_progress_reaches_the_owner_every_few_steps(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    engine = FakeEngine(steps=5)
    weaver = make_weaver(redis_url, s3_server, bucket, engine, WORKER_PROGRESS_EVERY="2")
    subscriber = r.pubsub()  # type: ignore[no-untyped-call]
    subscriber.subscribe("events:job_done")
    subscriber.get_message(timeout=2)  # the subscribe confirmation
    [job] = jobs(objects, 1)
    enqueue(r, job)
    turn_until(weaver, lambda: len(engine.batches) == 1)
    data = job["data"]
    messages = []
    while (message := subscriber.get_message(timeout=0.5)) is not None:
        # pub/sub spans every database of the server: suites running beside this one publish too
        if (published := json.loads(message["data"])).get("job_id") == data["jobId"]:
            messages.append(published)
    subscriber.close()
    assert messages == [
        {
            "type": "progress", "userId": "u1", "job_id": data["jobId"], "status": "running",
            "result_url": None, "vton_id": data["vtonId"], "kind": "tryon", "step": step, "steps": 5,
        }
        for step in (2, 4, 5)
    ]


def test_a_failing_job_is_isolated_in_its_batch(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    engine = FakeEngine(fail_seeds=[2])
    weaver = make_weaver(redis_url, s3_server, bucket, engine, clock=FakeClock())
    r.set("config:batch_size", "3")
    requests = jobs(objects, 3)
    enqueue(r, *requests)
    turn_until(weaver, lambda: len(engine.batches) == 1)
    events = lifecycle(r)
    assert sorted(e["data"]["jobId"] for e in of_type(events, "completed")) == sorted(
        str(requests[i]["data"]["jobId"]) for i in (0, 2)
    )
    [failed] = of_type(events, "failed")
    assert failed["data"]["jobId"] == requests[1]["data"]["jobId"]
    assert failed["data"]["error"] == "the fake engine refuses seed 2"
    assert (failed["data"]["engine"], failed["data"]["batchSize"], failed["data"]["attempts"]) == ("catvton", 3, 1)
    assert pending(r) == []


def test_a_crashing_batch_is_split_and_the_poison_job_dead_lettered_after_n_deliveries(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    engine = FakeEngine(crash_seeds=[666])
    weaver = make_weaver(
        redis_url, s3_server, bucket, engine,
        WORKER_RECLAIM_IDLE_MS="200", WORKER_MAX_DELIVERIES="3", WORKER_BATCH_WINDOW_MS="50",
    )
    r.set("config:batch_size", "3")
    person, garment = objects.person(), objects.garment()
    good = [request(person, garment, seed=s, landmarks=pose()) for s in (1, 2)]
    poison = request(person, garment, seed=666, landmarks=pose())
    [_, poison_entry, _] = enqueue(r, good[0], poison, good[1])
    turn_until(weaver, lambda: dead_letters(r), turns=400)

    events = lifecycle(r)
    assert sorted(ids(of_type(events, "completed"))) == sorted(str(g["data"]["jobId"]) for g in good)
    [failed] = of_type(events, "failed")
    assert failed["data"]["jobId"] == poison["data"]["jobId"] and failed["data"]["attempts"] == 3
    assert failed["data"]["error"].startswith("failed 3 deliveries; last error: engine error: RuntimeError")
    [letter] = dead_letters(r)
    assert json.loads(letter["event"]) == poison
    assert {k: v for k, v in letter.items() if k not in ("event", "at", "reason")} == {
        "stream": "queue:jobs", "group": "weavers", "route": "gpu-worker", "entry": poison_entry, "status": "", "attempts": "3",
    }
    assert letter["reason"] == failed["data"]["error"] and letter["at"].endswith("Z")
    # the first batch ran whole, then one job at a time; the poison job ran once per delivery
    assert engine.batches[0] == [str(good[0]["data"]["jobId"]), str(poison["data"]["jobId"]), str(good[1]["data"]["jobId"])]
    assert sum(b == [poison["data"]["jobId"]] for b in engine.batches) == 3
    assert pending(r) == []


def test_an_entry_delivered_too_often_is_dead_lettered_without_running(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    """A job whose workers died N times (e.g. it crashes the process) is parked on the next delivery."""
    engine = FakeEngine()
    weaver = make_weaver(redis_url, s3_server, bucket, engine, WORKER_RECLAIM_IDLE_MS="100", WORKER_MAX_DELIVERIES="2")
    [job] = jobs(objects, 1)
    [entry] = enqueue(r, job)
    dying = JobQueue(r, contract(), "dying-worker", 100)
    assert [d.entry_id for d in dying.read(1, 0)] == [entry]
    time.sleep(0.15)
    assert [d.attempts for d in dying.reclaim(1)] == [2]  # the second worker dies too
    time.sleep(0.15)
    turn_until(weaver, lambda: dead_letters(r))
    assert engine.batches == []
    [letter] = dead_letters(r)
    assert letter["attempts"] == "3"
    assert letter["reason"] == "not finished after 2 deliveries; last error: the worker holding it stopped or died each time"
    [failed] = of_type(lifecycle(r), "failed")
    assert failed["data"]["attempts"] == 3 and failed["data"]["error"] == letter["reason"]


def test_claims_of_a_running_batch_are_kept_alive(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    engine = FakeEngine(delay_s=1.5)
    weaver = make_weaver(redis_url, s3_server, bucket, engine, WORKER_RECLAIM_IDLE_MS="200")
    enqueue(r, *jobs(objects, 1))
    weaver.claims.start()
    try:
        runner = threading.Thread(target=turn_until, args=(weaver, lambda: len(engine.batches) == 1 and not weaver.collector.items()))
        runner.start()
        assert engine.started.wait(10)
        thief = JobQueue(r, contract(), "thief", 200)
        stolen = []
        while runner.is_alive():  # for the whole batch, far longer than the reclaim idle time
            stolen += thief.reclaim(10)
            time.sleep(0.05)
        runner.join()
    finally:
        weaver.claims.stop()
    assert stolen == []
    assert len(of_type(lifecycle(r), "completed")) == 1


def test_the_latency_profile_is_kept_in_redis(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    engine = FakeEngine(steps=2)
    weaver = make_weaver(redis_url, s3_server, bucket, engine)
    for round_ in range(3):
        enqueue(r, *jobs(objects, 1, first_seed=round_))
        turn_until(weaver, lambda: len(engine.batches) == round_ + 1)
    value = json.loads(r.hget("worker:profile", "catvton:48x64:2:1") or "{}")
    assert value["samples"] == 2  # the first batch of a shape is a warm-up, not recorded
    assert value["seconds"] > 0 and value["at"].endswith("Z")
    assert weaver.profile.estimate("catvton", engine.shapes[0], 1) == pytest.approx(value["seconds"])


def test_metrics_count_batches_and_outcomes(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    engine = FakeEngine(fail_seeds=[2])
    weaver = make_weaver(redis_url, s3_server, bucket, engine, clock=FakeClock())
    r.set("config:batch_size", "2")
    enqueue(r, *jobs(objects, 2))
    turn_until(weaver, lambda: len(engine.batches) == 1)
    text = weaver.metrics.exposition()[0].decode()
    assert 'proteus_worker_jobs_total{engine="catvton",outcome="completed"} 1.0' in text
    assert 'proteus_worker_jobs_total{engine="catvton",outcome="failed"} 1.0' in text
    assert 'proteus_worker_batch_size_bucket{engine="catvton",le="2.0"} 1.0' in text
    assert 'proteus_worker_batch_run_seconds_count{batch_size="2",engine="catvton",resolution="48x64",steps="4"} 1.0' in text
    for name in ("queue_wait_seconds_count", "gpu_seconds_per_job_count", "heartbeat_timestamp_seconds", "batch_size_target"):
        assert f"proteus_worker_{name}" in text


def ids(events: list[dict[str, Any]]) -> Iterator[str]:
    return (str(e["data"]["jobId"]) for e in events)


def test_a_deadline_the_measured_catvton_time_cannot_meet_goes_to_warp(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    catvton, warp = FakeEngine("catvton"), WarpEngine()
    engines = Engines(catvton, {"catvton": catvton, "warp": warp})
    weaver = make_weaver(redis_url, s3_server, bucket, catvton, engines=engines)
    r.hset("worker:profile", "catvton:48x64:4:1", json.dumps({"seconds": 120.0, "samples": 9, "at": "2026-11-29T00:00:00.000Z"}))
    soon = (datetime.now(UTC) + timedelta(seconds=60)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    later = (datetime.now(UTC) + timedelta(seconds=600)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    person, garment = objects.person(), objects.garment()
    hurried = request(person, garment, seed=1, landmarks=pose(), deadline=soon)
    relaxed = request(person, garment, seed=2, landmarks=pose(), deadline=later)
    mask = objects.put(contract().object_key("u1", "mask", "m", "png"), garment_png(48, 64), "image/png")
    blind = request(person, garment, seed=3, deadline=soon, maskKey=mask)
    enqueue(r, hurried, relaxed, blind)
    turn_until(weaver, lambda: len(of_type(lifecycle(r), "completed")) == 3)
    engines_used = {e["data"]["jobId"]: e["data"]["engine"] for e in of_type(lifecycle(r), "completed")}
    assert engines_used == {
        hurried["data"]["jobId"]: "warp",
        relaxed["data"]["jobId"]: "catvton",
        blind["data"]["jobId"]: "catvton",  # no landmarks to warp with: it stays on catvton
    }


def test_a_restarted_worker_finishes_its_own_pending_jobs_first(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    engine = FakeEngine()
    weaver = make_weaver(redis_url, s3_server, bucket, engine, name="w1")  # reclaim idle 30 s: no takeover
    [job] = jobs(objects, 1)
    [entry] = enqueue(r, job)
    assert [d.entry_id for d in JobQueue(r, contract(), "w1", 30_000).read(1, 0)] == [entry]  # then "w1" dies
    runner = threading.Thread(target=weaver.run)
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while not of_type(lifecycle(r), "completed") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        weaver.stopping.set()
        runner.join(timeout=20)
    [done] = of_type(lifecycle(r), "completed")
    assert done["data"]["jobId"] == job["data"]["jobId"] and done["data"]["attempts"] == 2
    assert pending(r) == []
