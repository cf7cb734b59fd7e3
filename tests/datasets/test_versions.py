"""A chain of versions on the real server: adds, removes, modifications, diffs, lineage, local copies."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests
from dataset_helpers import client_for, read_tree, sha, stored_blobs, write_tree

from labtrack.sdk.datasets import Dataset, DatasetError, DatasetNotFound


def test_chain_of_three_versions_with_diffs_and_lineage(any_tracking_server, client_home: Path, tmp_path: Path) -> None:
    client = client_for(any_tracking_server)
    v1_files = {"a.txt": b"alpha", "b.txt": b"bravo", "img/c.bin": b"c" * 3000, "img/d.bin": b"delta"}
    src1 = write_tree(tmp_path / "src1", v1_files)
    v1 = Dataset.create("faces", "vision/data", description="first", client=client)
    assert (v1.state, v1.version) == ("draft", "1.0.0")
    assert v1.add_files(src1, show_progress=False) == 4
    v1.upload(show_progress=False)
    v1.finalize()
    assert v1.is_final and v1.file_count == 4 and v1.total_size == sum(map(len, v1_files.values()))

    # v2: remove a.txt, modify b.txt, add e.txt
    v2 = Dataset.create("faces", "vision/data", parent_datasets=[v1], client=client)
    assert v2.version == "1.0.1" and v2.parents == [v1.id]
    assert v2.list_files() == sorted(v1_files)  # starts with its parent's files
    assert v2.remove_files("a.txt") == 1
    src2 = write_tree(tmp_path / "src2", {"b.txt": b"BRAVO", "e.txt": b"echo"})
    v2.add_files(src2, show_progress=False)
    v2.upload(show_progress=False)
    v2.finalize()

    # v3: remove the img folder but d.bin, modify d.bin's sibling set; add under a dataset folder
    v3 = Dataset.create("faces", "vision/data", parent_datasets=[v2.id], version="2.0", client=client)
    assert v3.remove_files("img/c.bin") == 1
    write_tree(tmp_path / "src3", {"f.txt": b"foxtrot", "d.bin": b"DELTA"})
    v3.add_files(tmp_path / "src3", wildcard="*.txt", dataset_path="new", show_progress=False)
    v3.add_files(tmp_path / "src3" / "d.bin", dataset_path="img", show_progress=False)
    v3.upload(show_progress=False)
    v3.finalize()

    d21 = v2.diff(v1)
    assert (d21.added, d21.removed, d21.modified) == (["e.txt"], ["a.txt"], ["b.txt"])
    d32 = v3.diff(v2)
    assert (d32.added, d32.removed, d32.modified) == (["new/f.txt"], ["img/c.bin"], ["img/d.bin"])
    d31 = v3.diff(v1)
    assert (d31.added, d31.removed, d31.modified) == (["e.txt", "new/f.txt"], ["a.txt", "img/c.bin"], ["b.txt", "img/d.bin"])
    assert not v3.diff(v3)

    assert [d.id for d in v3.lineage()] == [v3.id, v2.id, v1.id]
    latest = Dataset.get(dataset_project="vision/data", dataset_name="faces", client=client)
    assert latest.id == v3.id
    assert Dataset.get(dataset_project="vision/data", dataset_name="faces", version="1.0.1", client=client).id == v2.id
    listed = Dataset.list_datasets("vision/data", client=client)
    assert [d["version"] for d in listed] == ["2.0", "1.0.1", "1.0.0"]

    copy1 = Path(Dataset.get(v1.id, client=client).get_local_copy(show_progress=False))
    assert read_tree(copy1) == v1_files
    copy3 = Path(v3.get_local_copy(show_progress=False))
    assert read_tree(copy3) == {"b.txt": b"BRAVO", "e.txt": b"echo", "img/d.bin": b"DELTA", "new/f.txt": b"foxtrot"}
    assert not (copy3 / "b.txt").stat().st_mode & 0o222, "the cached copy must be read-only"

    mutable = Path(v3.get_mutable_local_copy(tmp_path / "work", show_progress=False))
    (mutable / "b.txt").write_bytes(b"changed")  # writable, and the cache is untouched
    assert read_tree(Path(v3.get_local_copy(show_progress=False)))["b.txt"] == b"BRAVO"
    with pytest.raises(DatasetError, match="not empty"):
        v3.get_mutable_local_copy(tmp_path / "work", show_progress=False)

    # every content is stored once, whatever number of versions name it
    all_contents = {sha(b) for b in [*v1_files.values(), b"BRAVO", b"echo", b"foxtrot", b"DELTA"]}
    assert set(stored_blobs(any_tracking_server.artifacts)) == all_contents


def test_final_versions_are_immutable_and_finalize_needs_every_byte(tracking_server, client, tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"x.txt": b"x", "y.txt": b"y"})
    ds = Dataset.create("d", "p", client=client)
    ds.add_files(src, show_progress=False)
    with pytest.raises(DatasetError, match="not uploaded yet"):
        ds.finalize()
    assert ds.refresh().state == "draft"
    ds.upload(show_progress=False)
    ds.finalize()
    with pytest.raises(DatasetError, match="final and immutable"):
        ds.add_files(src, show_progress=False)
    with pytest.raises(DatasetError, match="final and immutable"):
        ds.remove_files("*")
    with pytest.raises(DatasetError, match="already final"):
        ds.finalize()
    # the API refuses too, whoever calls it
    h = {"Authorization": f"Bearer {tracking_server.api_key}"}
    r = requests.post(f"{tracking_server.api}/datasets/{ds.id}/files", json={"remove": ["x.txt"]}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "dataset_final"
    r = requests.post(f"{tracking_server.api}/datasets/{ds.id}/finalize", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "dataset_final"
    assert Dataset.get(ds.id, client=client).list_files() == ["x.txt", "y.txt"]


def test_missing_versions_and_paths_are_clear_errors(tracking_server, client, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFound, match="No dataset version"):
        Dataset.get("0" * 32, client=client)
    with pytest.raises(DatasetNotFound, match="has no a final version|has no"):
        Dataset.get(dataset_project="p", dataset_name="nope", client=client)
    ds = Dataset.create("d", "p", client=client)
    with pytest.raises(DatasetNotFound, match="drafts are left out"):
        Dataset.get(dataset_project="p", dataset_name="d", client=client)
    assert Dataset.get(dataset_project="p", dataset_name="d", include_drafts=True, client=client).id == ds.id
    with pytest.raises(DatasetNotFound, match="version 9.9"):
        Dataset.get(dataset_project="p", dataset_name="d", version="9.9", include_drafts=True, client=client)
    with pytest.raises(DatasetError, match="no such file or folder"):
        ds.add_files(tmp_path / "does-not-exist", show_progress=False)
    with pytest.raises(DatasetError, match="parent"):
        Dataset.create("e", "p", parent_datasets=[ds], client=client)  # a draft can't be a parent
    with pytest.raises(Exception, match="already has a version"):
        Dataset.create("d", "p", version="1.0.0", client=client)


def test_bad_input_gets_4xx_in_the_one_error_shape(tracking_server) -> None:
    api, h = tracking_server.api, {"Authorization": f"Bearer {tracking_server.api_key}"}
    ds = requests.post(f"{api}/datasets", json={"project": "p", "name": "n"}, headers=h).json()
    good = sha(b"x")

    def cursor(values: list) -> str:  # a well-formed cursor holding the wrong kind of values
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")

    cases = [
        ("post", f"/datasets/{ds['id']}/files", {"add": [{"path": "../up", "size": 1, "sha256": good}]}, 422),
        ("post", f"/datasets/{ds['id']}/files", {"add": [{"path": "/abs", "size": 1, "sha256": good}]}, 422),
        ("post", f"/datasets/{ds['id']}/files", {"add": [{"path": "a//b", "size": 1, "sha256": good}]}, 422),
        ("post", f"/datasets/{ds['id']}/files", {"add": [{"path": "a", "size": 1, "sha256": "nothex"}]}, 422),
        ("post", f"/datasets/{ds['id']}/files", {"add": [{"path": "a", "size": -1, "sha256": good}]}, 422),
        ("post", f"/datasets/{ds['id']}/files", {"add": [{"path": "a", "size": 1, "sha256": good}] * 2}, 422),
        ("post", "/datasets/" + "0" * 32 + "/files", {"remove": ["a"]}, 404),
        ("post", "/datasets", {"project": "p", "name": "n", "version": "bad version"}, 422),
        ("post", "/datasets", {"project": "p", "name": "n", "parents": ["0" * 32]}, 404),
        ("post", "/datasets", {"project": "p", "name": "n", "extra": 1}, 422),
        ("get", f"/datasets/{ds['id']}/files?cursor=garbage", None, 400),
        ("get", f"/datasets/{ds['id']}/files?cursor={cursor([1])}", None, 400),
        ("get", f"/datasets/{ds['id']}/missing?cursor={cursor([None])}", None, 400),
        ("get", f"/datasets?cursor={cursor(['x', 'y'])}", None, 400),
        ("post", f"/datasets/{ds['id']}/files", {"add": [{"path": "a", "size": 2**63, "sha256": good}]}, 422),
        ("put", "/blobs/not-a-hash", None, 422),
        ("put", f"/blobs/{good}", None, 404),  # no manifest names it yet
        ("get", f"/blobs/{good}", None, 404),
        ("post", "/blobs/download", {"hashes": [good]}, 404),
        ("post", "/blobs/download", {"hashes": ["nothex"]}, 422),
        ("post", "/blobs/download", {"hashes": []}, 422),
        ("post", "/tasks/" + "0" * 32 + "/datasets", {"alias": "train", "dataset_id": ds["id"]}, 404),
    ]
    for verb, path, body, status in cases:
        kwargs = {"json": body} if body is not None else {"data": b"x"} if verb == "put" else {}
        r = getattr(requests, verb)(f"{api}{path}", headers=h, timeout=30, **kwargs)
        assert r.status_code == status, (verb, path, r.status_code, r.text)
        err = r.json()["error"]
        assert set(err) == {"code", "message", "details"} and err["message"], r.text
    assert requests.get(f"{api}/datasets", timeout=30).status_code == 401


def test_manifests_page_with_a_cursor(tracking_server) -> None:
    api, h = tracking_server.api, {"Authorization": f"Bearer {tracking_server.api_key}"}
    ds = requests.post(f"{api}/datasets", json={"project": "p", "name": "big"}, headers=h).json()
    total = 12_345
    entries = [{"path": f"d{i % 7}/f{i:06d}.bin", "size": i, "sha256": sha(str(i).encode())} for i in range(total)]
    for start in range(0, total, 10_000):
        r = requests.post(f"{api}/datasets/{ds['id']}/files", json={"add": entries[start:start + 10_000]}, headers=h)
        assert r.status_code == 200, r.text
    assert r.json()["file_count"] == total
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5000, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{api}/datasets/{ds['id']}/files", params=params, headers=h).json()
        seen += [e["path"] for e in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == total and seen == sorted(seen) and len(set(seen)) == total
    missing = requests.get(f"{api}/datasets/{ds['id']}/missing", params={"limit": 10_000}, headers=h).json()
    assert len(missing["items"]) == 10_000 and missing["next_cursor"]
    r = requests.get(f"{api}/datasets/{ds['id']}/files", params={"limit": 10_001}, headers=h)
    assert r.status_code == 422


def test_a_project_with_datasets_is_not_deleted(tracking_server) -> None:
    api, h = tracking_server.api, {"Authorization": f"Bearer {tracking_server.api_key}"}
    ds = requests.post(f"{api}/datasets", json={"project": "keep", "name": "n"}, headers=h).json()
    r = requests.delete(f"{api}/projects/{ds['project_id']}", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_empty", r.text
    assert requests.delete(f"{api}/datasets/{ds['id']}", headers=h).status_code == 204
    assert requests.delete(f"{api}/projects/{ds['project_id']}", headers=h).status_code == 204
