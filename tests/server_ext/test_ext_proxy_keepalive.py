"""Issue 8's false "server did not answer": a keep-alive connection the tracking server closes
just as the proxy reuses it must never turn a poll into a 502.

A capture server plays the tracking server whose keep-alive timer closes idle connections: a
request arriving on a connection idle for `drop_idle_after` seconds is read and left unanswered,
which is exactly what the proxy saw when uvicorn's 5 s timer crossed the sidebar's 5 s poll.
"""

from __future__ import annotations

import time
from pathlib import Path

import requests

KEY = "lt_keepalive_" + "k" * 24


def start_proxy(jupyter_factory, capture, tmp_path: Path):
    env = {"LABTRACK_API_URL": capture.url, "LABTRACK_API_KEY": KEY, "LABTRACK_HOME": str(tmp_path / "home")}
    return jupyter_factory(env=env)


def test_polls_across_idle_closes_never_fail(jupyter_factory, capture_factory, tmp_path: Path) -> None:
    idle_close = 0.3
    capture = capture_factory(drop_idle_after=idle_close)
    jupyter = start_proxy(jupyter_factory, capture, tmp_path)
    browser = requests.Session()
    answers: list[tuple[str, int, str]] = []
    for poll in range(32):
        time.sleep(idle_close + 0.1)  # the sidebar's cadence, just past the server's keep-alive
        # The sidebar's list poll through the proxy, and the config check through the extension's own client.
        path = "labtrack/config" if poll % 3 == 2 else "labtrack/api/v1/projects?limit=50"
        response = browser.get(jupyter.url(path), headers=jupyter.headers, timeout=30)
        body = response.json()
        answers.append((path, response.status_code, "" if path.endswith("50") else str(body.get("connected"))))
    failed = [a for a in answers if a[1] != 200 or a[2] == "False"]
    assert failed == [], failed
    # The race really happened: nearly every poll found its pooled connection closed and was resent once.
    assert capture.dropped >= 28, capture.dropped
    assert len(capture.requests) == 32


def test_a_request_with_a_body_is_never_resent(jupyter_factory, capture_factory, tmp_path: Path) -> None:
    capture = capture_factory(drop_idle_after=0.3)
    jupyter = start_proxy(jupyter_factory, capture, tmp_path)
    api = jupyter.url("labtrack/api/v1/")
    assert requests.get(api + "projects", headers=jupyter.headers, timeout=30).status_code == 200
    time.sleep(0.4)
    # Resending a POST could create the project twice: the drop is reported, not retried.
    response = requests.post(api + "projects", json={"name": "once"}, headers=jupyter.headers, timeout=30)
    assert response.status_code == 502 and response.json()["error"]["code"] == "server_unreachable", response.text
    assert capture.dropped == 1 and [r.method for r in capture.requests] == ["GET"]


def test_the_pool_lets_go_of_a_connection_before_the_server_does(jupyter_factory, capture_factory, tmp_path: Path) -> None:
    # uvicorn closes after 5 s idle; the pool's 2 s expiry means it never even tries a connection that old.
    capture = capture_factory(drop_idle_after=2.5)
    jupyter = start_proxy(jupyter_factory, capture, tmp_path)
    api = jupyter.url("labtrack/api/v1/")
    for _ in range(3):
        assert requests.get(api + "projects", headers=jupyter.headers, timeout=30).status_code == 200
        time.sleep(2.8)
    assert capture.dropped == 0, "a pooled connection older than the server's keep-alive was reused"
    assert capture.connections == 3
