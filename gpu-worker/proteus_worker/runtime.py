"""
The Weaver: the worker's loop over `queue:jobs`. Each turn reads the arbitrator's policy
(`config:batch_size`, `config:degraded_mode`), runs a due batch if there is one, else takes
over idle entries of dead workers and reads new ones, prepares them (inputs checked, engine and
shape chosen) and holds them in the batch collector. A batch runs in one engine call; its jobs'
claims are kept alive meanwhile; each job then gets its own outcome: uploaded and completed,
failed for a reason of its own, left for redelivery after a transient error, or parked in the
dead letters after too many deliveries. SIGTERM ends the loop after the batch under way; jobs
still held are handed back at once for other workers to take.
"""

from __future__ import annotations

import io
import math
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis
from PIL import Image

from proteus_worker.batching import BatchCollector
from proteus_worker.claims import ClaimKeeper
from proteus_worker.contract import Contract
from proteus_worker.engines.base import Engine, JobFailed, Shape
from proteus_worker.engines.registry import Engines
from proteus_worker.jobs import Job, JobIds, JobPreparer, Rejected, lenient_ids
from proteus_worker.lifecycle import Lifecycle, completed_event, failed_event
from proteus_worker.log import Logger
from proteus_worker.metrics import WorkerMetrics
from proteus_worker.producer import Producer
from proteus_worker.profile import LatencyProfile
from proteus_worker.queue import Delivery, JobQueue
from proteus_worker.settings import WorkerSettings
from proteus_worker.storage import ObjectStore, StorageUnavailable

IDLE_BLOCK_MS = 1000
"""the longest XREADGROUP wait when nothing is held, so a stop is noticed within a second"""
PNG_COMPRESS_LEVEL = 1
"""results are encoded fast: level 1 costs a fraction of the default's time for ~10% more bytes"""
PREPARE_THREADS = 8
REMEMBERED_ERRORS = 1024


@dataclass
class EngineCrash:
    """An engine raised instead of answering for a job: maybe transient (out of memory, a driver
    hiccup), so the job is retried by redelivery until it has used its deliveries."""

    error: BaseException

    def __str__(self) -> str:
        return f"engine error: {type(self.error).__name__}: {self.error}"


Result = Image.Image | JobFailed | EngineCrash


