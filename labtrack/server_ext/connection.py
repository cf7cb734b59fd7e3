"""Where the extension's tracking server is, and the async HTTP client that talks to it.

Framework-free: no Tornado here, so the handlers stay thin and these parts test alone.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from labtrack.server_ext import upstream
from labtrack.server_ext.upstream import API_PREFIX, KEEPALIVE_EXPIRY_SECONDS, api_url

REDACTED = "***"


def url_without_credentials(url: str) -> str:
    """`url` with any `user:password@` part removed, safe to show in a browser or a log."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url.rstrip("/")
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)).rstrip("/")


def normalize_server_url(url: str) -> str:
    """`http://host:8765/` or `http://host:8765/api/v1` → `http://host:8765` (the API prefix is ours to add)."""
    url = url.strip().rstrip("/")
    return url[: -len(API_PREFIX)] if url.endswith(API_PREFIX) else url


def redact(text: str, *secrets: str) -> str:
    """`text` with every non-empty secret replaced by `***` (error text must never leak the key)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def is_loopback(url: str) -> bool:
    """Whether `url` points at this machine (localhost or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def answers_health(url: str, timeout: float = 2.0) -> bool:
    """Whether a labtrack server answers `GET /api/v1/health` at `url` (a blocking start-up check)."""
    try:
        response = httpx.get(api_url(url, "health"), timeout=timeout, trust_env=not is_loopback(url))
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@dataclass
class TrackingConnection:
    """The tracking server this Jupyter server talks to (`url` empty when there is none)."""

    url: str = ""
    api_key: str = ""
    embedded: bool = False
    #: Why there is no server (shown to the user), empty when `url` is set.
    problem: str = ""

    @property
    def public_url(self) -> str:
        return url_without_credentials(self.url)

    def api_url(self, path: str) -> httpx.URL:
        """The URL of `path` (relative to `/api/v1/`, may carry `?query`), built from parts.

        Raises:
            UnsafeApiPath: `path` is not a plain relative path.
        """
        raw_path, _, raw_query = path.partition("?")
        return api_url(self.url, raw_path, raw_query)

    def redact(self, text: str) -> str:
        """`text` without the API key (nor credentials embedded in the URL)."""
        parts = urlsplit(self.url) if self.url else None
        password = parts.password if parts else None
        return redact(text, self.api_key, password or "")

    def make_client(self, timeout: float) -> httpx.AsyncClient:
        """An async client with the key added to every request, for the proxy and the services.

        It has no base URL on purpose: every request names a URL from `api_url`.
        """
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.AsyncClient(
            headers=headers,
            # One client serves every browser session: a cookie the tracking server sets must never
            # ride along on the next request, whoever sends it. A jar that accepts no domain keeps none.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            # An HTTP(S)_PROXY meant for the internet must not capture the local embedded server.
            trust_env=not is_loopback(self.url),
            limits=httpx.Limits(
                max_connections=50, max_keepalive_connections=10, keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS
            ),
        )


class TrackingServerError(Exception):
    """The tracking server answered with an error; `status`/`code` are passed to the browser."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class TrackingServerUnreachable(TrackingServerError):
    """The tracking server did not answer (connection refused, timeout, none configured)."""

    def __init__(self, public_url: str, reason: str):
        where = f"at {public_url} " if public_url else ""
        message = (
            f"The labtrack tracking server {where}did not answer ({reason}). "
            "Check that it is running (`labtrack server`), or point JupyterLab at another one with "
            "LABTRACK_API_URL / c.LabtrackApp.api_url."
        )
        super().__init__(502, "server_unreachable", message)


def describe_transport_error(exc: BaseException) -> str:
    """A short human reason for an httpx transport failure."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc).strip()
    return text or type(exc).__name__


class TrackingApi:
    """Async calls to the tracking server's REST API used by the notebook handlers."""

    def __init__(self, client: httpx.AsyncClient, connection: TrackingConnection):
        self._client = client
        self._connection = connection

    async def request(self, method: str, path: str, json_body: Any = None) -> Any:
        """Send one JSON request; return the decoded body or raise `TrackingServerError`."""
        if not self._connection.url:
            raise TrackingServerUnreachable("", self._connection.problem or "no server is configured")
        try:
            request = self._client.build_request(method, self._connection.api_url(path), json=json_body)
            response = await upstream.send(self._client, request)
        except httpx.TransportError as exc:
            reason = self._connection.redact(describe_transport_error(exc))
            raise TrackingServerUnreachable(self._connection.public_url, reason) from None
        if response.status_code >= 400:
            raise self._error_from(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _error_from(self, response: httpx.Response) -> TrackingServerError:
        code, message = "server_error", f"The tracking server answered {response.status_code}."
        details: dict[str, Any] = {}
        try:
            error = response.json().get("error") or {}
            code = str(error.get("code") or code)
            message = str(error.get("message") or message)
            if isinstance(error.get("details"), dict):
                details = error["details"]
        except (ValueError, AttributeError):
            pass
        return TrackingServerError(response.status_code, code, self._connection.redact(message), details)

    async def get_task(self, task_id: str) -> dict[str, Any] | None:
        """The task, or None when it does not exist."""
        try:
            return await self.request("GET", f"tasks/{task_id}")
        except TrackingServerError as exc:
            if exc.status == 404:
                return None
            raise

    async def create_task(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", "tasks", body)

    async def update_task(self, task_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("PATCH", f"tasks/{task_id}", body)

    async def delete_task(self, task_id: str) -> None:
        await self.request("DELETE", f"tasks/{task_id}")

    async def get_queue(self, queue: str) -> dict[str, Any] | None:
        """The queue (by id or name), or None when there is none."""
        try:
            return await self.request("GET", f"queues/{quote(queue, safe='')}")
        except TrackingServerError as exc:
            if exc.status == 404:
                return None
            raise

    async def enqueue_task(self, task_id: str, queue_id: str) -> dict[str, Any]:
        return await self.request("POST", f"tasks/{task_id}/enqueue", {"queue": queue_id})

    async def health(self) -> dict[str, Any]:
        return await self.request("GET", "health")
