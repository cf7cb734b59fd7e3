"""`GET /docs`: Swagger UI over the OpenAPI document, with the one CSP that lets it run.

Every other response carries `default-src 'none'`; this page needs Swagger UI's script and
stylesheet (from the jsDelivr CDN, as FastAPI serves it), the inline script that starts it, and
`fetch` of the OpenAPI document. The inline script is allowed by its sha256, computed for the
page actually served (it embeds the document's URL, which depends on the root path), so no
other inline script could run here.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

CDN = "https://cdn.jsdelivr.net"
FAVICON_HOST = "https://fastapi.tiangolo.com"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_csp(page: str) -> str:
    """The Content-Security-Policy for one rendering of the docs page."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(page)
    )
    return "; ".join((
        "default-src 'none'",
        f"script-src {CDN} {hashes}".strip(),
        # Swagger UI sets style attributes on the elements it renders.
        f"style-src {CDN} 'unsafe-inline'",
        f"img-src 'self' data: {FAVICON_HOST}",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ))


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Interactive API docs (public, like the OpenAPI document: neither holds any data)."""
    root = request.scope.get("root_path", "")
    response = get_swagger_ui_html(openapi_url=f"{root}{request.app.openapi_url}", title=f"{request.app.title} - docs")
    page = bytes(response.body).decode()
    response.headers["Content-Security-Policy"] = docs_csp(page)
    return response
