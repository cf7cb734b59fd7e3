"""Queues on the real server, SQLite and PostgreSQL: CRUD, enqueue rules, pop order, moves, the
atomic pop under two concurrent workers, and the long-poll (prompt wake, 204 after the wait)."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from server_helpers import Api, error

from labtrack.server.services.queues import QueueSignal


def _worker(api: Api, name: str = "host:agent-1", queues: list[str] | None = None) -> str:
    r = api.post("/workers", json={"name": name, "queues": queues or ["default"]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _queued(api: Api, queue: str, count: int, priority: int = 0, name: str = "t") -> list[str]:
    ids = []
    for i in range(count):
        tid = api.task(f"{name}{i}")["id"]
        r = api.post(f"/queues/{queue}/entries", json={"task_id": tid, "priority": priority})
        assert r.status_code == 201, r.text
        ids.append(tid)
    return ids


def _order(api: Api, queue: str) -> list[str]:
    r = api.get(f"/queues/{queue}/entries")
    assert r.status_code == 200, r.text
    return [e["task_id"] for e in r.json()["items"]]


def _pop(api: Api, worker: str, queues: list[str], wait: float = 0) -> requests.Response:
    return api.post("/queues/pop", json={"queues": queues, "worker": worker, "wait": wait}, timeout=wait + 30)


def test_queues_are_created_listed_and_deleted_by_id_or_name(api: Api) -> None:
    names = [q["name"] for q in api.get("/queues").json()["items"]]
    assert names == ["default"], names
    created = api.post("/queues", json={"name": "gpu", "description": "A100s"})
    assert created.status_code == 201, created.text
    queue = created.json()
    assert queue["pending"] == 0 and queue["workers"] == [] and queue["description"] == "A100s"
    assert api.get(f"/queues/{queue['id']}").json() == api.get("/queues/gpu").json() == queue
    assert api.get("/queues", params={"name": "gpu"}).json()["items"] == [queue]
    assert "gpu" in error(api.post("/queues", json={"name": "gpu"}), 409, "conflict")["message"]
    error(api.post("/queues", json={"name": "-bad name"}), 422, "invalid")
    error(api.post("/queues", json={"name": "pop"}), 409, "conflict")  # /queues/pop is the pop action
    for verb in ("get", "delete", "put", "patch"):
        assert getattr(api, verb)("/queues/pop").headers.get("Allow") == "POST"
    error(api.get("/queues/nope"), 404, "not_found")
    assert "default" in error(api.delete("/queues/default"), 409)["message"]
    assert api.delete("/queues/gpu").status_code == 204
    error(api.get(f"/queues/{queue['id']}"), 404)


def test_deleting_a_queue_that_holds_tasks_is_a_conflict_unless_forced(api: Api) -> None:
    api.post("/queues", json={"name": "busy"})
    waiting = _queued(api, "busy", 2)
    err = error(api.delete("/queues/busy"), 409, "not_empty")
    assert err["details"]["pending"] == 2 and "force" in err["message"]
    assert api.get("/queues/busy").json()["pending"] == 2
    assert api.delete("/queues/busy", params={"force": "true"}).status_code == 204
    for tid in waiting:
        task = api.get(f"/tasks/{tid}").json()
        assert (task["status"], task["queue"]) == ("created", None), task


@pytest.mark.parametrize("status", ["in_progress", "completed", "queued", "published"])
def test_only_created_stopped_or_failed_tasks_can_be_enqueued(api: Api, status: str) -> None:
    tid = api.task()["id"]
    steps = {"in_progress": ["start"], "completed": ["start", "complete"], "queued": ["enqueue"],
             "published": ["start", "complete", "publish"]}[status]
    for step in steps:
        assert api.post(f"/tasks/{tid}/{step}").status_code == 200
    for attempt in (api.post("/queues/default/entries", json={"task_id": tid}), api.post(f"/tasks/{tid}/enqueue")):
        err = error(attempt, 409, "illegal_transition")
        assert err["details"]["status"] == status and f"is {status}" in err["message"], err
    assert api.get("/queues/default").json()["pending"] == (1 if status == "queued" else 0)


def test_enqueue_by_either_route_sets_task_queue_and_filters(api: Api) -> None:
    gpu = api.post("/queues", json={"name": "gpu"}).json()
    a, b, c = (api.task(n)["id"] for n in "abc")
    via_task = api.post(f"/tasks/{a}/enqueue", json={"queue": "gpu", "priority": 3})
    assert via_task.status_code == 200 and via_task.json()["queue"] == gpu["id"], via_task.text
    entry = api.post(f"/queues/{gpu['id']}/entries", json={"task_id": b}).json()
    assert entry["queue"] == gpu["id"] and entry["priority"] == 0
    assert entry["task"] == {"id": b, "name": "b", "project": "proj", "status": "queued", "user": entry["task"]["user"]}
    plain = api.post(f"/tasks/{c}/enqueue").json()  # no queue named: default
    assert plain["queue"] == api.get("/queues/default").json()["id"]
    listed = {t["id"] for t in api.get("/tasks", params={"queue": "gpu"}).json()["items"]}
    assert listed == {a, b}
    assert {t["id"] for t in api.get("/tasks", params={"queue": gpu["id"]}).json()["items"]} == {a, b}
    assert api.get("/tasks", params={"queue": "nope"}).json()["items"] == []
    # Leaving `queued` by any action takes the entry out of its queue.
    assert api.post(f"/tasks/{a}/stop").json()["status"] == "stopped"
    assert api.delete(f"/queues/gpu/entries/{b}").status_code == 204
    assert api.get(f"/tasks/{b}").json()["status"] == "created"
    assert _order(api, "gpu") == []
    error(api.delete(f"/queues/gpu/entries/{c}"), 404)  # c waits in default, not here
    error(api.post("/tasks/" + c + "/enqueue", json={"queue": "nope"}), 409)  # already queued
    d = api.task("d")["id"]
    assert "nope" in error(api.post(f"/tasks/{d}/enqueue", json={"queue": "nope"}), 404)["message"]
    assert api.get(f"/tasks/{d}").json()["status"] == "created"


def test_pop_order_follows_priority_then_fifo_and_moves(api: Api) -> None:
    api.post("/queues", json={"name": "q"})
    low = _queued(api, "q", 2, priority=0, name="low")
    high = _queued(api, "q", 2, priority=5, name="high")
    assert _order(api, "q") == [*high, *low]
    # top: before every entry (its priority is raised to the maximum)
    moved = api.patch(f"/queues/q/entries/{low[1]}", json={"position": "top"})
    assert moved.status_code == 200 and moved.json()["priority"] == 5, moved.text
    assert _order(api, "q") == [low[1], *high, low[0]]
    api.patch(f"/queues/q/entries/{high[0]}", json={"position": "bottom"})
    assert _order(api, "q") == [low[1], high[1], low[0], high[0]]
    api.patch(f"/queues/q/entries/{high[0]}", json={"position": 1})
    assert _order(api, "q") == [low[1], high[0], high[1], low[0]]
    # priority alone: it keeps its arrival place among the entries of that priority
    api.patch(f"/queues/q/entries/{low[0]}", json={"priority": 100})
    expected = [low[0], low[1], high[0], high[1]]
    assert _order(api, "q") == expected
    error(api.patch(f"/queues/q/entries/{low[0]}", json={"priority": 101}), 422)
    error(api.patch(f"/queues/q/entries/{low[0]}", json={"position": "middle"}), 422)
    error(api.patch(f"/queues/q/entries/{'0' * 32}", json={"position": "top"}), 404)
    worker = _worker(api, queues=["q"])
    popped = [_pop(api, worker, ["q"]).json()["task"]["id"] for _ in expected]
    assert popped == expected
    assert _pop(api, worker, ["q"]).status_code == 204


def test_pop_takes_queues_in_the_order_given_and_marks_the_task_running(api: Api) -> None:
    api.post("/queues", json={"name": "first"})
    api.post("/queues", json={"name": "second"})
    later, = _queued(api, "second", 1, priority=100)
    sooner, = _queued(api, "first", 1, priority=-100)
    worker = _worker(api, "box:1", ["first", "second"])
    got = _pop(api, worker, ["first", "second"])
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["task"]["id"] == sooner and body["queue"]["name"] == "first"
    task = body["task"]
    assert (task["status"], task["worker"], task["queue"]) == ("in_progress", worker, None)
    assert task["started"] and task["status_message"] == "running on box:1"
    assert api.get(f"/workers/{worker}").json()["current_task"] == {"id": sooner, "name": "t0", "status": "in_progress"}
    assert [t["id"] for t in api.get("/tasks", params={"worker": worker}).json()["items"]] == [sooner]
    assert _pop(api, worker, ["first", "second"]).json()["task"]["id"] == later
    error(_pop(api, worker, ["first", "nope"]), 404)
    error(_pop(api, "f" * 32, ["first"]), 409, "worker_gone")
    error(api.post("/queues/pop", json={"queues": [], "worker": worker}), 422)
    error(api.post("/queues/pop", json={"queues": ["first"], "worker": worker, "wait": 61}), 422)


def test_two_concurrent_poppers_drain_100_tasks_each_exactly_once(api: Api) -> None:
    api.post("/queues", json={"name": "drain"})
    expected = set(_queued(api, "drain", 100))
    workers = [_worker(api, f"box:{i}", ["drain"]) for i in range(2)]
    start = threading.Barrier(2)

    def drain(worker: str) -> list[str]:
        own = Api.__new__(Api)  # one HTTP session per thread (requests sessions are not thread-safe)
        own.base, own.session = api.base, requests.Session()
        own.session.headers.update(api.session.headers)
        got: list[str] = []
        start.wait()
        while True:
            r = _pop(own, worker, ["drain"])
            if r.status_code == 204:
                return got
            assert r.status_code == 200, r.text
            got.append(r.json()["task"]["id"])

    began = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(drain, workers))
    elapsed = time.perf_counter() - began
    every = results[0] + results[1]
    assert len(every) == 100 and set(every) == expected, (len(every), len(set(every)))
    assert all(results), [len(r) for r in results]  # both took part
    print(f"\n100 tasks drained by 2 concurrent workers in {elapsed:.2f} s ({[len(r) for r in results]})")
    owners = {t["id"]: t["worker"] for t in api.get("/tasks", params={"limit": 200}).json()["items"]}
    for worker, got in zip(workers, results):
        assert all(owners[tid] == worker for tid in got)
    assert api.get("/queues/drain").json()["pending"] == 0


def test_a_waiting_pop_returns_promptly_when_a_task_is_enqueued(api: Api) -> None:
    worker = _worker(api)
    tid = api.task()["id"]
    answer: dict = {}

    def wait() -> None:
        answer["response"] = _pop(api, worker, ["default"], wait=20)
        answer["at"] = time.perf_counter()

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(1.0)
    assert "response" not in answer, "the pop answered before anything was enqueued"
    other = Api.__new__(Api)
    other.base, other.session = api.base, requests.Session()
    other.session.headers.update(api.session.headers)
    enqueued = time.perf_counter()
    assert other.post(f"/tasks/{tid}/enqueue").status_code == 200
    waiter.join(25)
    assert not waiter.is_alive(), "the pop did not answer within its wait"
    latency = answer["at"] - enqueued
    assert answer["response"].status_code == 200 and answer["response"].json()["task"]["id"] == tid
    print(f"\nenqueue → waiting pop answered in {latency * 1000:.0f} ms")
    assert latency < 1.0, latency


def _session_like(api: Api) -> Api:
    """Another client of the same server (requests sessions are not thread-safe)."""
    other = Api.__new__(Api)
    other.base, other.session = api.base, requests.Session()
    other.session.headers.update(api.session.headers)
    return other


def test_enqueueing_while_a_worker_waits_answers_the_entry(api: Api) -> None:
    """The worker may pop the task the moment the enqueue commits: the answer is still the entry."""
    worker = _worker(api)
    other = _session_like(api)
    for i in range(12):
        tid = api.task(f"race{i}")["id"]
        popped: dict = {}
        waiter = threading.Thread(target=lambda: popped.update(r=_pop(other, worker, ["default"], wait=15)))
        waiter.start()
        time.sleep(0.3)
        added = api.post("/queues/default/entries", json={"task_id": tid})
        waiter.join(30)
        assert added.status_code == 201, (i, added.text)
        assert added.json()["task_id"] == tid and added.json()["task"]["status"] == "queued"
        assert popped["r"].status_code == 200 and popped["r"].json()["task"]["id"] == tid


def test_a_waiting_pop_answers_204_after_the_wait(api: Api) -> None:
    worker = _worker(api)
    began = time.perf_counter()
    r = _pop(api, worker, ["default"], wait=1.5)
    elapsed = time.perf_counter() - began
    assert r.status_code == 204 and r.content == b"", r.text
    assert 1.4 <= elapsed < 5, elapsed


def test_entries_page_with_a_cursor(api: Api) -> None:
    api.post("/queues", json={"name": "paged"})
    ids = _queued(api, "paged", 5)
    first = api.get("/queues/paged/entries", params={"limit": 2}).json()
    assert [e["task_id"] for e in first["items"]] == ids[:2] and first["next_cursor"]
    rest = api.get("/queues/paged/entries", params={"limit": 10, "cursor": first["next_cursor"]}).json()
    assert [e["task_id"] for e in rest["items"]] == ids[2:] and rest["next_cursor"] is None
    error(api.get("/queues/paged/entries", params={"cursor": "garbage"}), 400)
    # Well-formed cursors holding values of the wrong type (a reused or edited cursor): 4xx, never 500.
    import base64
    import json
    for values in ([True, 1, "x"], [1.5, 1, "x"], [2**70, 1, "x"], ["a", "b", "c"], [1, 2]):
        forged = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
        error(api.get("/queues/paged/entries", params={"cursor": forged}), 400, "bad_request")
    for path, values in (("/queues", [1]), ("/workers", [1, "x"])):
        forged = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
        error(api.get(path, params={"cursor": forged}), 400, "bad_request")


def test_the_queue_signal_wakes_a_waiter_at_once_and_misses_no_enqueue() -> None:
    """What wakes a waiting pop inside the server: a notify from another thread ends the wait, and
    one that lands between reading the generation and starting to wait is not lost."""
    signal = QueueSignal()

    async def scenario() -> None:
        seen = signal.generation
        threading.Timer(0.2, signal.notify).start()
        began = time.perf_counter()
        assert await signal.wait(seen, 10)
        assert time.perf_counter() - began < 2, "the notify did not end the wait"
        seen = signal.generation
        signal.notify()  # before the wait starts
        began = time.perf_counter()
        assert await signal.wait(seen, 10) and time.perf_counter() - began < 0.5
        began = time.perf_counter()
        assert not await signal.wait(signal.generation, 0.3)  # nothing came: the timeout ends it
        assert time.perf_counter() - began >= 0.25

    # In its own thread: the browser tests' session-wide Playwright leaves this thread's loop running.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result(timeout=30)


def test_stopping_the_server_ends_waiting_pops_at_once(server_factory) -> None:
    """SIGTERM ends long-polls with 204 (a worker asks again elsewhere) instead of holding the
    shutdown for its 10 s grace period and then answering 500."""
    server = server_factory("sqlite")
    server.start()
    api = Api(server)
    worker = _worker(api)
    answer: dict = {}

    def wait() -> None:
        try:
            answer["r"] = _pop(_session_like(api), worker, ["default"], wait=30)
        except requests.RequestException as exc:
            answer["error"] = exc

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(1.0)
    began = time.perf_counter()
    server.stop()
    stopped = time.perf_counter() - began
    waiter.join(30)
    assert "r" in answer, f"the waiting pop got no answer: {answer.get('error')!r}"
    assert answer["r"].status_code == 204, answer["r"].text
    assert stopped < 8, f"the server took {stopped:.1f} s to stop with a pop waiting"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrading_puts_tasks_queued_before_queues_existed_in_default(server_factory, backend: str) -> None:
    """Migration 0005 makes the default queue and gives every already-queued task an entry there,
    oldest first, so nothing that was queued is stranded."""
    from alembic import command
    from sqlalchemy import text

    from labtrack.server.store.db import Database, alembic_config, upgrade

    server = server_factory(backend)
    db = Database(server.db_url, pool=False)  # a fresh database; the server starts on it afterwards
    older, newer, idle = "f" * 32, "a" * 32, "b" * 32
    try:
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0004")
            conn.execute(text("INSERT INTO projects (id, name, description, created) VALUES ('p1', 'old', '', 1.0)"))
            for tid, status, stamp in ((newer, "queued", 2.0), (idle, "created", 1.0), (older, "queued", 1.5)):
                conn.execute(text(
                    "INSERT INTO tasks (id, project_id, name, type, status, status_reason, status_message, "
                    "stop_requested, archived, tags, comment, \"user\", created, last_update, hyperparams, "
                    "configuration, script, runtime) VALUES (:id, 'p1', :id, 'training', :status, '', '', false, "
                    "false, '[]', '', 'old', 1.0, :t, '{}', '{}', '{}', '{}')"),
                    {"id": tid, "status": status, "t": stamp})
        upgrade(db)
    finally:
        db.dispose()
    server.start()
    api = Api(server)
    assert _order(api, "default") == [older, newer]
    assert api.get(f"/tasks/{older}").json()["queue"] == api.get("/queues/default").json()["id"]
    assert api.get(f"/tasks/{idle}").json()["queue"] is None
    worker = _worker(api)
    assert _pop(api, worker, ["default"]).json()["task"]["id"] == older


def test_a_server_re_creates_a_missing_default_queue(server_factory) -> None:
    import sqlite3

    server = server_factory("sqlite")
    server.start()
    server.stop()
    with sqlite3.connect(server.db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("DELETE FROM queues")
    server.start()
    assert Api(server).get("/queues/default").status_code == 200
