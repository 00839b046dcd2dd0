"""
The worker's Prometheus metrics, in a registry of its own (several runtimes may live in one test
process), served at /metrics on the health port. Names start with `proteus_worker_`.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.batch_size = Histogram(
            "proteus_worker_batch_size", "jobs per batch run", ["engine"], buckets=BATCH_BUCKETS, registry=r
        )
        self.queue_wait = Histogram(
            "proteus_worker_queue_wait_seconds",
            "from enqueue (the entry id) to the start of the job's batch",
            ["engine"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.run_seconds = Histogram(
            "proteus_worker_batch_run_seconds",
            "engine time of one batch, by shape",
            ["engine", "resolution", "steps", "batch_size"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.gpu_seconds = Histogram(
            "proteus_worker_gpu_seconds_per_job",
            "engine time of a batch divided by its jobs (device-seconds each job cost)",
            ["engine"],
            buckets=SECONDS_BUCKETS,
            registry=r,
        )
        self.jobs = Counter(
            "proteus_worker_jobs_total",
            "jobs by outcome: completed, failed, dead_lettered, retried (left for redelivery), lost (taken over)",
            ["outcome", "engine"],
            registry=r,
        )
        self.reclaimed = Counter(
            "proteus_worker_reclaimed_total", "entries taken over from idle consumers (XAUTOCLAIM)", registry=r
        )
        self.held = Gauge("proteus_worker_held_jobs", "jobs read and waiting for their batch", registry=r)
        self.heartbeat = Gauge(
            "proteus_worker_heartbeat_timestamp_seconds", "unix time of the worker loop's last turn", registry=r
        )
        self.batch_target = Gauge("proteus_worker_batch_size_target", "config:batch_size as last read", registry=r)
        self.degraded = Gauge("proteus_worker_degraded_mode", "config:degraded_mode as last read (0 or 1)", registry=r)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
