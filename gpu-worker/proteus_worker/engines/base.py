"""
The interface between the worker's runtime (consume, batch, upload, events) and an engine.
The runtime decodes and checks every input, groups jobs of one `Shape` into a batch and
calls `run_batch` once; an engine never touches Redis or object storage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from PIL import Image

EngineName = Literal["catvton", "warp"]


@dataclass(frozen=True)
class Landmark:
    """A MediaPipe pose landmark in normalized image coordinates (may fall outside [0, 1])."""

    x: float
    y: float
    visibility: float | None = None


@dataclass(frozen=True)
class Shape:
    """What jobs must share to run in one batch: output size and denoising steps (0 for warp)."""

    width: int
    height: int
    steps: int

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class EngineJob:
    job_id: str
    person: Image.Image
    """RGB, upright"""
    garment: Image.Image
    """RGBA (a clean cut with alpha) or RGB"""
    mask: Image.Image | None
    """L, 255 where the garment goes; the runtime builds one from landmarks when the job has none"""
    landmarks: Sequence[Landmark] | None
    """the 33 MediaPipe pose landmarks of the person photo, when the client sent them"""
    seed: int
    steps: int


ProgressCallback = Callable[[int, int], None]
"""(step, steps): called every few steps of a batch; the runtime publishes it to each job's owner"""


class JobFailed(Exception):
    """One job of a batch cannot be done (bad input for this engine); the others go on."""


class Engine(Protocol):
    name: EngineName

    def shape_of(self, width: int, height: int, steps: int | None, degraded: bool) -> Shape:
        """The batch shape for a person photo of width x height and the job's steps (None: default)."""
        ...

    def run_batch(self, jobs: Sequence[EngineJob], shape: Shape, on_progress: ProgressCallback) -> list[Image.Image | JobFailed]:
        """One result per job, in order: an RGB image of `shape`'s size, or the reason it failed."""
        ...
