"""
CPU benchmark of the catvton engine with the tiny random models (issue #6): images per second
and seconds per image at batch 1, 4 and 8 through CatVTONEngine.run_batch (pre-processing,
the pipeline, post-processing), with throughput relative to batch 1 measured in the same run.
It says how much batching buys on CPU and checks the engine end to end; the model figures of
record come from the GPU benchmark (bench/gpu.sh).

    gpu-worker/.venv/bin/python gpu-worker/bench/catvton_cpu.py [--steps 4] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from proteus_worker.engines.catvton.configs import tiny_components  # noqa: E402
from proteus_worker.engines.catvton.engine import CatVTONEngine  # noqa: E402
from proteus_worker.engines.catvton.pipeline import CatVTONPipeline  # noqa: E402
from proteus_worker.engines.catvton.samples import synthetic_job  # noqa: E402
from proteus_worker.engines.catvton.settings import CatVTONSettings  # noqa: E402

BATCHES = (1, 4, 8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tiny-model catvton throughput on CPU")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="timed batches per size (median kept)")
    parser.add_argument("--long-side", type=int, default=64, help="pixels, a multiple of 64")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch threads (default 1: on a shared machine OpenMP's spinning workers make 2 threads far slower)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    parts = tiny_components(seed=0)
    settings = CatVTONSettings(long_side=args.long_side, steps=args.steps)
    engine = CatVTONEngine(CatVTONPipeline(parts.unet, parts.vae, parts.scheduler), settings)
    shape = engine.shape_of(3 * args.long_side, 4 * args.long_side, None, degraded=False)
    jobs = [synthetic_job(f"bench-{i}", i, 3 * args.long_side, 4 * args.long_side, args.steps) for i in range(max(BATCHES))]
    engine.run_batch(jobs[:1], shape, lambda s, n: None)  # warm-up: kernel selection, allocator

    print(
        f"# catvton engine, tiny random models, CPU ({torch.get_num_threads()} threads), "
        f"{shape.resolution}, {shape.steps} steps, CFG {settings.guidance_scale}, median of {args.repeats}"
    )
    print()
    print("| batch | s / batch | s / image | images / s | throughput x batch 1 |")
    print("|---|---|---|---|---|")
    baseline: float | None = None
    for batch in BATCHES:
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            results = engine.run_batch(jobs[:batch], shape, lambda s, n: None)
            times.append(time.perf_counter() - start)
            failed = [r for r in results if isinstance(r, Exception)]
            if failed:
                print(f"batch {batch}: {len(failed)} jobs failed: {failed[0]}", file=sys.stderr)
                return 1
        seconds = statistics.median(times)
        rate = batch / seconds
        baseline = baseline or rate
        print(f"| {batch} | {seconds:.3f} | {seconds / batch:.3f} | {rate:.2f} | {rate / baseline:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
