"""
The worker's orchestration overhead on the CPU: how many jobs per second one worker moves through
consume (XREADGROUP), input reads (two small GETs), a zero-cost engine, the result upload (one small
PUT), the completion event and the ack, at batch 8, against a redis-server and a SeaweedFS of its
own. Printed next to baselines measured in the same run on the same services: a bare
XREADGROUP + XACK loop, and bare small PUTs and GETs with the same boto3 client.

    cd gpu-worker && .venv/bin/python -m bench.orchestration [--jobs 2000] [--batch 8]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import redis
from botocore.config import Config
from PIL import Image

from proteus_worker.contract import contract
from proteus_worker.engines.base import EngineJob, EngineName, JobFailed, ProgressCallback, Shape
from proteus_worker.engines.registry import Engines
from proteus_worker.log import Logger
from proteus_worker.main import ensure_jobs_group
from proteus_worker.runtime import Weaver
from proteus_worker.settings import load_settings
from proteus_worker.storage import ObjectStore, s3_client
from tests.services import S3_ACCESS_KEY, S3_SECRET_KEY, Service, start_redis, start_seaweedfs
from tests.tryon import garment_png, jpeg, pose, request

BUCKET = "bench"


class ZeroCostEngine:
    """Answers every job at once with one small prepared image: only the orchestration is measured."""

    name: EngineName = "warp"

    def __init__(self) -> None:
        self._image = Image.new("RGB", (48, 64), (90, 120, 200))

    def shape_of(self, width: int, height: int, steps: int | None, degraded: bool) -> Shape:
        return Shape(width, height, 0)

    def run_batch(self, jobs: Sequence[EngineJob], shape: Shape, on_progress: ProgressCallback) -> list[Image.Image | JobFailed]:
        return [self._image for _ in jobs]


class MemoryStore(ObjectStore):
    """Objects in a dict: the worker's own cost, with the object store taken out."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.bucket = "memory"

    def read(self, key: str, what: str, max_bytes: int) -> bytes:
        return self.objects[key]

    def write(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.0f}/s  {seconds / count * 1000:6.2f} ms each"


def baseline_stream(client: redis.Redis, count: int, batch: int) -> float:
    stream, group = "bench:raw", "raw"
    client.xgroup_create(stream, group, id="0", mkstream=True)
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.xadd(stream, {"event": '{"n":%d}' % i})
    pipe.execute()
    began = time.perf_counter()
    done = 0
    while done < count:
        answer: Any = client.xreadgroup(group, "c", {stream: ">"}, count=batch)
        ids = [entry_id for _s, entries in answer for entry_id, _f in entries]
        client.xack(stream, group, *ids)
        done += len(ids)
    return time.perf_counter() - began


def baseline_s3(call: Callable[[int], object], count: int, threads: int) -> float:
    began = time.perf_counter()
    if threads == 1:
        for i in range(count):
            call(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(call, range(count)))
    return time.perf_counter() - began


