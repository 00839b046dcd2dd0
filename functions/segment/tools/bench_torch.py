"""PyTorch eager on CPU for the same SegFormer the segment function runs: the baseline of the
segment benchmark (bench/src/segment). Builds the architecture with the export script's seeded
random weights (the compute equals the real model's), times one 512x512 forward pass `runs`
times after a warm-up, and prints one JSON line: {"p50": ms, "p95": ms, "runs": n, "threads": t}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from export_segformer import FoldedLogits, LogitsOnly, build  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="b2")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--image-size", type=int, default=512)
    parser.add_argument("--fold", action="store_true", help="the folded decode head (export_segformer.py --fold-decode-head)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    built = build(args.size, 0)
    model = FoldedLogits(built).eval() if args.fold else LogitsOnly(built).eval()
    pixels = torch.randn(1, 3, args.image_size, args.image_size, generator=torch.Generator().manual_seed(0))
    times: list[float] = []
    with torch.inference_mode():
        for _ in range(args.warmup):
            model(pixels)
        cpu = time.process_time()
        for _ in range(args.runs):
            start = time.perf_counter()
            logits = model(pixels)
            times.append((time.perf_counter() - start) * 1000)
        cpu_ms = (time.process_time() - cpu) * 1000 / args.runs
    print(
        json.dumps(
            {
                "ms": times,
                "cpu_ms": cpu_ms,
                "p50": percentile(times, 50),
                "p95": percentile(times, 95),
                "runs": len(times),
                "threads": torch.get_num_threads(),
                "shape": list(logits.shape),
                "torch": torch.__version__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
