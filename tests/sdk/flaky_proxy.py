"""A reverse proxy in front of the real tracking server that can answer 5xx for a while.

It stands for what a client sees when the server's database is down (503 with Retry-After) or
the server has a bug (500): the real server keeps running behind it, untouched. Only requests
with a Content-Length body are forwarded (the SDK's JSON calls), which is all these tests send.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


class FlakyProxy:
    """Forward to `upstream`; between `fail_for()` and its end, answer `status` to every request."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.failing_until = 0.0
        self.status = 503
        self.retry_after: str | None = None
        self.failed = 0  # requests answered with the failure
        self.forwarded = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FlakyProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_for(self, seconds: float, status: int = 503, retry_after: str | None = None) -> None:
        self.status, self.retry_after = status, retry_after
        self.failing_until = time.monotonic() + seconds

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if time.monotonic() < proxy.failing_until:
                    with proxy._lock:
                        proxy.failed += 1
                    payload = json.dumps({"error": {"code": "unavailable", "message": "database unreachable",
                                                    "details": {}}}).encode()
                    self.send_response(proxy.status)
                    if proxy.retry_after is not None:
                        self.send_header("Retry-After", proxy.retry_after)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream = requests.request(self.command, proxy.upstream + self.path, data=body,
                                            headers=headers, timeout=60)
                with proxy._lock:
                    proxy.forwarded += 1
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.items():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _relay

        return Handler
