"""The worker's HTTP endpoints, health and Prometheus metrics: a stdlib server in a daemon thread."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def health_server(
    host: str,
    port: int,
    name: str,
    redis_ok: Callable[[], bool],
    metrics: Callable[[], tuple[bytes, str]] | None = None,
) -> ThreadingHTTPServer:
    """Bind `host:port` (0 picks a free port) and serve `GET /health` (and `GET /metrics` when
    `metrics` gives the Prometheus exposition and its content type) in a daemon thread."""

    class HealthHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics" and metrics is not None:
                body, content_type = metrics()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif path != "/health":
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
