"""
Checks environments against the gpu-worker's own settings classes, for the manifest tests
(infra/test): reads a JSON list of environments on stdin, prints for each the variables the
worker does not know and what its settings loaders say is wrong. Run with the worker's virtualenv.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from proteus_worker.settings import SettingsError, WorkerSettings, load_settings

# The catvton settings module alone: the package's __init__ imports torch, which is slow and not needed.
_spec = importlib.util.spec_from_file_location(
    "catvton_settings", Path(__file__).resolve().parents[2] / "gpu-worker/proteus_worker/engines/catvton/settings.py"
)
assert _spec and _spec.loader
catvton = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = catvton  # pydantic resolves the module's annotations through sys.modules
_spec.loader.exec_module(catvton)

KNOWN = {name.upper() for name in WorkerSettings.model_fields} | {
    f"{catvton.ENV_PREFIX}{name.upper()}" for name in catvton.CatVTONSettings.model_fields
}
DEFAULTS = {
    name.upper(): field.default
    for name, field in WorkerSettings.model_fields.items()
    if isinstance(field.default, (int, float, str))
}
REQUIRED = sorted(name.upper() for name, field in WorkerSettings.model_fields.items() if field.is_required())


def check(env: dict[str, str]) -> dict[str, object]:
    problems: list[str] = []
    try:
        load_settings(env)
    except SettingsError as error:
        problems.extend(str(error).splitlines())
    if env.get("WORKER_ENGINE", "auto") in ("auto", "catvton"):
        try:
            catvton.load_catvton_settings(env)
        except catvton.CatVTONSettingsError as error:
            problems.extend(str(error).splitlines())
    return {"unknown": sorted(set(env) - KNOWN), "problems": problems}


if __name__ == "__main__":
    envs = json.load(sys.stdin)
    json.dump({"known": sorted(KNOWN), "required": REQUIRED, "defaults": DEFAULTS, "results": [check(e) for e in envs]}, sys.stdout)
