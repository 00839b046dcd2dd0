"""
The instant engine: the cleaned garment (RGBA) warped onto the person photo by the bilinear
mesh of mesh.py and alpha-blended, on the CPU in a few tens of milliseconds. It answers where no
GPU or weights exist, when a job asks for it, and when a job's deadline leaves no time for
diffusion.

Rendering: the exact inverse of the bilinear patch is evaluated (numpy) at the corners of a grid of
CELL-pixel cells over the quad; Pillow's MESH transform then resamples the garment bilinearly
inside each cell (C speed). The inverse map is smooth, so over one cell it is bilinear to well
under a pixel: the same image as evaluating it at every pixel, several times faster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from proteus_worker.engines.base import EngineJob, EngineName, JobFailed, Landmark, ProgressCallback, Shape
from proteus_worker.engines.landmarks import torso
from proteus_worker.engines.mesh import Quad, garment_quad, inverse_bilinear

MAX_SIDE = 1024
"""the result's long side at most (the person photo is scaled down to it)"""
GARMENT_SIDE = 1024
"""the garment is cropped to its alpha box and scaled down to at most this long side (and at most
the quad's extent on the photo) before sampling"""
ALPHA_FLOOR = 8
"""alpha (0-255) at or below which a garment pixel counts as background when finding its box"""
CELL = 16
"""pixels per side of a mesh cell on the photo"""


class WarpEngine:
    name: EngineName = "warp"

    def shape_of(self, width: int, height: int, steps: int | None, degraded: bool) -> Shape:
        scale = min(1.0, MAX_SIDE / max(width, height))
        return Shape(max(1, round(width * scale)), max(1, round(height * scale)), 0)

    def run_batch(
        self, jobs: Sequence[EngineJob], shape: Shape, on_progress: ProgressCallback
    ) -> list[Image.Image | JobFailed]:
        results: list[Image.Image | JobFailed] = []
        for job in jobs:
            try:
                results.append(dress(job.person, job.garment, job.landmarks, shape))
            except JobFailed as failed:
                results.append(failed)
        return results


def dress(person: Image.Image, garment: Image.Image, landmarks: Sequence[Landmark] | None, shape: Shape) -> Image.Image:
    """`person` at `shape`'s size with `garment` warped onto the torso found from `landmarks`."""
    canvas = person.convert("RGB")
    if canvas.size != (shape.width, shape.height):
        canvas = canvas.resize((shape.width, shape.height), Image.Resampling.BILINEAR)
    elif canvas is person:
        canvas = canvas.copy()
    quad = garment_quad(torso(landmarks, shape.width, shape.height))
    extent = float(max(np.ptp(quad[:, 0]), np.ptp(quad[:, 1])))
    cut = garment_cut(garment, max(8, min(GARMENT_SIDE, int(np.ceil(2 * extent)))))
    layer = warp_onto(cut, quad, canvas.size)
    if layer is not None:
        offset, warped = layer
        canvas.paste(warped.convert("RGB"), offset, warped.getchannel("A"))
    return canvas


def garment_cut(garment: Image.Image, side: int = GARMENT_SIDE) -> Image.Image:
    """The garment cropped to its visible box, its long side at most `side` (twice the size it will
    cover: bilinear sampling shrinks up to 2x cleanly, more pixels would only cost time),
    premultiplied ("RGBa") so that bilinear resampling leaves no dark fringe."""
    rgba = garment.convert("RGBA") if garment.mode in ("RGBA", "LA", "P", "PA") else _cut_background(garment.convert("RGB"))
    box = rgba.getchannel("A").point(lambda a: 255 if a > ALPHA_FLOOR else 0).getbbox()
    if box is None:
        raise JobFailed("the garment image is fully transparent: nothing to put on")
    rgba = rgba.crop(box)
    factor = -(-max(rgba.size) // side)
    premultiplied = rgba.convert("RGBa")
    # a box reduction by a whole factor: far cheaper than a resize, and the sampling does the rest
    return premultiplied.reduce(factor) if factor > 1 else premultiplied


def warp_onto(cut: Image.Image, quad: Quad, size: tuple[int, int]) -> tuple[tuple[int, int], Image.Image] | None:
    """The premultiplied garment `cut` warped into `quad` on a photo of `size`: where to paste it
    and the (straight-alpha) RGBA layer; None when the quad misses the photo."""
    width, height = size
    x0 = max(0, int(np.floor(quad[:, 0].min())) // CELL * CELL)
    y0 = max(0, int(np.floor(quad[:, 1].min())) // CELL * CELL)
    x1 = min(width, int(np.ceil(quad[:, 0].max())) + 1)
    y1 = min(height, int(np.ceil(quad[:, 1].max())) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    xs = np.arange(x0, x1 + CELL, CELL, dtype=np.float64)
    ys = np.arange(y0, y1 + CELL, CELL, dtype=np.float64)
    grid_x, grid_y = np.meshgrid(xs, ys)
    u, v = inverse_bilinear(grid_x.ravel(), grid_y.ravel(), quad)
    gw, gh = cut.size
    sx = (u * gw).reshape(grid_x.shape)
    sy = (v * gh).reshape(grid_x.shape)
    valid = ((u > -1e3) & (v > -1e3)).reshape(grid_x.shape)
    # a cell is drawn unless all its corners lie beyond the same edge of the garment
    left, right = sx < 0, sx > gw
    top, bottom = sy < 0, sy > gh

    def all_corners(flags: NDArray[np.bool_]) -> NDArray[np.bool_]:
        corners: NDArray[np.bool_] = flags[:-1, :-1] & flags[1:, :-1] & flags[:-1, 1:] & flags[1:, 1:]
        return corners

    drawn = all_corners(valid) & ~(all_corners(left) | all_corners(right) | all_corners(top) | all_corners(bottom))
    mesh = []
    for j, i in zip(*np.nonzero(drawn), strict=True):
        box = (int(xs[i]) - x0, int(ys[j]) - y0, int(xs[i + 1]) - x0, int(ys[j + 1]) - y0)
        # Pillow's source quad: upper-left, lower-left, lower-right, upper-right
        corners = (
            sx[j, i], sy[j, i], sx[j + 1, i], sy[j + 1, i],
            sx[j + 1, i + 1], sy[j + 1, i + 1], sx[j, i + 1], sy[j, i + 1],
        )
        mesh.append((box, tuple(float(c) for c in corners)))
    if not mesh:
        return None
    warped = cut.transform((x1 - x0, y1 - y0), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)
    return (x0, y0), warped.convert("RGBA")


def _cut_background(rgb: Image.Image) -> Image.Image:
    """An alpha for a garment photo that has none: pixels far from the border's typical colour.

    The worker expects the cleaned cut (segment's PNG); this keeps a plain-background photo usable.
    """
    pixels = np.asarray(rgb, dtype=np.int16)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = np.median(border, axis=0)
    distance = np.abs(pixels - background).max(axis=2)
    alpha = np.clip((distance - 12) * (255 / 24), 0, 255).astype(np.uint8)
    out = rgb.copy()
    out.putalpha(Image.fromarray(alpha, "L"))
    return out
