"""Security of what the tracking server answers: response headers, key roles, file modes, public routes."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

import pytest
import requests
from server_helpers import Api, error

API_CSP = "default-src 'none'; frame-ancestors 'none'"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _assert_locked_down(resp: requests.Response) -> None:
    assert resp.headers.get("x-content-type-options") == "nosniff", (resp.request.url, dict(resp.headers))
    assert resp.headers.get("content-security-policy") == API_CSP, (resp.request.url, dict(resp.headers))


# -- stored bytes are never served as active content --------------------------------------------------------


@pytest.mark.parametrize("name", ["x.html", "x.svg", "x.js", "x.htm", "x.xml", "x"])
def test_media_that_is_not_a_raster_image_is_an_attachment(sqlite_api: Api, name: str) -> None:
    tid = sqlite_api.task()["id"]
    payload = b"<html><script>alert(document.domain)</script></html>"
    stored = sqlite_api.post(f"/tasks/{tid}/media", params={"filename": name}, data=payload)
    assert stored.status_code == 201, stored.text
    got = sqlite_api.get(f"/tasks/{tid}/{stored.json()['uri']}")
    assert got.status_code == 200 and got.content == payload
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment;")
    _assert_locked_down(got)


@pytest.mark.parametrize(("name", "kind"), [("a.png", "image/png"), ("a.JPG", "image/jpeg"), ("a.jpeg", "image/jpeg"),
                                            ("a.gif", "image/gif"), ("a.webp", "image/webp")])
def test_raster_images_stay_inline_with_their_type(sqlite_api: Api, name: str, kind: str) -> None:
    tid = sqlite_api.task()["id"]
    uri = sqlite_api.post(f"/tasks/{tid}/media", params={"filename": name}, data=PNG).json()["uri"]
    got = sqlite_api.get(f"/tasks/{tid}/{uri}")
    assert got.headers["content-type"] == kind
    assert got.headers["content-disposition"].startswith("inline;")
    _assert_locked_down(got)


def test_artifact_downloads_are_attachments_with_an_rfc6266_name(sqlite_api: Api) -> None:
    tid = sqlite_api.task()["id"]
    cases = {
        "page": ("rapport d'été \"final\".html", "application/octet-stream", "attachment"),
        "vector": ("plot.svg", "application/octet-stream", "attachment"),
        "curve": ("curve.png", "image/png", "inline"),
    }
    for key, (filename, _kind, _disposition) in cases.items():
        r = sqlite_api.put(f"/tasks/{tid}/artifacts/{key}", params={"filename": filename}, data=b"<svg onload=alert(1)>")
        assert r.status_code == 201, r.text
    for key, (filename, kind, disposition) in cases.items():
        got = sqlite_api.get(f"/tasks/{tid}/artifacts/{key}/content")
        assert got.headers["content-type"] == kind, key
        value = got.headers["content-disposition"]
        fallback = re.search(r'filename="([^"]*)"', value)
        extended = re.search(r"filename\*=UTF-8''(\S+)$", value)
        assert value.startswith(disposition + ";") and fallback and extended, value
        assert fallback.group(1).isascii() and "\\" not in fallback.group(1)
        assert requests.utils.unquote(extended.group(1)) == filename
        _assert_locked_down(got)


# -- every answer carries the headers, however it was produced ------------------------------------------------


def test_every_kind_of_answer_carries_nosniff_and_csp(api: Api, any_tracking_server) -> None:
    tid = api.task()["id"]
    base = any_tracking_server.api
    batch = {"batch_id": "b1", "events": [{"type": "scalar", "metric": "m", "variant": "v", "iteration": 1, "value": 1.0}]}
    answers = [
        requests.get(f"{base}/health", timeout=10),
        requests.get(f"{base}/openapi.json", timeout=10),
        requests.get(f"{base}/tasks", timeout=10),  # 401, no key
        api.get("/tasks"),
        api.get("/nowhere"),  # 404 from the router
        api.put("/tasks"),  # 405
        api.post("/tasks", json={"name": 1}),  # 422
        # The lean ingest path answers before routing: success, its own error and a 401.
        api.post(f"/tasks/{tid}/events", json=batch),
        api.post(f"/tasks/{tid}/events", data=b"{", headers={"Content-Type": "application/json"}),
        requests.post(f"{base}/tasks/{tid}/events", json=batch, timeout=10),
    ]
    assert [a.status_code for a in answers] == [200, 200, 401, 200, 404, 405, 422, 200, 400, 401]
    for answer in answers:
        _assert_locked_down(answer)


def test_an_unexpected_error_page_carries_the_headers_too(tmp_path: Path) -> None:
    """ServerErrorMiddleware sits outside every add_middleware(): its 500 must still be locked down."""
    import asyncio

    from labtrack.server.app import create_app
    from labtrack.server.settings import Settings

    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", artifacts_url=str(tmp_path / "a"), watchdog=False))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/boom", "raw_path": b"/boom", "root_path": "", "query_string": b"", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2)}
    with pytest.raises(RuntimeError):  # ServerErrorMiddleware answers, then re-raises for the server to log
        asyncio.run(app(scope, receive, send))
    start = sent[0]
    headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    assert start["status"] == 500
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"] == API_CSP
    app.state.services.db.dispose()


def test_the_docs_page_gets_only_the_script_it_runs(tracking_server) -> None:
    page = requests.get(f"{tracking_server.api}/docs", timeout=10)
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert inline, "the page starts Swagger UI with an inline script"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'"
