"""
A fake engine for the runtime's tests: it records each batch it is given, reports progress,
sleeps if asked (a slow GPU), fails or crashes on chosen seeds, and answers a plain image per
job. The factories at the bottom are what WORKER_TEST_ENGINE names in worker subprocesses.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from PIL import Image

from proteus_worker.engines.base import EngineJob, EngineName, JobFailed, ProgressCallback, Shape
from proteus_worker.settings import WorkerSettings


class FakeEngine:
    def __init__(
        self,
        name: EngineName = "catvton",
        *,
        steps: int = 4,
        delay_s: float = 0.0,
        fail_seeds: Sequence[int] = (),
        crash_seeds: Sequence[int] = (),
    ) -> None:
        self.name = name
        self.steps = steps
        self.delay_s = delay_s
        self.fail_seeds = set(fail_seeds)
        self.crash_seeds = set(crash_seeds)
        self.batches: list[list[str]] = []
        self.shapes: list[Shape] = []
        self.started = threading.Event()
        """set when a batch starts (tests wait on it from another thread)"""

    def shape_of(self, width: int, height: int, steps: int | None, degraded: bool) -> Shape:
        scale = 2 if degraded else 1
        return Shape(width // scale, height // scale, self.steps if steps is None else steps)

    def run_batch(self, jobs: Sequence[EngineJob], shape: Shape, on_progress: ProgressCallback) -> list[Image.Image | JobFailed]:
        self.batches.append([job.job_id for job in jobs])
        self.shapes.append(shape)
        self.started.set()
        if any(job.seed in self.crash_seeds for job in jobs):
            raise RuntimeError("the fake engine crashed on a poison job")
        for step in range(1, shape.steps + 1):
            if self.delay_s:
                time.sleep(self.delay_s / max(1, shape.steps))
            on_progress(step, shape.steps)
        return [
            JobFailed(f"the fake engine refuses seed {job.seed}")
            if job.seed in self.fail_seeds
            else Image.new("RGB", (shape.width, shape.height), _colour(job.seed))
            for job in jobs
        ]


def _colour(seed: int) -> tuple[int, int, int]:
    return (seed * 37 % 256, seed * 101 % 256, seed * 7 % 256)


def _seeds(variable: str) -> list[int]:
    return [int(s) for s in os.environ.get(variable, "").split(",") if s.strip()]


def slow_engine(settings: WorkerSettings) -> FakeEngine:
    """WORKER_TEST_ENGINE=tests.fakes:slow_engine; FAKE_ENGINE_DELAY_S seconds per batch,
    FAKE_ENGINE_CRASH_SEEDS crash a batch, FAKE_ENGINE_STEPS steps."""
    return FakeEngine(
        "catvton",
        steps=int(os.environ.get("FAKE_ENGINE_STEPS", "4")),
        delay_s=float(os.environ.get("FAKE_ENGINE_DELAY_S", "0.5")),
        crash_seeds=_seeds("FAKE_ENGINE_CRASH_SEEDS"),
    )
