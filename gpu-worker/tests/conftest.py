"""Real services for the tests: Redis ($PROTEUS_TEST_REDIS_URL, else a redis-server started here)
and an S3 server ($PROTEUS_TEST_S3_ENDPOINT, else SeaweedFS started here), a bucket per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import redis
from botocore.config import Config

from tests.services import S3_ACCESS_KEY, S3_SECRET_KEY, ServiceError, start_seaweedfs
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


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def env(self, bucket: str) -> dict[str, str]:
        """The worker's OBJECT_STORAGE_* variables for `bucket` on this server."""
        return {
            "OBJECT_STORAGE_ENDPOINT": self.endpoint,
            "OBJECT_STORAGE_BUCKET": bucket,
            "OBJECT_STORAGE_REGION": "us-east-1",
            "OBJECT_STORAGE_ACCESS_KEY": self.access_key,
            "OBJECT_STORAGE_SECRET_KEY": self.secret_key,
        }


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """$PROTEUS_TEST_S3_ENDPOINT (SeaweedFS under `npm test`), else a SeaweedFS started here."""
    endpoint = os.environ.get("PROTEUS_TEST_S3_ENDPOINT")
    if endpoint:
        yield S3Server(
            endpoint, os.environ.get("PROTEUS_TEST_S3_ACCESS_KEY", ""), os.environ.get("PROTEUS_TEST_S3_SECRET_KEY", "")
        )
        return
    try:
        service = start_seaweedfs()
    except ServiceError as error:
        pytest.fail(f"no S3 server: set PROTEUS_TEST_S3_ENDPOINT (source .test/env) or install SeaweedFS: {error}")
    try:
        yield S3Server(service.url, S3_ACCESS_KEY, S3_SECRET_KEY)
    finally:
        service.stop()


@pytest.fixture
def bucket(s3_server: S3Server) -> Iterator[str]:
    """A fresh bucket, emptied and removed after the test."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        config=Config(request_checksum_calculation="when_required", response_checksum_validation="when_required"),
    )
    name = f"test-worker-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objects:
            client.delete_objects(Bucket=name, Delete={"Objects": objects})  # type: ignore[typeddict-item]
    client.delete_bucket(Bucket=name)
