"""
The warp engine's time per image at 768x1024 (the catvton portrait size) and 384x512, next to a
baseline measured in the same run: Pillow's alpha_composite of a full-frame RGBA layer of the same
size (a blend with no warping). Goal (issue #6): well under 100 ms at 1024x768 on the CPU.

    cd gpu-worker && .venv/bin/python -m bench.warp [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from PIL import Image, ImageDraw

from proteus_worker.engines.base import Landmark
from proteus_worker.engines.warp import WarpEngine, dress
from tests.tryon import pose


def median_ms(run: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds (CPU time is what a loaded shared machine cannot inflate)."""
    run()
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    landmarks = [Landmark(p["x"], p["y"], p.get("visibility")) for p in pose()]
    garment = Image.new("RGBA", (900, 1100), (0, 0, 0, 0))
    ImageDraw.Draw(garment).rectangle((60, 60, 840, 1040), fill=(20, 40, 200, 255))
    engine = WarpEngine()
    print(f"warp engine, median of {args.runs} runs")
    print(f"  {'size':<9} {'warp wall / CPU ms':>19} {'alpha_composite wall / CPU ms':>30}")
    for width, height in ((768, 1024), (384, 512)):
        person = Image.new("RGB", (width, height), (200, 180, 160))
        shape = engine.shape_of(width, height, None, False)
        layer = Image.new("RGBA", (width, height), (20, 40, 200, 128))
        warp = median_ms(lambda: dress(person, garment, landmarks, shape), args.runs)
        plain = median_ms(lambda: Image.alpha_composite(person.convert("RGBA"), layer).convert("RGB"), args.runs)
        print(f"  {width}x{height:<5} {warp[0]:9.1f} / {warp[1]:6.1f} {plain[0]:20.1f} / {plain[1]:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
