"""The artifact byte store: any fsspec URL, and no name can reach outside its root."""

from __future__ import annotations

import hashlib

import pytest
from server_helpers import Api

from labtrack.server.errors import Invalid, TooLarge
from labtrack.server.storage import FsspecStorage, safe_component


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "a\\b", "../x", ".env", "a\x00b", "x" * 129, "ü", "a b"])
def test_unsafe_names_are_rejected(name: str) -> None:
    with pytest.raises(Invalid):
        safe_component(name)


def test_local_store_round_trip_and_abort(tmp_path) -> None:
    store = FsspecStorage(str(tmp_path / "root"))
    pending = store.begin_write(["t1", "artifacts"], max_bytes=10)
    pending.write(b"hello")
    stored = pending.commit(["t1", "artifacts", "k"])
    assert stored.size == 5 and stored.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert stored.uri == f"file://{tmp_path / 'root' / 't1' / 'artifacts' / 'k'}"
    with store.open_read(["t1", "artifacts", "k"]) as fh:
        assert fh.read() == b"hello"
    big = store.begin_write(["t1", "artifacts"], max_bytes=3)
    with pytest.raises(TooLarge):
        big.write(b"four")
    assert sorted(p.name for p in (tmp_path / "root" / "t1" / "artifacts").iterdir()) == ["k"]
    with pytest.raises(Invalid):
        store.open_read(["t1", "..", "..", "etc"])
    store.delete_tree(["t1"])
    assert not (tmp_path / "root" / "t1").exists()


def test_server_with_an_fsspec_url_store(server_factory) -> None:
    server = server_factory("sqlite", ["--artifacts", "memory://labtrack-test"])
    server.start()
    api = Api(server)
    tid = api.task()["id"]
    art = api.put(f"/tasks/{tid}/artifacts/blob", data=b"in memory").json()
    assert art["uri"] == f"memory://labtrack-test/{tid}/artifacts/blob"
    assert api.get(f"/tasks/{tid}/artifacts/blob/content").content == b"in memory"
    assert not server.artifacts.exists()  # nothing went to the local folder
