"""The worker's Lua scripts (proteus_worker/lua/*.lua), each registered once per Redis client."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import redis
from redis.commands.core import Script


@cache
def _source(name: str) -> str:
    return (files("proteus_worker") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def script(client: redis.Redis, name: str) -> Script:
    """The script `lua/<name>.lua` bound to `client` (EVALSHA, falling back to EVAL once)."""
    return client.register_script(_source(name))
