"""
The worker service: check the configuration, reach Redis, make sure the jobs group exists, pick
the engines, keep a heartbeat key alive, answer /health and /metrics, and run the Weaver
(runtime.py) until SIGTERM or SIGINT, which finish the batch under way before the exit.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import redis

from proteus_worker import __version__
from proteus_worker.contract import Contract, ContractError, contract
from proteus_worker.engines.registry import EngineUnavailable, build_engines
from proteus_worker.health import health_server
from proteus_worker.log import Logger
from proteus_worker.metrics import WorkerMetrics
from proteus_worker.runtime import IDLE_BLOCK_MS, Weaver
from proteus_worker.settings import SettingsError, WorkerSettings, load_settings
from proteus_worker.storage import DEFAULT_BUCKET, ObjectStore, s3_client

PROG = "proteus gpu-worker"
CONNECT_DEADLINE_S = 10.0


def redact_url(url: str) -> str:
    """`url` with its password replaced by ***, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wait_for_redis(client: redis.Redis, stopping: threading.Event, deadline_s: float) -> Exception | None:
    """Ping until Redis answers (None), `deadline_s` passes or a stop is asked (the last error)."""
    deadline = time.monotonic() + deadline_s
    delay = 0.1
    while True:
        try:
            client.ping()
            return None
        except redis.RedisError as error:
            left = deadline - time.monotonic()
            if left <= 0 or stopping.wait(min(delay, left)):
                return error
            delay = min(delay * 2, 2.0)


def ensure_jobs_group(client: redis.Redis, c: Contract) -> None:
    """Create the jobs group at 0 with MKSTREAM; an existing group is kept as it is (never destroyed)."""
    try:
        client.xgroup_create(c.jobs_stream, c.jobs_group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def heartbeat_payload(settings: WorkerSettings, started_at: str) -> str:
    return json.dumps(
        {
            "name": settings.worker_name,
            "engine": settings.worker_engine,
            "pid": os.getpid(),
            "startedAt": started_at,
            "at": now_iso(),
            "version": __version__,
        }
    )


def supervisor_gone() -> bool:
    """Under the dev stack's supervisor (PROTEUS_SUPERVISOR_PID): true once it has died,
    so a `kill -9` of the supervisor leaves no worker behind."""
    pid = int(os.environ.get("PROTEUS_SUPERVISOR_PID", "0") or 0)
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def serve(settings: WorkerSettings, c: Contract) -> int:
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())

    client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=1, socket_timeout=2
    )
    error = wait_for_redis(client, stopping, CONNECT_DEADLINE_S)
    if stopping.is_set():
        return 0
    if error is not None:
        print(
            f"{PROG}: cannot reach Redis at REDIS_URL={redact_url(settings.redis_url)} "
            f"after {CONNECT_DEADLINE_S:g} s: {error}",
            file=sys.stderr,
        )
        return 1
    try:
        ensure_jobs_group(client, c)
    except redis.RedisError as error:
        print(f"{PROG}: cannot create group {c.jobs_group} on {c.jobs_stream}: {error}", file=sys.stderr)
        return 1

    def redis_ok() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    try:
        engines = build_engines(settings)
    except EngineUnavailable as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    log = Logger(level=settings.log_level, worker=settings.worker_name)
    log.info("engines ready", default=engines.default.name, engines=sorted(engines.by_name), why=engines.note)

    heartbeat_key = c.worker_heartbeat(settings.worker_name)
    interval = settings.worker_heartbeat_interval_s
    started_at = now_iso()

    def beat() -> None:
        try:
            client.set(heartbeat_key, heartbeat_payload(settings, started_at), px=int(3 * interval * 1000))
        except redis.RedisError as error:
            # Keep going: /health reports the outage and the next beat may succeed.
            log.warn("heartbeat failed", error=str(error))

    def beating() -> None:
        while not stopping.wait(interval):
            if supervisor_gone():
                log.warn("the dev supervisor is gone; stopping")
                stopping.set()
                break
            beat()

    metrics = WorkerMetrics()
    # the loop's own connection: XREADGROUP blocks up to a second, beyond the probe client's timeout
    worker_client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_connect_timeout=2, socket_timeout=IDLE_BLOCK_MS / 1000 + 10
    )
    store = ObjectStore(s3_client(settings), settings.object_storage_bucket or DEFAULT_BUCKET)
    weaver = Weaver(settings, worker_client, c, store, engines, log=log, metrics=metrics, stopping=stopping)

    beat()
    host = settings.worker_health_host
    try:
        server = health_server(host, settings.worker_health_port, settings.worker_name, redis_ok, metrics.exposition)
    except OSError as error:
        print(f"{PROG}: cannot listen on {host}:{settings.worker_health_port}: {error}", file=sys.stderr)
        client.delete(heartbeat_key)
        return 1
    port = server.server_address[1]
    print(
        f"{PROG} {settings.worker_name} listening on http://{host}:{port} (engine {settings.worker_engine})",
        flush=True,
    )
    threading.Thread(target=beating, name="heartbeat", daemon=True).start()
    try:
        weaver.run()
        log.info("stopped", batches=weaver.batches_run)
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        try:
            client.delete(heartbeat_key)
        except redis.RedisError as error:
            print(f"{PROG}: could not delete {heartbeat_key}: {error}", file=sys.stderr)
        client.close()
        worker_client.close()
    return 0


def main() -> int:
    try:
        c = contract()
        settings = load_settings()
    except ContractError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except SettingsError as error:
        print(f"{PROG}: invalid configuration\n{error}", file=sys.stderr)
        return 2
    return serve(settings, c)
