"""`/labtrack/api/v1/(.*)`: the browser's only way to the tracking server.

The key is added here, server-side; request and response bodies stream through with
back-pressure both ways (a 5 GB artifact never sits in memory), and status codes and the
API's JSON errors pass through unchanged. Jupyter's auth and XSRF checks run in `prepare`,
before a single body byte is read or forwarded.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, cast

import httpx
import tornado.web
from jupyter_server.utils import url_path_join
from tornado.http1connection import HTTP1Connection
from tornado.iostream import StreamClosedError

from labtrack.server_ext import upstream
from labtrack.server_ext.base import LabtrackHandler
from labtrack.server_ext.connection import TrackingServerUnreachable, describe_transport_error
from labtrack.server_ext.upstream import UnsafeApiPath

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Only these request headers travel upstream: never the browser's cookies, Jupyter token or XSRF token.
FORWARDED_REQUEST_HEADERS = (
    "Content-Type", "Content-Length", "Accept", "Idempotency-Key",
    "If-None-Match", "If-Match", "If-Modified-Since", "Range",
)
FORWARDED_RESPONSE_HEADERS = (
    "Content-Type", "Content-Length", "Content-Disposition", "ETag", "Last-Modified",
    "Cache-Control", "Accept-Ranges", "Content-Range", "Retry-After",
)
# The tracking server enforces the real artifact limit; this only lifts Tornado's default.
MAX_UPLOAD_BYTES = 1 << 40
# Error bodies are read whole (to strip the key); anything larger is cut, it is not an API error.
MAX_ERROR_BODY_BYTES = 1 << 20
# Chunks (Tornado reads ~64 KiB at a time) buffered between the browser and the tracking server.
UPLOAD_QUEUE_CHUNKS = 16


@tornado.web.stream_request_body
class ProxyHandler(LabtrackHandler):
    """Forward every verb under `/labtrack/api/v1/` to `<api_url>/api/v1/` with the key added."""

    _upstream: asyncio.Task[httpx.Response] | None = None
    _chunks: asyncio.Queue[bytes | None] | None = None
    _target: httpx.URL | None = None
    _refusal: tornado.web.HTTPError | None = None

    def compute_etag(self) -> str | None:
        # Bodies are streamed, so Tornado's whole-body ETag would be wrong; upstream ETags pass through.
        return None

    async def prepare(self) -> None:  # type: ignore[override]
        try:
            await super().prepare()  # authentication and XSRF
        except tornado.web.HTTPError as refusal:
            if self.request.method not in BODY_METHODS:
                raise
            # Refusing now would close the connection with the request body unread, which the
            # client sees as a connection reset instead of the 403 and its message. Let Tornado
            # read (and drop) the body within its default size limit; the verb raises the refusal.
            self._refusal = refusal
            return
        conn = self.labtrack.connection
        if not conn.url:
            return  # the verb answers 502 with the reason
        try:
            self._target = conn.api_url(self._relative_target())
        except UnsafeApiPath as exc:
            bad_path = tornado.web.HTTPError(400, "%s", str(exc))
            if self.request.method not in BODY_METHODS:
                raise bad_path from None
            self._refusal = bad_path  # raised by the verb, after the body is read (as above)
            return
        if self.request.method in BODY_METHODS:
            connection = cast(HTTP1Connection, self.request.connection)
            connection.set_max_body_size(MAX_UPLOAD_BYTES)
            self._chunks = asyncio.Queue(maxsize=UPLOAD_QUEUE_CHUNKS)
            self._upstream = asyncio.ensure_future(self._send(self._body_stream()))

    def _relative_target(self) -> str:
        """The still-encoded path after `/labtrack/api/v1/`, plus `?query`, as the browser sent them."""
        prefix = url_path_join(self.base_url, "labtrack/api/v1/")
        raw = self.request.path[len(prefix):] if self.request.path.startswith(prefix) else ""
        target = raw + (f"?{self.request.query}" if self.request.query else "")
        # Tornado decodes the request line as latin-1; get the bytes back, then read them as UTF-8.
        return target.encode("latin-1", "replace").decode("utf-8", "replace")

    async def _body_stream(self) -> AsyncIterator[bytes]:
        assert self._chunks is not None
        while (chunk := await self._chunks.get()) is not None:
            yield chunk

    async def _feed(self, chunk: bytes | None) -> None:
        """Queue a body chunk (None = end), waiting while the queue is full unless upstream gave up."""
        if self._chunks is None or self._upstream is None or self._upstream.done():
            return
        put = asyncio.ensure_future(self._chunks.put(chunk))
        await asyncio.wait({put, self._upstream}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()

    async def data_received(self, chunk: bytes) -> None:
        # Awaiting here is Tornado's flow control: the browser's upload waits for the server.
        await self._feed(chunk)

    async def _send(self, content: AsyncIterator[bytes] | None) -> httpx.Response:
        app = self.labtrack
        headers = {name: value for name in FORWARDED_REQUEST_HEADERS if (value := self.request.headers.get(name))}
        if content is None:
            # A body-less verb (GET, DELETE) never forwards a body, so it must not announce one.
            headers.pop("Content-Length", None)
        # Bytes pass through untouched (and error bodies can be searched for the key).
        headers["Accept-Encoding"] = "identity"
        assert self._target is not None  # set in prepare whenever a server is configured
        request = app.http_client.build_request(self.request.method or "GET", self._target, headers=headers, content=content)
        return await upstream.send(app.http_client, request, stream=True)

    def on_connection_close(self) -> None:
        # The browser went away mid-upload: stop the upstream request instead of leaving it hanging.
        if self._upstream is not None and not self._upstream.done():
            self._upstream.cancel()
        super().on_connection_close()

    async def _proxy(self) -> None:
        if self._refusal is not None:
            raise self._refusal
        conn = self.labtrack.connection
        if not conn.url:
            error = TrackingServerUnreachable("", conn.problem or "no server is configured")
            self.write_json(error.to_json(), error.status)
            return
        if self._upstream is None:
            self._upstream = asyncio.ensure_future(self._send(None))
        else:
            await self._feed(None)
        try:
            response = await self._upstream
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            reason = conn.redact(describe_transport_error(exc))
            error = TrackingServerUnreachable(conn.public_url, reason)
            where = self._target.path if self._target is not None else ""
            self.log.warning("labtrack proxy: %s %s failed: %s", self.request.method, where, reason)
            self.write_json(error.to_json(), error.status)
            return
        try:
            await self._relay(response)
        finally:
            await response.aclose()

    async def _relay(self, response: httpx.Response) -> None:
        """Send the upstream status, headers and body back to the browser."""
        conn = self.labtrack.connection
        status = response.status_code
        self.set_status(status, reason=response.reason_phrase or "Unknown")
        is_error = status >= 400
        for name in FORWARDED_RESPONSE_HEADERS:
            value = response.headers.get(name)
            if value is not None and not (is_error and name == "Content-Length"):
                self.set_header(name, value)
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        if is_error:
            body = await _read_at_most(response, MAX_ERROR_BODY_BYTES)
            for secret in filter(None, [conn.api_key]):
                body = body.replace(secret.encode(), b"***")
            self.finish(body, set_content_type=content_type)
            return
        if status in (204, 304):
            self.finish(set_content_type=content_type)
            return
        try:
            async for chunk in response.aiter_raw():
                self.write(chunk)
                await self.flush()  # back-pressure: wait for the browser before reading more
        except StreamClosedError:
            return  # the browser went away; nothing left to tell it
        except httpx.TransportError as exc:
            # Headers are gone already: cut the connection so a truncated download never looks complete.
            self.log.warning("labtrack proxy: upstream broke mid-response: %s", conn.redact(describe_transport_error(exc)))
            self.request.connection.close()  # type: ignore[union-attr]
            return
        self.finish(set_content_type=content_type)

    @tornado.web.authenticated
    async def get(self, path: str) -> None:
        await self._proxy()

    @tornado.web.authenticated
    async def post(self, path: str) -> None:
        await self._proxy()

    @tornado.web.authenticated
    async def put(self, path: str) -> None:
        await self._proxy()

    @tornado.web.authenticated
    async def patch(self, path: str) -> None:
        await self._proxy()

    @tornado.web.authenticated
    async def delete(self, path: str) -> None:
        await self._proxy()


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


__all__ = ["ProxyHandler"]
