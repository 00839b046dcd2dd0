"""
From a job's pictures to the pipeline's tensors and back. The person photo and its mask are
fitted into the batch shape (scaled to fit, centred, padded), the garment cut is cropped to
its opaque part, laid on white and fitted the same way (CatVTON's garments are product shots
on white). A picture this engine cannot use fails its own job with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from proteus_worker.engines.base import EngineJob, JobFailed, Shape

PAD = (255, 255, 255)
# a mask may be smaller than its photo (a model's output), but it must cover the same frame
ASPECT_TOLERANCE = 0.02
# alpha at or below this counts as transparent when cropping a garment cut
ALPHA_THRESHOLD = 8


@dataclass(frozen=True)
class PreparedJob:
    person: torch.Tensor
    """(3, H, W) in [-1, 1]"""
    garment: torch.Tensor
    """(3, H, W) in [-1, 1]"""
    mask: torch.Tensor
    """(1, H, W), 1 where the garment goes"""


def _fit_box(width: int, height: int, shape: Shape) -> tuple[int, int, int, int]:
    """(left, top, new width, new height) of a width x height picture scaled to fit the shape, centred."""
    scale = min(shape.width / width, shape.height / height)
    new_width = max(1, min(shape.width, round(width * scale)))
    new_height = max(1, min(shape.height, round(height * scale)))
    return (shape.width - new_width) // 2, (shape.height - new_height) // 2, new_width, new_height


def fit(image: Image.Image, shape: Shape, fill: int | tuple[int, int, int]) -> Image.Image:
    """`image` scaled to fit `shape` (aspect ratio kept), centred on `fill`."""
    left, top, width, height = _fit_box(image.width, image.height, shape)
    canvas = Image.new(image.mode, (shape.width, shape.height), fill)
    canvas.paste(image.resize((width, height), Image.Resampling.LANCZOS), (left, top))
    return canvas


def garment_on_white(garment: Image.Image) -> Image.Image:
    """The garment's opaque part on white, RGB; JobFailed when nothing of it is opaque."""
    if garment.mode in ("RGBA", "LA", "PA") or (garment.mode == "P" and "transparency" in garment.info):
        rgba = garment.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        rows = np.flatnonzero((alpha > ALPHA_THRESHOLD).any(axis=1))
        columns = np.flatnonzero((alpha > ALPHA_THRESHOLD).any(axis=0))
        if rows.size == 0:
            raise JobFailed("the garment image is fully transparent: there is no garment to try on")
        box = (int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1)
        cut = rgba.crop(box)
        white = Image.new("RGBA", cut.size, (*PAD, 255))
        return Image.alpha_composite(white, cut).convert("RGB")
    return garment.convert("RGB")


def _to_tensor(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1) / 127.5 - 1.0


def prepare(job: EngineJob, shape: Shape) -> PreparedJob:
    """The job's tensors at `shape`, or JobFailed saying what this engine cannot use."""
    if job.mask is None:
        raise JobFailed("no person mask: the catvton engine needs one (from the segment function or the landmarks)")
    person = job.person.convert("RGB")
    mask = job.mask.convert("L")
    if mask.size != person.size:
        person_aspect = person.width / person.height
        mask_aspect = mask.width / mask.height
        if abs(mask_aspect / person_aspect - 1) > ASPECT_TOLERANCE:
            raise JobFailed(
                f"the mask is {mask.width}x{mask.height} and the person photo {person.width}x{person.height}: "
                "they do not frame the same picture"
            )
        mask = mask.resize(person.size, Image.Resampling.BILINEAR)
    fitted_mask = fit(mask, shape, 0)
    binary = np.asarray(fitted_mask, dtype=np.uint8) >= 128
    if not binary.any():
        raise JobFailed("the person mask is empty: there is no region to put the garment on")
    return PreparedJob(
        person=_to_tensor(fit(person, shape, PAD)),
        garment=_to_tensor(fit(garment_on_white(job.garment), shape, PAD)),
        mask=torch.from_numpy(binary.astype(np.float32))[None],
    )


def to_image(pixels: torch.Tensor) -> Image.Image:
    """(3, H, W) in [0, 1] to an RGB image."""
    array = (pixels.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).numpy())
