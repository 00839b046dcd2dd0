#!/usr/bin/env bash
# Runs Python in the segment tools' own virtualenv (.tools/segment-py at the repo root, ignored
# by git), making or updating it first from tools/requirements.txt. Used by the export script
# and the benchmark; never by the function itself, which is Node only.
#   bash functions/segment/tools/segment-py.sh tools/export_segformer.py --size tiny ...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
venv="$root/.tools/segment-py"
stamp="$venv/.proteus-installed"
if [ ! -f "$stamp" ] || [ "$here/requirements.txt" -nt "$stamp" ]; then
  py=$(command -v python3) || { echo "segment-py: python3 is missing: apt-get install -y python3 python3-venv" >&2; exit 1; }
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv" >&2 || { echo "segment-py: python3 -m venv failed: apt-get install -y python3-venv" >&2; exit 1; }
  echo "segment-py: installing torch, transformers, onnx, onnxruntime into $venv (a few minutes the first time)" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  touch "$stamp"
fi
exec "$venv/bin/python" "$@"
