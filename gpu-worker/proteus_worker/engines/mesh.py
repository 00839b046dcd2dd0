"""
The garment mesh shared with the web preview: the garment's quad (its alpha bounding box) mapped
onto a quad around the shopper's torso by one bilinear patch. docs/WORKER.md defines the corners
so the web mirror can build the same mesh; this module evaluates the patch exactly (per pixel,
inverse bilinear) where the browser renders it as a finely subdivided plane.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from proteus_worker.engines.base import JobFailed
from proteus_worker.engines.landmarks import Point, Torso, is_convex

SHOULDER_OUT = 0.25
"""each top corner lies this fraction of the shoulder width beyond its shoulder"""
HIP_OUT = 0.35
"""each bottom corner lies this fraction of the hip width beyond its hip"""
COLLAR_UP = 0.10
"""the top edge is raised this fraction of the shoulder-to-hip vector above the shoulders"""
HEM_DOWN = 0.10
"""the bottom edge is lowered this fraction of the shoulder-to-hip vector below the hips"""

Quad = NDArray[np.float64]
"""4x2: top-left, top-right, bottom-right, bottom-left, in pixels (x right, y down)"""


def garment_quad(t: Torso) -> Quad:
    """Where the garment's corners go on the photo.

    The garment photo faces the camera, so its image-left side is the wearer's right: the top-left
    corner goes beyond the person's right shoulder (landmark 12), which faces the camera on the
    image's left side too.
    """
    rs, ls, rh, lh = (np.array(p, dtype=np.float64) for p in (t.right_shoulder, t.left_shoulder, t.right_hip, t.left_hip))
    across_shoulders = ls - rs
    across_hips = lh - rh
    down = (rh + lh) / 2 - (rs + ls) / 2
    top_left = rs - SHOULDER_OUT * across_shoulders - COLLAR_UP * down
    top_right = ls + SHOULDER_OUT * across_shoulders - COLLAR_UP * down
    bottom_right = lh + HIP_OUT * across_hips + HEM_DOWN * down
    bottom_left = rh - HIP_OUT * across_hips + HEM_DOWN * down
    quad = np.stack([top_left, top_right, bottom_right, bottom_left])
    corners: list[Point] = [(float(x), float(y)) for x, y in quad]
    if not is_convex(corners):
        raise JobFailed("the garment quad built from landmarks 11, 12, 23, 24 folds over itself")
    return quad


def bilinear_point(quad: Quad, u: NDArray[np.float64], v: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The patch's forward map: (u, v) in [0, 1]^2 -> pixel (x, y)."""
    a, b, c, d = quad
    x = (1 - u) * (1 - v) * a[0] + u * (1 - v) * b[0] + u * v * c[0] + (1 - u) * v * d[0]
    y = (1 - u) * (1 - v) * a[1] + u * (1 - v) * b[1] + u * v * c[1] + (1 - u) * v * d[1]
    return x, y


def inverse_bilinear(
    px: NDArray[np.float64], py: NDArray[np.float64], quad: Quad
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(u, v) with bilinear_point(quad, u, v) == (px, py); values outside [0, 1] mean outside the quad.

    Solves p = a + u e + v f + u v g for a convex quad (the quadratic in v, then u), vectorized.
    """
    a, b, c, d = quad
    e, f, g = b - a, d - a, a - b + c - d
    hx, hy = px - a[0], py - a[1]
    k2 = g[0] * f[1] - g[1] * f[0]
    k1 = (e[0] * f[1] - e[1] * f[0]) + (hx * g[1] - hy * g[0])
    k0 = hx * e[1] - hy * e[0]
    scale = float(np.hypot(*e) * np.hypot(*f)) or 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        if abs(k2) < 1e-9 * scale:  # opposite edges parallel: the equation in v is linear
            v = -k0 / k1
            u = _solve_u(hx, hy, e, f, g, v)
        else:
            root = np.sqrt(np.maximum(k1 * k1 - 4 * k0 * k2, 0.0))
            v = (-k1 - root) / (2 * k2)
            u = _solve_u(hx, hy, e, f, g, v)
            other_v = (-k1 + root) / (2 * k2)
            other_u = _solve_u(hx, hy, e, f, g, other_v)
            first_ok = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
            u = np.where(first_ok, u, other_u)
            v = np.where(first_ok, v, other_v)
            negative = (k1 * k1 - 4 * k0 * k2) < 0
            u = np.where(negative, -1.0, u)
            v = np.where(negative, -1.0, v)
    return np.nan_to_num(u, nan=-1.0), np.nan_to_num(v, nan=-1.0)


def _solve_u(
    hx: NDArray[np.float64], hy: NDArray[np.float64], e: NDArray[np.float64], f: NDArray[np.float64],
    g: NDArray[np.float64], v: NDArray[np.float64],
) -> NDArray[np.float64]:
    # divide by the larger component: an edge that is vertical (or horizontal) leaves the other at 0
    den_x = e[0] + g[0] * v
    den_y = e[1] + g[1] * v
    use_x = np.abs(den_x) >= np.abs(den_y)
    u: NDArray[np.float64] = np.where(use_x, (hx - f[0] * v) / np.where(use_x, den_x, 1.0), (hy - f[1] * v) / np.where(use_x, 1.0, den_y))
    return u
