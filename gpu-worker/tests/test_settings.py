from __future__ import annotations

import os
import subprocess
import sys

import pytest

from proteus_worker.settings import SettingsError, load_settings

BASE = {"REDIS_URL": "redis://127.0.0.1:6379/0"}


def test_defaults() -> None:
    s = load_settings({**BASE, "WORKER_NAME": "gpu-0"})
    assert s.redis_url == BASE["REDIS_URL"]
    assert s.worker_name == "gpu-0"
    assert s.worker_engine == "auto"
    assert s.worker_health_port == 8090
    assert s.worker_health_host == "127.0.0.1"
    assert s.worker_heartbeat_interval_s == 2.0
    assert s.worker_batch_window_ms == 500
    assert (s.worker_max_batch_size, s.worker_max_deliveries, s.worker_reclaim_idle_ms) == (8, 3, 30_000)
    assert (s.worker_max_image_bytes, s.worker_max_image_pixels) == (15 * 1024 * 1024, 40_000_000)
    assert (s.worker_progress_every, s.worker_test_engine, s.log_level) == (5, None, "info")
    assert s.object_storage_endpoint is None and s.object_storage_secret_key is None


def test_default_name_is_the_host_name() -> None:
    assert load_settings(BASE).worker_name


def test_explicit_env_ignores_the_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379")
    monkeypatch.setenv("WORKER_ENGINE", "warp")
    with pytest.raises(SettingsError, match="REDIS_URL"):
        load_settings({})
    assert load_settings(BASE).worker_engine == "auto"


def test_values_are_parsed() -> None:
    s = load_settings(
        {
            **BASE,
            "REDIS_URL": "rediss://:pw@redis.example:6380/2",
            "WORKER_ENGINE": "warp",
            "WORKER_HEALTH_PORT": "0",
            "WORKER_HEARTBEAT_INTERVAL_S": "0.25",
            "WORKER_BATCH_WINDOW_MS": "20",
            "OBJECT_STORAGE_ENDPOINT": "http://127.0.0.1:9000",
            "OBJECT_STORAGE_BUCKET": "proteus",
        }
    )
    assert (s.worker_engine, s.worker_health_port, s.worker_heartbeat_interval_s) == ("warp", 0, 0.25)
    assert (s.worker_batch_window_ms, s.object_storage_bucket) == (20, "proteus")


@pytest.mark.parametrize(
    ("variable", "value", "expects"),
    [
        ("REDIS_URL", None, "REDIS_URL: required, a redis:// or rediss:// URL"),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL: required, a redis:// or rediss:// URL"),
        ("WORKER_HEALTH_PORT", "abc", "WORKER_HEALTH_PORT: an integer from 0 to 65535"),
        ("WORKER_HEALTH_PORT", "70000", "WORKER_HEALTH_PORT: an integer from 0 to 65535"),
        ("WORKER_ENGINE", "dalle", "WORKER_ENGINE: one of auto, catvton, warp"),
        ("WORKER_HEARTBEAT_INTERVAL_S", "0", "WORKER_HEARTBEAT_INTERVAL_S: a number of seconds greater than 0"),
        ("WORKER_BATCH_WINDOW_MS", "-5", "WORKER_BATCH_WINDOW_MS: an integer number of milliseconds"),
        ("WORKER_NAME", "../etc", "WORKER_NAME: letters, digits"),
        ("OBJECT_STORAGE_ENDPOINT", "s3.example.com", "OBJECT_STORAGE_ENDPOINT: an http:// or https:// URL"),
        ("WORKER_MAX_DELIVERIES", "0", "WORKER_MAX_DELIVERIES: an integer from 1 to 100"),
        ("WORKER_MAX_BATCH_SIZE", "65", "WORKER_MAX_BATCH_SIZE: an integer from 1 to 64"),
        ("WORKER_RECLAIM_IDLE_MS", "50", "WORKER_RECLAIM_IDLE_MS: an integer number of milliseconds, at least 100"),
        ("WORKER_MAX_IMAGE_PIXELS", "-1", "WORKER_MAX_IMAGE_PIXELS: an integer number of pixels"),
        ("WORKER_TEST_ENGINE", "os.system('x')", "WORKER_TEST_ENGINE: module:attribute"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: one of debug, info, warn, error"),
    ],
)
def test_bad_value_names_the_variable(variable: str, value: str | None, expects: str) -> None:
    env = {**BASE, variable: value} if value is not None else {k: v for k, v in BASE.items() if k != variable}
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert str(caught.value).startswith(expects)


def test_every_bad_variable_is_named_and_secrets_are_not_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"REDIS_URL": "http://user:s3cret@h", "WORKER_ENGINE": "dalle", "WORKER_HEALTH_PORT": "x"})
    lines = str(caught.value).splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["REDIS_URL", "WORKER_ENGINE", "WORKER_HEALTH_PORT"]
    assert "s3cret" not in str(caught.value)


def test_entry_point_exits_2_naming_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "WORKER_", "OBJECT_STORAGE_"))}
    env["WORKER_HEALTH_PORT"] = "70000"
    result = subprocess.run(
        [sys.executable, "-m", "proteus_worker"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.startswith("proteus gpu-worker: invalid configuration\n")
    assert "REDIS_URL: required" in result.stderr
    assert "WORKER_HEALTH_PORT: an integer from 0 to 65535" in result.stderr


def test_env_example_lists_every_variable() -> None:
    """`.env.example` at the repo root documents every variable the worker reads."""
    from pathlib import Path

    from proteus_worker.settings import WorkerSettings

    example = Path(__file__).resolve().parents[2] / ".env.example"
    listed = {line.split("=", 1)[0] for line in example.read_text().splitlines() if "=" in line and not line.startswith("#")}
    names = {name.upper() for name in WorkerSettings.model_fields}
    assert len(names) > 5
    assert sorted(names - listed) == []
