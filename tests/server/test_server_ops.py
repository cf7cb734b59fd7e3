"""Operations: keys, migrations CLI, lost-contact watchdog, crash safety, the one error shape."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
import requests
from polling import wait_for
from server_helpers import Api, error


def test_keys_api_and_cli(any_tracking_server) -> None:
    api = Api(any_tracking_server)
    created = api.post("/keys", json={"user": "alice", "description": "laptop"})
    assert created.status_code == 201, created.text
    alice = created.json()
    assert alice["key"].startswith("lt_") and alice["user"] == "alice"
    listed = api.get("/keys").json()["items"]
    assert alice["id"] in [k["id"] for k in listed] and all("key" not in k for k in listed)
    as_alice = Api(any_tracking_server, alice["key"])
    assert as_alice.task("mine")["user"] == "alice"
    assert api.delete(f"/keys/{alice['id']}").status_code == 204
    error(as_alice.get("/tasks"), 401, "invalid_key")
    error(api.delete(f"/keys/{alice['id']}"), 404)
    error(api.post("/keys", json={"user": ""}), 422)
    # the CLI writes to the same database while the server runs
    env = dict(os.environ, LABTRACK_HOME=str(any_tracking_server.home))
    out = subprocess.run(
        [sys.executable, "-m", "labtrack", "keys", "create", "--user", "bob", "--db", any_tracking_server.db_url],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    assert key.startswith("lt_") and key not in out.stderr
    assert Api(any_tracking_server, key).task("cli")["user"] == "bob"


def test_db_upgrade_cli_is_idempotent(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    env = dict(os.environ, LABTRACK_HOME=str(tmp_path))
    for _ in range(2):
        out = subprocess.run([sys.executable, "-m", "labtrack", "db", "upgrade", "--db", url], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "up to date" in out.stdout
    import sqlite3

    tables = {r[0] for r in sqlite3.connect(tmp_path / "fresh.db").execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tasks", "scalars", "metric_series", "alembic_version"} <= tables
    bad = subprocess.run([sys.executable, "-m", "labtrack", "db", "upgrade", "--db", "mysql://x/y"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "sqlite" in bad.stderr and "Traceback" not in bad.stderr
    for url in ("sqlite:////proc/no/such/dir/x.db", "postgresql://u:secret@127.0.0.1:1/x"):
        out = subprocess.run([sys.executable, "-m", "labtrack", "db", "upgrade", "--db", url], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "cannot open" in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert "secret" not in out.stderr


def test_silent_tasks_are_failed_for_lost_contact(server_factory) -> None:
    server = server_factory("sqlite", ["--lost-contact-timeout", "1.5"])
    server.start()
    api = Api(server)
    silent, chatty = api.task("silent")["id"], api.task("chatty")["id"]
    idle = api.task("never started")["id"]
    for tid in (silent, chatty):
        api.post(f"/tasks/{tid}/start")

    def silent_failed() -> bool:
        api.post(f"/tasks/{chatty}/heartbeat")  # the chatty task keeps in touch all along
        return api.get(f"/tasks/{silent}").json()["status"] == "failed"

    wait_for(silent_failed, timeout=20, interval=0.3, what="the silent task to be failed for lost contact")
    lost = api.get(f"/tasks/{silent}").json()
    assert lost["status"] == "failed" and lost["status_reason"] == "lost contact: no heartbeat or event for 1.5 s"
    assert api.get(f"/tasks/{chatty}").json()["status"] == "in_progress"
    assert api.get(f"/tasks/{idle}").json()["status"] == "created"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_during_ingest_loses_no_acknowledged_batch(server_factory, backend: str) -> None:
    server = server_factory(backend)
    server.start()
    api = Api(server)
    tid = api.task("crash")["id"]
    size, acked, stop = 500, [], threading.Event()

    def batch(n: int) -> dict:
        its = list(range(n * size, (n + 1) * size))
        return {"batch_id": f"b{n}", "events": [{"type": "scalars", "metric": "m", "variant": "", "iterations": its, "values": [float(i) for i in its]}]}

    def sender() -> None:
        session, n = requests.Session(), 0
        session.headers.update(server.headers)
        while not stop.is_set():
            try:
                r = session.post(f"{server.api}/tasks/{tid}/events", json=batch(n), timeout=5)
            except requests.RequestException:
                return
            if r.status_code == 200:
                acked.append(n)
            n += 1

    thread = threading.Thread(target=sender)
    thread.start()
    wait_for(lambda: len(acked) >= 20 or not thread.is_alive(), interval=0.02, what="20 acknowledged batches")
    assert len(acked) >= 20, f"the sender stopped after {len(acked)} acknowledged batches: {server.log_tail()}"
    server.kill()
    stop.set()
    thread.join(10)
    server.start()
    got = set(api.get(f"/tasks/{tid}/scalars", params={"metric": "m", "limit": 100_000}).json()["iterations"])
    for n in acked:
        assert set(range(n * size, (n + 1) * size)) <= got, f"acknowledged batch {n} was lost"
    # the client's retry of everything it sent stores each batch exactly once
    last = max(acked) + 1
    for n in range(last + 1):
        assert api.post(f"/tasks/{tid}/events", json=batch(n)).status_code == 200
    series = api.get(f"/tasks/{tid}/scalars", params={"metric": "m", "limit": 100_000}).json()
    assert series["iterations"] == list(range((last + 1) * size))
    assert api.get(f"/tasks/{tid}").json()["last_metrics"]["m"][""]["count"] == (last + 1) * size


def test_every_error_has_the_one_shape(tracking_server) -> None:
    api = Api(tracking_server)
    base = tracking_server.api
    tid = api.task()["id"]
    error(requests.get(f"{base}/no/such/route"), 404, "not_found")
    error(api.get("/no/such/route"), 404, "not_found")
    error(requests.delete(f"{base}/health"), 405, "method_not_allowed")
    error(api.put("/tasks"), 405, "method_not_allowed")
    error(api.post("/tasks", data="{", headers={"Content-Type": "application/json"}), 400, "bad_request")
    error(api.post("/tasks", data="[1, 2]", headers={"Content-Type": "application/json"}), 422, "invalid")
    bad = error(api.post("/tasks", json={"name": "x", "project_name": "p", "tags": "notalist", "extra": 1}), 422, "invalid")
    locs = [e["loc"] for e in bad["details"]["errors"]]
    assert ["body", "tags"] in locs and ["body", "extra"] in locs
    error(api.get("/tasks", params={"limit": "abc"}), 422, "invalid")
    error(api.get(f"/tasks/{tid}/scalars"), 422, "invalid")  # metric is required
    error(api.post(f"/tasks/{tid}/nonsense"), 404, "not_found")
    error(api.post(f"/tasks/{tid}/events", data=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400, "bad_request")
    error(api.post(f"/tasks/{tid}/events", data=b"", headers={"Content-Type": "application/json"}), 400, "bad_request")
    assert "lt_test_" not in tracking_server.log_tail(100_000), "the API key must never reach the log"


def test_every_endpoint_is_documented(tracking_server) -> None:
    import re
    from pathlib import Path

    from labtrack.server.services.tasks import ACTIONS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    found = re.findall(r"(?:GET|POST|PUT|PATCH|DELETE) (/[^\s?`]*)", doc)
    documented = {re.sub(r"\{[^}]*\}", "{}", p.removeprefix("/api/v1")) for p in found}
    # status actions are documented as one route plus a table row per action
    assert "/tasks/{}/{}" in documented
    documented |= {f"/tasks/{{}}/{a}" for a in ACTIONS if f"| `{a}` |" in doc}
    spec = requests.get(f"{tracking_server.api}/openapi.json").json()
    missing = [
        f"{verb.upper()} {path}"
        for path, verbs in spec["paths"].items()
        for verb in verbs
        if re.sub(r"\{[^}]*\}", "{}", path.removeprefix("/api/v1")) not in documented
    ]
    assert not missing, f"endpoints missing from docs/api.md: {missing}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_match_the_table_definitions(tmp_path, backend: str) -> None:
    """A schema change without a migration (or the reverse) fails here, on both databases."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from labtrack.server.store.db import Database, upgrade
    from labtrack.server.store.tables import metadata

    if backend == "postgresql":
        import secrets

        import psycopg

        admin = os.environ.get("LABTRACK_TEST_PG_URL")
        if not admin:
            pytest.fail("LABTRACK_TEST_PG_URL is not set: run the suite with `make test`")
        name = "lt_" + secrets.token_hex(6)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = admin.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp_path / 'm.db'}"
    db = Database(url, pool=False)
    try:
        upgrade(db)
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == [], diff
    finally:
        db.dispose()
