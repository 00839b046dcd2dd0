"""
Dynamic batching as plain code: jobs are held in groups by batch key (engine and shape), and a
group is released as a batch when it is full or when the batch window has passed since the
oldest job in it arrived. No Redis, no clock of its own: the runtime passes the time in, so the
rules are tested exactly with a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass
class _Group(Generic[T]):
    arrivals: list[tuple[float, T]] = field(default_factory=list)

    @property
    def first_at(self) -> float:
        return self.arrivals[0][0]


class BatchCollector(Generic[K, T]):
    """Holds jobs until a batch of one key is due.

    Release order: a full group first (the oldest of them), else a group whose window has
    passed (the oldest). Jobs of a key keep their arrival order.
    """

    def __init__(self, window_s: float) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s {window_s} must be greater than 0")
        self.window_s = window_s
        self._groups: dict[K, _Group[T]] = {}

    def __len__(self) -> int:
        return sum(len(g.arrivals) for g in self._groups.values())

    def add(self, key: K, item: T, at: float) -> None:
        self._groups.setdefault(key, _Group()).arrivals.append((at, item))

    def take(self, batch_size: int, now: float) -> tuple[K, list[T]] | None:
        """The next due batch (at most `batch_size` jobs of one key), removed from the collector; None: none due."""
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size} must be at least 1")
        by_age = sorted(self._groups.items(), key=lambda kv: kv[1].first_at)
        chosen = next((k for k, g in by_age if len(g.arrivals) >= batch_size), None)
        if chosen is None:
            chosen = next((k for k, g in by_age if now >= g.first_at + self.window_s), None)
        if chosen is None:
            return None
        group = self._groups[chosen]
        taken, group.arrivals = group.arrivals[:batch_size], group.arrivals[batch_size:]
        if not group.arrivals:
            del self._groups[chosen]
        return chosen, [item for _, item in taken]

    def wait_s(self, now: float) -> float | None:
        """Seconds until the oldest group's window closes (0 when it has); None when nothing is held."""
        if not self._groups:
            return None
        oldest = min(g.first_at for g in self._groups.values())
        return max(0.0, oldest + self.window_s - now)

    def remove(self, predicate: Callable[[T], bool]) -> list[T]:
        """Takes out and returns every held job for which `predicate` is true."""
        removed: list[T] = []
        for key in list(self._groups):
            group = self._groups[key]
            kept: list[tuple[float, T]] = []
            for at, item in group.arrivals:
                if predicate(item):
                    removed.append(item)
                else:
                    kept.append((at, item))
            if kept:
                group.arrivals = kept
            else:
                del self._groups[key]
        return removed

    def items(self) -> list[T]:
        return [item for g in self._groups.values() for _, item in g.arrivals]
