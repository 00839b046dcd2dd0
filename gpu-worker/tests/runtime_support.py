"""An in-process Weaver on the test Redis and bucket, driven turn by turn, with a clock the test moves."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import redis

from proteus_worker.contract import contract
from proteus_worker.engines.base import Engine
from proteus_worker.engines.registry import Engines
from proteus_worker.log import Logger
from proteus_worker.main import ensure_jobs_group
from proteus_worker.runtime import Weaver
from proteus_worker.settings import load_settings
from proteus_worker.storage import ObjectStore, s3_client
from tests.conftest import S3Server


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_weaver(
    redis_url: str,
    s3: S3Server,
    bucket: str,
    engine: Engine,
    *,
    name: str = "w1",
    clock: Callable[[], float] = time.monotonic,
    engines: Engines | None = None,
    env: Mapping[str, str] | None = None,
    **more_env: str,
) -> Weaver:
    values = {"REDIS_URL": redis_url, "WORKER_NAME": name, **s3.env(bucket), **(env or {}), **more_env}
    settings = load_settings(values)
    client = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=10)
    ensure_jobs_group(client, contract())
    store = ObjectStore(s3_client(settings), bucket)
    chosen = engines or Engines(engine, {"warp": engine, "catvton": engine})
    return Weaver(settings, client, contract(), store, chosen, log=Logger(level="error"), clock=clock)


def turn_until(weaver: Weaver, done: Callable[[], Any], turns: int = 200) -> None:
    """Turns the weaver until `done()` is true; fails after `turns` turns."""
    for _ in range(turns):
        if done():
            return
        weaver.turn()
    assert done(), f"not done after {turns} turns"
