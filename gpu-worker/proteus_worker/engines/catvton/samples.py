"""
Synthetic try-on inputs (a person photo with a torso mask, a garment cut with alpha), drawn
from a seed, for the engine's tests and CPU benchmark: no photo is needed to exercise the
pipeline, and random-weight models make any real picture pointless anyway.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from proteus_worker.engines.base import EngineJob


def person_photo(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=3)
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    pixels = (base[None, None, :] * (0.5 + 0.5 * ramp)).repeat(width, axis=1)
    pixels += rng.normal(0, 12, size=(height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def torso_box(width: int, height: int) -> tuple[int, int, int, int]:
    return (width // 4, height // 4, width - width // 4, height - height // 4)


def torso_mask(width: int, height: int) -> Image.Image:
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).rectangle(torso_box(width, height), fill=255)
    return mask


def garment_cut(width: int, height: int, seed: int) -> Image.Image:
    """An opaque, coloured T-shape on a transparent background."""
    rng = np.random.default_rng(seed + 7_919)
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3)) + (255,)
    cut = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(cut)
    draw.rectangle((width // 10, height // 8, width - width // 10, height // 3), fill=colour)
    draw.rectangle((width // 4, height // 8, width - width // 4, height - height // 8), fill=colour)
    return cut


def synthetic_job(job_id: str, seed: int, width: int, height: int, steps: int) -> EngineJob:
    return EngineJob(
        job_id=job_id,
        person=person_photo(width, height, seed),
        garment=garment_cut(max(8, width // 2), max(8, height // 2), seed),
        mask=torso_mask(width, height),
        landmarks=None,
        seed=seed,
        steps=steps,
    )
