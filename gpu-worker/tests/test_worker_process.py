"""Real worker processes against the real Redis and S3 server, with a slow fake engine
(WORKER_TEST_ENGINE): a worker killed with -9 mid-batch loses nothing and duplicates nothing,
and SIGTERM finishes the batch under way, hands the rest back and exits 0."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import S3Server
from tests.tryon import Objects, enqueue, lifecycle, of_type, pending, pose, request

ROOT = Path(__file__).resolve().parents[1]
RECLAIM_IDLE_MS = 1000


class WorkerProcess:
    def __init__(self, redis_url: str, s3: S3Server, bucket: str, name: str, delay_s: float) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "WORKER_", "OBJECT_STORAGE_", "FAKE_"))}
        env.update(
            REDIS_URL=redis_url,
            WORKER_NAME=name,
            WORKER_HEALTH_PORT="0",
            WORKER_HEARTBEAT_INTERVAL_S="0.5",
            WORKER_BATCH_WINDOW_MS="100",
            WORKER_RECLAIM_IDLE_MS=str(RECLAIM_IDLE_MS),
            WORKER_TEST_ENGINE="tests.fakes:slow_engine",
            FAKE_ENGINE_DELAY_S=str(delay_s),
            LOG_LEVEL="warn",
            **s3.env(bucket),
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proteus_worker"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=self._pump, args=(self.process.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.errors.append), daemon=True).start()
        try:
            line = self.lines.get(timeout=30)
        except queue.Empty:
            self.process.kill()
            pytest.fail(f"worker {name} did not start: {''.join(self.errors)[-2000:]}")
        assert "listening on" in line, line

    @staticmethod
    def _pump(stream: Any, put: Callable[[str], None]) -> None:
        for line in stream:
            put(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def started_jobs(r: redis.Redis) -> list[str]:
    return [e["data"]["jobId"] for e in of_type(lifecycle(r), "progress")]


def test_kill_9_mid_batch_loses_and_duplicates_nothing(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, workers: list[WorkerProcess]
) -> None:
    objects = Objects(s3_server, bucket)
    person, garment = objects.person(), objects.garment()
    r.set("config:batch_size", "4")
    requests = [request(person, garment, seed=i, landmarks=pose()) for i in range(8)]
    enqueue(r, *requests)
    all_ids = {str(e["data"]["jobId"]) for e in requests}

    doomed = WorkerProcess(redis_url, s3_server, bucket, "doomed", delay_s=60)
    workers.append(doomed)
    wait_for("the first batch to start", lambda: len(started_jobs(r)) == 4)
    in_batch = set(started_jobs(r))
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()
    assert of_type(lifecycle(r), "completed") == []

    rescuer = WorkerProcess(redis_url, s3_server, bucket, "rescuer", delay_s=0.2)
    workers.append(rescuer)
    wait_for("every job to complete", lambda: len(of_type(lifecycle(r), "completed")) >= len(all_ids))
    time.sleep(0.5)  # a duplicate would arrive now
    completed = of_type(lifecycle(r), "completed")
    counts = Counter(str(e["data"]["jobId"]) for e in completed)
    assert set(counts) == all_ids and set(counts.values()) == {1}, counts
    attempts = {str(e["data"]["jobId"]): e["data"]["attempts"] for e in completed}
    assert all(attempts[job] == 2 for job in in_batch), attempts  # taken over from the killed worker
    assert of_type(lifecycle(r), "failed") == [] and pending(r) == []
    assert sorted(objects.keys("users/u1/results/")) == sorted(f"users/u1/results/{job}.png" for job in all_ids)

    rescuer.process.send_signal(signal.SIGTERM)
    assert rescuer.process.wait(timeout=20) == 0


def test_sigterm_finishes_the_batch_and_hands_back_the_rest(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, workers: list[WorkerProcess]
) -> None:
    objects = Objects(s3_server, bucket)
    person, garment = objects.person(), objects.garment()
    r.set("config:batch_size", "2")
    requests = [request(person, garment, seed=i, landmarks=pose()) for i in range(4)]
    enqueue(r, *requests)

    draining = WorkerProcess(redis_url, s3_server, bucket, "draining", delay_s=2)
    workers.append(draining)
    wait_for("the first batch to start", lambda: len(started_jobs(r)) == 2)
    in_batch = set(started_jobs(r))
    draining.process.send_signal(signal.SIGTERM)
    assert draining.process.wait(timeout=30) == 0
    assert {str(e["data"]["jobId"]) for e in of_type(lifecycle(r), "completed")} == in_batch
    left = pending(r)
    assert len(left) == 2 and all(p["time_since_delivered"] >= RECLAIM_IDLE_MS for p in left), left

    successor = WorkerProcess(redis_url, s3_server, bucket, "successor", delay_s=0)
    workers.append(successor)
    wait_for("the rest to complete", lambda: len(of_type(lifecycle(r), "completed")) == 4, timeout_s=30)
    counts = Counter(str(e["data"]["jobId"]) for e in of_type(lifecycle(r), "completed"))
    assert set(counts.values()) == {1} and len(counts) == 4
    successor.process.send_signal(signal.SIGTERM)
    assert successor.process.wait(timeout=20) == 0
