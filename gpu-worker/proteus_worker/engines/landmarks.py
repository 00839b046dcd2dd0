"""
The torso a garment is placed on, from MediaPipe pose landmarks: shoulders 11 (left) and 12
(right), hips 23 and 24, in normalized image coordinates. Both the warp engine's mesh and the
person mask built for CatVTON start here; a job whose torso cannot be found fails with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from proteus_worker.engines.base import JobFailed, Landmark

LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW = 11, 12, 13, 14
LEFT_WRIST, RIGHT_WRIST, LEFT_HIP, RIGHT_HIP = 15, 16, 23, 24
POSE_LANDMARKS = 33
TORSO = {"left shoulder": LEFT_SHOULDER, "right shoulder": RIGHT_SHOULDER, "left hip": LEFT_HIP, "right hip": RIGHT_HIP}

MARGIN = 0.25
"""a torso landmark may lie this far outside the frame (a fraction of its size), no farther"""
MIN_TORSO_AREA = 0.005
"""the torso quad must cover at least this fraction of the image"""

Point = tuple[float, float]


@dataclass(frozen=True)
class Torso:
    """Torso landmarks in pixels of a width x height image."""

    right_shoulder: Point
    left_shoulder: Point
    right_hip: Point
    left_hip: Point


def parse_landmarks(raw: object) -> list[Landmark] | None:
    """The event's landmarks (already checked against the contract) as Landmark values."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise JobFailed("landmarks must be a list of 33 points")
    points: list[Landmark] = []
    for item in raw:
        if not isinstance(item, dict):
            raise JobFailed("a landmark must be an object with x and y")
        visibility = item.get("visibility")
        points.append(Landmark(float(item["x"]), float(item["y"]), None if visibility is None else float(visibility)))
    return points


def torso(landmarks: Sequence[Landmark] | None, width: int, height: int) -> Torso:
    """The torso of a width x height photo; JobFailed naming the landmark that is missing or out of range."""
    if landmarks is None:
        raise JobFailed("the job has no pose landmarks: the warp needs shoulders (11, 12) and hips (23, 24)")
    if len(landmarks) != POSE_LANDMARKS:
        raise JobFailed(f"the job has {len(landmarks)} pose landmarks, MediaPipe's {POSE_LANDMARKS} expected")
    for name, index in TORSO.items():
        point = landmarks[index]
        if not (math.isfinite(point.x) and math.isfinite(point.y)):
            raise JobFailed(f"landmark {index} ({name}) is not a finite point")
        if not (-MARGIN <= point.x <= 1 + MARGIN and -MARGIN <= point.y <= 1 + MARGIN):
            raise JobFailed(
                f"landmark {index} ({name}) at ({point.x:g}, {point.y:g}) is out of range: "
                f"x and y must lie within [{-MARGIN:g}, {1 + MARGIN:g}]"
            )

    def px(index: int) -> Point:
        return landmarks[index].x * width, landmarks[index].y * height

    found = Torso(px(RIGHT_SHOULDER), px(LEFT_SHOULDER), px(RIGHT_HIP), px(LEFT_HIP))
    quad = [found.right_shoulder, found.left_shoulder, found.left_hip, found.right_hip]
    if not is_convex(quad):
        raise JobFailed("the shoulders and hips (landmarks 11, 12, 23, 24) do not form a torso: their quad crosses itself")
    if polygon_area(quad) < MIN_TORSO_AREA * width * height:
        raise JobFailed(
            f"the torso (landmarks 11, 12, 23, 24) covers less than {MIN_TORSO_AREA:.1%} of the photo: too small to dress"
        )
    return found


def polygon_area(points: Sequence[Point]) -> float:
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, [*points[1:], points[0]], strict=True):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def is_convex(points: Sequence[Point]) -> bool:
    """True when the polygon turns the same way at every corner (no crossing, no fold)."""
    signs = set()
    n = len(points)
    for i in range(n):
        (ax, ay), (bx, by), (cx, cy) = points[i], points[(i + 1) % n], points[(i + 2) % n]
        cross = (bx - ax) * (cy - by) - (by - ay) * (cx - bx)
        if cross == 0:
            return False
        signs.add(cross > 0)
    return len(signs) == 1
