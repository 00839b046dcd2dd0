"""A real Redis for the service tests: $PROTEUS_TEST_REDIS_URL, else a redis-server started here."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from tests.support import free_port


def _allocate_db(base_url: str) -> int:
    """A database number of its own, allocated the way @proteus/testkit does (INCR on db 0),
    so suites running in parallel against one Redis never share keys."""
    admin = redis.Redis.from_url(f"{base_url}/0")
    try:
        try:
            databases = int(admin.config_get("databases").get("databases") or 16)
        except redis.ResponseError:
            databases = 16  # managed Redis may forbid CONFIG
        allocated = admin.incr("testkit:next-db")
        return int(str(allocated)) % (databases - 1) + 1
    finally:
        admin.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL (no database) of a running Redis."""
    given = os.environ.get("PROTEUS_TEST_REDIS_URL")
    if given:
        yield urlsplit(given)._replace(path="").geturl()
        return
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).is_file():
        pytest.fail(
            "redis-server is not installed; install it (apt-get install redis-server) "
            "or run the tests through `npm test`, which starts one"
        )
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"redis-server on port {port} did not start (exit code {process.poll()})")
            time.sleep(0.05)
    client.close()
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_db(redis_server: str) -> int:
    return _allocate_db(redis_server)


@pytest.fixture
def redis_url(redis_server: str, redis_db: int) -> Iterator[str]:
    """A URL of this session's own database, flushed before each test."""
    url = f"{redis_server}/{redis_db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    yield url


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()
