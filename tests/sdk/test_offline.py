"""Offline sessions: a folder is written with no server; `labtrack sync` uploads it once, however often run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OFFLINE = """
import labtrack
labtrack.Task.set_offline(True)
task = labtrack.Task.init("sdk/offline", "plane")
print("FOLDER", task.get_offline_mode_folder())
task.connect({"lr": 0.001, "layers": [64, 64]})
log = task.get_logger()
for i in range(3000):
    log.report_scalar("loss", "train", 1 / (i + 1), i)
log.report_table("t", "rows", 0, table=[["a"], [1]])
import numpy as np
log.report_image("img", "x", 0, image=np.zeros((4, 4), dtype="uint8"))
task.upload_artifact("result", {"acc": 0.9})
print("offline console line")
"""


def test_offline_session_then_sync_twice(scripts, tmp_path) -> None:
    # No server address at all: offline must not need one.
    env = {"LABTRACK_API_URL": "http://127.0.0.1:9", "LABTRACK_OFFLINE_DIR": str(tmp_path / "offline")}
    proc = scripts.run(OFFLINE, **env)
    folder = Path([ln.split(" ", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("FOLDER")][0])
    assert (folder / "session.json").is_file() and f"labtrack sync {folder}" in proc.stderr

    sync = [sys.executable, "-m", "labtrack", "sync", str(folder)]
    outputs = []
    for _ in range(2):
        done = subprocess.run(sync, env=scripts.env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert "already synced" in outputs[1]
    tasks = scripts.get("/tasks", project="sdk/offline")["items"]
    assert len(tasks) == 1
    task_id = tasks[0]["id"]
    task = scripts.get(f"/tasks/{task_id}")
    assert task["status"] == "completed" and task["name"] == "plane"
    assert task["hyperparams"]["General"]["layers"]["value"] == "[64, 64]"
    its, vals = scripts.series(task_id, "loss", "train")
    assert its == list(range(3000)) and vals[2] == 1 / 3
    assert len(scripts.get(f"/tasks/{task_id}/tables")["items"]) == 1
    assert len(scripts.get(f"/tasks/{task_id}/images")["items"]) == 1
    assert [a["key"] for a in scripts.get(f"/tasks/{task_id}/artifacts")["items"]] == ["result"]
    console = "".join(i["text"] for i in scripts.get(f"/tasks/{task_id}/console")["items"])
    assert console.count("offline console line") == 1

    # Even with the progress file gone, batch ids keep a full replay from storing anything twice.
    state = (folder / "synced.json").read_text()
    (folder / "synced.json").write_text(state.replace('"done": ', '"done": 0, "old": '))
    again = subprocess.run(sync, env=scripts.env(), capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    its, _ = scripts.series(task_id, "loss", "train")
    assert len(its) == 3000
    assert len(scripts.get(f"/tasks/{task_id}/tables")["items"]) == 1
    assert len(scripts.get(f"/tasks/{task_id}/images")["items"]) == 1


def test_sync_explains_bad_folders(tmp_path, scripts) -> None:
    cmd = [sys.executable, "-m", "labtrack", "sync"]
    missing = subprocess.run([*cmd, str(tmp_path / "nope")], env=scripts.env(), capture_output=True, text=True)
    assert missing.returncode == 2 and "is not a folder" in missing.stderr and "Traceback" not in missing.stderr
    empty = subprocess.run([*cmd, str(tmp_path)], env=scripts.env(), capture_output=True, text=True)
    assert empty.returncode == 2 and "not a labtrack session folder" in empty.stderr
