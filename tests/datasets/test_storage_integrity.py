"""Bytes stored once, uploads that resume, changed files, tampered copies: nothing stored is damaged."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests
from dataset_helpers import client_for, read_tree, sha, stored_blobs, temporary_uploads, write_tree
from polling import wait_for

from labtrack.sdk.datasets import CorruptedCopyError, Dataset, FileChangedError


def test_contents_are_stored_once_and_a_new_version_uploads_only_new_bytes(tracking_server, client, tmp_path: Path) -> None:
    files = {f"f{i:02d}.bin": os.urandom(20_000) for i in range(20)}
    files["copy/f00.bin"] = files["f00.bin"]  # the same content under two paths
    src = write_tree(tmp_path / "src", files)
    v1 = Dataset.create("d", "p", client=client)
    v1.add_files(src, show_progress=False)
    first = v1.upload(show_progress=False)
    assert first["uploaded"] == 20 and first["bytes"] == 20 * 20_000
    v1.finalize()
    blobs = stored_blobs(tracking_server.artifacts)
    assert len(blobs) == 20 and sum(blobs.values()) == 20 * 20_000

    (src / "f05.bin").write_bytes(b"changed content")
    v2 = Dataset.create("d", "p", parent_datasets=[v1], client=client)
    v2.sync_folder(src, show_progress=False)
    second = v2.upload(show_progress=False)
    assert second == {"uploaded": 1, "bytes": len(b"changed content"), "already_stored": 0}
    v2.finalize()
    blobs = stored_blobs(tracking_server.artifacts)
    assert len(blobs) == 21 and sum(blobs.values()) == 20 * 20_000 + len(b"changed content")

    # a third version naming only known contents stores nothing at all
    v3 = Dataset.create("d", "p", parent_datasets=[v2], client=client)
    v3.add_files(src / "f01.bin", dataset_path="again", show_progress=False)
    assert v3.upload(show_progress=False)["uploaded"] == 0
    v3.finalize()
    assert len(stored_blobs(tracking_server.artifacts)) == 21


UPLOADER = """
import sys, time
from labtrack.sdk import dataset_transfer
from labtrack.sdk.datasets import Dataset

slow = dataset_transfer._chunks
def paced(source, on_bytes):  # slow each file down so the test can kill the upload half-way
    time.sleep(0.15)
    yield from slow(source, on_bytes)
if sys.argv[1] == "new":  # only the run that is killed; the resumed one goes at full speed
    dataset_transfer._chunks = paced

ds = Dataset.create("big", "p") if sys.argv[1] == "new" else Dataset.get(sys.argv[1], include_drafts=True)
if sys.argv[1] == "new":
    ds.add_files(sys.argv[2], show_progress=False)
