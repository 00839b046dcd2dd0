"""The worker process against a real Redis."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from proteus_worker.health import health_server
from tests.support import free_port

INTERVAL_S = 0.2
LISTENING = re.compile(r"^proteus gpu-worker (\S+) listening on http://([^:]+):(\d+) \(engine (\w+)\)$")


def worker_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "WORKER_", "OBJECT_STORAGE_"))}
    return {**env, **values}


@dataclass
class Worker:
    process: subprocess.Popen[str]
    name: str
    port: int
    lines: queue.Queue[str]

    def get(self, path: str) -> tuple[int, dict[str, str]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def start_worker(redis_url: str, name: str) -> Worker:
    process = subprocess.Popen(
        [sys.executable, "-m", "proteus_worker"],
        env=worker_env(
            REDIS_URL=redis_url,
            WORKER_NAME=name,
            WORKER_HEALTH_PORT="0",
            WORKER_HEARTBEAT_INTERVAL_S=str(INTERVAL_S),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout

    def pump() -> None:
        for out in stdout:
            lines.put(out)

    threading.Thread(target=pump, daemon=True).start()
    try:
        line = lines.get(timeout=20).rstrip("\n")
    except queue.Empty:
        process.kill()
        pytest.fail(f"no listening line; stderr: {process.communicate()[1]}")
    match = LISTENING.match(line)
    assert match, line
    assert match.group(1) == name and match.group(2) == "127.0.0.1" and match.group(4) == "auto"
    return Worker(process, name, int(match.group(3)), lines)


@pytest.fixture
def worker(redis_url: str) -> Iterator[Worker]:
    w = start_worker(redis_url, "test-worker-1")
    yield w
    if w.process.poll() is None:
        w.process.kill()
        w.process.wait()


def test_worker_creates_group_beats_and_answers_health(worker: Worker, r: redis.Redis) -> None:
    groups = r.xinfo_groups("queue:jobs")
    assert [(g["name"], g["last-delivered-id"]) for g in groups] == [("weavers", "0-0")]

    key = "worker:heartbeat:test-worker-1"
    beat = json.loads(r.get(key) or "{}")
    assert set(beat) == {"name", "engine", "pid", "startedAt", "at", "version"}
    assert (beat["name"], beat["engine"], beat["pid"]) == ("test-worker-1", "auto", worker.process.pid)
    assert beat["at"].endswith("Z") and beat["startedAt"] <= beat["at"]
    assert 0 < r.pttl(key) <= 3 * INTERVAL_S * 1000

    time.sleep(3 * INTERVAL_S)  # outlives one expiry: only refreshing keeps the key
    later = json.loads(r.get(key) or "{}")
    assert later["startedAt"] == beat["startedAt"] and later["at"] > beat["at"]

    assert worker.get("/health") == (200, {"status": "ok", "redis": "ok", "name": "test-worker-1"})
    assert worker.get("/nope")[0] == 404
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "proteus_worker_heartbeat_timestamp_seconds " in metrics and "proteus_worker_jobs_total" in metrics

    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=5) == 0
    assert r.exists(key) == 0


def test_existing_group_is_kept(redis_url: str, r: redis.Redis) -> None:
    entry = r.xadd("queue:jobs", {"event": "{}"})
    r.xgroup_create("queue:jobs", "weavers", id="$")
    w = start_worker(redis_url, "test-worker-2")
    try:
        assert [(g["name"], g["last-delivered-id"]) for g in r.xinfo_groups("queue:jobs")] == [("weavers", entry)]
        assert r.xlen("queue:jobs") == 1
    finally:
        w.process.send_signal(signal.SIGINT)
        assert w.process.wait(timeout=5) == 0


def test_unreachable_redis_exits_1_without_the_password() -> None:
    url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "proteus_worker"],
        env=worker_env(REDIS_URL=url, WORKER_NAME="test-worker-3", WORKER_HEALTH_PORT="0"),
        capture_output=True,
        text=True,
        timeout=40,
    )
    assert result.returncode == 1
    assert 9 < time.monotonic() - started < 30
    assert "REDIS_URL" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout
    assert "127.0.0.1" in result.stderr


def test_health_is_503_when_redis_is_down() -> None:
    server = health_server("127.0.0.1", 0, "w", lambda: False)
    try:
        port = server.server_address[1]
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
        assert caught.value.code == 503
        assert json.loads(caught.value.read()) == {"status": "unavailable", "redis": "unreachable", "name": "w"}
    finally:
        server.shutdown()
        server.server_close()
