"""Dataset blobs in S3-compatible object storage: moto's standalone server on a loopback port, so the
storage code and the tracking server talk real HTTP to a real S3 API."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from dataset_helpers import client_for, read_tree, write_tree
from event_loops import run_in_own_loop
from s3_fixtures import use_s3

from labtrack.sdk.datasets import Dataset
from labtrack.server.storage import FsspecStorage
from labtrack.server.storage.blobs import BlobStore, HashMismatch

BUCKET = "labtrack-datasets"


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 client of the moto server with the bucket made; the AWS_* environment points at it."""
    return use_s3(s3_endpoint, monkeypatch, BUCKET)  # s3fs here and the server process both read it


def _keys(s3: Any, prefix: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        found.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    return found


async def _chunks(data: bytes, size: int = 3) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_blob_store_on_s3_stores_only_verified_bytes(s3: Any) -> None:
    prefix = os.urandom(4).hex()
    blobs = BlobStore(FsspecStorage(f"s3://{BUCKET}/{prefix}"), max_bytes=1 << 20)
    good = b"content-addressed bytes"
    name = hashlib.sha256(good).hexdigest()
    with pytest.raises(HashMismatch):
        run_in_own_loop(blobs.put, name, _chunks(b"other bytes entirely"))
    with pytest.raises(HashMismatch):
        run_in_own_loop(blobs.put, name, _chunks(good[:-1]))  # cut short
    assert not blobs.exists(name) and _keys(s3, prefix) == {}, "a refused upload must leave nothing behind"
    assert run_in_own_loop(blobs.put, name, _chunks(good), len(good)) == len(good)
    assert blobs.exists(name)
    with blobs.open(name) as fh:
        assert fh.read() == good
    assert list(_keys(s3, prefix)) == [f"{prefix}/blobs/{name[:2]}/{name}"]


def test_dataset_versions_on_an_s3_backed_server(s3: Any, server_factory, client_home: Path, tmp_path: Path) -> None:
    prefix = os.urandom(4).hex()
    server = server_factory("sqlite", ["--artifacts", f"s3://{BUCKET}/{prefix}"])
    server.start()
    client = client_for(server)
    files = {f"f{i}.bin": os.urandom(100_000) for i in range(6)}
    src = write_tree(tmp_path / "src", files)
    v1 = Dataset.create("d", "p", client=client)
    v1.add_files(src, show_progress=False)
    v1.upload(show_progress=False)
    v1.finalize()
    (src / "f0.bin").write_bytes(b"new")
    v2 = Dataset.create("d", "p", parent_datasets=[v1], client=client)
    v2.sync_folder(src, show_progress=False)
    assert v2.upload(show_progress=False)["uploaded"] == 1
    v2.finalize()
    stored = _keys(s3, f"{prefix}/blobs/")
    assert len(stored) == 7 and sum(stored.values()) == 6 * 100_000 + 3  # each content once
    assert read_tree(Path(v1.get_local_copy(show_progress=False))) == files
    assert read_tree(Path(v2.get_local_copy(show_progress=False)))["f0.bin"] == b"new"
