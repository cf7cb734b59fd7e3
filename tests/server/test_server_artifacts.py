"""Artifacts and media: streamed upload/download, sha256, external URIs, name safety, size limit."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
import requests
from server_helpers import Api, error


@pytest.fixture
def any_tracking_server(module_any_tracking_server: Any) -> Any:
    """One server per backend for the module: each test here works on tasks of its own."""
    return module_any_tracking_server


@pytest.fixture
def api(any_tracking_server: Any) -> Api:
    return Api(any_tracking_server)


def test_upload_download_replace_delete(api: Api, any_tracking_server) -> None:
    tid = api.task()["id"]
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = api.put(f"/tasks/{tid}/artifacts/model.bin", params={"type": "model", "filename": "weights v1.bin"}, data=iter([data[:1000], data[1000:]]))
    assert r.status_code == 201, r.text
    art = r.json()
    assert art["size"] == len(data) and art["sha256"] == hashlib.sha256(data).hexdigest()
    assert art["type"] == "model" and art["filename"] == "weights v1.bin" and art["external"] is False
    got = api.get(f"/tasks/{tid}/artifacts/model.bin/content")
    assert got.status_code == 200 and got.content == data
    assert "weights%20v1.bin" in got.headers["content-disposition"]
    api.put(f"/tasks/{tid}/artifacts/model.bin", data=b"v2")
    assert api.get(f"/tasks/{tid}/artifacts/model.bin/content").content == b"v2"
    assert [a["key"] for a in api.get(f"/tasks/{tid}/artifacts").json()["items"]] == ["model.bin"]
    patched = api.patch(f"/tasks/{tid}/artifacts/model.bin", json={"preview": "2 bytes", "metadata": {"epoch": 3}}).json()
    assert patched["preview"] == "2 bytes" and patched["metadata"] == {"epoch": 3}
    assert api.delete(f"/tasks/{tid}/artifacts/model.bin").status_code == 204
    error(api.get(f"/tasks/{tid}/artifacts/model.bin"), 404, "not_found")
    assert not list((any_tracking_server.artifacts / tid / "artifacts").glob("*"))


def test_external_uri_registration(api: Api) -> None:
    tid = api.task()["id"]
    r = api.post(f"/tasks/{tid}/artifacts", json={"key": "data", "type": "dataset", "uri": "s3://bucket/data.parquet", "size": 10})
    assert r.status_code == 201 and r.json()["external"] is True
    error(api.get(f"/tasks/{tid}/artifacts/data/content"), 409, "conflict")
    error(api.post(f"/tasks/{tid}/artifacts", json={"key": "x", "uri": "u", "bogus": 1}), 422)


def test_path_tricks_cannot_escape_the_store(api: Api, any_tracking_server) -> None:
    tid = api.task()["id"]
    for key in ("..", ".hidden", "a%2Fb", "..%2F..%2Fetc", "a b", "x" * 129, "%2e%2e"):
        r = api.put(f"/tasks/{tid}/artifacts/{key}", data=b"x")
        assert r.status_code in (404, 405, 422), (key, r.status_code, r.text)
    assert api.get(f"/tasks/{tid}/media/..%2F..%2Fsecret").status_code == 404
    error(api.get(f"/tasks/{tid}/media/..secret.png"), 422)
    root = any_tracking_server.artifacts.resolve()
    for path in root.parent.rglob("*"):
        if path.is_file() and "artifacts" in path.parts:
            assert root in path.resolve().parents, path


def test_media_for_image_events(api: Api) -> None:
    tid = api.task()["id"]
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
    r = api.post(f"/tasks/{tid}/media", params={"filename": "sample.PNG"}, data=png)
    assert r.status_code == 201, r.text
    uri = r.json()["uri"]
    assert uri == f"media/{hashlib.sha256(png).hexdigest()}.png"
    got = api.get(f"/tasks/{tid}/{uri}")
    assert got.content == png and got.headers["content-type"] == "image/png"
    error(api.get(f"/tasks/{tid}/media/{'0' * 64}.png"), 404)


def test_size_limit_is_413_and_stores_nothing(server_factory) -> None:
    server = server_factory("sqlite", ["--max-artifact-bytes", "1000"])
    server.start()
    api = Api(server)
    tid = api.task()["id"]
    error(api.put(f"/tasks/{tid}/artifacts/big", data=b"x" * 1001), 413, "too_large")

    def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(5):
            yield b"y" * 400

    error(api.put(f"/tasks/{tid}/artifacts/big", data=chunks()), 413, "too_large")
    assert api.put(f"/tasks/{tid}/artifacts/ok", data=b"z" * 1000).status_code == 201
    assert [a["key"] for a in api.get(f"/tasks/{tid}/artifacts").json()["items"]] == ["ok"]
    leftovers = [p.name for p in (server.artifacts / tid / "artifacts").iterdir()]
    assert leftovers == ["ok"]


def test_deleting_a_task_deletes_its_bytes(api: Api, any_tracking_server) -> None:
    tid = api.task()["id"]
    api.put(f"/tasks/{tid}/artifacts/a", data=b"1")
    assert (any_tracking_server.artifacts / tid).exists()
    assert api.delete(f"/tasks/{tid}").status_code == 204
    assert not (any_tracking_server.artifacts / tid).exists()
    assert requests.get(f"{any_tracking_server.api}/tasks/{tid}/artifacts", headers=any_tracking_server.headers).status_code == 404
