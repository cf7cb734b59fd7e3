"""Artifacts in S3-compatible object storage (moto's standalone server on a loopback port, so the
tracking server talks real HTTP to it): concurrent uploads stream in bounded parts, and the
server's memory neither grows with them nor stays up afterwards."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Iterator

import psutil
import pytest
import requests
from s3_fixtures import use_s3
from server_helpers import Api, error

from tests.conftest import TrackingServer

# Recovery times and memory are measured: `make test` runs this module alone, after the parallel pass.
pytestmark = pytest.mark.serial

MIB = 1024 * 1024
BUCKET = "labtrack-artifacts"


@pytest.fixture
def s3_server(s3_endpoint: str, server_factory, monkeypatch) -> TrackingServer:
    use_s3(s3_endpoint, monkeypatch, BUCKET)  # the server process inherits the AWS_* environment
    server = server_factory("sqlite", ["--artifacts", f"s3://{BUCKET}/{os.urandom(4).hex()}",
                                       "--max-artifact-bytes", str(64 * MIB)])
    server.start()
    return server


def _body(seed: int, size: int = 20 * MIB) -> Iterator[bytes]:
    """`size` bytes in 1 MiB chunks, without the client holding them all (a generator body)."""
    block = hashlib.sha256(str(seed).encode()).digest() * (MIB // 32)
    for _ in range(size // MIB):
        yield block


def _digest(seed: int, size: int = 20 * MIB) -> str:
    digest = hashlib.sha256()
    for chunk in _body(seed, size):
        digest.update(chunk)
    return digest.hexdigest()


class PeakRss:
    """Samples a process's resident memory in a thread and keeps the highest value."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def test_concurrent_uploads_stream_in_bounded_memory(s3_server: TrackingServer) -> None:
    api = Api(s3_server)
    tid = api.task()["id"]
    # Warm up: the first upload imports and connects the S3 client.
    assert api.put(f"/tasks/{tid}/artifacts/warm", data=b"w" * MIB).status_code == 201
    proc = psutil.Process(s3_server.proc.pid)  # type: ignore[union-attr]
    base = proc.memory_info().rss
    failures: list[str] = []

    def upload(i: int) -> None:
        with requests.Session() as session:
            session.headers.update(api.session.headers)
            resp = session.put(f"{api.base}/tasks/{tid}/artifacts/a{i}", data=_body(i), timeout=300)
            if resp.status_code != 201:
                failures.append(resp.text)

    with PeakRss(proc.pid) as rss:
        threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
    assert not failures, failures
    growth = (rss.peak - base) / MIB
    # Before parts were bounded: +500 MiB (each upload buffered whole in a 50 MiB block, copied twice).
    assert growth < 200, f"server RSS grew by {growth:.0f} MiB for 8 concurrent 20 MiB uploads"
    after = (proc.memory_info().rss - base) / MIB
    assert after < 64, f"server RSS stayed {after:.0f} MiB above where it started"
    print(f"\nS3 uploads: RSS {base / MIB:.0f} MiB, peak +{growth:.0f} MiB, after +{after:.0f} MiB")
    # Every byte arrived, under its final key, and nothing is left behind.
    for i in range(8):
        art = api.get(f"/tasks/{tid}/artifacts/a{i}").json()
        assert (art["size"], art["sha256"]) == (20 * MIB, _digest(i)), art
    with api.get(f"/tasks/{tid}/artifacts/a3/content", stream=True) as resp:
        assert hashlib.sha256(b"".join(resp.iter_content(MIB))).hexdigest() == _digest(3)


def test_an_upload_over_the_limit_leaves_nothing_in_the_bucket(s3_server: TrackingServer, s3_endpoint: str) -> None:
    import boto3

    api = Api(s3_server)
    tid = api.task()["id"]
    # No declared length: the limit is found while streaming, after several parts went out.
    resp = api.put(f"/tasks/{tid}/artifacts/big", data=_body(1, 80 * MIB))
    error(resp, 413, "too_large")
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []) if tid in o["Key"]]
    assert keys == [], keys
    uploads = [u for u in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) if tid in u["Key"]]
    assert uploads == [], "an aborted upload left its parts in the bucket"
