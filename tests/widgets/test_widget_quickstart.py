"""examples/quickstart.ipynb runs top to bottom in a real kernel and records everything it shows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
import requests
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_generator():
    spec = importlib.util.spec_from_file_location("make_quickstart", EXAMPLES / "make_quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_committed_notebook_is_what_the_generator_writes() -> None:
    committed = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    assert committed == load_generator().build(), "run: python examples/make_quickstart.py"


def test_quickstart_runs_top_to_bottom(tracking_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in tracking_server.env.items():
        if name.startswith("LABTRACK_"):
            monkeypatch.setenv(name, value)
    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    stderr = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr")
    assert "refused" not in stderr and "Traceback" not in stderr, stderr

    api, headers = tracking_server.api, tracking_server.headers
    (task,) = requests.get(f"{api}/tasks", params={"project": "examples"}, headers=headers, timeout=10).json()["items"]
    task = requests.get(f"{api}/tasks/{task['id']}", headers=headers, timeout=10).json()
    assert task["status"] == "completed" and task["name"] == "quickstart"
    assert task["hyperparams"]["General"]["lr"]["value"] == "0.05"
    metrics = {name: m for name, m in task["last_metrics"].items() if not name.startswith(":")}  # not :monitor:
    assert set(metrics) == {"loss", "accuracy"} and set(metrics["loss"]) == {"train", "validation"}
    assert metrics["accuracy"]["validation"]["last"] > 0.9  # it really learned
    assert metrics["loss"]["train"]["count"] == metrics["loss"]["validation"]["last_iteration"]  # one per step
    plots = requests.get(f"{api}/tasks/{task['id']}/plots", headers=headers, timeout=10).json()["items"]
    assert [p["metric"] for p in plots] == ["decision boundary"]
    tables = requests.get(f"{api}/tasks/{task['id']}/tables", headers=headers, timeout=10).json()["items"]
    assert tables and "val_accuracy" in tables[0]["columns"]
    artifacts = requests.get(f"{api}/tasks/{task['id']}/artifacts", headers=headers, timeout=10).json()["items"]
    assert {a["key"] for a in artifacts} == {"weights", "final_metrics"}
