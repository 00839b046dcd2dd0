"""Engine selection: WORKER_ENGINE, `auto`, the catvton probe, and the test engine override."""

from __future__ import annotations

import glob

import pytest

from proteus_worker.engines import registry
from proteus_worker.engines.registry import EngineUnavailable, build_engines
from proteus_worker.engines.warp import WarpEngine
from proteus_worker.settings import load_settings
from tests.fakes import FakeEngine

BASE = {"REDIS_URL": "redis://127.0.0.1:6379/0"}


def test_warp_asked_is_warp_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "catvton_unavailable_reason", lambda: pytest.fail("catvton must not be probed"))
    engines = build_engines(load_settings({**BASE, "WORKER_ENGINE": "warp"}))
    assert isinstance(engines.default, WarpEngine) and set(engines.by_name) == {"warp"}
    assert engines.for_request("auto") is engines.default and engines.for_request("catvton") is None


def test_auto_falls_back_to_warp_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "catvton_unavailable_reason", lambda: "no NVIDIA device")
    engines = build_engines(load_settings(BASE))
    assert engines.default.name == "warp" and engines.note == "auto chose warp: catvton cannot run here (no NVIDIA device)"


def test_catvton_asked_where_it_cannot_run_stops_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "catvton_unavailable_reason", lambda: "no NVIDIA device")
    with pytest.raises(EngineUnavailable, match="WORKER_ENGINE=catvton, but the catvton engine cannot run here: no NVIDIA device"):
        build_engines(load_settings({**BASE, "WORKER_ENGINE": "catvton"}))


def test_auto_picks_catvton_where_it_can_run(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEngine("catvton")
    monkeypatch.setattr(registry, "catvton_unavailable_reason", lambda: None)
    monkeypatch.setattr(registry, "_create_catvton", lambda: fake)
    engines = build_engines(load_settings(BASE))
    assert engines.default is fake and engines.for_request("catvton") is fake
    assert isinstance(engines.for_request("warp"), WarpEngine)


def test_a_catvton_that_fails_to_load_leaves_auto_on_warp(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> FakeEngine:
        raise OSError("weights not found")

    monkeypatch.setattr(registry, "catvton_unavailable_reason", lambda: None)
    monkeypatch.setattr(registry, "_create_catvton", broken)
    engines = build_engines(load_settings(BASE))
    assert engines.default.name == "warp" and "OSError: weights not found" in engines.note
    with pytest.raises(EngineUnavailable, match="weights not found"):
        build_engines(load_settings({**BASE, "WORKER_ENGINE": "catvton"}))


def test_no_nvidia_device_needs_no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(glob, "glob", lambda pattern: [])
    monkeypatch.setattr(registry, "_catvton_module", lambda: pytest.fail("the catvton package must not be imported"))
    assert registry.catvton_unavailable_reason() == "no NVIDIA device"


def test_the_test_engine_replaces_every_engine() -> None:
    engines = build_engines(load_settings({**BASE, "WORKER_TEST_ENGINE": "tests.fakes:slow_engine"}))
    assert isinstance(engines.default, FakeEngine)
    assert engines.for_request("warp") is engines.default and engines.for_request("catvton") is engines.default
