#!/usr/bin/env bash
# The one command to run on a CUDA machine (no network needed): prints the catvton benchmark table.
exec "${PYTHON:-$(d="$(dirname "$0")/../.venv/bin/python"; [ -x "$d" ] && echo "$d" || echo python3)}" "$(dirname "$0")/catvton_gpu.py" "$@"
