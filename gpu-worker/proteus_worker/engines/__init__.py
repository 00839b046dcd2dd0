"""Try-on engines: `warp` (CPU, instant) and `catvton` (diffusion). See base.py for the interface."""
