"""Schemathesis against the served OpenAPI document, with every check: the server never answers
5xx, accepts every request the document allows, refuses what it forbids, answers in the
documented shapes, statuses and headers (Allow on 405), on SQLite and PostgreSQL.

It runs the `schemathesis` CLI as a user would, with a fixed seed and a fixed number of examples
per operation, so a run is repeatable and its cost bounded. The rules a JSON schema can't state
(a cursor comes from a previous page, a blob's bytes hash to its name, ...) reach schemathesis
through the hooks in fuzz_hooks.py, which fix only that part of a schema-valid case; each rule
keeps a 4xx test of its own (docs/api.md lists them). SQLite gets every phase; PostgreSQL skips
the coverage phase, which is most of the cost (~3,000 boundary cases) and checks the document
against validation code that is the same for both databases, while fuzzing and stateful runs
still reach what differs (what PostgreSQL refuses to store).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server_helpers import Api

HERE = Path(__file__).parent
SEED = 20240611
EXAMPLES_PER_OPERATION = 5  # fuzzing and stateful; the coverage phase is exhaustive by design
PHASES = {"sqlite": "examples,coverage,fuzzing,stateful", "postgresql": "examples,fuzzing,stateful"}
# Revoking a key: the run would revoke the very key it authenticates with, and every later case
# would fail for that alone (revocation is covered in test_server_security.py).
EXCLUDED_OPERATIONS = ["revoke_key_api_v1_keys__key_id__delete"]


# ~1 min of CPU on SQLite, ~30 s on PostgreSQL; the wall time is what a shared, loaded machine makes of it.
@pytest.mark.timeout(900)
def test_openapi_document_and_server_agree(any_tracking_server, tmp_path: Path) -> None:
    server = any_tracking_server
    api = Api(server)
    # A task with a series, so list answers hold a full item for the response-schema checks.
    task = api.task("fuzz target", "fuzz")
    api.post(f"/tasks/{task['id']}/events", json={"events": [
        {"type": "scalars", "metric": "loss", "variant": "", "iterations": [0, 1, 2], "values": [1, 2, 3]}]})
    report = tmp_path / "schemathesis.json"
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server.api}/openapi.json",
        "--checks", "all", "--seed", str(SEED), "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--phases", PHASES[server.db_url.split(":")[0].split("+")[0]],
        "--workers", "1", "--no-shrink", "--request-timeout", "30",
        "-H", f"Authorization: Bearer {server.api_key}",
        "--report", "json", "--report-json-path", str(report),
        *(arg for op in EXCLUDED_OPERATIONS for arg in ("--exclude-operation-id", op)),
    ]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="fuzz_hooks", LABTRACK_FUZZ_URL=server.url, LABTRACK_FUZZ_KEY=server.api_key,
               PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=840)
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)  # the whole report, kept with the tmp dir
    assert report.exists(), f"schemathesis did not run:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    result = json.loads(report.read_text())
    operations = result["operations"]
    assert operations["tested"] >= 50 and operations["tested"] == operations["selected"], operations
    assert result["test_cases"]["generated"] > 300, result["test_cases"]
    found = [f"{f['code']} {f['title']} ({f['count']}): {', '.join(f['operations'])}" for f in result["failures"]]
    assert not found and not result["errors"] and run.returncode == 0, (
        "\n".join(found) + f"\nerrors: {result['errors']}\n\n{run.stdout[-6000:]}\n{server.log_tail(2000)}")
