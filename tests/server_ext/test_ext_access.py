"""Through a real Jupyter: no token → 403; cookie-authenticated writes need the XSRF token."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def jupyter(jupyter_factory, tracking_server):
    return jupyter_factory(env=tracking_server.env)


ROUTES = [
    ("GET", "labtrack/config"),
    ("POST", "labtrack/notebooks/track"),
    ("POST", "labtrack/notebooks/snapshot"),
    ("POST", "labtrack/notebooks/run-remotely"),
    *[(verb, "labtrack/api/v1/projects") for verb in ("GET", "POST", "PUT", "PATCH", "DELETE")],
]


def test_requests_without_jupyter_auth_are_forbidden(jupyter, tracking_server) -> None:
    for verb, path in ROUTES:
        for headers in ({}, {"Authorization": "token wrong-token"}):
            response = requests.request(verb, jupyter.url(path), headers=headers, json={"name": "x"}, timeout=10)
            assert response.status_code == 403, (verb, path, response.text)
            assert tracking_server.api_key not in response.text
    # Nothing reached the tracking server.
    projects = requests.get(f"{tracking_server.api}/projects", headers=tracking_server.headers, timeout=10).json()
    assert projects["items"] == []


def cookie_session(jupyter) -> requests.Session:
    """A browser-like session: logged in by cookie, holding Jupyter's `_xsrf` cookie."""
    session = requests.Session()
    session.get(jupyter.url(f"login?token={jupyter.token}"), timeout=10)
    session.post(jupyter.url("login"), data={"password": jupyter.token, "_xsrf": session.cookies.get("_xsrf", "")}, timeout=10)
    assert "_xsrf" in session.cookies, session.cookies
    return session


def test_cookie_authenticated_writes_need_the_xsrf_token(jupyter, tracking_server) -> None:
    session = cookie_session(jupyter)
    # Cookie auth is enough to read …
    assert session.get(jupyter.url("labtrack/config"), timeout=10).status_code == 200
    assert session.get(jupyter.url("labtrack/api/v1/projects"), timeout=10).status_code == 200
    # … but a write without the XSRF header is refused before it reaches the tracking server …
    for path, body in (("labtrack/api/v1/projects", {"name": "xsrf"}), ("labtrack/notebooks/track", {"path": "a.ipynb"})):
        refused = session.post(jupyter.url(path), json=body, timeout=10)
        assert refused.status_code == 403, refused.text
        assert "xsrf" in refused.json()["error"]["message"].lower()
    assert requests.get(f"{tracking_server.api}/projects", headers=tracking_server.headers, timeout=10).json()["items"] == []
    # … and goes through with it, as ServerConnection.makeRequest sends it.
    xsrf = {"X-XSRFToken": session.cookies["_xsrf"]}
    created = session.post(jupyter.url("labtrack/api/v1/projects"), json={"name": "xsrf"}, headers=xsrf, timeout=10)
    assert created.status_code == 201, created.text
    missing = session.post(jupyter.url("labtrack/notebooks/track"), json={"path": "a.ipynb"}, headers=xsrf, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_routes_live_under_jupyters_base_url(jupyter_factory, tracking_server) -> None:
    """Behind JupyterHub the server runs under a prefix; the proxy must strip exactly that."""
    jupyter = jupyter_factory(env=tracking_server.env, base_path="/user/ada/")
    base = jupyter.base_url
    assert base.endswith(":%d/user/ada/" % jupyter.port)
    created = requests.post(base + "labtrack/api/v1/projects", json={"name": "hub"}, headers=jupyter.headers, timeout=10)
    assert created.status_code == 201, created.text
    listed = requests.get(base + "labtrack/api/v1/projects?search=hub", headers=jupyter.headers, timeout=10)
    assert [p["name"] for p in listed.json()["items"]] == ["hub"]
    assert requests.get(base + "labtrack/config", headers=jupyter.headers, timeout=10).json()["connected"] is True
    outside = requests.get(f"http://127.0.0.1:{jupyter.port}/labtrack/config", headers=jupyter.headers, timeout=10)
    assert outside.status_code == 404
