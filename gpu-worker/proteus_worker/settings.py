"""The worker's configuration, read from the environment and checked before anything starts."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from proteus_worker.contract import contract

Engine = Literal["auto", "catvton", "warp"]


class SettingsError(ValueError):
    """The environment does not configure a worker; the message names each bad variable."""


def _default_name() -> str:
    # Pod names are valid ids; a dotted host name (laptops) keeps only its first label.
    return socket.gethostname().split(".")[0]


class WorkerSettings(BaseSettings):
    """Each field reads the environment variable of the same name in upper case."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore", frozen=True)

    redis_url: str
    worker_name: str = Field(default_factory=_default_name, validate_default=True)
    worker_engine: Engine = "auto"
    worker_health_port: int = Field(default=8090, ge=0, le=65535)
    worker_health_host: str = Field(default="127.0.0.1", min_length=1)
    worker_heartbeat_interval_s: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    worker_batch_window_ms: int = Field(default=500, gt=0)
    worker_max_batch_size: int = Field(default=8, ge=1, le=64)
    worker_max_deliveries: int = Field(default=3, ge=1, le=100)
    worker_reclaim_idle_ms: int = Field(default=30_000, ge=100)
    worker_progress_every: int = Field(default=5, ge=1)
    worker_max_image_bytes: int = Field(default=15 * 1024 * 1024, gt=0)
    worker_max_image_pixels: int = Field(default=40_000_000, gt=0)
    log_level: Literal["debug", "info", "warn", "error"] = "info"
    worker_test_engine: str | None = None
    """test-only: `module:attribute` of a factory `(WorkerSettings) -> Engine` that replaces every engine"""
    object_storage_endpoint: str | None = None
    object_storage_bucket: str | None = None
    object_storage_region: str | None = None
    object_storage_access_key: str | None = None
    object_storage_secret_key: str | None = None

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError("not a redis:// or rediss:// URL")
        return value

    @field_validator("worker_name")
    @classmethod
    def _worker_name(cls, value: str) -> str:
        return contract().check_id("WORKER_NAME", value)

    @field_validator("worker_test_engine")
    @classmethod
    def _test_engine(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", value):
            raise ValueError("not module:attribute")
        return value

    @field_validator("object_storage_endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("not an http:// or https:// URL")
        return value


class GivenValuesOnly(BaseSettings):
    """Put first among a settings class's bases (`class _Given(GivenValuesOnly, MySettings)`) to
    read only the values passed in, so an explicit env is not mixed with os.environ."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


class _GivenEnv(GivenValuesOnly, WorkerSettings):
    """WorkerSettings from the values passed in only."""


def _expects(field: str) -> str:
    return {
        "redis_url": "required, a redis:// or rediss:// URL",
        "worker_name": f"letters, digits, _ and -, at most 128, not starting with _ or - ({contract().id_pattern})",
        "worker_engine": "one of auto, catvton, warp",
        "worker_health_port": "an integer from 0 to 65535 (0 picks a free port)",
        "worker_health_host": "a host name or IP address to listen on",
        "worker_heartbeat_interval_s": "a number of seconds greater than 0",
        "worker_batch_window_ms": "an integer number of milliseconds greater than 0",
        "worker_max_batch_size": "an integer from 1 to 64",
        "worker_max_deliveries": "an integer from 1 to 100",
        "worker_reclaim_idle_ms": "an integer number of milliseconds, at least 100",
        "worker_progress_every": "an integer number of steps, at least 1",
        "worker_max_image_bytes": "an integer number of bytes greater than 0",
        "worker_max_image_pixels": "an integer number of pixels greater than 0",
        "log_level": "one of debug, info, warn, error",
        "worker_test_engine": "module:attribute of an engine factory (tests only)",
        "object_storage_endpoint": "an http:// or https:// URL",
    }.get(field, "a string")


# Values that may hold a password are never echoed back.
_SECRET = {"redis_url", "object_storage_access_key", "object_storage_secret_key"}


def load_settings(env: Mapping[str, str] | None = None) -> WorkerSettings:
    """Settings from `env` (default: the process environment), or SettingsError naming each bad variable."""
    try:
        if env is None:
            return WorkerSettings()
        values: dict[str, Any] = {
            name: env[name.upper()] for name in WorkerSettings.model_fields if env.get(name.upper())
        }
        return _GivenEnv(**values)
    except ValidationError as error:
        source = os.environ if env is None else env
        lines = []
        for field in dict.fromkeys(str(e["loc"][0]) for e in error.errors() if e["loc"]):
            variable = field.upper()
            got = source.get(variable)
            shown = "" if not got or field in _SECRET else f", got {got!r}"
            lines.append(f"{variable}: {_expects(field)}{shown}")
        raise SettingsError("\n".join(lines)) from None
