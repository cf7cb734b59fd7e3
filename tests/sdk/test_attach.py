"""Attaching to existing tasks: the agent contract (LABTRACK_TASK_ID) and continue_last_task."""

from __future__ import annotations

from tests.sdk.conftest import task_id_from


def test_agent_run_attaches_and_server_values_override(scripts) -> None:
    created = scripts.post("/tasks", {
        "name": "remote", "project_name": "sdk/attach",
        "hyperparams": {
            "Args": {"lr": {"value": "0.5", "type": "float", "description": ""}},
            "General": {"layers": {"value": "[8, 8]", "type": "list", "description": ""}},
        },
        "configuration": {"cfg": {"value": '{"opt": "sgd"}', "content_type": "json"}},
        "script": {"entry_point": "train.py", "argv": ["--lr", "0.5"], "working_dir": "."},
    })
    scripts.post(f"/tasks/{created['id']}/enqueue")
    code = """
import argparse, labtrack
p = argparse.ArgumentParser(); p.add_argument("--lr", type=float, default=0.1); p.add_argument("--bs", type=int, default=32)
args = p.parse_args()
task = labtrack.Task.init("ignored", "ignored")
print("TASK", task.id)
params = task.connect({"layers": [1], "other": "local"})
cfg = task.connect_configuration({"opt": "adam"}, name="cfg")
print("VALUES", args.lr, args.bs, params["layers"], params["other"], cfg["opt"])
task.get_logger().report_scalar("m", "v", 1.0, 0)
"""
    proc = scripts.run(code, LABTRACK_TASK_ID=created["id"])
    assert task_id_from(proc.stdout) == created["id"]
    assert "VALUES 0.5 32 [8, 8] local sgd" in proc.stdout
    task = scripts.get(f"/tasks/{created['id']}")
    assert task["status"] == "completed" and task["last_iteration"] == 0
    assert task["hyperparams"]["Args"]["bs"]["value"] == "32"
    # The code recorded when the task was enqueued stays; the run adds what it ran with.
    assert task["script"]["entry_point"] == "train.py" and task["script"]["argv"] == ["--lr", "0.5"]
    assert "labtrack==" in task["script"]["requirements"]


def test_continue_by_id_returns_current_task_and_reuses_existing(scripts) -> None:
    code = """
import labtrack
first = labtrack.Task.init("sdk/attach", "track")
print("TASK", first.id)
again = labtrack.Task.init(continue_last_task=first.id)
assert again is first
first.get_logger().report_scalar("m", "v", 1.0, 0)
first.close()
cont = labtrack.Task.init("sdk/attach", "track", continue_last_task=True)
assert cont.id == first.id and cont is not first
cont.get_logger().report_scalar("m", "v", 2.0, 1)
"""
    proc = scripts.run(code)
    task_id = task_id_from(proc.stdout)
    its, vals = scripts.series(task_id, "m", "v")
    assert its == [0, 1] and vals == [1.0, 2.0]
    # The Track button's call: attach silently to a task the extension created.
    created = scripts.post("/tasks", {"name": "nb", "project_name": "sdk/attach"})
    scripts.run(f"import labtrack\nlabtrack.Task.init(continue_last_task={created['id']!r})\n")
    assert scripts.get(f"/tasks/{created['id']}")["status"] == "completed"
