"""The lost-contact watchdog's timeout is a setting (environment or flag), and a task it fails says why."""

from __future__ import annotations

import subprocess
import sys

import pytest
from polling import wait_for
from server_helpers import Api

from labtrack.server.settings import LOST_CONTACT_ENV
from labtrack.server.util import describe_seconds

# Recovery times and memory are measured: `make test` runs this module alone, after the parallel pass.
pytestmark = pytest.mark.serial


def _started(api: Api, name: str) -> str:
    tid = api.task(name)["id"]
    assert api.post(f"/tasks/{tid}/start").status_code == 200
    return tid


def _wait_failed(api: Api, tid: str, keep_alive: str | None = None) -> dict:
    def failed() -> dict | None:
        if keep_alive:
            api.post(f"/tasks/{keep_alive}/heartbeat")
        task = api.get(f"/tasks/{tid}").json()
        return task if task["status"] == "failed" else None

    return wait_for(failed, timeout=20, interval=0.3, what="the silent task to be failed for lost contact")


def test_the_timeout_comes_from_the_environment(server_factory, monkeypatch) -> None:
    monkeypatch.setenv(LOST_CONTACT_ENV, "1.5")
    server = server_factory("sqlite")
    server.start()
    api = Api(server)
    silent, chatty = _started(api, "silent"), _started(api, "chatty")
    lost = _wait_failed(api, silent, keep_alive=chatty)
    assert lost["status_reason"] == "lost contact: no heartbeat or event for 1.5 s", lost
    assert "1.5 s" in lost["status_message"] and LOST_CONTACT_ENV in lost["status_message"]
    assert lost["completed"] is not None
    assert api.get(f"/tasks/{chatty}").json()["status"] == "in_progress"


def test_the_flag_wins_over_the_environment(server_factory, monkeypatch) -> None:
    monkeypatch.setenv(LOST_CONTACT_ENV, "3600")
    server = server_factory("sqlite", ["--lost-contact-timeout", "1"])
    server.start()
    api = Api(server)
    lost = _wait_failed(api, _started(api, "silent"))
    assert lost["status_reason"] == "lost contact: no heartbeat or event for 1 s"


def test_a_bad_timeout_stops_the_server_with_a_message(tmp_path, monkeypatch) -> None:
    for env, flag in (("ten minutes", None), ("0", None), ("-5", None), (None, "0"), (None, "nan")):
        cmd = [sys.executable, "-m", "labtrack", "server", "--port", "1", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
        if flag is not None:
            cmd += ["--lost-contact-timeout", flag]
        if env is None:
            monkeypatch.delenv(LOST_CONTACT_ENV, raising=False)
        else:
            monkeypatch.setenv(LOST_CONTACT_ENV, env)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, (env, flag, out.stderr)
        assert "greater than 0" in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert (LOST_CONTACT_ENV if env is not None else "--lost-contact-timeout") in out.stderr


def test_durations_read_as_people_write_them() -> None:
    assert [describe_seconds(s) for s in (600, 3600, 7200, 90, 120, 1.5, 45, 5400)] == [
        "10 min", "1 h", "2 h", "90 s", "2 min", "1.5 s", "45 s", "90 min"]
