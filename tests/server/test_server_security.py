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
    from event_loops import run_in_own_loop

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
        run_in_own_loop(app, scope, receive, send)
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


# -- key roles ----------------------------------------------------------------------------------------------


def _new_key(admin: Api, user: str, role: str) -> dict:
    created = admin.post("/keys", json={"user": user, "role": role, "description": f"{role} of {user}"})
    assert created.status_code == 201, created.text
    assert created.json()["role"] == role and created.json()["user"] == user
    return created.json()


def test_bootstrap_key_is_admin_and_member_keys_cannot_manage_keys(api: Api, any_tracking_server) -> None:
    listed = api.get("/keys").json()["items"]
    assert [k["role"] for k in listed] == ["admin"], listed
    bob = _new_key(api, "bob", "member")
    assert api.post("/keys", json={"user": "carol"}).json()["role"] == "member"  # the API's default
    as_bob = Api(any_tracking_server, bob["key"])
    for answer in (
        as_bob.post("/keys", json={"user": "bob", "role": "admin"}),
        as_bob.post("/keys", json={"user": "mallory"}),
        as_bob.get("/keys"),
        as_bob.delete(f"/keys/{listed[0]['id']}"),
        as_bob.delete(f"/keys/{bob['id']}"),
    ):
        body = error(answer, 403, "forbidden")
        assert "admin key" in body["message"], body
    # Nothing changed: the member minted nothing and revoked nothing.
    assert sorted(k["user"] for k in api.get("/keys").json()["items"]) == sorted([listed[0]["user"], "bob", "carol"])
    error(api.post("/keys", json={"user": "x", "role": "root"}), 422, "invalid")
    # Everything else works with a member key.
    assert as_bob.task("member run")["user"] == "bob"


def test_the_recorded_user_is_always_the_keys_user(api: Api, any_tracking_server) -> None:
    bob = Api(any_tracking_server, _new_key(api, "bob", "member")["key"])
    error(bob.post("/tasks", json={"name": "forged", "project_name": "p", "user": "alice"}), 422, "invalid")
    tid = bob.task("honest")["id"]
    error(bob.patch(f"/tasks/{tid}", json={"user": "alice"}), 422, "invalid")
    assert bob.get(f"/tasks/{tid}").json()["user"] == "bob"
    assert [t["name"] for t in bob.get("/tasks", params={"user": "alice"}).json()["items"]] == []


def test_the_last_admin_key_cannot_be_revoked(api: Api, any_tracking_server) -> None:
    first = api.get("/keys").json()["items"][0]
    body = error(api.delete(f"/keys/{first['id']}"), 409, "conflict")
    assert "last admin key" in body["message"], body
    second = _new_key(api, "ops", "admin")
    member = _new_key(api, "bob", "member")
    assert api.delete(f"/keys/{member['id']}").status_code == 204  # members go whenever an admin says so
    as_second = Api(any_tracking_server, second["key"])
    assert as_second.delete(f"/keys/{first['id']}").status_code == 204
    error(api.get("/keys"), 401, "invalid_key")
    error(as_second.delete(f"/keys/{second['id']}"), 409, "conflict")
    assert [k["id"] for k in as_second.get("/keys").json()["items"]] == [second["id"]]


def test_two_admins_revoking_each_other_at_once_leave_one(api: Api, any_tracking_server) -> None:
    """Both see two admins if nothing serializes them; the admin-set lock must leave exactly one."""
    from concurrent.futures import ThreadPoolExecutor

    for _round in range(6):
        a, b = _new_key(api, "a", "admin"), _new_key(api, "b", "admin")
        # Only a and b are admins now: the bootstrap key steps aside (as the last-but-two it may).
        boot = next(k for k in api.get("/keys").json()["items"] if k["id"] not in (a["id"], b["id"]) and k["role"] == "admin")
        as_a, as_b = Api(any_tracking_server, a["key"]), Api(any_tracking_server, b["key"])
        assert as_a.delete(f"/keys/{boot['id']}").status_code == 204
        as_a.get("/keys"), as_b.get("/keys")  # warm both keys' cache entries so the race is on the revocation
        with ThreadPoolExecutor(2) as pool:
            codes = sorted(f.result().status_code for f in [pool.submit(as_a.delete, f"/keys/{b['id']}"),
                                                            pool.submit(as_b.delete, f"/keys/{a['id']}")])
        # 401: the loser's own key was revoked first; 409: it saw itself the last admin. Never two 204s.
        assert codes in ([204, 401], [204, 409]), codes
        survivor = as_a if as_a.get("/keys").status_code == 200 else as_b
        admins = [k for k in survivor.get("/keys").json()["items"] if k["role"] == "admin"]
        assert len(admins) == 1, admins
        api = Api(any_tracking_server, a["key"] if survivor is as_a else b["key"])


