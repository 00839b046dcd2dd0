"""
What the worker tells the rest of the system about a job: `tryon.progress` (step 0 on
`events:jobs` when its batch starts, so the api records it as running; every few steps straight
to the owner on `events:job_done`), then exactly one outcome, `tryon.completed` or
`tryon.failed`, appended and acked atomically (lua/finish.lua), or a dead letter in the stream
source's format with its `tryon.failed` notice (lua/dead_letter.lua). Outcome events have ids
derived from the job, so a job finished twice (it cannot be, but a re-driven one can) is
deduplicated by the api sink.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from proteus_worker.contract import Contract
from proteus_worker.engines.base import Shape
from proteus_worker.jobs import Job, JobIds
from proteus_worker.producer import Producer, make_event
from proteus_worker.queue import Delivery
from proteus_worker.scripts import script

DEAD_LETTER_ROUTE = "gpu-worker"
"""the `route` field of the worker's dead letters (the stream source writes its route's name)"""
MAX_ERROR = 2000


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def completed_event(
    ids: JobIds, result_key: str, attempts: int, engine: str, shape: Shape, batch_size: int, wait_ms: float, run_ms: float
) -> dict[str, Any]:
    data = {
        "jobId": ids.job_id,
        "userId": ids.user_id,
        "vtonId": ids.vton_id,
        "resultKey": result_key,
        "attempts": attempts,
        "engine": engine,
        "resolution": shape.resolution,
        "batchSize": batch_size,
        "waitMs": round(max(0.0, wait_ms), 3),
        "runMs": round(max(0.0, run_ms), 3),
    }
    return make_event("dev.proteus.tryon.completed", data, id=f"{ids.job_id}.completed", subject=ids.job_id)


def failed_event(ids: JobIds, error: str, attempts: int, **measured: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "jobId": ids.job_id,
        "userId": ids.user_id,
        "vtonId": ids.vton_id,
        "error": (error or "failed")[:MAX_ERROR],
        "attempts": max(1, attempts),
    }
    for name in ("engine", "resolution", "batchSize", "waitMs", "runMs"):
        if measured.get(name) is not None:
            data[name] = measured[name]
    return make_event("dev.proteus.tryon.failed", data, id=f"{ids.job_id}.failed", subject=ids.job_id)


def started_event(job: Job) -> dict[str, Any]:
    data = {"jobId": job.ids.job_id, "userId": job.ids.user_id, "step": 0, "steps": max(1, job.shape.steps)}
    return make_event(
        "dev.proteus.tryon.progress", data, id=f"{job.ids.job_id}.started.{job.delivery.attempts}", subject=job.ids.job_id
    )


def progress_message(job: Job, step: int, steps: int) -> str:
    """The JobUpdate the api publishes for progress (functions/api/src/lifecycle/record.ts)."""
    return json.dumps(
        {
            "type": "progress",
            "userId": job.ids.user_id,
            "job_id": job.ids.job_id,
            "status": "running",
            "result_url": None,
            "vton_id": job.ids.vton_id,
            "kind": "tryon",
            "step": step,
            "steps": steps,
        },
        separators=(",", ":"),
    )


class Lifecycle:
    def __init__(self, client: redis.Redis, c: Contract, consumer: str, producer: Producer) -> None:
        self._client = client
        self._c = c
        self._consumer = consumer
        self._producer = producer
        self._finish = script(client, "finish")
        self._dead_letter = script(client, "dead_letter")

    def started(self, jobs: Sequence[Job]) -> None:
        self._producer.emit_many(self._c.lifecycle_stream, [started_event(job) for job in jobs])

    def progress(self, jobs: Sequence[Job], step: int, steps: int) -> None:
        pipe = self._client.pipeline(transaction=False)
        for job in jobs:
            pipe.publish(self._c.job_done_channel, progress_message(job, step, steps))
        pipe.execute()

    def finish(self, outcomes: Sequence[tuple[Delivery, dict[str, Any]]]) -> list[bool]:
        """Appends each outcome event and acks its entry, in one round trip; per entry, whether it
        was still this consumer's (False: another worker holds it now, nothing was written)."""
        if not outcomes:
            return []
        minid = self._producer.trim_point(self._c.lifecycle_stream) or ""
        pipe = self._client.pipeline(transaction=False)
        for delivery, event in outcomes:
            payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            self._finish(
                keys=[self._c.jobs_stream, self._c.lifecycle_stream],
                args=[self._c.jobs_group, self._consumer, delivery.entry_id, self._c.entry_field, payload, minid],
                client=pipe,
            )
        return [bool(done) for done in pipe.execute()]

    def dead_letter(self, delivery: Delivery, reason: str, notice: dict[str, Any] | None) -> bool:
        """Parks the entry in the dead letters (with `notice` to the owner when given) and acks it."""
        answer = self._dead_letter(
            keys=[self._c.jobs_stream, self._c.dead_stream, self._c.lifecycle_stream],
            args=[
                self._c.jobs_group,
                self._consumer,
                delivery.entry_id,
                self._c.entry_field,
                delivery.raw or "",
                reason[:MAX_ERROR],
                DEAD_LETTER_ROUTE,
                str(delivery.attempts),
                now_iso(),
                "" if notice is None else json.dumps(notice, separators=(",", ":"), ensure_ascii=False),
            ],
        )
        return bool(answer)
