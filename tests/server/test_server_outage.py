"""A database the server can't reach or use is 503 with Retry-After ("retry later"), never 500
("a bug"), and the server recovers by itself when the database is back.

PostgreSQL: a throwaway cluster this module owns is stopped under a running server. SQLite: another
process holds the write lock past the server's busy timeout.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from typing import Iterator

import pytest
import requests
from pg_cluster import PgCluster
from polling import wait_for
from tests.conftest import TrackingServer
from server_helpers import Api, error

from labtrack.server.settings import SETTINGS_ENV

# Recovery times and memory are measured: `make test` runs this module alone, after the parallel pass.
pytestmark = pytest.mark.serial


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    pg = PgCluster()
    pg.start()
    yield pg
    pg.destroy()


@pytest.fixture
def pg_server(cluster: PgCluster, server_factory) -> Iterator[TrackingServer]:
    server = server_factory("sqlite")
    server.db_url = cluster.url  # the module's own cluster, not the suite's shared one
    server.start()
    yield server
    if not _up(cluster):
        cluster.start()  # leave the cluster running for the next test
    assert "unhandled error" not in server.log_tail(100_000), server.log_tail()


def _up(cluster: PgCluster) -> bool:
    import psycopg

    try:
        psycopg.connect(cluster.url, connect_timeout=2).close()
        return True
    except psycopg.OperationalError:
        return False


def _retry_later(resp: requests.Response) -> None:
    err = error(resp, 503, "unavailable")
    assert resp.headers.get("Retry-After", "").isdigit(), resp.headers
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert "retry" in err["message"].lower(), err


def _batch(batch_id: str, start: int, count: int = 100) -> dict:
    return {"batch_id": batch_id, "events": [
        {"type": "scalars", "metric": "loss", "variant": "", "iterations": list(range(start, start + count)),
         "values": [float(i) for i in range(start, start + count)]},
    ]}


def test_postgres_down_is_503_and_the_server_recovers(cluster: PgCluster, pg_server: TrackingServer) -> None:
    api = Api(pg_server)
    tid = api.task()["id"]
    assert api.post(f"/tasks/{tid}/events", json=_batch("b0", 0)).status_code == 200
    cluster.stop("fast")
    try:
        # The lean ingest path and ordinary routes, reads and writes alike.
        _retry_later(api.post(f"/tasks/{tid}/events", json=_batch("b1", 100)))
        _retry_later(api.get(f"/tasks/{tid}"))
        _retry_later(api.get(f"/tasks/{tid}/console", params={"tail": 1}))
        _retry_later(api.post("/tasks", json={"name": "during", "project_name": "p"}))
        # The cluster crashing (no clean shutdown) is the same answer.
        cluster.start()
        assert api.get(f"/tasks/{tid}").status_code == 200
        cluster.stop("immediate")
        _retry_later(api.post(f"/tasks/{tid}/events", json=_batch("b1", 100)))
    finally:
        cluster.start()
    # Back without restarting the server: the retried batch goes in once, reads work again.
    wait_for(lambda: api.post(f"/tasks/{tid}/events", json=_batch("b1", 100)).status_code == 200,
             timeout=30, what="the server to store a batch once PostgreSQL is back")
    assert api.post(f"/tasks/{tid}/events", json=_batch("b1", 100)).json()["duplicate"] is True
    metrics = api.get(f"/tasks/{tid}/metrics").json()["items"]
    assert [(m["metric"], m["count"], m["last_iteration"]) for m in metrics] == [("loss", 200, 199)]


def _writer(api: Api, tid: str, name: str, stop: threading.Event, acked: list[int], statuses: Counter) -> None:
    """Send batches one after another like the SDK does: a 503 is retried (same batch id) until stored."""
    batch = 0
    while not stop.is_set():
        body = _batch(f"{name}-{batch}", batch * 10, 10)
        body["events"][0]["variant"] = name
        while True:
            try:
                resp = api.post(f"/tasks/{tid}/events", json=body, timeout=30)
            except requests.RequestException as exc:  # pragma: no cover - a dropped connection would be a bug too
                statuses[type(exc).__name__] += 1
                time.sleep(0.05)
                continue
            statuses[resp.status_code] += 1
            if resp.status_code == 200:
                acked.append(batch)
                break
            if resp.status_code != 503:
                return  # anything else is a failure the test reports
            time.sleep(0.05)
        batch += 1


def test_a_half_second_postgres_restart_loses_nothing(cluster: PgCluster, pg_server: TrackingServer) -> None:
    api = Api(pg_server)
    tid = api.task()["id"]
    stop = threading.Event()
    statuses: Counter = Counter()
    acked: dict[str, list[int]] = {f"w{i}": [] for i in range(4)}
    # One client (one requests.Session) per writer: a Session is not thread-safe.
    threads = [threading.Thread(target=_writer, args=(Api(pg_server), tid, name, stop, acked[name], statuses))
               for name in acked]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: all(len(a) >= 5 for a in acked.values()), timeout=30, what="every writer to store batches")
        down = cluster.restart_after(0.5)
        before = {name: len(a) for name, a in acked.items()}
        wait_for(lambda: all(len(acked[n]) >= before[n] + 5 for n in acked), timeout=30,
                 what="every writer to store batches after the restart")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert set(statuses) <= {200, 503}, f"answers other than 200 and 503: {statuses} (down {down:.2f} s)"
    metrics = {m["variant"]: m for m in api.get(f"/tasks/{tid}/metrics").json()["items"]}
    for name, batches in acked.items():
        assert batches == list(range(len(batches))), name
        assert metrics[name]["count"] == 10 * len(batches), (name, metrics[name], len(batches))


def test_sqlite_locked_past_the_busy_timeout_is_503(server_factory, monkeypatch) -> None:
    monkeypatch.setenv(SETTINGS_ENV, json.dumps({"sqlite_busy_timeout": 0.5}))
    server = server_factory("sqlite")
    server.start()
    api = Api(server)
    tid = api.task()["id"]
    holder = sqlite3.connect(server.db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's writer that doesn't let go
    try:
        _retry_later(api.post(f"/tasks/{tid}/events", json=_batch("s1", 0)))
        _retry_later(api.patch(f"/tasks/{tid}", json={"comment": "x"}))
        assert api.get(f"/tasks/{tid}").status_code == 200  # WAL: readers don't wait for the writer
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert api.post(f"/tasks/{tid}/events", json=_batch("s1", 0)).json()["duplicate"] is False
    assert api.get(f"/tasks/{tid}/metrics").json()["items"][0]["count"] == 100
    assert "unhandled error" not in server.log_tail(100_000)
