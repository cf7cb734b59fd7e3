"""S3-compatible object storage for tests: moto's standalone server on a loopback port.

The storage code and the tracking server talk real HTTP to a real S3 API; only the far end is a
stand-in (there is no S3 to reach from here). The `s3_endpoint` fixture in tests/conftest.py
starts it once per session; `use_s3` points this process and the servers it starts at it.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import Any, Iterator

import pytest
import requests
from polling import wait_for

# Credentials moto accepts; s3fs here and every server process read them from the environment.
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@contextlib.contextmanager
def moto_server(port: int) -> Iterator[str]:
    """Run moto's S3 server on 127.0.0.1:`port` until the block ends; yields its endpoint URL."""
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(endpoint, timeout=1).status_code < 500
        except requests.RequestException:
            return False

    try:
        wait_for(up, timeout=30, what="moto's S3 server to answer")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


def use_s3(endpoint: str, monkeypatch: pytest.MonkeyPatch, bucket: str) -> Any:
    """Point the AWS_* environment at `endpoint` (for this test) and make `bucket`; returns a boto3 client."""
    import boto3

    for name, value in {**FAKE_AWS, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=endpoint)
    if bucket not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=bucket)
    return client
