"""Response headers that keep stored bytes from running as code in a browser.

Two pieces: `SecurityHeadersMiddleware` wraps the whole ASGI app (error pages and the lean
ingest path included) and adds `X-Content-Type-Options: nosniff` and a restrictive
`Content-Security-Policy` to every response that does not set its own; `download_headers`
decides how stored bytes (artifacts, media) are served: the image types the UI renders inline
with their own type, everything else as an `application/octet-stream` attachment.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# An API answer is data, never a page: nothing may load, run or frame it.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
NOSNIFF = "nosniff"
_NOSNIFF_HEADER = (b"x-content-type-options", NOSNIFF.encode())
_CSP_HEADER = (b"content-security-policy", API_CSP.encode())

# Raster images the lab extension shows in an <img>; SVG is left out on purpose (it can carry script).
INLINE_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
SAFE_TYPE = "application/octet-stream"


class SecurityHeadersMiddleware:
    """Adds nosniff and the API's CSP to every HTTP response unless the response set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {bytes(name).lower() for name, _value in headers}
                if _NOSNIFF_HEADER[0] not in present:
                    headers.append(_NOSNIFF_HEADER)
                if _CSP_HEADER[0] not in present:
                    headers.append(_CSP_HEADER)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _ascii_fallback(filename: str) -> str:
    """A quoted-string-safe ASCII stand-in for old clients: no quotes, backslashes or controls."""
    return "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "download"


def content_disposition(kind: str, filename: str) -> str:
    """`attachment`/`inline` with the name as RFC 6266 asks: `filename=` in ASCII, `filename*=` in UTF-8.

    Browsers take the exact name from `filename*`; `filename=` is the fallback for older clients.
    """
    return f"{kind}; filename=\"{_ascii_fallback(filename)}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_headers(filename: str) -> tuple[str, dict[str, str]]:
    """The media type and headers for serving stored bytes named `filename`.

    The type comes from the name the uploader chose, so it is trusted only for raster images;
    anything else (HTML, SVG, JavaScript, unknown) is served as opaque bytes to be saved.
    """
    dot = filename.rfind(".")
    suffix = filename[dot:].lower() if dot >= 0 else ""
    image_type = INLINE_IMAGE_TYPES.get(suffix)
    if image_type:
        return image_type, {"Content-Disposition": content_disposition("inline", filename)}
    return SAFE_TYPE, {"Content-Disposition": content_disposition("attachment", filename)}
