"""The catvton engine behind the runtime's interface: shapes, per-job failures, batch isolation."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler
from PIL import Image

from proteus_worker.engines.base import Engine, EngineJob, JobFailed, Shape
from proteus_worker.engines.catvton.configs import SD15_SCHEDULER, tiny_components
from proteus_worker.engines.catvton.engine import CatVTONEngine
from proteus_worker.engines.catvton.images import garment_on_white, prepare
from proteus_worker.engines.catvton.pipeline import CatVTONPipeline
from proteus_worker.engines.catvton.samples import synthetic_job
from proteus_worker.engines.catvton.settings import CatVTONSettings
from proteus_worker.log import Logger
from tests.torch_threads import one_torch_thread  # noqa: F401  (an autouse fixture: one thread here)

STEPS = 2
TINY = CatVTONSettings(long_side=64, degraded_long_side=64, steps=STEPS)


@pytest.fixture(scope="module")
def engine() -> CatVTONEngine:
    parts = tiny_components(seed=0)
    return CatVTONEngine(CatVTONPipeline(parts.unet, parts.vae, parts.scheduler), TINY)


def job(seed: int, **changes: Any) -> EngineJob:
    return replace(synthetic_job(f"job-{seed}", seed, width=90, height=120, steps=STEPS), **changes)


def test_the_engine_fits_the_runtime_protocol(engine: CatVTONEngine) -> None:
    as_protocol: Engine = engine
    assert as_protocol.name == "catvton"


class SizesOnly:
    """What shape_of reads of a full-size pipeline: its size multiple and its scheduler."""

    size_multiple = 64
    scheduler = DDIMScheduler(**SD15_SCHEDULER)


class Shapes:
    engine = CatVTONEngine(cast(CatVTONPipeline, SizesOnly()), CatVTONSettings())


@pytest.mark.parametrize(
    ("size", "degraded", "expected"),
    [
        ((3024, 4032), False, (768, 1024)),  # a phone photo, 3:4
        ((1080, 1920), False, (768, 1024)),  # 9:16 is padded into 3:4
        ((4032, 3024), False, (1024, 768)),
        ((1000, 1000), False, (1024, 1024)),
        ((3024, 4032), True, (384, 512)),
        ((4032, 3024), True, (512, 384)),
        ((300, 400), False, (768, 1024)),  # small photos are scaled up to the batch shape
    ],
)
def test_shape_of_picks_the_nearest_aspect_at_the_long_side(
    size: tuple[int, int], degraded: bool, expected: tuple[int, int]
) -> None:
    shape = Shapes.engine.shape_of(size[0], size[1], None, degraded)
    assert (shape.width, shape.height, shape.steps) == (*expected, 50)
    assert shape.width % 64 == 0 and shape.height % 64 == 0


def test_shape_of_keeps_the_jobs_steps_and_refuses_impossible_ones() -> None:
    assert Shapes.engine.shape_of(768, 1024, 25, False) == Shape(768, 1024, 25)
    with pytest.raises(JobFailed, match="steps must be from 1 to 1000, got 0"):
        Shapes.engine.shape_of(768, 1024, 0, False)
    with pytest.raises(JobFailed, match="has no pixels"):
        Shapes.engine.shape_of(0, 1024, None, False)


def test_a_batch_renders_every_good_job_at_the_shape(engine: CatVTONEngine) -> None:
    jobs = [job(1), job(2), job(3)]
    shape = engine.shape_of(90, 120, None, degraded=False)
    assert shape == Shape(48, 64, STEPS)
    progress: list[tuple[int, int]] = []
    results = engine.run_batch(jobs, shape, lambda s, n: progress.append((s, n)))
    assert len(results) == 3
    for result in results:
        assert isinstance(result, Image.Image)
        assert (result.mode, result.size) == ("RGB", (48, 64))
    assert progress == [(1, STEPS), (2, STEPS)]


def test_a_job_gets_the_same_image_alone_and_in_a_batch(engine: CatVTONEngine) -> None:
    shape = engine.shape_of(90, 120, None, degraded=False)
    batch = engine.run_batch([job(4), job(6)], shape, lambda s, n: None)
    alone = engine.run_batch([job(6)], shape, lambda s, n: None)
    assert isinstance(batch[1], Image.Image) and isinstance(alone[0], Image.Image)
    difference = np.abs(np.asarray(batch[1], dtype=np.int16) - np.asarray(alone[0], dtype=np.int16))
    assert difference.max() <= 1  # rounding to 8 bits of a float difference under 1e-4


def transparent_garment() -> Image.Image:
    return Image.new("RGBA", (40, 50), (200, 10, 10, 0))


def blank_mask() -> Image.Image:
    return Image.new("L", (90, 120), 0)


def test_each_job_the_engine_cannot_use_fails_alone_with_its_reason(engine: CatVTONEngine) -> None:
    reasons: dict[str, dict[str, Any]] = {
        "no person mask": {"mask": None},
        "the person mask is empty": {"mask": blank_mask()},
        "the mask is 120x120 and the person photo 90x120": {"mask": Image.new("L", (120, 120), 255)},
        "the garment image is fully transparent": {"garment": transparent_garment()},
        "asks for 7 steps but its batch runs 2": {"steps": 7},
    }
    bad = [job(10 + i, **changes) for i, changes in enumerate(reasons.values())]
    shape = engine.shape_of(90, 120, None, degraded=False)
    results = engine.run_batch([bad[0], bad[1], job(1), *bad[2:]], shape, lambda s, n: None)
    assert isinstance(results[2], Image.Image)
    failures = results[:2] + results[3:]
    for reason, result in zip(reasons, failures, strict=True):
        assert isinstance(result, JobFailed), reason
        assert reason in str(result)


def test_a_picture_that_breaks_preparation_fails_its_job_only(engine: CatVTONEngine) -> None:
    # a lazily opened, truncated file: its header gives a size, its pixels fail to load
    encoded = io.BytesIO()
    job(1).person.save(encoded, format="PNG")
    truncated = Image.open(io.BytesIO(encoded.getvalue()[: len(encoded.getvalue()) // 2]))
    results = engine.run_batch([job(1, person=truncated), job(2)], Shape(48, 64, STEPS), lambda s, n: None)
    assert isinstance(results[0], JobFailed)
    assert "its pictures cannot be prepared for catvton" in str(results[0])
    assert isinstance(results[1], Image.Image)


def test_a_smaller_mask_of_the_same_frame_is_scaled_to_the_photo(engine: CatVTONEngine) -> None:
    good = job(1)
    assert good.mask is not None
    small = good.mask.resize((45, 60))
    prepared = prepare(replace(good, mask=small), Shape(48, 64, STEPS))
    assert prepared.mask.shape == (1, 64, 48)
    assert 0 < prepared.mask.mean().item() < 1


def test_a_garment_cut_is_cropped_to_its_opaque_part_on_white() -> None:
    cut = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    cut.paste(Image.new("RGBA", (20, 30), (10, 200, 10, 255)), (40, 50))
    on_white = garment_on_white(cut)
    assert (on_white.mode, on_white.size) == ("RGB", (20, 30))
    assert on_white.getpixel((5, 5)) == (10, 200, 10)
    half = Image.new("RGBA", (10, 10), (0, 0, 0, 128))
    assert garment_on_white(half).getpixel((0, 0)) == (127, 127, 127)


def test_a_person_photo_of_another_aspect_is_padded_not_cropped() -> None:
    wide = job(1, person=Image.new("RGB", (120, 120), (0, 0, 0)), mask=Image.new("L", (120, 120), 255))
    prepared = prepare(wide, Shape(48, 64, STEPS))
    # the square photo fills the width; above and below is white padding, outside the mask
    assert prepared.person[:, 0, :].min().item() == 1.0
    assert prepared.person[:, 32, :].max().item() == -1.0
    assert prepared.mask[0, 0, :].max().item() == 0.0 and prepared.mask[0, 32, :].min().item() == 1.0


class FlakyPipeline:
    """Stands in for the pipeline: raises for batches holding a poisoned seed (or always), or
    returns NaN for one; otherwise grey images."""

    size_multiple = 4
    device = torch.device("cpu")

    def __init__(
        self, poisoned: set[int], error: Exception | None = None, nan_seed: int | None = None, progress: bool = False
    ) -> None:
        self.progress = progress
        self.poisoned = poisoned
        self.error = error
        self.nan_seed = nan_seed
        self.calls: list[int] = []
        self.scheduler = DDIMScheduler(**SD15_SCHEDULER)

    def __call__(self, person: torch.Tensor, generators: Sequence[torch.Generator], **kwargs: Any) -> torch.Tensor:
        seeds = [g.initial_seed() for g in generators]
        self.calls.append(len(seeds))
        if self.progress:
            for step in range(1, kwargs["steps"] + 1):
                kwargs["on_progress"](step, kwargs["steps"])
        if self.error is not None:
            raise self.error
        if self.poisoned & set(seeds):
            raise RuntimeError(f"cannot handle seed {sorted(self.poisoned & set(seeds))}")
        out = torch.full((len(seeds), 3, person.shape[2], person.shape[3]), 0.5)
        for index, seed in enumerate(seeds):
            if seed == self.nan_seed:
                out[index] = float("nan")
        return out


def flaky_engine(pipeline: FlakyPipeline, out: io.StringIO | None = None) -> CatVTONEngine:
    return CatVTONEngine(cast(CatVTONPipeline, pipeline), TINY, Logger(out=out or io.StringIO()))


def test_an_error_of_the_batch_is_pinned_on_the_job_that_causes_it() -> None:
    pipeline = FlakyPipeline(poisoned={2})
    out = io.StringIO()
    results = flaky_engine(pipeline, out).run_batch([job(1), job(2), job(3)], Shape(48, 64, STEPS), lambda s, n: None)
    assert isinstance(results[0], Image.Image) and isinstance(results[2], Image.Image)
    assert isinstance(results[1], JobFailed)
    assert "cannot handle seed [2]" in str(results[1])
    assert pipeline.calls == [3, 1, 1, 1]
    logged = json.loads(out.getvalue())
    assert (logged["level"], logged["msg"], logged["jobs"]) == ("warn", "catvton batch failed; running its jobs one by one", 3)


def test_an_error_every_job_repeats_alone_is_raised_for_the_runtime_to_retry() -> None:
    pipeline = FlakyPipeline(poisoned=set(), error=RuntimeError("CUDA error: an illegal memory access"))
    with pytest.raises(RuntimeError, match="illegal memory access"):
        flaky_engine(pipeline).run_batch([job(1), job(2)], Shape(48, 64, STEPS), lambda s, n: None)
    assert pipeline.calls == [2, 1, 1]


def test_out_of_memory_is_raised_at_once() -> None:
    pipeline = FlakyPipeline(poisoned=set(), error=torch.OutOfMemoryError("CUDA out of memory"))
    with pytest.raises(torch.OutOfMemoryError):
        flaky_engine(pipeline).run_batch([job(1), job(2)], Shape(48, 64, STEPS), lambda s, n: None)
    assert pipeline.calls == [2]


def test_a_job_with_non_finite_pixels_fails_alone() -> None:
    pipeline = FlakyPipeline(poisoned=set(), nan_seed=2)
    results = flaky_engine(pipeline).run_batch([job(1), job(2)], Shape(48, 64, STEPS), lambda s, n: None)
    assert isinstance(results[0], Image.Image)
    assert isinstance(results[1], JobFailed) and "non-finite" in str(results[1])


def test_a_failing_progress_report_does_not_cost_the_batch() -> None:
    def broken(step: int, steps: int) -> None:
        raise ConnectionError("redis went away")

    out = io.StringIO()
    pipeline = FlakyPipeline(poisoned=set(), progress=True)
    engine = CatVTONEngine(cast(CatVTONPipeline, pipeline), TINY, Logger(out=out))
    results = engine.run_batch([job(1)], Shape(48, 64, STEPS), broken)
    assert isinstance(results[0], Image.Image)
    assert pipeline.calls == [1]
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["level"], e["msg"], e["error"]["message"]) for e in lines] == [
        ("warn", "catvton progress report failed", "redis went away")
    ] * STEPS
