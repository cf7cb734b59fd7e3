"""`Dataset.get(..., alias=...)` inside a running task records the version as the task's input."""

from __future__ import annotations

from pathlib import Path

import subprocess
import sys

import requests
from dataset_helpers import write_tree

from labtrack.sdk.datasets import Dataset

SCRIPT = """
import sys
from labtrack import Dataset, Task
task = Task.init(project_name="p", task_name="trainer")
print("TASK", task.id, flush=True)
ds = Dataset.get(dataset_project="p", dataset_name="faces", alias="train")
print("GOT", ds.id, ds.get_local_copy(show_progress=False), flush=True)
Dataset.get(dataset_project="p", dataset_name="faces", alias="")  # no alias: nothing recorded
task.close()
"""


def test_an_alias_inside_a_task_records_the_input(tracking_server, client, client_home: Path, tmp_path: Path) -> None:
    ds = Dataset.create("faces", "p", client=client)
    ds.add_files(write_tree(tmp_path / "src", {"a.txt": b"a"}), show_progress=False)
    ds.upload(show_progress=False)
    ds.finalize()
    script = tmp_path / "trainer.py"
    script.write_text(SCRIPT)
    env = {**tracking_server.env, "LABTRACK_HOME": str(client_home)}
    env.pop("LABTRACK_TASK_ID", None)
    run = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout

    def get(path: str) -> dict:
        r = requests.get(f"{tracking_server.api}{path}", headers=tracking_server.headers, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    task_id = out.split("TASK ", 1)[1].split()[0]
    assert f"GOT {ds.id}" in out
    inputs = get(f"/tasks/{task_id}/datasets")["items"]
    assert [(i["alias"], i["id"], i["version"]) for i in inputs] == [("train", ds.id, "1.0.0")]
    shown = get(f"/tasks/{task_id}")["hyperparams"]["Datasets"]["train"]
    assert shown["value"] == ds.id and shown["description"] == "p/faces version 1.0.0"
    users = get(f"/datasets/{ds.id}/tasks")["items"]
    assert [(u["task_id"], u["alias"]) for u in users] == [(task_id, "train")]
    # outside a task, an alias records nothing and is no error
    assert Dataset.get(dataset_project="p", dataset_name="faces", alias="train", client=client).id == ds.id
