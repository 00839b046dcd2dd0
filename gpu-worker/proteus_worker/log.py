"""
Structured JSON logs, one object per line on stderr (stdout carries only the listening line the
dev supervisor and the tests read), in the same shape as @proteus/common's Logger:
`{time, level, part, msg, ...fields}`. URL passwords never reach a log line.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogLevel = Literal["debug", "info", "warn", "error"]
_ORDER: dict[str, int] = {"debug": 10, "info": 20, "warn": 30, "error": 40}
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@", re.IGNORECASE)
_SECRET_FIELD = re.compile(r"pass(word)?|secret|token|authorization|cookie|api[-_]?key|signature|credential", re.I)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return _URL_PASSWORD.sub(r"\1***@", value)
    if isinstance(value, BaseException):
        return {"name": type(value).__name__, "message": _redact(str(value))}
    if isinstance(value, dict):
        return {k: "***" if _SECRET_FIELD.search(str(k)) else _redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


class Logger:
    def __init__(self, part: str = "gpu-worker", level: str = "info", out: TextIO | None = None, **base: Any) -> None:
        self._part = part
        self._level = _ORDER.get(level, 20)
        self._out = out
        self._base = base
        self._lock = threading.Lock()

    def child(self, **fields: Any) -> Logger:
        child = Logger(self._part, "debug", self._out, **{**self._base, **fields})
        child._level = self._level
        return child

    def _emit(self, level: str, msg: str, fields: dict[str, Any]) -> None:
        if _ORDER[level] < self._level:
            return
        time = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entry = _redact({"time": time, "level": level, "part": self._part, "msg": msg, **self._base, **fields})
        line = json.dumps(entry, default=str, ensure_ascii=False)
        out = self._out or sys.stderr
        with self._lock:
            out.write(line + "\n")
            out.flush()

    def debug(self, msg: str, **fields: Any) -> None:
        self._emit("debug", msg, fields)

    def info(self, msg: str, **fields: Any) -> None:
        self._emit("info", msg, fields)

    def warn(self, msg: str, **fields: Any) -> None:
        self._emit("warn", msg, fields)

    def error(self, msg: str, **fields: Any) -> None:
        self._emit("error", msg, fields)
