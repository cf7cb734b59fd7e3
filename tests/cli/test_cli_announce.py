"""`Task.init` prints one line naming the task, its project and where to see it, and can be
silenced (LABTRACK_QUIET=1 or quiet=True)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import requests
from nbclient import NotebookClient

from jupyter_fixtures import start_jupyter

SCRIPT = """
import labtrack
task = labtrack.Task.init(project_name="vision", task_name="baseline"{extra})
print("TASK", task.id)
task.close()
"""
LINE = re.compile(r'^labtrack: task "baseline" in project "vision" \(id ([0-9a-f]{8})\)(.*)$', re.M)


def _run(env: dict[str, str], tmp_path: Path, extra: str = "") -> subprocess.CompletedProcess:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(extra=extra))
    env = {k: v for k, v in env.items() if k not in ("LABTRACK_QUIET", "LABTRACK_OFFLINE", "LABTRACK_TASK_ID")}
    result = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_a_script_says_where_its_task_went(tracking_server, tmp_path: Path) -> None:
    env = dict(tracking_server.env, JUPYTER_RUNTIME_DIR=str(tmp_path / "no-jupyter"))
    result = _run(env, tmp_path)
    task_id = result.stdout.split()[1]
    (match,) = LINE.findall(result.stderr)  # exactly one line, on stderr: stdout stays the script's own
    assert task_id.startswith(match[0])
    assert f"on {tracking_server.url}: see it with `labtrack lab`" in match[1]
    assert "labtrack:" not in result.stdout
    console = requests.get(f"{tracking_server.api}/tasks/{task_id}/console", headers=tracking_server.headers, timeout=10)
    assert "see it with" not in console.text  # printed before the console capture starts


def test_the_line_can_be_silenced(tracking_server, tmp_path: Path) -> None:
    quiet_env = dict(tracking_server.env, JUPYTER_RUNTIME_DIR=str(tmp_path / "no-jupyter"))
    by_env = subprocess.run([sys.executable, "-c", SCRIPT.format(extra="")], env=dict(quiet_env, LABTRACK_QUIET="1"),
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert by_env.returncode == 0 and "labtrack: task" not in by_env.stderr, by_env.stderr
    by_argument = _run(quiet_env, tmp_path, extra=", quiet=True")
    assert "labtrack: task" not in by_argument.stderr


def test_offline_names_the_folder_and_labtrack_sync(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABTRACK_")}
    env.update(LABTRACK_HOME=str(tmp_path / "home"), LABTRACK_OFFLINE="1")
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(extra=""))
    result = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (match,) = LINE.findall(result.stderr)
    assert ", offline in " in match[1] and "`labtrack sync " in match[1]


def test_with_jupyterlab_running_the_line_gives_its_url(tracking_server, tmp_path: Path) -> None:
    jupyter = start_jupyter(tmp_path / "root", tmp_path / "jupyter", env=tracking_server.env)
    try:
        env = dict(tracking_server.env, JUPYTER_RUNTIME_DIR=jupyter.env["JUPYTER_RUNTIME_DIR"])
        (match,) = LINE.findall(_run(env, tmp_path).stderr)
        assert f"see it in the labtrack sidebar at {jupyter.base_url}lab" in match[1], match
    finally:
        jupyter.stop()


def test_in_a_notebook_the_line_points_at_the_sidebar(tracking_server, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in tracking_server.env.items():
        if name.startswith("LABTRACK_"):
            monkeypatch.setenv(name, value)  # the kernel inherits this process's environment
    monkeypatch.delenv("LABTRACK_QUIET", raising=False)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SCRIPT.format(extra=""))])
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    stdout = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    assert "see it in JupyterLab's labtrack sidebar" in stdout, outputs
    assert not [o for o in outputs if o.get("name") == "stderr" and "labtrack: task" in o.get("text", "")]

