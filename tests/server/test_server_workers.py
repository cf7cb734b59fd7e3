"""Workers on the real server, SQLite and PostgreSQL: register (and replace), heartbeat answering
stop requests, unregister, and the lost-worker watchdog failing a silent worker's task."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from polling import wait_for
from server_helpers import Api, error

from labtrack.server.settings import WORKER_TIMEOUT_ENV

RESOURCES = {"hostname": "gpu-box", "cpu_count": 16, "memory_total": 64 * 2**30,
             "gpus": [{"index": 0, "name": "NVIDIA A100", "uuid": "GPU-1", "memory_total": 80 * 2**30}]}


def _register(api: Api, name: str = "gpu-box:agent-1", **extra) -> dict:
    r = api.post("/workers", json={"name": name, "queues": ["default"], "resources": RESOURCES, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def _running(api: Api, worker: str, name: str = "job") -> str:
    """A task popped by `worker` (now in_progress on it)."""
    tid = api.task(name)["id"]
    assert api.post(f"/tasks/{tid}/enqueue").status_code == 200
    r = api.post("/queues/pop", json={"queues": ["default"], "worker": worker})
    assert r.status_code == 200 and r.json()["task"]["id"] == tid, r.text
    return tid


def _beat(api: Api, worker: str, task_id: str | None = None, **body):
    return api.post(f"/workers/{worker}/heartbeat", json={"task_id": task_id, **body})


def test_a_worker_registers_and_is_listed_with_its_queues(api: Api) -> None:
    api.post("/queues", json={"name": "gpu"})
    gpu = api.get("/queues/gpu").json()["id"]
    worker = _register(api, queues=["gpu", "default"])
    assert worker["status"] == "active" and worker["current_task"] is None and worker["usage"] is None
    assert worker["queues"][0] == gpu and len(worker["queues"]) == 2
    assert worker["resources"] == RESOURCES
    assert api.get(f"/workers/{worker['id']}").json() == worker
    assert [w["id"] for w in api.get("/workers").json()["items"]] == [worker["id"]]
    assert api.get("/queues/gpu").json()["workers"] == [worker["id"]]
    usage = {"cpu_percent": 12.5, "memory_used": 2**30, "gpus": [{"index": 0, "utilization": 87.0,
                                                                  "memory_used": 2**33, "temperature": 61.0}]}
    assert _beat(api, worker["id"], usage=usage).json() == {"stop_requested": False}
    assert api.get(f"/workers/{worker['id']}").json()["usage"] == usage
    assert "gpu-box:agent-1" in error(api.post("/workers", json={"name": "gpu-box:agent-1"}), 409, "conflict")["message"]
    error(api.post("/workers", json={"name": "x", "queues": ["nope"]}), 404)
    error(api.post("/workers", json={"name": "x", "resources": {"cpu_count": "many"}}), 422)
    error(api.post("/workers", json={"name": ""}), 422)
    error(api.get(f"/workers/{'0' * 32}"), 404)
    error(api.get("/workers", params={"status": "asleep"}), 422)


def test_replacing_a_worker_marks_the_old_one_gone_and_fails_its_task(api: Api) -> None:
    old = _register(api)
    tid = _running(api, old["id"])
    new = _register(api, replace=True)
    assert new["id"] != old["id"]
    assert api.get(f"/workers/{old['id']}").json()["status"] == "gone"
    task = api.get(f"/tasks/{tid}").json()
    assert (task["status"], task["status_reason"]) == ("failed", "worker lost"), task
    assert "replaced" in task["status_message"]
    assert [w["id"] for w in api.get("/workers").json()["items"]] == [new["id"]]
    assert {w["id"] for w in api.get("/workers", params={"status": "all"}).json()["items"]} == {old["id"], new["id"]}
    assert [w["id"] for w in api.get("/workers", params={"status": "gone"}).json()["items"]] == [old["id"]]
    error(_beat(api, old["id"]), 409, "worker_gone")
    error(api.post("/queues/pop", json={"queues": ["default"], "worker": old["id"]}), 409, "worker_gone")


def test_a_stop_reaches_the_worker_on_its_next_heartbeat(api: Api) -> None:
    worker = _register(api)["id"]
    tid = _running(api, worker)
    assert _beat(api, worker, tid).json() == {"stop_requested": False}
    stopping = api.post(f"/tasks/{tid}/stop").json()
    assert (stopping["status"], stopping["stop_requested"]) == ("in_progress", True)
    assert _beat(api, worker, tid).json() == {"stop_requested": True}
    assert api.get(f"/workers/{worker}").json()["current_task"]["id"] == tid
    # A forced stop ends the task at once: the worker still hears it must end the process.
    forced = _running(api, worker, "forced")
    assert api.post(f"/tasks/{forced}/stop", json={"force": True}).json()["status"] == "stopped"
    assert _beat(api, worker, forced).json() == {"stop_requested": True}
    # So does a task deleted under it.
    gone = _running(api, worker, "deleted")
    assert api.delete(f"/tasks/{gone}").status_code == 204
    assert _beat(api, worker, gone).json() == {"stop_requested": True}
    assert _beat(api, worker).json() == {"stop_requested": False}
    error(_beat(api, worker, "not-an-id"), 422)
    error(_beat(api, "0" * 32), 404)


def test_unregistering_fails_the_task_still_running_on_it(api: Api) -> None:
    worker = _register(api)["id"]
    tid = _running(api, worker)
    done = _running(api, worker, "done")
    assert api.post(f"/tasks/{done}/complete").status_code == 200
    assert api.delete(f"/workers/{worker}").status_code == 204
    task = api.get(f"/tasks/{tid}").json()
    assert (task["status"], task["status_reason"], task["worker"]) == ("failed", "worker lost", worker), task
    assert task["completed"] is not None
    assert api.get(f"/tasks/{done}").json()["status"] == "completed"
    assert api.get(f"/workers/{worker}").json()["status"] == "gone"
    assert api.get("/workers").json()["items"] == []
    error(_beat(api, worker, tid), 409, "worker_gone")
    error(api.delete(f"/workers/{'0' * 32}"), 404)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_silent_worker_is_lost_and_its_task_failed(server_factory, backend: str) -> None:
    server = server_factory(backend, ["--worker-timeout", "1.5"])
    server.start()
    api = Api(server)
    silent, alive = _register(api, "box:silent")["id"], _register(api, "box:alive")["id"]
    lost_task = _running(api, silent, "lost")
    kept_task = _running(api, alive, "kept")
    began = time.monotonic()

    def lost() -> dict | None:
        _beat(api, alive, kept_task)
        task = api.get(f"/tasks/{lost_task}").json()
        return task if task["status"] == "failed" else None

    task = wait_for(lost, timeout=20, interval=0.2, what="the silent worker's task to be failed")
    print(f"\nworker lost detected {time.monotonic() - began:.2f} s after its last contact (timeout 1.5 s)")
    assert task["status_reason"] == "worker lost", task
    assert "1.5 s" in task["status_message"] and WORKER_TIMEOUT_ENV in task["status_message"], task
    assert api.get(f"/workers/{silent}").json()["status"] == "gone"
    assert api.get(f"/workers/{alive}").json()["status"] == "active"
    assert api.get(f"/tasks/{kept_task}").json()["status"] == "in_progress"
    error(_beat(api, silent, lost_task), 409, "worker_gone")


def test_a_worker_waiting_in_a_long_poll_is_not_lost(server_factory) -> None:
    server = server_factory("sqlite", ["--worker-timeout", "1.5"])
    server.start()
    api = Api(server)
    worker = _register(api)["id"]
    r = api.post("/queues/pop", json={"queues": ["default"], "worker": worker, "wait": 5}, timeout=30)
    assert r.status_code == 204, r.text
    assert api.get(f"/workers/{worker}").json()["status"] == "active"


def test_worker_heartbeats_keep_a_task_that_has_not_attached_from_lost_contact(server_factory) -> None:
    # The agent is still building the task's environment: only the worker is talking.
    server = server_factory("sqlite", ["--lost-contact-timeout", "1", "--worker-timeout", "30"])
    server.start()
    api = Api(server)
    worker = _register(api)["id"]
    tid = _running(api, worker)
    until = time.monotonic() + 3
    while time.monotonic() < until:
        assert _beat(api, worker, tid).json() == {"stop_requested": False}
        time.sleep(0.2)
    assert api.get(f"/tasks/{tid}").json()["status"] == "in_progress"


def test_the_worker_timeout_comes_from_the_environment_and_is_checked(server_factory, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(WORKER_TIMEOUT_ENV, "1")
    server = server_factory("sqlite")
    server.start()
    api = Api(server)
    worker = _register(api)["id"]
    tid = _running(api, worker)
    task = wait_for(lambda: (t := api.get(f"/tasks/{tid}").json())["status"] == "failed" and t, timeout=20,
                    interval=0.2, what="the task of a worker silent past LABTRACK_WORKER_TIMEOUT=1 to fail")
    assert task["status_reason"] == "worker lost" and "1 s" in task["status_message"]
    for env, flag in (("soon", None), ("0", None), (None, "-1")):
        cmd = [sys.executable, "-m", "labtrack", "server", "--port", "1", "--db", f"sqlite:///{tmp_path / 'x.db'}"]
        if flag is not None:
            cmd += ["--worker-timeout", flag]
            monkeypatch.delenv(WORKER_TIMEOUT_ENV, raising=False)
        else:
            monkeypatch.setenv(WORKER_TIMEOUT_ENV, env)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "greater than 0" in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert (WORKER_TIMEOUT_ENV if env is not None else "--worker-timeout") in out.stderr