def measure_worker(redis_url: str, s3: Service, jobs: int, batch: int, in_memory: bool) -> tuple[float, dict[str, float]]:
    env = {
        "REDIS_URL": redis_url,
        "WORKER_NAME": "bench",
        "OBJECT_STORAGE_ENDPOINT": s3.url,
        "OBJECT_STORAGE_BUCKET": BUCKET,
        "OBJECT_STORAGE_ACCESS_KEY": S3_ACCESS_KEY,
        "OBJECT_STORAGE_SECRET_KEY": S3_SECRET_KEY,
        "WORKER_BATCH_WINDOW_MS": "500",
        "LOG_LEVEL": "error",
    }
    settings = load_settings(env)
    client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=30)
    c = contract()
    ensure_jobs_group(client, c)
    store = MemoryStore() if in_memory else ObjectStore(s3_client(settings), BUCKET)
    client.flushdb()
    ensure_jobs_group(client, c)
    store.write(c.object_key("u1", "person", "p", "jpg"), jpeg(), "image/jpeg")
    store.write(c.object_key("u1", "cloth_clean", "g", "png"), garment_png(), "image/png")
    client.set(c.batch_size_key, str(batch))
    engine = ZeroCostEngine()
    weaver = Weaver(settings, client, c, store, Engines(engine, {"warp": engine}), log=Logger(level="error"))
    landmarks = pose()
    events = [
        request(c.object_key("u1", "person", "p", "jpg"), c.object_key("u1", "cloth_clean", "g", "png"), seed=i, landmarks=landmarks)
        for i in range(jobs)
    ]
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(c.jobs_stream, {c.entry_field: json.dumps(event, separators=(",", ":"))})
    pipe.execute()

    phases = {"receive": 0.0, "prepare": 0.0, "run+deliver": 0.0}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] += time.perf_counter() - began

        return wrapper

    weaver._receive = timed("receive", weaver._receive)  # type: ignore[method-assign]
    weaver._admit = timed("prepare", weaver._admit)  # type: ignore[method-assign]
    weaver.run_batch = timed("run+deliver", weaver.run_batch)  # type: ignore[method-assign]
    began = time.perf_counter()
    while client.xlen(c.lifecycle_stream) < 2 * jobs:  # a started and a completed event per job
        weaver.turn()
    seconds = time.perf_counter() - began
    assert client.xpending(c.jobs_stream, c.jobs_group)["pending"] == 0
    return seconds, phases


def show_phases(phases: dict[str, float], n: int, total: float) -> None:
    for name, seconds in phases.items():
        print(f"    {name:<12} {seconds / n * 1000:6.2f} ms per job ({seconds / total:4.0%})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)

    print(f"starting redis-server and SeaweedFS ({os.cpu_count()} CPUs)...", file=sys.stderr)
    redis_service, s3 = start_redis(), start_seaweedfs()
    try:
        client = redis.Redis.from_url(redis_service.url + "/0", decode_responses=True)
        s3c = boto3.client(
            "s3", endpoint_url=s3.url, region_name="us-east-1", aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=S3_SECRET_KEY,
            config=Config(request_checksum_calculation="when_required", response_checksum_validation="when_required",
                          max_pool_connections=16),
        )
        s3c.create_bucket(Bucket=BUCKET)
        small = io.BytesIO()
        Image.new("RGB", (48, 64), (90, 120, 200)).save(small, format="PNG", compress_level=1)
        payload = small.getvalue()
        n = args.jobs

        raw_stream = baseline_stream(client, n, args.batch)
        put_1 = baseline_s3(lambda i: s3c.put_object(Bucket=BUCKET, Key=f"raw/{i}.png", Body=payload), n // 2, 1)
        put_8 = baseline_s3(lambda i: s3c.put_object(Bucket=BUCKET, Key=f"raw8/{i}.png", Body=payload), n, 8)
        get_8 = baseline_s3(lambda i: s3c.get_object(Bucket=BUCKET, Key=f"raw8/{i}.png")["Body"].read(), n, 8)
        worker_s, phases = measure_worker(redis_service.url + "/1", s3, n, args.batch, in_memory=False)
        memory_s, memory_phases = measure_worker(redis_service.url + "/2", s3, n, args.batch, in_memory=True)

        print(f"\norchestration, batch {args.batch}, {n} jobs, small images ({len(payload)} B result)")
        print(f"  baseline XREADGROUP COUNT {args.batch} + XACK      {rate(n, raw_stream)}")
        print(f"  baseline PUT, 1 thread                    {rate(n // 2, put_1)}")
        print(f"  baseline PUT, 8 threads                   {rate(n, put_8)}")
        print(f"  baseline GET, 8 threads                   {rate(n, get_8)}")
        print(f"  worker: consume + 2 GETs + decode + PUT + events + ack  {rate(n, worker_s)}")
        show_phases(phases, n, worker_s)
        bound = 1 / (put_8 / n + 2 * get_8 / n)
        print(f"    the same S3 calls alone (1 PUT + 2 GETs at the 8-thread baselines): {bound:.0f} jobs/s")
        print(f"  worker, objects in memory (its own cost)   {rate(n, memory_s)}")
        show_phases(memory_phases, n, memory_s)
    finally:
        s3.stop()
        redis_service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
