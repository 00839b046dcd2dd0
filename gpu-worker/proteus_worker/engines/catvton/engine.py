"""
The `catvton` engine as the runtime sees it (engines/base.py): which shape a job's photo
renders at, and one batched pipeline pass per batch with per-job failures. A job whose
inputs this engine cannot use fails alone; an error of the whole pass is pinned on single
jobs only when running them one by one shows which; otherwise it is raised, so the runtime
retries the batch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch
from PIL import Image

from proteus_worker.engines.base import EngineJob, EngineName, JobFailed, ProgressCallback, Shape
from proteus_worker.engines.catvton.images import PreparedJob, prepare, to_image
from proteus_worker.engines.catvton.loading import load_pipeline
from proteus_worker.engines.catvton.pipeline import CatVTONPipeline
from proteus_worker.engines.catvton.settings import CatVTONSettings
from proteus_worker.log import Logger

# Aspect-ratio buckets (width:height). Few buckets keep batches full: a photo renders at the
# nearest one and is padded to it. 3:4 is what phone cameras shoot and CatVTON was trained on.
ASPECTS: tuple[tuple[int, int], ...] = ((3, 4), (1, 1), (4, 3))


def _job_seed(seed: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def default_log() -> Logger:
    """The worker's JSON log at LOG_LEVEL, for an engine built without the runtime's logger."""
    return Logger(level=os.environ.get("LOG_LEVEL") or "info").child(engine="catvton")


def _best_effort(on_progress: ProgressCallback, log: Logger) -> ProgressCallback:
    """Progress is a courtesy: a failure to report it is logged and must not cost the batch."""

    def report(step: int, steps: int) -> None:
        try:
            on_progress(step, steps)
        except Exception as error:
            log.warn("catvton progress report failed", step=step, steps=steps, error=error)

    return report


class CatVTONEngine:
    name: EngineName = "catvton"

    def __init__(
        self, pipeline: CatVTONPipeline, settings: CatVTONSettings | None = None, log: Logger | None = None
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings or CatVTONSettings()
        self.log = log or default_log()

    @classmethod
    def load(cls, settings: CatVTONSettings, log: Logger | None = None) -> CatVTONEngine:
        log = log or default_log()
        return cls(load_pipeline(settings, log), settings, log)

    def shape_of(self, width: int, height: int, steps: int | None, degraded: bool) -> Shape:
        """The nearest aspect bucket at the long side (512 when degraded), each side a multiple
        of the pipeline's size multiple (64 for SD 1.5); default 768x1024 for a 3:4 portrait."""
        if width < 1 or height < 1:
            raise JobFailed(f"the person photo is {width}x{height}: it has no pixels")
        steps = self.settings.steps if steps is None else steps
        limit = int(self.pipeline.scheduler.config.num_train_timesteps)
        if not 1 <= steps <= limit:
            raise JobFailed(f"steps must be from 1 to {limit}, got {steps}")
        long_side = self.settings.degraded_long_side if degraded else self.settings.long_side
        aspect = math.log(width / height)
        bucket_w, bucket_h = min(ASPECTS, key=lambda a: abs(math.log(a[0] / a[1]) - aspect))
        multiple = self.pipeline.size_multiple
        scale = long_side / max(bucket_w, bucket_h)
        shape_w = max(multiple, round(bucket_w * scale / multiple) * multiple)
        shape_h = max(multiple, round(bucket_h * scale / multiple) * multiple)
        return Shape(width=shape_w, height=shape_h, steps=steps)

    def run_batch(
        self, jobs: Sequence[EngineJob], shape: Shape, on_progress: ProgressCallback
    ) -> list[Image.Image | JobFailed]:
        results: list[Image.Image | JobFailed | None] = [None] * len(jobs)
        ready: list[tuple[int, PreparedJob]] = []
        for index, job in enumerate(jobs):
            try:
                if job.steps != shape.steps:
                    raise JobFailed(f"the job asks for {job.steps} steps but its batch runs {shape.steps}")
                ready.append((index, prepare(job, shape)))
            except JobFailed as failure:
                results[index] = failure
            except Exception as error:  # only this job's pictures are involved: it is this job's failure
                results[index] = JobFailed(f"its pictures cannot be prepared for catvton: {error}"[:2000])
        if ready:
            report = _best_effort(on_progress, self.log)
            images = self._run_isolating([jobs[i] for i, _ in ready], [p for _, p in ready], shape, report)
            for (index, _), image in zip(ready, images, strict=True):
                results[index] = image
        return [r if r is not None else JobFailed("no result") for r in results]

    def _run(
        self, jobs: Sequence[EngineJob], prepared: Sequence[PreparedJob], shape: Shape, on_progress: ProgressCallback
    ) -> list[Image.Image | JobFailed]:
        pixels = self.pipeline(
            person=torch.stack([p.person for p in prepared]),
            garment=torch.stack([p.garment for p in prepared]),
            mask=torch.stack([p.mask for p in prepared]),
            generators=[_job_seed(job.seed, self.pipeline.device) for job in jobs],
            steps=shape.steps,
            guidance_scale=self.settings.guidance_scale,
            eta=self.settings.eta,
            on_progress=on_progress,  # every step: the runtime decides how often to tell the owner
        )
        results: list[Image.Image | JobFailed] = []
        for image in pixels:
            if not bool(torch.isfinite(image).all()):
                results.append(JobFailed("the model produced non-finite pixels for this job"))
            else:
                results.append(to_image(image))
        return results

    def _run_isolating(
        self, jobs: Sequence[EngineJob], prepared: Sequence[PreparedJob], shape: Shape, on_progress: ProgressCallback
    ) -> list[Image.Image | JobFailed]:
        """One pass for the batch; if it raises, each job alone, to pin the error on the jobs that cause it.
        Out-of-memory is the batch's size, not a job's fault, and an error every job repeats is not
        any one job's: both are raised for the runtime to retry."""
        try:
            return self._run(jobs, prepared, shape, on_progress)
        except torch.OutOfMemoryError:
            raise
        except Exception as batch_error:
            if len(jobs) == 1:
                raise
            self.log.warn("catvton batch failed; running its jobs one by one", jobs=len(jobs), error=batch_error)
            alone: list[Image.Image | JobFailed] = []
            failures = 0
            for job, one in zip(jobs, prepared, strict=True):
                try:
                    alone.extend(self._run([job], [one], shape, lambda step, steps: None))
                except torch.OutOfMemoryError:
                    raise
                except Exception as error:
                    failures += 1
                    alone.append(JobFailed(f"the catvton pipeline failed on this job: {error}"[:2000]))
            if failures == len(jobs):
                raise batch_error
            return alone
