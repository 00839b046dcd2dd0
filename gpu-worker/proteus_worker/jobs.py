"""
From a delivered entry to a job ready for its batch: parse and validate the CloudEvent, check
that every object key belongs to the job's owner and that the deadline has not passed, pick the
engine, read and decode the images, and give the job a mask when its engine needs one. Every
input another party controls is checked here; what fails becomes a Rejected with the reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image

from proteus_worker.contract import EventValidationError, contract, validate_event
from proteus_worker.engines.base import Engine, EngineJob, JobFailed, Landmark, Shape
from proteus_worker.engines.landmarks import parse_landmarks, torso
from proteus_worker.engines.mask import person_mask
from proteus_worker.engines.registry import Engines
from proteus_worker.images import decode_image
from proteus_worker.queue import Delivery
from proteus_worker.storage import ObjectStore

REQUESTED = "dev.proteus.tryon.requested"


@dataclass(frozen=True)
class JobIds:
    job_id: str
    user_id: str
    vton_id: str


@dataclass
class Job:
    delivery: Delivery
    ids: JobIds
    engine: Engine
    shape: Shape
    work: EngineJob
    deadline: float | None
    """unix time by which the job must be done, when it has one"""

    @property
    def key(self) -> tuple[str, Shape]:
        """What jobs must share to run in one batch."""
        return (self.engine.name, self.shape)


@dataclass
class Rejected:
    """A delivery that will not run. `dead`: park it in the dead letters (a malformed entry or an
    event that breaks the contract), else only tell the owner (a bad input of theirs)."""

    delivery: Delivery
    ids: JobIds | None
    reason: str
    dead: bool = False
    engine: str | None = None


Estimate = Callable[[Engine, Shape], float | None]
"""measured seconds of a batch of one of this engine and shape, None when never measured"""


class JobPreparer:
    def __init__(
        self,
        store: ObjectStore,
        engines: Engines,
        *,
        max_bytes: int,
        max_pixels: int,
        estimate: Estimate | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._engines = engines
        self._max_bytes = max_bytes
        self._max_pixels = max_pixels
        self._estimate = estimate
        self._clock = clock

    def prepare(self, delivery: Delivery, degraded: bool) -> Job | Rejected:
        """The job, or why it is rejected. StorageUnavailable propagates: the job is retried."""
        parsed = self._parse(delivery)
        if isinstance(parsed, Rejected):
            return parsed
        ids, data = parsed
        try:
            return self._load(delivery, ids, data, degraded)
        except JobFailed as failed:
            requested = data.get("engine")
            return Rejected(delivery, ids, str(failed), engine=requested if requested in ("catvton", "warp") else None)

    def _parse(self, delivery: Delivery) -> tuple[JobIds, dict[str, Any]] | Rejected:
        if delivery.raw is None:
            return Rejected(delivery, None, "malformed entry: it has no event field", dead=True)
        try:
            event = json.loads(delivery.raw)
        except ValueError as error:
            return Rejected(delivery, None, f"malformed entry: not JSON: {error}", dead=True)
        ids = _ids_in(event)
        try:
            validate_event(event)
        except EventValidationError as error:
            return Rejected(delivery, ids, f"invalid event: {error}", dead=True)
        if event["type"] != REQUESTED:
            return Rejected(delivery, None, f"malformed entry: a {event['type']} event on the jobs stream", dead=True)
        data: dict[str, Any] = event["data"]
        assert ids is not None  # a valid tryon.requested has them
        return ids, data

    def _load(self, delivery: Delivery, ids: JobIds, data: dict[str, Any], degraded: bool) -> Job:
        prefix = contract().user_prefix(ids.user_id)
        for field in ("personKey", "garmentKey", "maskKey"):
            key = data.get(field)
            if key is not None and not key.startswith(prefix):
                raise JobFailed(f"{field} {key} is not under the owner's prefix {prefix}")
        deadline = _deadline(data.get("deadline"))
        now = self._clock()
        if deadline is not None and now >= deadline:
            raise JobFailed(f"deadline {data['deadline']} passed before the job started")
        requested = str(data.get("engine", "auto"))
        engine = self._engines.for_request(requested)
        if engine is None:
            raise JobFailed(f"engine {requested} is not available on this worker (no CUDA or no weights)")
        landmarks = parse_landmarks(data.get("landmarks"))
        steps: int | None = data.get("steps")

        person = self._image(data["personKey"], "person photo", "RGB")
        shape = engine.shape_of(person.width, person.height, steps, degraded)
        if requested == "auto" and engine.name != "warp" and deadline is not None:
            engine, shape = self._in_time(engine, shape, person, landmarks, steps, degraded, deadline - now)
        if engine.name == "warp":
            torso(landmarks, person.width, person.height)  # fail before the garment is read
        garment = self._image(data["garmentKey"], "garment image", "RGBA")
        mask = None
        if engine.name != "warp":
            mask = self._mask(data.get("maskKey"), landmarks, person)
        work = EngineJob(
            job_id=ids.job_id,
            person=person,
            garment=garment,
            mask=mask,
            landmarks=landmarks,
            seed=int(data["seed"]),
            steps=shape.steps if steps is None else steps,
        )
        return Job(delivery, ids, engine, shape, work, deadline)

    def _in_time(
        self, engine: Engine, shape: Shape, person: Image.Image, landmarks: list[Landmark] | None,
        steps: int | None, degraded: bool, left_s: float,
    ) -> tuple[Engine, Shape]:
        """The warp engine instead when the measured time of `engine` would miss the deadline."""
        warp = self._engines.by_name.get("warp")
        expected = self._estimate(engine, shape) if self._estimate else None
        if warp is None or landmarks is None or expected is None or expected <= left_s:
            return engine, shape
        return warp, warp.shape_of(person.width, person.height, steps, degraded)

    def _image(self, key: str, what: str, mode: str) -> Image.Image:
        data = self._store.read(key, what, self._max_bytes)
        return decode_image(data, f"{what} {key}", self._max_pixels, mode)

    def _mask(self, key: str | None, landmarks: list[Landmark] | None, person: Image.Image) -> Image.Image:
        if key is not None:
            mask = self._image(key, "person mask", "L")
            if mask.size != person.size:
                mask = mask.resize(person.size, Image.Resampling.NEAREST)
            return mask
        if landmarks is None:
            raise JobFailed("the job has no maskKey and no pose landmarks to build the person mask from")
        return person_mask(landmarks, person.width, person.height)


def lenient_ids(raw: str | None) -> JobIds | None:
    """The job's ids from an entry's text that may be invalid, when all three look like ids."""
    try:
        return _ids_in(json.loads(raw)) if raw else None
    except ValueError:
        return None


def _ids_in(event: Any) -> JobIds | None:
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        return None
    values = [data.get("jobId"), data.get("userId"), data.get("vtonId")]
    if not all(isinstance(v, str) for v in values):
        return None
    try:
        job_id, user_id, vton_id = (
            contract().check_id(name, str(v)) for name, v in zip(("jobId", "userId", "vtonId"), values, strict=True)
        )
    except ValueError:
        return None
    return JobIds(job_id, user_id, vton_id)


def _deadline(value: str | None) -> float | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
