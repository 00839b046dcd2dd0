"""The worker's HTTP health endpoint: a stdlib server in a daemon thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def health_server(host: str, port: int, name: str, redis_ok: Callable[[], bool]) -> ThreadingHTTPServer:
    """Bind `host:port` (0 picks a free port) and serve `GET /health` in a daemon thread."""

    class HealthHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/health":
                self._reply(404, {"status": "not found", "path": self.path})
            elif redis_ok():
                self._reply(200, {"status": "ok", "redis": "ok", "name": name})
            else:
                self._reply(503, {"status": "unavailable", "redis": "unreachable", "name": name})

        def _reply(self, status: int, body: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # probes every few seconds would drown the worker's own log

    server = ThreadingHTTPServer((host, port), HealthHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
