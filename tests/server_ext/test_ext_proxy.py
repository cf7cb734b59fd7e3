"""`/labtrack/api/v1/...` through a real Jupyter to a real tracking server: every verb, the key
added server-side and never returned, streaming of big bodies, errors passed through, 502."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import requests


@pytest.fixture
def jupyter(jupyter_factory, tracking_server):
    return jupyter_factory(env=tracking_server.env)


def assert_no_key(response: requests.Response, key: str) -> None:
    assert key not in response.text
    assert all(key not in value for value in response.headers.values())


def test_every_verb_is_proxied_with_the_key_added(jupyter, tracking_server) -> None:
    api = jupyter.url("labtrack/api/v1/")
    key = tracking_server.api_key
    # The browser has no key: straight to the tracking server it is refused …
    assert requests.get(f"{tracking_server.api}/projects", timeout=10).status_code == 401
    seen: list[requests.Response] = []

    def call(verb: str, path: str, **kw) -> requests.Response:
        response = requests.request(verb, api + path, headers={**jupyter.headers, **kw.pop("headers", {})}, timeout=30, **kw)
        seen.append(response)
        return response

    # … through the proxy it works, for every verb.
    created = call("POST", "projects", json={"name": "proxy/demo", "description": "first"})
    assert created.status_code == 201, created.text
    project = created.json()
    assert call("GET", "projects?search=proxy&limit=5").json()["items"][0]["id"] == project["id"]
    patched = call("PATCH", f"projects/{project['id']}", json={"description": "second"})
    assert patched.status_code == 200 and patched.json()["description"] == "second"
    task = call("POST", "tasks", json={"name": "t", "project_name": "proxy/demo"}).json()
    put = call("PUT", f"tasks/{task['id']}/artifacts/notes?type=text&filename=notes.txt", data=b"hello",
               headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 201, put.text
    assert put.json()["size"] == 5
    content = call("GET", f"tasks/{task['id']}/artifacts/notes/content")
    assert content.status_code == 200 and content.content == b"hello"
    assert call("DELETE", f"tasks/{task['id']}/artifacts/notes").status_code == 204
    assert call("GET", f"tasks/{task['id']}/artifacts/notes").status_code == 404
    # The tracking server recorded the writes under the key's user, exactly as sent.
    direct = requests.get(f"{tracking_server.api}/projects/{project['id']}", headers=tracking_server.headers, timeout=10)
    assert direct.json()["description"] == "second"
    # Errors pass through with their status and the API's JSON shape.
    missing = call("GET", "tasks/" + "0" * 32)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    invalid = call("POST", "tasks", json={"name": "t", "project_name": "p", "no_such_field": 1})
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid"
    conflict = call("POST", "projects", json={"name": "proxy/demo"})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"
    for response in seen:
        assert_no_key(response, key)
    assert key not in jupyter.log_text()


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def test_big_bodies_stream_both_ways(jupyter, tracking_server) -> None:
    api = jupyter.url("labtrack/api/v1/")
    task = requests.post(api + "tasks", json={"name": "big", "project_name": "p"}, headers=jupyter.headers, timeout=10).json()
    peak_before = peak_rss_mib(jupyter.proc.pid)
    data = os.urandom(64 * 1024 * 1024)

    def chunks():  # no Content-Length: the upload is chunked all the way to the tracking server
        for start in range(0, len(data), 1 << 20):
            yield data[start:start + (1 << 20)]

    put = requests.put(api + f"tasks/{task['id']}/artifacts/weights?filename=w.bin", data=chunks(),
                       headers=jupyter.headers, timeout=120)
    assert put.status_code == 201, put.text
    assert put.json()["size"] == len(data)
    assert put.json()["sha256"] == hashlib.sha256(data).hexdigest()
    with requests.get(api + f"tasks/{task['id']}/artifacts/weights/content", headers=jupyter.headers,
                      stream=True, timeout=120) as download:
        assert download.status_code == 200
        digest, size = hashlib.sha256(), 0
        for chunk in download.iter_content(1 << 16):
            digest.update(chunk)
            size += len(chunk)
    assert size == len(data) and digest.hexdigest() == hashlib.sha256(data).hexdigest()
    # Streamed, not buffered: Jupyter's peak memory grew by far less than the 64 MiB that went through.
    assert peak_rss_mib(jupyter.proc.pid) - peak_before < 24


def test_unreachable_server_is_a_502_with_a_message(jupyter, tracking_server) -> None:
    config = requests.get(jupyter.url("labtrack/config"), headers=jupyter.headers, timeout=10).json()
    assert config["connected"] is True and config["server_url"] == tracking_server.url
    assert config["embedded"] is False and config["default_project"] == "notebooks" and config["version"]
    tracking_server.stop()
    for verb, body in (("GET", None), ("POST", {"name": "x"}), ("PUT", b"x" * 100_000), ("DELETE", None)):
        kwargs = {"json": body} if isinstance(body, dict) else {"data": body}
        response = requests.request(verb, jupyter.url("labtrack/api/v1/projects"), headers=jupyter.headers, timeout=30, **kwargs)
        assert response.status_code == 502, (verb, response.text)
        error = response.json()["error"]
        assert error["code"] == "server_unreachable"
        assert f"The labtrack tracking server at {tracking_server.url} did not answer" in error["message"]
        assert_no_key(response, tracking_server.api_key)
    config = requests.get(jupyter.url("labtrack/config"), headers=jupyter.headers, timeout=10)
    assert config.json()["connected"] is False and "did not answer" in config.json()["message"]
    assert_no_key(config, tracking_server.api_key)
    # Back up: the same Jupyter recovers without a restart.
    tracking_server.start()
    assert requests.get(jupyter.url("labtrack/api/v1/projects"), headers=jupyter.headers, timeout=10).status_code == 200


def test_a_wrong_key_is_passed_through_as_401_without_echoing_it(jupyter_factory, tracking_server) -> None:
    env = {**tracking_server.env, "LABTRACK_API_KEY": "lt_wrong_" + "ab" * 16}
    jupyter = jupyter_factory(env=env)
    response = requests.get(jupyter.url("labtrack/api/v1/projects"), headers=jupyter.headers, timeout=10)
    assert response.status_code == 401 and response.json()["error"]["code"] in {"invalid_key", "unauthorized"}
    assert_no_key(response, env["LABTRACK_API_KEY"])


def test_dot_segments_are_refused(jupyter) -> None:
    response = requests.get(jupyter.url("labtrack/api/v1/tasks/%2e%2e/%2e%2e/health"), headers=jupyter.headers, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
