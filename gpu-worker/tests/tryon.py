"""Helpers for the runtime's tests: images in a bucket, try-on requests on the queue, what came out."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import redis
from botocore.config import Config
from PIL import Image, ImageDraw

from proteus_worker.contract import contract
from proteus_worker.producer import Producer, make_event
from tests.conftest import S3Server

USER = "u1"


def pose(
    shoulders: tuple[float, float] = (0.35, 0.65), shoulder_y: float = 0.3, hips: tuple[float, float] = (0.4, 0.6), hip_y: float = 0.7
) -> list[dict[str, float]]:
    """33 MediaPipe landmarks of a person facing the camera (right shoulder 12 on the image's left)."""
    points = [{"x": 0.5, "y": 0.15, "visibility": 0.9} for _ in range(33)]
    points[12] = {"x": shoulders[0], "y": shoulder_y, "visibility": 0.99}
    points[11] = {"x": shoulders[1], "y": shoulder_y, "visibility": 0.99}
    points[24] = {"x": hips[0], "y": hip_y, "visibility": 0.99}
    points[23] = {"x": hips[1], "y": hip_y, "visibility": 0.99}
    points[14] = {"x": shoulders[0] - 0.05, "y": 0.5, "visibility": 0.9}
    points[13] = {"x": shoulders[1] + 0.05, "y": 0.5, "visibility": 0.9}
    points[16] = {"x": shoulders[0] - 0.06, "y": 0.68, "visibility": 0.9}
    points[15] = {"x": shoulders[1] + 0.06, "y": 0.68, "visibility": 0.9}
    return points


def jpeg(width: int = 48, height: int = 64, colour: tuple[int, int, int] = (200, 180, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG", quality=90)
    return out.getvalue()


def garment_png(width: int = 40, height: int = 48, colour: tuple[int, int, int, int] = (20, 40, 200, 255)) -> bytes:
    """A garment cut: a coloured block with a transparent margin."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((width // 8, height // 8, width - width // 8, height - height // 8), fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@dataclass
class Objects:
    server: S3Server
    bucket: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.server.access_key,
            aws_secret_access_key=self.server.secret_key,
            config=Config(request_checksum_calculation="when_required", response_checksum_validation="when_required"),
        )

    def person(self, data: bytes | None = None, name: str | None = None, ext: str = "jpg") -> str:
        key = contract().object_key(USER, "person", name or uuid.uuid4().hex[:12], ext)
        return self.put(key, jpeg() if data is None else data, "image/jpeg")

    def garment(self, data: bytes | None = None, name: str | None = None) -> str:
        key = contract().object_key(USER, "cloth_clean", name or uuid.uuid4().hex[:12], "png")
        return self.put(key, garment_png() if data is None else data, "image/png")

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        self.client().put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return key

    def get(self, key: str) -> bytes:
        body: bytes = self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def keys(self, prefix: str = "") -> list[str]:
        answer = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in answer.get("Contents", []))


def request(
    person_key: str, garment_key: str, *, seed: int = 1, job_id: str | None = None, user: str = USER, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "jobId": job_id or f"job-{uuid.uuid4().hex[:12]}",
        "userId": user,
        "vtonId": f"vton-{uuid.uuid4().hex[:8]}",
        "personKey": person_key,
        "garmentKey": garment_key,
        "seed": seed,
        **extra,
    }
    return make_event("dev.proteus.tryon.requested", data, source="/proteus/api")


def enqueue(r: redis.Redis, *events: dict[str, Any]) -> list[str]:
    producer = Producer(r)
    return [producer.emit(contract().jobs_stream, event) for event in events]


def lifecycle(r: redis.Redis) -> list[dict[str, Any]]:
    """Every event on events:jobs, oldest first."""
    c = contract()
    entries: Any = r.xrange(c.lifecycle_stream)
    return [json.loads(fields[c.entry_field]) for _id, fields in entries]


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == f"dev.proteus.tryon.{kind}"]


def dead_letters(r: redis.Redis) -> list[dict[str, str]]:
    entries: Any = r.xrange(contract().dead_stream)
    return [dict(fields) for _id, fields in entries]


def pending(r: redis.Redis) -> list[dict[str, Any]]:
    c = contract()
    rows: list[dict[str, Any]] = r.xpending_range(c.jobs_stream, c.jobs_group, "-", "+", 1000)
    return rows


def ids_of(events: list[dict[str, Any]]) -> Iterator[str]:
    return (e["data"]["jobId"] for e in events)
