"""`ApiClient`: the SDK's only door to the tracking server's REST API (one pooled `requests.Session`)."""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator

import requests

from labtrack.sdk.encoding import dumps
from labtrack.sdk.errors import ApiError, ConfigurationError, ServerUnreachable, api_error_for, parse_retry_after

DEFAULT_TIMEOUT = (5.0, 60.0)  # (connect, read) seconds: a dead server must not hang a caller forever


class ApiClient:
    """A client of `/api/v1` bound to one server URL and API key.

    Methods return parsed JSON (or `None` for 204) and raise `ApiError` subclasses for HTTP
    errors and `ServerUnreachable` when the server cannot be reached.
    """

    def __init__(self, url: str, api_key: str | None, timeout: tuple[float, float] = DEFAULT_TIMEOUT):
        if not url:
            raise ConfigurationError("ApiClient needs the server URL, e.g. http://127.0.0.1:8765")
        url = url.rstrip("/")
        if url.endswith("/api/v1"):
            url = url[: -len("/api/v1")]
        self.url = url
        self.api_key = api_key or ""
        self.timeout = timeout
        self._local = threading.local()

    def __repr__(self) -> str:  # never show the key
        return f"ApiClient({self.url!r})"

    @classmethod
    def from_environment(cls, url: str | None = None, api_key: str | None = None) -> "ApiClient":
        """Resolve the server: explicit arguments, then `LABTRACK_API_URL`/`LABTRACK_API_KEY`,
        then the user's config file, then the per-user embedded server (found or started)."""
        url = url or os.environ.get("LABTRACK_API_URL") or None
        api_key = api_key or os.environ.get("LABTRACK_API_KEY") or None
        if not url:
            from labtrack.local_server import configured_server

            configured = configured_server()
            if configured is not None:
                url, api_key = configured[0], api_key or configured[1] or None
        if not url:
            url, api_key = _embedded_server(api_key)
        return cls(url, api_key)

    @property
    def session(self) -> requests.Session:
        """One pooled `requests.Session` per thread (Session is not documented as thread-safe)."""
        sess = getattr(self._local, "session", None)
        if sess is None:
            sess = requests.Session()
            sess.headers["Authorization"] = f"Bearer {self.api_key}"
            sess.headers["User-Agent"] = "labtrack-sdk/0.1"
            self._local.session = sess
        return sess

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        timeout: tuple[float, float] | float | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request to `/api/v1{path}`; raise on HTTP errors, return the response."""
        if not path.startswith("/"):
            path = "/" + path
        url = f"{self.url}/api/v1{path}"
        hdrs = dict(headers or {})
        if json is not None:
            data = dumps(json)  # repairs what the server can't store (a NUL in a task name)
            hdrs.setdefault("Content-Type", "application/json")
        try:
            resp = self.session.request(
                method, url, params=params, data=data, headers=hdrs,
                timeout=timeout or self.timeout, stream=stream,
            )
        except requests.RequestException as exc:
            raise ServerUnreachable(f"labtrack server at {self.url} is unreachable: {type(exc).__name__}") from exc
        if resp.status_code >= 400:
            raise _error_from(resp)
        return resp

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.request(method, path, **kw)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise ApiError(resp.status_code, "bad_response", f"server sent non-JSON for {method} {path}") from exc

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET and return parsed JSON."""
        return self._call("GET", path, params=params)

    def post(self, path: str, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """POST a JSON body and return parsed JSON."""
        return self._call("POST", path, json=json if json is not None else {}, params=params)

    def patch(self, path: str, json: Any = None) -> Any:
        """PATCH a JSON body and return parsed JSON."""
        return self._call("PATCH", path, json=json if json is not None else {})

    def put(self, path: str, data: Any = None, params: dict[str, Any] | None = None, json: Any = None) -> Any:
        """PUT raw bytes (or a file object) or a JSON body and return parsed JSON."""
        headers = {"Content-Type": "application/octet-stream"} if json is None else None
        return self._call("PUT", path, data=data, params=params, json=json, headers=headers)

    def delete(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """DELETE and return parsed JSON (usually `None`)."""
        return self._call("DELETE", path, params=params)

    def download(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream a binary response body in chunks."""
        resp = self.request("GET", path, stream=True)
        with resp:
            yield from resp.iter_content(chunk_size)

    def paginate(self, path: str, params: dict[str, Any] | None = None, limit: int = 1000) -> Iterator[dict]:
        """Yield every item of a cursor-paged list endpoint."""
        query = dict(params or {})
        query["limit"] = limit
        while True:
            page = self.get(path, params=query)
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return
            query["cursor"] = cursor

    def health(self) -> dict[str, Any]:
        """The unauthenticated health document; raises `ServerUnreachable` when down."""
        return self.get("/health")


def _error_from(resp: requests.Response) -> ApiError:
    try:
        body = resp.json()
        err = body.get("error", {}) if isinstance(body, dict) else {}
    except ValueError:
        err = {}
    code = err.get("code") or ("server_error" if resp.status_code >= 500 else "error")
    message = err.get("message") or resp.text[:300] or resp.reason or "request failed"
    return api_error_for(resp.status_code, code, message, err.get("details"),
                         retry_after=parse_retry_after(resp.headers.get("Retry-After")))


def _embedded_server(api_key: str | None) -> tuple[str, str | None]:
    """Find or start the per-user embedded server (client-side: `labtrack.local_server`)."""
    from labtrack.local_server import ensure_embedded_server

    try:
        found = ensure_embedded_server()
    except (RuntimeError, TimeoutError, OSError) as exc:
        raise ServerUnreachable(f"could not start the per-user labtrack server: {exc}") from exc
    return found.url, found.api_key or api_key
