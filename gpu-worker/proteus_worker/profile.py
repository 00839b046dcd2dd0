"""
The worker's measured latency profile, shared through Redis for the arbitrator: seconds per
batch by (engine, resolution, steps, batch size), an exponentially weighted mean folded in by
one Lua script so workers updating the same shape never lose a sample. The first batch of each
key in a process is a warm-up (allocator, kernel choice, torch.compile) and is not recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis

from proteus_worker.contract import Contract
from proteus_worker.engines.base import Shape
from proteus_worker.scripts import script

WEIGHT = 0.2
"""weight of a new sample once a key has 1/WEIGHT samples"""
REFRESH_S = 5.0
"""how long a read copy of the profile is used before it is read again"""


def profile_field(engine: str, shape: Shape, batch_size: int) -> str:
    """`<engine>:<WIDTHxHEIGHT>:<steps>:<batchSize>`"""
    return f"{engine}:{shape.resolution}:{shape.steps}:{batch_size}"


class LatencyProfile:
    def __init__(self, client: redis.Redis, c: Contract, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self.key = c.profile_key
        self._fold = script(client, "profile")
        self._clock = clock
        self._warm: set[str] = set()
        self._lock = threading.Lock()
        self._copy: dict[str, float] = {}
        self._read_at: float | None = None

    def record(self, engine: str, shape: Shape, batch_size: int, seconds: float) -> float | None:
        """Folds one batch's time in; the key's new mean, or None for a warm-up batch (not recorded)."""
        field = profile_field(engine, shape, batch_size)
        with self._lock:
            if field not in self._warm:
                self._warm.add(field)
                return None
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        value = self._fold(keys=[self.key], args=[field, repr(float(seconds)), repr(WEIGHT), at])
        mean = float(json.loads(value)["seconds"])
        with self._lock:
            self._copy[field] = mean
        return mean

    def estimate(self, engine: str, shape: Shape, batch_size: int) -> float | None:
        """The measured seconds of such a batch, from a copy at most REFRESH_S old; None: never measured."""
        now = self._clock()
        with self._lock:
            stale = self._read_at is None or now - self._read_at >= REFRESH_S
        if stale:
            raw = self._client.hgetall(self.key)
            copy: dict[str, float] = {}
            for field, value in dict(raw).items():
                try:
                    copy[str(field)] = float(json.loads(value)["seconds"])
                except (ValueError, KeyError, TypeError):
                    continue
            with self._lock:
                self._copy, self._read_at = copy, now
        with self._lock:
            return self._copy.get(profile_field(engine, shape, batch_size))