print("DATASET", ds.id, flush=True)
print("REPORT", ds.upload(show_progress=False, workers=1), flush=True)
ds.finalize()
print("FINAL", flush=True)
"""


def test_an_interrupted_upload_resumes_and_is_never_half_final(tracking_server, client_home: Path, tmp_path: Path) -> None:
    files = {f"part{i:03d}.bin": os.urandom(50_000) for i in range(40)}
    src = write_tree(tmp_path / "src", files)
    script = tmp_path / "uploader.py"
    script.write_text(textwrap.dedent(UPLOADER))
    env = {**tracking_server.env, "LABTRACK_HOME": str(client_home)}
    proc = subprocess.Popen([sys.executable, str(script), "new", str(src)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("DATASET"), line + (proc.stderr.read() if proc.stderr else "")
        dataset_id = line.split()[1]
        wait_for(lambda: len(stored_blobs(tracking_server.artifacts, in_progress_ok=True)) >= 8, timeout=60,
                 what="some blobs uploaded")
    finally:
        proc.kill()
        proc.wait()
    # the server drops the half-received blob of the killed upload
    wait_for(lambda: not temporary_uploads(tracking_server.artifacts), timeout=20, what="the partial upload removed")
    assert len(stored_blobs(tracking_server.artifacts)) < 40, "the upload finished before it could be interrupted"

    h = {"Authorization": f"Bearer {tracking_server.api_key}"}
    record = requests.get(f"{tracking_server.api}/datasets/{dataset_id}", headers=h).json()
    assert record["state"] == "draft", "a killed upload must leave a draft, never a final version"
    r = requests.post(f"{tracking_server.api}/datasets/{dataset_id}/finalize", headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "upload_incomplete"
    already = len(stored_blobs(tracking_server.artifacts))

    rerun = subprocess.run([sys.executable, str(script), dataset_id], env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    report = eval(rerun.stdout.split("REPORT ", 1)[1].splitlines()[0])  # noqa: S307 - our own dict repr
    assert report["uploaded"] == 40 - already, report  # only what was still missing
    assert "FINAL" in rerun.stdout
    assert len(stored_blobs(tracking_server.artifacts)) == 40  # no temporary objects left either
    copy = Dataset.get(dataset_id, client=client_for(tracking_server)).get_local_copy(show_progress=False)
    assert read_tree(Path(copy)) == files


def test_a_file_changed_after_add_is_refused_and_reported(tracking_server, client, tmp_path: Path) -> None:
    src = write_tree(tmp_path / "src", {"a.txt": b"original a", "b.txt": b"original b"})
    ds = Dataset.create("d", "p", client=client)
    ds.add_files(src, show_progress=False)
    (src / "a.txt").write_bytes(b"edited after add")
    with pytest.raises(FileChangedError, match="changed after they were added") as caught:
        ds.upload(show_progress=False)
    assert caught.value.paths == [str((src / "a.txt").resolve())]
    assert set(stored_blobs(tracking_server.artifacts)) == {sha(b"original b")}, "the changed bytes must not be stored"
    ds.add_files(src / "a.txt", show_progress=False)  # add again, then the upload completes
    ds.upload(show_progress=False)
    ds.finalize()
    assert read_tree(Path(ds.get_local_copy(show_progress=False))) == {"a.txt": b"edited after add", "b.txt": b"original b"}

    # wrong bytes sent straight to the API: 422 and nothing stored under that name
    h = {"Authorization": f"Bearer {tracking_server.api_key}"}
    draft = Dataset.create("d", "p", parent_datasets=[ds], client=client)
    expected = sha(b"the real bytes")
    draft._client.post(f"/datasets/{draft.id}/files", {"add": [{"path": "c.txt", "size": 14, "sha256": expected}]})
    r = requests.put(f"{tracking_server.api}/blobs/{expected}", data=b"the fake bytes", headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "hash_mismatch"
    r = requests.put(f"{tracking_server.api}/blobs/{expected}", data=b"the real", headers=h)  # cut short
    assert r.status_code == 422
    assert expected not in stored_blobs(tracking_server.artifacts)
    r = requests.put(f"{tracking_server.api}/blobs/{expected}", data=b"the real bytes", headers=h)
    assert r.status_code == 201 and expected in stored_blobs(tracking_server.artifacts)


def test_a_tampered_local_copy_is_detected_and_repaired(tracking_server, client, tmp_path: Path,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    files = {"x.txt": b"x" * 1000, "sub/y.txt": b"y" * 1000}
    src = write_tree(tmp_path / "src", files)
    ds = Dataset.create("d", "p", client=client)
    ds.add_files(src, show_progress=False)
    ds.upload(show_progress=False)
    ds.finalize()
    copy = Path(ds.get_local_copy(show_progress=False))
    target = copy / "sub" / "y.txt"
    os.chmod(target, 0o644)
    target.write_bytes(b"y" * 999 + b"!")  # same size: only the hash can tell
    (copy / "stray.txt").write_bytes(b"not in the version")
    capfd.readouterr()
    again = Path(ds.get_local_copy(show_progress=False))
    assert again == copy and read_tree(copy) == files
    assert "did not match their sha256 (sub/y.txt)" in capfd.readouterr().err

    # bytes damaged on the server are an error, never handed over as the version's content
    blob = next((tracking_server.artifacts / "blobs").rglob(sha(b"x" * 1000)))
    blob.write_bytes(b"z" * 1000)
    os.chmod(copy / "x.txt", 0o644)
    (copy / "x.txt").write_bytes(b"q" * 1000)
    with pytest.raises(CorruptedCopyError, match="damaged"):
        Dataset.get(ds.id, client=client).get_local_copy(show_progress=False)


def test_a_blob_batch_verifies_each_blob_on_its_own(tracking_server, client) -> None:
    h = {"Authorization": f"Bearer {tracking_server.api_key}"}
    url = f"{tracking_server.api}/blobs"
    good, bad, had = b"good bytes", b"bad bytes", b"had bytes"
    draft = Dataset.create("d", "p", client=client)
    client.post(f"/datasets/{draft.id}/files", {"add": [
        {"path": name, "size": len(data), "sha256": sha(data)} for name, data in (("g", good), ("b", bad), ("h", had))]})
    assert requests.put(f"{url}/{sha(had)}", data=had, headers=h).status_code == 201
    unknown = b"named by no manifest"

    def frame(name: str, data: bytes) -> bytes:
        return f"{name} {len(data)}\n".encode() + data

    body = frame(sha(good), good) + frame(sha(bad), b"BAD bytes") + frame(sha(had), had) + frame(sha(unknown), unknown)
    r = requests.post(url, data=body, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"stored": [sha(good)], "had": [sha(had)], "mismatched": [sha(bad)], "unknown": [sha(unknown)],
                        "too_large": []}
    assert set(stored_blobs(tracking_server.artifacts)) == {sha(good), sha(had)}
    for broken in (b"not a header\n", frame(sha(bad), bad)[:-3], b"x" * 200):
        r = requests.post(url, data=broken, headers=h)
        assert r.status_code in (400, 422) and r.json()["error"]["message"], r.text
    assert set(stored_blobs(tracking_server.artifacts)) == {sha(good), sha(had)}
