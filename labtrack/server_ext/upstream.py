"""How a request for the tracking server is addressed and sent, for the proxy and the services.

Invariant: every request goes to `<api_url>/api/v1/<relative path>` and nowhere else. The
caller's part is checked as a relative path (no scheme, no host, no `//`, no backslash, no dot
segment, no control character, in any percent-encoded form, however many times encoded) and the
URL is assembled from the configured server's scheme, host and port plus that path. It is never
handed to httpx as a string, which httpx would read as an absolute URL naming another host — and
send the tracking key there.

Sending: a pooled keep-alive connection lives shorter than the server keeps it, and a request
that finds its connection dropped before any answer byte is sent once more if resending is
harmless (idempotent, no body), so a poll never fails on a connection the server just closed.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

import httpx

API_PREFIX = "/api/v1"
#: httpx keeps a pooled connection at most this long idle. Below uvicorn's keep-alive (5 s), so
#: the pool drops a connection before the server closes it under a request polled every 5 s.
KEEPALIVE_EXPIRY_SECONDS = 2.0
#: A path still changing after this many rounds of percent-decoding is refused, not decoded on.
MAX_DECODE_ROUNDS = 4
# RFC 3986 pchar plus "/" and "%" (existing escapes are kept); anything else is percent-encoded.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SHOWN_CHARS = 120
#: Methods that may be sent twice: resending one changes nothing the first did not.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
#: The connection went away before any byte of an answer (a pooled keep-alive connection closed by
#: the server as it was reused): the request never reached the application.
DROPPED_CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class UnsafeApiPath(ValueError):
    """A path the proxy refuses to forward; the message says why, for a 400."""


def _decodings(raw: str) -> list[str] | None:
    """`raw` and each successive percent-decoding of it, up to a fixed point (None: too many rounds)."""
    forms = [raw]
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            return forms
        forms.append(decoded)
    return None


def _problem(form: str) -> str | None:
    """Why `form` (one decoding of the path) is not a plain relative API path, or None."""
    if _CONTROL.search(form):
        return "it contains control characters"
    if "\\" in form:
        return "it contains a backslash"
    parts = urlsplit(form)
    if ":" in form.split("/", 1)[0] or parts.scheme or parts.netloc:
        return "it reads as a URL with a scheme or host"
    if form.startswith("/") or "//" in form:
        return "it contains an empty segment ('//'), which could name another host"
    if any(segment in {".", ".."} for segment in form.split("/")):
        return "'.' and '..' are not allowed in API paths"
    return None


def check_relative_path(raw_path: str) -> None:
    """Raise `UnsafeApiPath` unless `raw_path` (still percent-encoded) is a plain relative API path."""
    forms = _decodings(raw_path)
    if forms is None:
        problems = [f"it is percent-encoded more than {MAX_DECODE_ROUNDS} times"]
    else:
        problems = [problem for form in forms if (problem := _problem(form))]
    if problems:
        shown = raw_path if len(raw_path) <= _SHOWN_CHARS else raw_path[:_SHOWN_CHARS] + "…"
        raise UnsafeApiPath(
            f"Refused API path {shown!r}: {problems[0]}. The proxy forwards only paths relative to "
            "the tracking server's /api/v1/, such as 'projects' or 'tasks/<id>'."
        )


def _encode(text: str, safe: str) -> bytes:
    """Percent-encode what may not appear raw in a request target; keep the escapes already there."""
    return quote(_STRAY_PERCENT.sub("%25", text), safe=safe).encode("ascii")


def api_url(server_url: str, raw_path: str, raw_query: str = "") -> httpx.URL:
    """`<server_url>/api/v1/<raw_path>?<raw_query>`, assembled from parts.

    Args:
        server_url: the configured tracking server (`http://host:port`, maybe with a path prefix).
        raw_path: the path relative to `/api/v1/`, percent-encoded as it came in.
        raw_query: the query string without `?` (passed on as it is, only unsafe bytes escaped).

    Raises:
        UnsafeApiPath: `raw_path` is not a plain relative path (see the module docstring).
    """
    check_relative_path(raw_path)
    base = httpx.URL(server_url)
    prefix = base.raw_path.split(b"?", 1)[0].rstrip(b"/") + API_PREFIX.encode() + b"/"
    target = prefix + _encode(raw_path, _PATH_SAFE)
    if raw_query:
        target += b"?" + _encode(raw_query, _QUERY_SAFE)
    return httpx.URL(scheme=base.scheme, userinfo=base.userinfo, host=base.host, port=base.port, raw_path=target)


def _resendable(request: httpx.Request) -> bool:
    has_body = "Transfer-Encoding" in request.headers or request.headers.get("Content-Length", "0") != "0"
    return request.method in IDEMPOTENT_METHODS and not has_body


async def send(client: httpx.AsyncClient, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
    """Send `request`; resend an idempotent, body-less one once if its connection dropped unanswered.

    A keep-alive connection the server closes just as the pool reuses it fails with no answer at
    all; the request never reached the application, so sending it once more (the pool has dropped
    that connection) is safe. Anything else (a second drop, a timeout, a body) is raised.
    """
    try:
        return await client.send(request, stream=stream)
    except DROPPED_CONNECTION_ERRORS:
        if not _resendable(request):
            raise
    return await client.send(request, stream=stream)


__all__ = [
    "API_PREFIX", "KEEPALIVE_EXPIRY_SECONDS", "UnsafeApiPath", "api_url", "check_relative_path", "send",
]
