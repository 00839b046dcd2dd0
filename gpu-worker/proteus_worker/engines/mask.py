"""
The person mask CatVTON inpaints, built from pose landmarks when the job brings no mask of its
own (segment's `person-mask`): the garment quad of the warp mesh, widened, plus each arm as a
thick polyline from shoulder to elbow to wrist, so sleeves and the torso are repainted and the
face, hands, legs and background are kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from proteus_worker.engines.base import Landmark
from proteus_worker.engines.landmarks import (
    LEFT_ELBOW,
    LEFT_SHOULDER,
    LEFT_WRIST,
    MARGIN,
    RIGHT_ELBOW,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
    torso,
)
from proteus_worker.engines.mesh import garment_quad

WIDEN = 1.08
"""the torso quad is scaled by this about its centre, so the mask covers loose fits too"""
ARM_WIDTH = 0.38
"""an arm's stroke, as a fraction of the shoulder width"""
MIN_VISIBILITY = 0.5
"""an elbow or wrist seen less surely than this is left out"""


def person_mask(landmarks: Sequence[Landmark] | None, width: int, height: int) -> Image.Image:
    """An L mask of width x height, 255 where the garment goes; JobFailed when the torso is not found."""
    found = torso(landmarks, width, height)
    assert landmarks is not None  # torso() fails without them
    quad = garment_quad(found)
    centre = quad.mean(axis=0)
    widened = centre + (quad - centre) * WIDEN
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    draw.polygon([(float(x), float(y)) for x, y in widened], fill=255)
    shoulder_width = float(np.hypot(*np.subtract(found.left_shoulder, found.right_shoulder)))
    stroke = max(1, round(ARM_WIDTH * shoulder_width))
    for shoulder, elbow, wrist in ((RIGHT_SHOULDER, RIGHT_ELBOW, RIGHT_WRIST), (LEFT_SHOULDER, LEFT_ELBOW, LEFT_WRIST)):
        points = [(landmarks[shoulder].x * width, landmarks[shoulder].y * height)]
        for joint in (elbow, wrist):
            if not _usable(landmarks[joint]):
                break
            points.append((landmarks[joint].x * width, landmarks[joint].y * height))
        if len(points) > 1:
            draw.line(points, fill=255, width=stroke, joint="curve")
            for x, y in points:
                r = stroke / 2
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return mask


def _usable(point: Landmark) -> bool:
    if point.visibility is not None and point.visibility < MIN_VISIBILITY:
        return False
    return -MARGIN <= point.x <= 1 + MARGIN and -MARGIN <= point.y <= 1 + MARGIN
