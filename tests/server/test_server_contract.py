"""The OpenAPI document and the server say the same thing, one class of rule at a time.

The fuzz test (test_server_fuzz.py) finds disagreements at random; these pin each class it found:
strict booleans and integers, uploads without a body, name rules the document states as patterns
(checked against what the server accepts), empty ranges, and 405 with Allow.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from server_helpers import Api, error


@pytest.fixture
def sqlite_api(module_tracking_server: Any) -> Api:
    """One server for the module: each test here makes its own tasks, projects and datasets."""
    return Api(module_tracking_server)


@pytest.fixture
def doc(sqlite_api: Api) -> dict[str, Any]:
    return sqlite_api.get("/openapi.json").json()


def _schema(doc: dict[str, Any], ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    ref = ref_or_schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


def _body_schema(doc: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    content = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return _schema(doc, content)


def _param_pattern(doc: dict[str, Any], path: str, method: str, name: str) -> str:
    params = {p["name"]: p for p in doc["paths"][path][method]["parameters"]}
    return params[name]["schema"]["pattern"]


def _prop_pattern(schema: dict[str, Any], name: str) -> str:
    prop = schema["properties"][name]
    for option in [prop, *prop.get("anyOf", [])]:
        if "pattern" in option:
            return option["pattern"]
    raise AssertionError(f"{name} states no pattern: {prop}")


def _agrees(pattern: str, value: str, accepted: bool) -> bool:
    return bool(re.search(pattern, value)) == accepted


@pytest.mark.parametrize("path, body", [
    ("/tasks/{tid}", {"archived": 0}),
    ("/tasks/{tid}/stop", {"force": 0}),
    ("/tasks/{tid}/reset", {"force": 1}),
    ("/tasks/{tid}/artifacts", {"key": "k", "uri": "s3://b/k", "size": False}),
    ("/tasks/{tid}", {"runtime": {"cpu_count": True}}),
])
def test_an_integer_is_not_a_boolean_nor_a_float_an_integer(sqlite_api: Api, path: str, body: dict) -> None:
    tid = sqlite_api.task()["id"]
    send = sqlite_api.patch if path == "/tasks/{tid}" else sqlite_api.post
    error(send(path.format(tid=tid), json=body), 422, "invalid")
    assert sqlite_api.get(f"/tasks/{tid}").json()["archived"] is False


def test_an_upload_with_no_body_is_refused_and_an_empty_file_is_not(sqlite_api: Api) -> None:
    tid = sqlite_api.task()["id"]
    # No bytes and no Content-Type: a client that forgot the body (requests sends Content-Length: 0).
    error(sqlite_api.put(f"/tasks/{tid}/artifacts/forgot"), 400, "bad_request")
    error(sqlite_api.get(f"/tasks/{tid}/artifacts/forgot"), 404)
    error(sqlite_api.post(f"/tasks/{tid}/media"), 400, "bad_request")
    error(sqlite_api.post("/blobs"), 400, "bad_request")
    error(sqlite_api.put(f"/blobs/{hashlib.sha256(b'').hexdigest()}"), 400, "bad_request")
    octet = {"Content-Type": "application/octet-stream"}
    empty = sqlite_api.put(f"/tasks/{tid}/artifacts/empty", data=b"", headers=octet)
    assert empty.status_code == 201 and empty.json()["size"] == 0, empty.text
    assert sqlite_api.put(f"/tasks/{tid}/artifacts/bytes", data=b"x").status_code == 201


PROJECT_NAMES = ["a", "team/vision", "a b", "x" * 100, "x" * 101, " a", "a ", "a\u00a0", "a//b", "a/", "/a",
                 "a\tb", "a\x7fb", "é/ü", "a\u2003"]


def test_project_names_follow_the_documented_pattern(sqlite_api: Api, doc: dict[str, Any]) -> None:
    patterns = [
        _prop_pattern(_body_schema(doc, "/api/v1/projects", "post"), "name"),
        _prop_pattern(_body_schema(doc, "/api/v1/projects/{project_id}", "patch"), "name"),
        _prop_pattern(_body_schema(doc, "/api/v1/tasks", "post"), "project_name"),
        _prop_pattern(_body_schema(doc, "/api/v1/datasets", "post"), "project"),
        _prop_pattern(_body_schema(doc, "/api/v1/datasets", "post"), "name"),
        _prop_pattern(_body_schema(doc, "/api/v1/models", "post"), "project"),
    ]
    assert len(set(patterns)) == 1, patterns
    wrong = []
    for name in PROJECT_NAMES:
        accepted = sqlite_api.post("/projects", json={"name": name}).status_code == 201
        if not _agrees(patterns[0], name, accepted):
            wrong.append((name, accepted))
    assert not wrong, f"server and document disagree on: {wrong}"


def test_task_create_documents_that_it_needs_a_project(doc: dict[str, Any], sqlite_api: Api) -> None:
    schema = _body_schema(doc, "/api/v1/tasks", "post")
    assert {tuple(option["required"]) for option in schema["anyOf"]} == {("project_id",), ("project_name",)}
    error(sqlite_api.post("/tasks", json={"name": "t"}), 422, "invalid")


ARTIFACT_KEYS = ["a", "model.bin", "A-b_c.9", ".hidden", "-x", "_x", "k" * 128, "k" * 129, "a b", "a/b", "é", "a:b"]


def test_artifact_keys_follow_the_documented_pattern(sqlite_api: Api, doc: dict[str, Any]) -> None:
    tid = sqlite_api.task()["id"]
    path_pattern = _param_pattern(doc, "/api/v1/tasks/{task_id}/artifacts/{key}", "put", "key")
    body_pattern = _prop_pattern(_body_schema(doc, "/api/v1/tasks/{task_id}/artifacts", "post"), "key")
    assert path_pattern == body_pattern
    wrong = []
    for key in ARTIFACT_KEYS:
        accepted = sqlite_api.post(f"/tasks/{tid}/artifacts", json={"key": key, "uri": "s3://b/k"}).status_code == 201
        if not _agrees(body_pattern, key, accepted):
            wrong.append((key, accepted))
    assert not wrong, f"server and document disagree on: {wrong}"


def test_media_names_follow_the_documented_pattern(sqlite_api: Api, doc: dict[str, Any]) -> None:
    tid = sqlite_api.task()["id"]
    pattern = _param_pattern(doc, "/api/v1/tasks/{task_id}/media/{name}", "get", "name")
    digest = "ab" * 32
    for name in [digest, digest + ".png", digest + ".PNG", "0", digest + ".", digest[:-1], digest + ".toolongext1"]:
        status = sqlite_api.get(f"/tasks/{tid}/media/{name}").status_code
        # A well-formed name that names nothing is a 404; a malformed one a 422.
        assert _agrees(pattern, name, status == 404) and status in (404, 422), (name, status)


DATASET_PATHS = ["a", "a/b.png", ".a", "..a", "a/..b", "../a", "a/./b", "a/..", "/a", "a//b", "a/", "a\\b", "a\x01b",
                 "a\x7fb", "é/ü.txt"]


def test_dataset_paths_follow_the_documented_pattern(sqlite_api: Api, doc: dict[str, Any]) -> None:
    ds = sqlite_api.post("/datasets", json={"project": "p", "name": "d"}).json()
    changes = _body_schema(doc, "/api/v1/datasets/{dataset_id}/files", "post")
    entry = _schema(doc, changes["properties"]["add"]["items"])
    pattern = _prop_pattern(entry, "path")
    assert changes["properties"]["remove"]["items"]["pattern"] == pattern
    wrong = []
    for path in DATASET_PATHS:
        add = {"path": path, "size": 0, "sha256": hashlib.sha256(b"").hexdigest()}
        status = sqlite_api.post(f"/datasets/{ds['id']}/files", json={"add": [add]}).status_code
        if not _agrees(pattern, path, status == 200):
            wrong.append((path, status))
    assert not wrong, f"server and document disagree on: {wrong}"


def test_dataset_parents_are_documented_distinct(doc: dict[str, Any], sqlite_api: Api) -> None:
    assert _body_schema(doc, "/api/v1/datasets", "post")["properties"]["parents"]["uniqueItems"] is True
    twice = ["0" * 32, "0" * 32]
    error(sqlite_api.post("/datasets", json={"project": "p", "name": "d", "parents": twice}), 422, "invalid")


def test_a_range_with_start_after_end_is_empty(sqlite_api: Api) -> None:
    tid = sqlite_api.task()["id"]
    events = [{"type": "scalars", "metric": "loss", "variant": "", "iterations": [0, 1, 2], "values": [1, 2, 3]}]
    assert sqlite_api.post(f"/tasks/{tid}/events", json={"events": events}).status_code == 200
    for params in ({}, {"buckets": 4}):
        r = sqlite_api.get(f"/tasks/{tid}/scalars", params={"metric": "loss", "start": 2, "end": 1, **params})
        assert r.status_code == 200 and r.json()["iterations"] == [], r.text
        r = sqlite_api.get("/scalars", params={"task_ids": tid, "metric": "loss", "start": 5, "end": 0, **params})
        assert r.status_code == 200 and all(s["iterations"] == [] for s in r.json()["items"]), r.text


def test_a_null_batch_id_is_documented(doc: dict[str, Any], sqlite_api: Api) -> None:
    body = doc["paths"]["/api/v1/tasks/{task_id}/events"]["post"]["requestBody"]["content"]["application/json"]
    assert "null" in body["schema"]["oneOf"][0]["properties"]["batch_id"]["type"]
    tid = sqlite_api.task()["id"]
    assert sqlite_api.post(f"/tasks/{tid}/events", json={"batch_id": None, "events": []}).status_code == 200


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/blobs/download", "POST"),
    ("GET", "/blobs/download", "POST"),
    ("OPTIONS", "/tasks", "GET, POST"),
    ("PUT", "/tasks", "GET, POST"),
])
def test_an_undocumented_method_is_405_with_allow(sqlite_api: Api, method: str, path: str, allow: str) -> None:
    r = sqlite_api.session.request(method, sqlite_api.base + path, json={"hashes": ["0" * 64]}, timeout=30)
    error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == allow
