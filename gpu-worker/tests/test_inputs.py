"""Bad inputs end in `tryon.failed` with a reason naming the problem, and the entry is acked at once
(not retried); entries that break the contract are also parked in the dead letters."""

from __future__ import annotations

import io
import json
import random
import struct
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from PIL import Image

from proteus_worker.contract import contract
from proteus_worker.engines.registry import Engines
from proteus_worker.engines.warp import WarpEngine
from proteus_worker.producer import make_event
from tests.conftest import S3Server
from tests.fakes import FakeEngine
from tests.runtime_support import make_weaver, turn_until
from tests.tryon import USER, Objects, dead_letters, garment_png, jpeg, lifecycle, of_type, pending, pose, request


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header announces width x height (a valid IHDR and a tiny IDAT): a pixel bomb."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture
def objects(s3_server: S3Server, bucket: str) -> Objects:
    return Objects(s3_server, bucket)


def outcome(redis_url: str, r: redis.Redis, s3: S3Server, bucket: str, event: dict[str, Any] | str, engine: str = "warp", **env: str) -> dict[str, Any]:
    """Runs one entry through a worker; the failed event's data (after checking it was acked and not run)."""
    fake = FakeEngine("catvton")
    warp = WarpEngine()
    engines = Engines(warp, {"warp": warp}) if engine == "warp" else Engines(fake, {"catvton": fake, "warp": warp})
    weaver = make_weaver(redis_url, s3, bucket, fake, engines=engines, env=env)
    raw = event if isinstance(event, str) else json.dumps(event)
    r.xadd(contract().jobs_stream, {contract().entry_field: raw})
    turn_until(weaver, lambda: of_type(lifecycle(r), "failed") or dead_letters(r), turns=20)
    assert pending(r) == [], "the entry must be acked at once"
    assert fake.batches == [] and of_type(lifecycle(r), "completed") == []
    failed = of_type(lifecycle(r), "failed")
    return failed[0]["data"] if failed else {}


def warp_job(objects: Objects, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"landmarks": pose(), **changes}
    person = fields.pop("person", None) or objects.person()
    garment = fields.pop("garment", None) or objects.garment()
    return request(person, garment, **fields)


def test_a_missing_object(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    missing = contract().object_key(USER, "person", "nowhere", "jpg")
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, person=missing))
    assert failed["error"] == f"person photo {missing} does not exist in object storage"
    assert failed["attempts"] == 1 and dead_letters(r) == []


def test_an_empty_object(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, garment=objects.garment(b"")))
    assert failed["error"].endswith(" is empty") and failed["error"].startswith("garment image users/u1/cloth_clean/")


def test_an_object_over_the_byte_limit(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    person = objects.person(jpeg(200, 200))
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, person=person), WORKER_MAX_IMAGE_BYTES="100")
    size = len(objects.get(person))
    assert failed["error"] == f"person photo {person} has {size} bytes, at most 100"


def test_not_an_image(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    garment = objects.garment(b"<html>this is not a PNG</html>")
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, garment=garment))
    assert failed["error"].startswith(f"garment image {garment} is not a JPEG, PNG or WebP image")


def test_a_pixel_bomb_over_the_limit_is_refused_from_its_header(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects
) -> None:
    person = objects.person(png_header(10_000, 5_000), ext="png")
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, person=person))
    assert failed["error"] == f"person photo {person} is 10000x5000 = 50000000 pixels, at most 40000000"


def test_a_huge_pixel_bomb(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    garment = objects.garment(png_header(100_000, 100_000))
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, garment=garment))
    assert failed["error"].startswith(f"garment image {garment} is a pixel bomb")


def noise_jpeg() -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (128, 128), random.Random(7).randbytes(128 * 128 * 3)).save(out, format="JPEG")
    return out.getvalue()


@pytest.mark.parametrize(("keep", "reason"), [(0.6, "the JPEG data is truncated or corrupt"), (0.01, "the data is truncated")])
def test_truncated_data(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects, keep: float, reason: str
) -> None:
    whole = noise_jpeg()
    person = objects.person(whole[: int(len(whole) * keep)])
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, person=person))
    assert failed["error"].startswith(f"person photo {person} does not decode: {reason}")


