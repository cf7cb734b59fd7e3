"""A loopback HTTP/1.1 server that records every connection and request, for proxy tests.

It stands in for a tracking server (to see exactly what the proxy sends upstream) or for an
attacker's host (which must receive nothing). It answers every request 200 with a small JSON
list, keeps connections alive, and can behave like a server whose keep-alive timer closes an
idle connection just as the client reuses it (`drop_idle_after`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER = json.dumps({"items": [], "next_cursor": None}).encode()


@dataclass
class CapturedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class CaptureServer:
    """Records `connections`, `requests` and `dropped` (requests closed on unanswered).

    Args:
        drop_idle_after: when set, a request arriving on a kept-alive connection that has been
            idle at least this many seconds is read and the connection closed with no answer:
            what a client sees when its request crosses the server's keep-alive close on the wire.
    """

    drop_idle_after: float | None = None
    connections: int = 0
    dropped: int = 0
    requests: list[CapturedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the capture server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def host(self) -> str:
        """`127.0.0.1:<port>`, as it would appear in a URL's authority."""
        return self.url.removeprefix("http://")

    def start(self) -> CaptureServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            idle_since: float | None = None

            def setup(self) -> None:
                super().setup()
                with owner._lock:
                    owner.connections += 1

            def answer(self) -> None:
                idle_since = self.idle_since
                limit = owner.drop_idle_after
                if idle_since is not None and limit is not None and time.monotonic() - idle_since >= limit:
                    with owner._lock:
                        owner.dropped += 1
                    self.close_connection = True
                    return
                body = self.read_body()
                with owner._lock:
                    owner.requests.append(CapturedRequest(self.command, self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(ANSWER)))
                # Headers a proxy must not relay to the browser.
                self.send_header("Set-Cookie", "upstream_session=capture; Path=/")
                self.send_header("X-Upstream-Only", "capture")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(ANSWER)
                self.wfile.flush()
                self.idle_since = time.monotonic()

            def read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(parts)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="capture-http", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