class Weaver:
    def __init__(
        self,
        settings: WorkerSettings,
        client: redis.Redis,
        c: Contract,
        store: ObjectStore,
        engines: Engines,
        *,
        log: Logger,
        metrics: WorkerMetrics | None = None,
        stopping: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.client = client
        self.c = c
        self.store = store
        self.engines = engines
        self.log = log
        self.metrics = metrics or WorkerMetrics()
        self.stopping = stopping or threading.Event()
        self.clock = clock
        self.wall = wall
        self.consumer = settings.worker_name
        self.queue = JobQueue(client, c, self.consumer, settings.worker_reclaim_idle_ms, clock)
        self.producer = Producer(client)
        self.lifecycle = Lifecycle(client, c, self.consumer, self.producer)
        self.profile = LatencyProfile(client, c, clock)
        self.preparer = JobPreparer(
            store,
            engines,
            max_bytes=settings.worker_max_image_bytes,
            max_pixels=settings.worker_max_image_pixels,
            estimate=lambda engine, shape: self.profile.estimate(engine.name, shape, 1),
            clock=wall,
        )
        self.collector: BatchCollector[tuple[str, Shape], Job] = BatchCollector(settings.worker_batch_window_ms / 1000)
        self._lock = threading.Lock()
        self._held: dict[str, Job] = {}
        self._lost: set[str] = set()
        self._errors: OrderedDict[str, str] = OrderedDict()
        self._reclaim_every_s = min(1.0, settings.worker_reclaim_idle_ms / 4000)
        self._next_reclaim = 0.0
        self.claims = ClaimKeeper(
            client,
            c,
            self.consumer,
            settings.worker_reclaim_idle_ms / 4000,
            held=self._held_ids,
            on_lost=self._on_lost,
            log=log,
        )
        self._pool = ThreadPoolExecutor(max_workers=PREPARE_THREADS, thread_name_prefix="weaver")
        self.batches_run = 0
        self._policy_size = 1
        self._policy_degraded = False
        self._unknown: dict[str, str] = {}
        """the last unknown value seen per config key, so each is warned about once"""

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        """Consume until `stopping` is set; the batch under way is finished first."""
        self.claims.start()
        delay = 0.1
        resumed = False
        try:
            while not self.stopping.is_set():
                try:
                    if not resumed:  # what a previous process of this name left pending comes first
                        self._admit(self.queue.claim_own(1000), self.policy()[1])
                        resumed = True
                    self.turn()
                    delay = 0.1
                except Exception as error:
                    # Redis down, or a bug: a batch that failed midway stays pending and comes back
                    # by redelivery (to the dead letters if it keeps failing); the loop goes on
                    if isinstance(error, redis.RedisError):
                        self.log.warn("redis failed; retrying", error=str(error), retryInS=delay)
                    else:
                        self.log.error("the loop failed; retrying", error=repr(error), trace=traceback.format_exc())
                    self.stopping.wait(delay)
                    delay = min(delay * 2, 5.0)
        finally:
            self.claims.stop()
            self._hand_back()
            self._pool.shutdown(wait=True)

    def turn(self) -> None:
        """One step: run a due batch, or receive what is there (waiting at most until a batch is due)."""
        self.metrics.heartbeat.set(self.wall())
        self._drop_lost()
        batch_size, degraded = self.policy()
        self._expire()
        taken = self.collector.take(batch_size, self.clock())
        if taken is not None:
            self.run_batch(taken[1])
            return
        room = max(0, 2 * batch_size - len(self.collector))
        wait = self.collector.wait_s(self.clock())
        if room == 0:
            self.stopping.wait(0.05 if wait is None else max(wait, 0.001))
            return
        block_ms = IDLE_BLOCK_MS if wait is None else max(1, min(IDLE_BLOCK_MS, math.ceil(wait * 1000)))
        self._admit(self._receive(room, block_ms), degraded)

    def policy(self) -> tuple[int, bool]:
        """config:batch_size and config:degraded_mode. Unset: batch 1, normal resolution. A value
        the worker does not know (a size that is not a whole number of at least 1; a mode other than
        0, 1, false, true) is ignored with a warning, once per value, and the last good value stays
        (1 and normal before any); a size above WORKER_MAX_BATCH_SIZE is capped."""
        raw_size, raw_degraded = self.client.mget([self.c.batch_size_key, self.c.degraded_mode_key])
        size = None if raw_size is None else _parse_batch_size(str(raw_size))
        if raw_size is None or size is not None:
            self._policy_size = size or 1
            self._unknown.pop(self.c.batch_size_key, None)
        else:
            self._warn_unknown(self.c.batch_size_key, str(raw_size), self._policy_size)
        degraded = None if raw_degraded is None else _parse_degraded(str(raw_degraded))
        if raw_degraded is None or degraded is not None:
            self._policy_degraded = bool(degraded)
            self._unknown.pop(self.c.degraded_mode_key, None)
        else:
            self._warn_unknown(self.c.degraded_mode_key, str(raw_degraded), self._policy_degraded)
        capped = min(self._policy_size, self.settings.worker_max_batch_size)
        self.metrics.batch_target.set(capped)
        self.metrics.degraded.set(1 if self._policy_degraded else 0)
        return capped, self._policy_degraded

    def _warn_unknown(self, key: str, raw: str, kept: object) -> None:
        if self._unknown.get(key) != raw:
            self._unknown[key] = raw
            self.log.warn("ignoring an unknown config value", key=key, value=raw[:100], kept=kept)

    # --- receiving --------------------------------------------------------------------------------

    def _receive(self, room: int, block_ms: int) -> list[Delivery]:
        received: list[Delivery] = []
        now = self.clock()
        if now >= self._next_reclaim:
            self._next_reclaim = now + self._reclaim_every_s
            received = self.queue.reclaim(room)
            if received:
                self.metrics.reclaimed.inc(len(received))
                self.log.info("reclaimed idle jobs", entries=[d.entry_id for d in received])
        if len(received) < room:
            received += self.queue.read(room - len(received), 0 if received else block_ms)
        return received

    def _admit(self, deliveries: Sequence[Delivery], degraded: bool) -> None:
        runnable: list[Delivery] = []
        for delivery in deliveries:
            if delivery.attempts > self.settings.worker_max_deliveries:
                last = self._errors.get(delivery.entry_id, "the worker holding it stopped or died each time")
                self._dead_letter(
                    delivery, f"not finished after {self.settings.worker_max_deliveries} deliveries; last error: {last}"
                )
            else:
                runnable.append(delivery)
        if not runnable:
            return
        results = list(self._pool.map(lambda d: self._prepare(d, degraded), runnable))
        failures: list[tuple[Delivery, dict[str, Any]]] = []
        for delivery, result in zip(runnable, results, strict=True):
            if isinstance(result, Job):
                with self._lock:
                    self._held[delivery.entry_id] = result
                self.collector.add(result.key, result, delivery.read_at)
            elif isinstance(result, Rejected):
                if result.dead:
                    notice = None if result.ids is None else failed_event(result.ids, result.reason, delivery.attempts)
                    self._dead_letter(delivery, result.reason, notice)
                else:
                    assert result.ids is not None
                    event = failed_event(result.ids, result.reason, delivery.attempts, engine=result.engine)
                    failures.append((delivery, event))
                    self.log.info("job failed", entry=delivery.entry_id, job=result.ids.job_id, reason=result.reason)
            else:
                self._retry(delivery, result)
        self._finish(failures, "failed", None)
        self.metrics.held.set(len(self._held))

    def _prepare(self, delivery: Delivery, degraded: bool) -> Job | Rejected | str:
        try:
            return self.preparer.prepare(delivery, degraded)
        except StorageUnavailable as error:
            return f"object storage unavailable: {error}"
        except Exception as error:  # a bug or an outage in a library: retried, then dead-lettered
            self.log.error("preparing a job failed", entry=delivery.entry_id, error=repr(error))
            return f"preparing the job failed: {type(error).__name__}: {error}"

    def _expire(self) -> None:
        now = self.wall()
        late = self.collector.remove(lambda job: job.deadline is not None and now >= job.deadline)
        if late:
            outcomes = [
                (
                    job.delivery,
                    failed_event(
                        job.ids, "the deadline passed while the job waited for its batch", job.delivery.attempts,
                        engine=job.engine.name, resolution=job.shape.resolution,
                    ),
                )
                for job in late
            ]
            self._release(late)
            self._finish(outcomes, "failed", None)

    # --- running ----------------------------------------------------------------------------------

    def run_batch(self, jobs: Sequence[Job]) -> None:
        """Runs one batch of jobs sharing engine and shape and gives each its outcome."""
        engine, shape = jobs[0].engine, jobs[0].shape
        try:
            started_ms = self.wall() * 1000
            try:
                self.lifecycle.started(jobs)
            except redis.RedisError as error:
                self.log.warn("could not announce the batch's start", error=str(error))
            waits = [started_ms - job.delivery.enqueued_ms for job in jobs]
            self.metrics.batch_size.labels(engine.name).observe(len(jobs))
            for wait in waits:
                self.metrics.queue_wait.labels(engine.name).observe(max(0.0, wait) / 1000)
            began = self.clock()
            results, whole = self._run_engine(engine, jobs, shape)
            run_s = self.clock() - began
            self.batches_run += 1
            if whole:
                self.metrics.run_seconds.labels(engine.name, shape.resolution, str(shape.steps), str(len(jobs))).observe(run_s)
                self.metrics.gpu_seconds.labels(engine.name).observe(run_s / len(jobs))
                try:
                    self.profile.record(engine.name, shape, len(jobs), run_s)
                except redis.RedisError as error:
                    self.log.warn("could not record the latency profile", error=str(error))
            self._deliver(jobs, results, engine, shape, waits, run_s * 1000)
        finally:
            self._release(jobs)

    def _run_engine(self, engine: Engine, jobs: Sequence[Job], shape: Shape) -> tuple[list[Result], bool]:
        """Results in job order, and whether the batch ran whole (not split to find a bad job)."""
        relay = _ProgressRelay(self, jobs, self.settings.worker_progress_every)
        try:
            answers = engine.run_batch([job.work for job in jobs], shape, relay)
            if len(answers) != len(jobs):
                raise RuntimeError(f"the engine answered {len(answers)} results for {len(jobs)} jobs")
            return [_checked(answer, shape) for answer in answers], True
        except Exception as error:
            if len(jobs) == 1:
                return [error if isinstance(error, JobFailed) else EngineCrash(error)], False
            self.log.warn(
                "batch failed; running its jobs one at a time to isolate the cause",
                engine=engine.name, jobs=len(jobs), error=repr(error),
            )
            results: list[Result] = []
            for job in jobs:
                results.extend(self._run_engine(engine, [job], shape)[0])
            return results, False

    def _deliver(
        self, jobs: Sequence[Job], results: Sequence[Result], engine: Engine, shape: Shape,
        waits: Sequence[float], run_ms: float,
    ) -> None:
        uploads: dict[int, Future[str]] = {
            i: self._pool.submit(self._upload, job, result)
            for i, (job, result) in enumerate(zip(jobs, results, strict=True))
            if isinstance(result, Image.Image)
        }
        completions: list[tuple[Delivery, dict[str, Any]]] = []
        failures: list[tuple[Delivery, dict[str, Any]]] = []
        measured = {"engine": engine.name, "resolution": shape.resolution, "batchSize": len(jobs), "runMs": round(run_ms, 3)}
        for i, (job, result) in enumerate(zip(jobs, results, strict=True)):
            attempts = job.delivery.attempts
            if i in uploads:
                try:
                    key = uploads[i].result()
                except StorageUnavailable as error:
                    self._retry(job.delivery, f"uploading the result failed: {error}", job.ids)
                    continue
                completions.append(
                    (job.delivery, completed_event(job.ids, key, attempts, engine.name, shape, len(jobs), waits[i], run_ms))
                )
            elif isinstance(result, JobFailed):
                failures.append(
                    (job.delivery, failed_event(job.ids, str(result), attempts, waitMs=round(max(0.0, waits[i]), 3), **measured))
                )
                self.log.info("job failed", entry=job.delivery.entry_id, job=job.ids.job_id, reason=str(result))
            else:
                self._retry(job.delivery, str(result), job.ids, engine.name)
        self._finish(completions, "completed", engine.name)
        self._finish(failures, "failed", engine.name)

    def _upload(self, job: Job, image: Image.Image) -> str:
        key = self.c.object_key(job.ids.user_id, "results", job.ids.job_id, "png")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        self.store.write(key, buffer.getvalue(), "image/png")
        return key

    # --- outcomes ---------------------------------------------------------------------------------

    def _finish(self, outcomes: list[tuple[Delivery, dict[str, Any]]], outcome: str, engine: str | None) -> None:
        if not outcomes:
            return
        done = self.lifecycle.finish(outcomes)
        for (delivery, event), finished in zip(outcomes, done, strict=True):
            name = engine or str(event["data"].get("engine", "none"))
            if finished:
                self.metrics.jobs.labels(outcome, name).inc()
            else:
                self.metrics.jobs.labels("lost", name).inc()
                self.log.warn("job was taken over by another worker; its outcome is theirs", entry=delivery.entry_id)

    def _retry(self, delivery: Delivery, reason: str, ids: JobIds | None = None, engine: str | None = None) -> None:
        """A transient failure: left pending for redelivery, or dead-lettered on its last delivery."""
        if delivery.attempts >= self.settings.worker_max_deliveries:
            self._dead_letter(delivery, f"failed {delivery.attempts} deliveries; last error: {reason}", ids=ids, engine=engine)
            return
        self._errors[delivery.entry_id] = reason
        while len(self._errors) > REMEMBERED_ERRORS:
            self._errors.popitem(last=False)
        self.metrics.jobs.labels("retried", engine or "none").inc()
        self.log.warn("job left for redelivery", entry=delivery.entry_id, attempts=delivery.attempts, reason=reason)
        with self._lock:
            self._held.pop(delivery.entry_id, None)

    def _dead_letter(
        self, delivery: Delivery, reason: str, notice: dict[str, Any] | None = None,
        ids: JobIds | None = None, engine: str | None = None,
    ) -> None:
        if notice is None:
            ids = ids or lenient_ids(delivery.raw)
            if ids is not None:
                notice = failed_event(ids, reason, delivery.attempts, engine=engine)
        parked = self.lifecycle.dead_letter(delivery, reason, notice)
        self._errors.pop(delivery.entry_id, None)
        with self._lock:
            self._held.pop(delivery.entry_id, None)
        self.metrics.jobs.labels("dead_lettered" if parked else "lost", engine or "none").inc()
        self.log.warn("job dead-lettered", entry=delivery.entry_id, attempts=delivery.attempts, reason=reason, parked=parked)

    # --- claims -----------------------------------------------------------------------------------

    def _held_ids(self) -> list[str]:
        with self._lock:
            return list(self._held)

    def _on_lost(self, ids: list[str]) -> None:
        with self._lock:
            self._lost.update(ids)

    def _drop_lost(self) -> None:
        with self._lock:
            lost, self._lost = self._lost, set()
        if lost:
            dropped = self.collector.remove(lambda job: job.delivery.entry_id in lost)
            self._release(dropped)
            self.log.warn("jobs taken over by another worker were dropped", entries=sorted(lost))

    def _release(self, jobs: Sequence[Job]) -> None:
        with self._lock:
            for job in jobs:
                self._held.pop(job.delivery.entry_id, None)
        self.metrics.held.set(len(self._held))

    def _hand_back(self) -> None:
        """Jobs read but not run: made idle at once so another worker's XAUTOCLAIM takes them now."""
        held = self.collector.remove(lambda _: True)
        self._release(held)
        if not held:
            return
        try:
            self.client.xclaim(
                self.c.jobs_stream, self.c.jobs_group, self.consumer, 0,
                [job.delivery.entry_id for job in held], idle=self.settings.worker_reclaim_idle_ms, justid=True,
            )
            self.log.info("handed back jobs not yet run", entries=[job.delivery.entry_id for job in held])
        except redis.RedisError as error:
            self.log.warn("could not hand back held jobs; they are reclaimed after the idle time", error=str(error))


class _ProgressRelay:
    """The engine's progress callback: tells each job's owner every `every` steps (and the last)."""

    def __init__(self, weaver: Weaver, jobs: Sequence[Job], every: int) -> None:
        self._weaver = weaver
        self._jobs = jobs
        self._every = every
        self._last = 0

    def __call__(self, step: int, steps: int) -> None:
        if step <= self._last or (step - self._last < self._every and step < steps):
            return
        self._last = step
        try:
            self._weaver.lifecycle.progress(self._jobs, step, steps)
        except redis.RedisError as error:
            self._weaver.log.warn("could not publish progress", error=str(error))


def _checked(answer: object, shape: Shape) -> Result:
    if isinstance(answer, JobFailed):
        return answer
    if not isinstance(answer, Image.Image):
        return EngineCrash(TypeError(f"the engine answered a {type(answer).__name__}, not an image"))
    if answer.size != (shape.width, shape.height):
        return JobFailed(f"the engine answered a {answer.width}x{answer.height} image, {shape.resolution} expected")
    return answer if answer.mode == "RGB" else answer.convert("RGB")


def _parse_batch_size(text: str) -> int | None:
    """A whole number of at least 1 (ASCII digits only), else None."""
    text = text.strip()
    if not text.isascii() or not text.isdigit():
        return None
    size = int(text)
    return size if size >= 1 else None


def _parse_degraded(text: str) -> bool | None:
    return {"0": False, "false": False, "1": True, "true": True}.get(text.strip().lower())