def test_landmarks_missing_for_warp(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    job = request(objects.person(), objects.garment())
    failed = outcome(redis_url, r, s3_server, bucket, job)
    assert failed["error"] == "the job has no pose landmarks: the warp needs shoulders (11, 12) and hips (23, 24)"


def test_landmarks_out_of_range(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    landmarks = pose()
    landmarks[11] = {"x": 3.0, "y": 0.3}
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, landmarks=landmarks))
    assert failed["error"] == "landmark 11 (left shoulder) at (3, 0.3) is out of range: x and y must lie within [-0.25, 1.25]"


def test_landmarks_that_make_no_torso(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    crossed = pose(shoulders=(0.65, 0.35))  # the shoulders swapped, the hips not: the quad crosses itself
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, landmarks=crossed))
    assert "do not form a torso" in failed["error"]


def test_no_mask_and_no_landmarks_for_catvton(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    job = request(objects.person(), objects.garment(), engine="catvton")
    failed = outcome(redis_url, r, s3_server, bucket, job, engine="catvton")
    assert failed["error"] == "the job has no maskKey and no pose landmarks to build the person mask from"
    assert failed["engine"] == "catvton"


def test_catvton_asked_of_a_warp_only_worker(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, engine="catvton"))
    assert failed["error"] == "engine catvton is not available on this worker (no CUDA or no weights)"


def test_an_object_of_another_user(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    foreign = objects.put(contract().object_key("u2", "person", "theirs", "jpg"), jpeg(), "image/jpeg")
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, person=foreign))
    assert failed["error"] == f"personKey {foreign} is not under the owner's prefix users/u1/"


def test_a_passed_deadline(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    deadline = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    failed = outcome(redis_url, r, s3_server, bucket, warp_job(objects, deadline=deadline))
    assert failed["error"] == f"deadline {deadline} passed before the job started"


def test_an_unknown_engine_breaks_the_contract(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    event = warp_job(objects)
    event["data"]["engine"] = "dalle"
    failed = outcome(redis_url, r, s3_server, bucket, event)
    assert failed["error"].startswith("invalid event: invalid dev.proteus.tryon.requested event")
    assert "data.engine" in failed["error"]
    [letter] = dead_letters(r)
    assert letter["reason"] == failed["error"] and json.loads(letter["event"]) == event


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "malformed entry: not JSON: "),
        (json.dumps({"type": "dev.proteus.tryon.requested", "data": {"jobId": "../x"}}), "invalid event: "),
    ],
)
def test_a_malformed_entry_is_dead_lettered_without_a_notice(
    redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, raw: str, reason: str
) -> None:
    assert outcome(redis_url, r, s3_server, bucket, raw) == {}
    [letter] = dead_letters(r)
    assert letter["event"] == raw and letter["reason"].startswith(reason) and letter["attempts"] == "1"


def test_another_event_type_on_the_jobs_stream(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str) -> None:
    stray = make_event("dev.proteus.tryon.progress", {"jobId": "j", "userId": "u1", "step": 0, "steps": 1})
    assert outcome(redis_url, r, s3_server, bucket, stray) == {}
    [letter] = dead_letters(r)
    assert letter["reason"] == "malformed entry: a dev.proteus.tryon.progress event on the jobs stream"


def test_a_transparent_garment(redis_url: str, r: redis.Redis, s3_server: S3Server, bucket: str, objects: Objects) -> None:
    garment = objects.garment(garment_png(colour=(0, 0, 0, 0)))
    fake = FakeEngine()
    warp = WarpEngine()
    weaver = make_weaver(redis_url, s3_server, bucket, fake, engines=Engines(warp, {"warp": warp}))
    r.xadd(contract().jobs_stream, {contract().entry_field: json.dumps(warp_job(objects, garment=garment))})
    turn_until(weaver, lambda: of_type(lifecycle(r), "failed"), turns=20)
    [failed] = of_type(lifecycle(r), "failed")
    assert failed["data"]["error"] == "the garment image is fully transparent: nothing to put on"
    assert (failed["data"]["engine"], failed["data"]["batchSize"]) == ("warp", 1)
    assert pending(r) == []
