"""
Engines by name. `warp` is always here; `catvton` plugs in from its own package
(proteus_worker.engines.catvton, configured by its WORKER_CATVTON_* variables) when that package
imports and reports CUDA and weights (`unavailable_reason` is None), built by
`CatVTONEngine.load`. `auto` resolves to catvton where it can run, else warp. A test may replace
every engine with a factory named by WORKER_TEST_ENGINE.
"""

from __future__ import annotations

import glob
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from proteus_worker.engines.base import Engine
from proteus_worker.engines.warp import WarpEngine

if TYPE_CHECKING:
    from proteus_worker.settings import WorkerSettings

EngineFactory = Callable[["WorkerSettings"], Engine]
CATVTON_MODULE = "proteus_worker.engines.catvton"


class EngineUnavailable(RuntimeError):
    """The configured engine cannot run here; the message says why."""


@dataclass(frozen=True)
class Engines:
    """The engines this worker runs: `default` answers `auto`; `by_name` those a job may ask for."""

    default: Engine
    by_name: dict[str, Engine]
    note: str = ""
    """why `auto` chose what it chose, for the start log"""

    def for_request(self, requested: str) -> Engine | None:
        """The engine for a job's `engine` field (auto, catvton, warp); None: not available here."""
        if requested == "auto":
            return self.default
        return self.by_name.get(requested)


def _catvton_module() -> Any:
    try:
        return importlib.import_module(CATVTON_MODULE)
    except ImportError as error:
        raise EngineUnavailable(f"the catvton engine does not import: {error}") from error


def catvton_unavailable_reason() -> str | None:
    """Why catvton cannot run here, None when it can (CUDA present, weights reachable)."""
    # No NVIDIA device node: no CUDA, and no need to import torch and diffusers to learn it.
    if not glob.glob("/dev/nvidia[0-9]*"):
        return "no NVIDIA device"
    try:
        module = _catvton_module()
        reason: str | None = module.unavailable_reason(module.load_catvton_settings())
        return reason
    except EngineUnavailable as error:
        return str(error)
    except Exception as error:  # bad WORKER_CATVTON_* values, a broken install: the worker can still warp
        return f"{type(error).__name__}: {error}"


def _create_catvton() -> Engine:
    module = _catvton_module()
    engine: Engine = module.CatVTONEngine.load(module.load_catvton_settings())
    return engine


def load_factory(spec: str) -> EngineFactory:
    """The factory named `module:attribute` (WORKER_TEST_ENGINE)."""
    module_name, _, attribute = spec.partition(":")
    factory: EngineFactory = getattr(importlib.import_module(module_name), attribute)
    return factory


def build_engines(settings: WorkerSettings) -> Engines:
    """The engines WORKER_ENGINE asks for; EngineUnavailable when `catvton` is asked and cannot run."""
    if settings.worker_test_engine:
        engine = load_factory(settings.worker_test_engine)(settings)
        return Engines(engine, {"warp": engine, "catvton": engine}, f"test engine {settings.worker_test_engine}")
    warp = WarpEngine()
    choice = settings.worker_engine
    if choice == "warp":
        return Engines(warp, {"warp": warp}, "WORKER_ENGINE=warp")
    reason = catvton_unavailable_reason()
    if reason is None:
        try:
            catvton = _create_catvton()
            return Engines(catvton, {"warp": warp, "catvton": catvton}, f"WORKER_ENGINE={choice}: CUDA and weights present")
        except Exception as error:
            reason = f"loading it failed: {type(error).__name__}: {error}"
    if choice == "catvton":
        raise EngineUnavailable(f"WORKER_ENGINE=catvton, but the catvton engine cannot run here: {reason}")
    return Engines(warp, {"warp": warp}, f"auto chose warp: catvton cannot run here ({reason})")
