"""What the proxy sends upstream, seen from the other end: a capture server stands in for the
tracking server, and another for an attacker's host.

The proxy builds only `<api_url>/api/v1/<relative path>`: a path that names another host in any
form is a 400 and reaches nobody (else httpx would send the tracking key to that host).
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
import requests

KEY = "lt_proxy_upstream_" + "k" * 24

# Each reads as (or decodes to) a URL with a scheme or host, an empty segment or a backslash.
ATTACK_PATHS = [
    "http://{host}/x",
    "HTTP://{host}/x",
    "http:/{host}/x",
    "//{host}/x",
    "///{host}/x",
    "projects//{host}/x",
    "{host}/x",
    "http:%2F%2F{host}/x",
    "http%3A%2F%2F{host}/x",
    "http%3a//{host}/x",
    "%68ttp://{host}/x",
    "ht%09tp://{host}/x",
    "%2F%2F{host}/x",
    "%2f/{host}/x",
    "%252F%252F{host}/x",
    "http%253A%252F%252F{host}/x",
    "%25252F%25252F{host}/x",
    "\\\\{host}/x",
    "/\\{host}/x",
    "%5C%5C{host}/x",
    "%5c/{host}/x",
    "%255C%255C{host}/x",
    "tasks/%2E%2E/%2E%2E/{host}/x",
]


@pytest.fixture
def proxied(jupyter_factory, capture_factory, tmp_path: Path):
    """(jupyter, tracking stand-in): Jupyter's api_url is a capture server, its key `KEY`."""
    tracking = capture_factory()
    env = {"LABTRACK_API_URL": tracking.url, "LABTRACK_API_KEY": KEY, "LABTRACK_HOME": str(tmp_path / "home")}
    return jupyter_factory(env=env), tracking


def raw_request(jupyter, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    """Send the request target byte for byte (requests and browsers would normalise some forms)."""
    conn = http.client.HTTPConnection("127.0.0.1", jupyter.port, timeout=30)
    try:
        all_headers = {**jupyter.headers, **(headers or {})}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        conn.request(method, target, body=body, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_path_naming_another_host_is_refused_and_reaches_nobody(proxied, capture_factory) -> None:
    jupyter, tracking = proxied
    attacker = capture_factory()
    refused = []
    for form in ATTACK_PATHS:
        target = "/labtrack/api/v1/" + form.format(host=attacker.host)
        for method, body in (("GET", None), ("POST", b'{"name": "x"}'), ("DELETE", None)):
            status, raw = raw_request(jupyter, method, target, body)
            assert status == 400, (method, target, status, raw[:300])
            error = json.loads(raw)["error"]
            assert error["code"] == "bad_request" and error["message"].startswith("Refused API path"), error
            assert KEY.encode() not in raw
            refused.append((method, target))
    assert len(refused) == 3 * len(ATTACK_PATHS)
    assert attacker.connections == 0 and attacker.requests == []
    # Refused before anything was sent: the tracking server saw nothing either.
    assert tracking.connections == 0 and tracking.requests == []
    # The same proxy still forwards a plain path, to the configured server only.
    status, _ = raw_request(jupyter, "GET", "/labtrack/api/v1/projects?search=http://" + attacker.host)
    assert status == 200
    assert [(r.method, r.path) for r in tracking.requests] == [("GET", f"/api/v1/projects?search=http://{attacker.host}")]
    assert attacker.connections == 0
    assert KEY not in jupyter.log_text()


def test_plain_paths_pass_through_with_their_encoding(proxied) -> None:
    jupyter, tracking = proxied
    for target in ("tasks/abc/artifacts/a%2Fb/content", "projects/by-name/team%20vision", "tasks/a:b/events?after=3"):
        status, raw = raw_request(jupyter, "GET", "/labtrack/api/v1/" + target)
        assert status == 200, raw
    assert [r.path for r in tracking.requests] == [
        "/api/v1/tasks/abc/artifacts/a%2Fb/content", "/api/v1/projects/by-name/team%20vision",
        "/api/v1/tasks/a:b/events?after=3",
    ]


# Headers the proxy may send upstream: its own key, body framing, and the listed pass-through ones.
ALLOWED_UPSTREAM_HEADERS = {
    "host", "accept", "accept-encoding", "connection", "user-agent", "authorization",
    "content-type", "content-length", "transfer-encoding", "idempotency-key",
}


def test_only_the_proxys_own_key_reaches_the_tracking_server(proxied) -> None:
    jupyter, tracking = proxied
    browser = requests.Session()
    # Log in the way a browser does: Jupyter's login form sets the _xsrf and session cookies.
    browser.get(jupyter.url("login"), timeout=10)
    xsrf = browser.cookies["_xsrf"]
    login = browser.post(jupyter.url("login"), data={"password": jupyter.token, "_xsrf": xsrf}, timeout=10,
                         allow_redirects=False)
    assert login.status_code in (302, 303), login.text
    session_cookies = {c.name: c.value for c in browser.cookies}
    assert len(session_cookies) >= 2, session_cookies  # _xsrf and Jupyter's user cookie
    browser_headers = {
        "X-XSRFToken": xsrf, "Origin": jupyter.base_url.rstrip("/"), "Referer": jupyter.url("lab"),
        "X-Forwarded-For": "203.0.113.9", "Idempotency-Key": "idem-1",
    }
    api = jupyter.url("labtrack/api/v1/")
    # By cookie (as JupyterLab does) …
    listed = browser.get(api + "projects", headers=browser_headers, timeout=10)
    assert listed.status_code == 200
    # Back to the browser: none of the tracking server's own headers, and Jupyter's no-sniff + CSP.
    assert "upstream_session" not in listed.headers.get("Set-Cookie", "") and "X-Upstream-Only" not in listed.headers
    assert listed.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in listed.headers["Content-Security-Policy"]
    assert browser.post(api + "projects", json={"name": "p"}, headers=browser_headers, timeout=10).status_code == 200
    assert browser.delete(api + "projects/x", headers=browser_headers, timeout=10).status_code == 200
    # … and by Jupyter token in the browser's own Authorization header.
    token_headers = {**jupyter.headers, "Cookie": "; ".join(f"{k}={v}" for k, v in session_cookies.items())}
    assert requests.get(api + "projects", headers=token_headers, timeout=10).status_code == 200
    assert requests.put(api + "tasks/t/artifacts/a", data=b"abc", headers=token_headers, timeout=10).status_code == 200

    secrets = [jupyter.token, xsrf, *session_cookies.values()]
    assert [r.method for r in tracking.requests] == ["GET", "POST", "DELETE", "GET", "PUT"]
    for request in tracking.requests:
        names = {name.lower() for name in request.headers}
        assert names <= ALLOWED_UPSTREAM_HEADERS, (request.method, names - ALLOWED_UPSTREAM_HEADERS)
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        for value in request.headers.values():
            assert not any(secret in value for secret in secrets), (request.method, value)
    assert tracking.requests[1].headers.get("Idempotency-Key") == "idem-1"
    assert tracking.requests[1].body == b'{"name": "p"}' and tracking.requests[4].body == b"abc"
