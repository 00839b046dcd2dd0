"""
Keeping the claim on jobs this worker holds: a daemon thread re-claims them (XCLAIM JUSTID, via
lua/keep_claims.lua, only those still pending under this consumer) well within the reclaim idle
time, so a long batch is never taken over by another worker; entries that were taken over anyway
are reported so the runtime drops them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis

from proteus_worker.contract import Contract
from proteus_worker.log import Logger
from proteus_worker.scripts import script


class ClaimKeeper:
    def __init__(
        self,
        client: redis.Redis,
        c: Contract,
        consumer: str,
        interval_s: float,
        held: Callable[[], list[str]],
        on_lost: Callable[[list[str]], None],
        log: Logger,
    ) -> None:
        self._client = client
        self._stream = c.jobs_stream
        self._group = c.jobs_group
        self._consumer = consumer
        self._interval_s = interval_s
        self._held = held
        self._on_lost = on_lost
        self._log = log
        self._keep = script(client, "keep_claims")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="claim-keeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def keep(self) -> list[str]:
        """Re-claims every held entry now; the ids no longer held by this consumer."""
        ids = self._held()
        if not ids:
            return []
        lost = [str(i) for i in self._keep(keys=[self._stream], args=[self._group, self._consumer, *ids])]
        if lost:
            self._on_lost(lost)
        return lost

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.keep()
            except redis.RedisError as error:
                # the next turn may succeed; entries stay claimed until the reclaim idle time runs out
                self._log.warn("could not keep the claims", error=str(error))