def test_keys_create_cli_role(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path / 'keys.db'}"
    env = dict(os.environ, LABTRACK_HOME=str(tmp_path / "home"))

    def cli(*args: str) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "labtrack", "keys", "create", "--db", db, *args],
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out

    assert "admin key" in cli("--user", "root").stderr  # a database's first key manages keys
    assert "member key" in cli("--user", "bob").stderr
    assert "admin key" in cli("--user", "ops", "--role", "admin").stderr
    assert "member key" in cli("--user", "eve", "--role", "member").stderr
    bad = subprocess.run([sys.executable, "-m", "labtrack", "keys", "create", "--db", db, "--role", "root"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrading_makes_existing_keys_admin(server_factory, backend: str) -> None:
    """A database made before roles keeps working: its keys become admin keys."""
    from alembic import command
    from sqlalchemy import text

    from labtrack.server.auth import KeyService, hash_key
    from labtrack.server.store.db import Database, alembic_config, upgrade

    db = Database(server_factory(backend).db_url, pool=False)  # a fresh database; no server runs on it
    try:
        with db.engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001")
            conn.execute(text("INSERT INTO api_keys (id, \"user\", description, key_hash, created) "
                              "VALUES ('k1', 'old', '', :h, 1.0)"), {"h": hash_key("lt_old")})
        upgrade(db)
        keys = KeyService(db)
        assert keys.identify("Bearer lt_old").role == "admin"
        assert keys.create("next")["role"] == "member"  # an admin exists, so the next key is a member
    finally:
        db.dispose()


# -- file permissions ---------------------------------------------------------------------------------------


def _write_everything(server) -> None:
    api = Api(server)
    tid = api.task("private")["id"]
    batch = {"batch_id": "b", "events": [{"type": "scalar", "metric": "m", "variant": "v", "iteration": 1, "value": 1.0}]}
    assert api.post(f"/tasks/{tid}/events", json=batch).status_code == 200
    assert api.put(f"/tasks/{tid}/artifacts/weights", params={"filename": "w.bin"}, data=os.urandom(1000)).status_code == 201
    assert api.post(f"/tasks/{tid}/media", params={"filename": "s.png"}, data=PNG).status_code == 201


def _loose_modes(root: Path) -> list[str]:
    """Everything under `root` (itself included) that another local user could read or enter."""
    loose = []
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            loose.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return loose


def test_the_server_keeps_its_data_private_whatever_the_umask(tmp_path: Path) -> None:
    from tests.conftest import TrackingServer

    data = tmp_path / "data"  # made by the server itself: the database's folder and the artifact store
    server = TrackingServer(db_url=f"sqlite:///{data / 'labtrack.db'}", artifacts=data / "artifacts", home=tmp_path)
    previous = os.umask(0o022)  # the usual login umask, which the server process inherits
    try:
        server.start()
    finally:
        os.umask(previous)
    try:
        _write_everything(server)
        names = {p.name for p in data.rglob("*")}
        assert {"labtrack.db", "labtrack.db-wal", "labtrack.db-shm"} <= names, names
        assert any(p.suffix == ".png" for p in data.rglob("*")) and any(p.is_file() for p in (data / "artifacts").rglob("*"))
        assert _loose_modes(data) == []
    finally:
        server.stop()


def test_the_server_tightens_a_store_left_open_by_an_older_version(tmp_path: Path) -> None:
    from tests.conftest import TrackingServer

    data = tmp_path / "data"
    (data / "artifacts").mkdir(parents=True)
    (data / "labtrack.db").touch()  # an empty file is an empty SQLite database
    os.chmod(data / "labtrack.db", 0o644)
    os.chmod(data / "artifacts", 0o755)
    server = TrackingServer(db_url=f"sqlite:///{data / 'labtrack.db'}", artifacts=data / "artifacts", home=tmp_path)
    previous = os.umask(0o022)
    try:
        server.start()
    finally:
        os.umask(previous)
    try:
        _write_everything(server)
        assert _loose_modes(data / "artifacts") == []
        assert [p for p in data.glob("labtrack.db*") if _loose_modes(p)] == []
    finally:
        server.stop()


# -- what answers without a key ---------------------------------------------------------------------------


def test_what_answers_without_a_key_is_what_the_docs_say(tracking_server) -> None:
    """docs/server.md names the public routes; every other operation of the API must be 401 without a key."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "server.md").read_text()
    line = next((ln for ln in doc.splitlines() if ln.startswith("- **Without a key**")), "")
    assert line, "docs/server.md's security model must list what answers without a key"
    documented = set(re.findall(r"`GET (/api/v1/[^`]*)`", line))
    spec_resp = requests.get(f"{tracking_server.api}/openapi.json", timeout=10)
    docs_resp = requests.get(f"{tracking_server.api}/docs", timeout=10)
    assert spec_resp.status_code == 200 and docs_resp.status_code == 200
    spec = spec_resp.json()
    public = {"/api/v1/openapi.json", "/api/v1/docs"}
    for path, operations in spec["paths"].items():
        for verb, operation in operations.items():
            url = tracking_server.url + re.sub(r"\{[^}]*\}", "0" * 32, path)
            status = requests.request(verb.upper(), url, timeout=10).status_code
            if status != 401:
                assert verb == "get", (verb, path, status)
                public.add(path)
            else:  # the contract says so too, so generated clients send the key
                assert operation.get("security"), (verb, path)
    assert public == documented == {"/api/v1/health", "/api/v1/openapi.json", "/api/v1/docs"}
