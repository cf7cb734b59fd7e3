"""A training script registers a model and updates its weights; a second task loads it; links show both ways."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from model_helpers import Api, printed, run_script

TRAIN = """
import hashlib
import numpy as np
from labtrack import OutputModel, Task

task = Task.init(project_name="models-demo", task_name="train linreg")
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 3))
y = x @ np.array([1.5, -2.0, 0.5]) + 0.1
w = np.zeros(3)
model = OutputModel(task, name="linreg", framework="numpy", tags=["linreg", "demo"], comment="tiny")
model.update_labels({"background": 0, "signal": 1})
model.set_metadata("lr", 0.1, "float")
print("MODEL", model.id)
print("TASK", task.id)
for round_ in range(2):
    for _ in range(50):
        w -= 0.1 * (2 / len(x)) * x.T @ (x @ w - y)
    np.save("weights.npy", w)
    uri = model.update_weights("weights.npy")
    print(f"SHA{round_}", hashlib.sha256(open("weights.npy", "rb").read()).hexdigest())
    task.get_logger().report_scalar("loss", "train", float(np.mean((x @ w - y) ** 2)), round_)
print("URI", uri)
print("METADATA", model.get_metadata("lr"))
"""

EVALUATE = """
import os
import numpy as np
from labtrack import InputModel, Task

task = Task.init(project_name="models-demo", task_name="evaluate linreg")
model = InputModel(name="linreg", project="models-demo")
task.connect(model)
path = model.get_local_copy()
w = np.load(path)
print("TASK", task.id)
print("MODEL", model.id)
print("PATH", path)
print("LABELS", sorted(model.labels.items()))
print("FRAMEWORK", model.framework)
print("WEIGHTS", ",".join(f"{v:.6f}" for v in w))
"""


def test_trained_model_is_loaded_by_another_task_and_linked_both_ways(any_tracking_server: Any, tmp_path: Path) -> None:
    server, api = any_tracking_server, Api(any_tracking_server)
    home = tmp_path / "script-home"
    home.mkdir()
    trained = run_script(server, tmp_path, "train", TRAIN, home)
    model_id, train_task = printed(trained, "MODEL"), printed(trained, "TASK")
    first_sha, last_sha = printed(trained, "SHA0"), printed(trained, "SHA1")
    assert first_sha != last_sha  # the second round changed the weights

    model = api.ok("GET", f"/models/{model_id}")
    assert model["sha256"] == last_sha and model["size"] == (tmp_path / "weights.npy").stat().st_size
    assert model["uri"] == printed(trained, "URI") and model["uri"]
    assert model["task"] == {"id": train_task, "name": "train linreg"}
    assert (model["project"], model["framework"], model["tags"]) == ("models-demo", "numpy", ["linreg", "demo"])
    assert model["labels"] == {"background": 0, "signal": 1}
    assert model["metadata"] == {"lr": {"value": "0.1", "type": "float"}}
    assert printed(trained, "METADATA") == "0.1"
    # Only the current weights are kept: the first upload's bytes were removed when the second landed.
    stored = sorted(p.name for p in (server.artifacts / "models" / model_id).iterdir() if p.is_file())
    assert stored == [last_sha]
    assert hashlib.sha256((server.artifacts / "models" / model_id / last_sha).read_bytes()).hexdigest() == last_sha

    evaluated = run_script(server, tmp_path, "evaluate", EVALUATE, home)
    eval_task = printed(evaluated, "TASK")
    assert printed(evaluated, "MODEL") == model_id
    assert printed(evaluated, "FRAMEWORK") == "numpy"
    assert printed(evaluated, "LABELS") == "[('background', 0), ('signal', 1)]"
    local = Path(printed(evaluated, "PATH"))
    assert local.read_bytes() == (tmp_path / "weights.npy").read_bytes()
    assert not os.stat(local).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), "the local copy is read-only"

    # The model shows who made it and who used it; each task shows its output and input models.
    model = api.ok("GET", f"/models/{model_id}")
    assert [u["task_id"] for u in model["used_by"]] == [eval_task] and model["used_by_count"] == 1
    assert model["used_by"][0]["name"] == "evaluate linreg"
    made = api.ok("GET", f"/tasks/{train_task}/models")
    assert [m["id"] for m in made["output"]] == [model_id] and made["input"] == []
    used = api.ok("GET", f"/tasks/{eval_task}/models")
    assert [m["id"] for m in used["input"]] == [model_id] and used["output"] == []
    assert used["input"][0]["task"]["id"] == train_task
    assert api.ok("GET", "/models", params={"task_id": train_task})["items"][0]["id"] == model_id
