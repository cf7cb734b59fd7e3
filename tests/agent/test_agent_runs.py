"""A script task, a git task and a notebook task, enqueued over HTTP and run by a real agent."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import requests

SCRIPT = '''
import labtrack
task = labtrack.Task.init("agent-tests", "script")
config = task.connect({"lr": 0.5, "epochs": 3})
print("lr is", config["lr"])
for i in range(config["epochs"]):
    task.get_logger().report_scalar("loss", "train", 1.0 / (i + 1), i)
'''


def test_script_task_runs_attached_with_server_parameters_metrics_and_a_console_once(lab):
    task_id = lab.script_task(SCRIPT, hyperparams={"General": {"lr": {"value": "0.25", "type": "float"},
                                                               "epochs": {"value": "4", "type": "int"}}})
    plain = lab.script_task("import sys\nprint('plain', sys.argv[1:])\nsys.exit(3)\n", name="plain", argv=["--x", "1"])
    lab.enqueue(task_id)
    lab.enqueue(plain)
    lab.start_agent("runner")
    task = lab.wait_status(task_id)
    assert task["status"] == "completed", lab.console(task_id)
    worker = lab.workers()[0]
    assert task["worker"] == worker["id"] and worker["name"] == "runner"
    assert task["last_metrics"]["loss"]["train"]["count"] == 4  # epochs=4 came from the server
    console = lab.console(task_id)
    # The agent streams the console and the SDK does not copy it again (LABTRACK_CAPTURE_CONSOLE=0).
    assert console.count("lr is 0.25\n") == 1, console
    assert "[labtrack agent] stored script script.py" in console
    # A script that never attaches: the agent ends the task from its exit code, with its argv.
    ended = lab.wait_status(plain)
    assert ended["status"] == "failed" and ended["status_reason"] == "exit code 3", ended
    assert "plain ['--x', '1']" in lab.console(plain)


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_git_task_is_cloned_at_its_commit_with_the_uncommitted_diff_and_the_clone_is_cached(lab, tmp_path):
    origin = tmp_path / "origin.git"
    work = tmp_path / "work"
    _git("init", "--bare", "-q", str(origin), cwd=tmp_path)
    _git("clone", "-q", str(origin), str(work), cwd=tmp_path)
    (work / "pkg").mkdir()
    (work / "pkg" / "helper.py").write_text("WORD = 'committed'\n")
    (work / "pkg" / "main.py").write_text("import helper, os\nprint('word:', helper.WORD, 'cwd:', os.path.basename(os.getcwd()))\n")
    _git("add", ".", cwd=work)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one", cwd=work)
    commit = _git("rev-parse", "HEAD", cwd=work)
    _git("push", "-q", "origin", "HEAD", cwd=work)
    (work / "pkg" / "helper.py").write_text("WORD = 'uncommitted'\n")
    diff = _git("diff", "HEAD", cwd=work) + "\n"
    # A later commit the task must not see: the agent checks out the task's commit.
    (work / "pkg" / "main.py").write_text("print('later commit')\n")
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two", cwd=work)
    _git("push", "-q", "origin", "HEAD", cwd=work)
    script = {"repository": str(origin), "branch": "master", "commit": commit, "diff": diff,
              "entry_point": "pkg/main.py", "working_dir": "pkg", "argv": [], "requirements": ""}
    first = lab.task("git-1", script)
    second = lab.task("git-2", script)
    lab.enqueue(first)
    lab.enqueue(second)
    lab.start_agent("git")
    for task_id in (first, second):
        assert lab.wait_status(task_id)["status"] == "completed", lab.console(task_id)
        assert "word: uncommitted cwd: pkg" in lab.console(task_id)
    assert f"cloning {origin}" in lab.console(first)
    assert f"repository {origin} from the cache" in lab.console(second)


def _notebook(*cells: nbformat.NotebookNode) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return json.loads(nbformat.writes(nb))


def test_notebook_task_runs_with_injected_parameters_and_uploads_the_executed_notebook(lab):
    code = nbformat.v4.new_code_cell
    good = _notebook(
        code("epochs = 2\nlr = 0.1", metadata={"tags": ["parameters"]}),
        code("import labtrack\nlog = labtrack.Logger.current_logger()\n"
             "for i in range(epochs):\n    log.report_scalar('loss', 'train', lr * i, i)\nprint('ran', epochs, 'epochs at', lr)"),
        code("epochs * 10"),
    )
    bad = _notebook(code("print('before the error')"), code("raise ValueError('cell broke')"), code("print('never')"))
    task_id = lab.task("nb", {"notebook": good, "entry_point": "train.ipynb", "requirements": ""},
                       hyperparams={"General": {"epochs": {"value": "3", "type": "int"}}})
    failing = lab.task("nb-bad", {"notebook": bad, "entry_point": "bad.ipynb", "requirements": ""})
    lab.enqueue(task_id)
    lab.enqueue(failing)
    lab.start_agent("notebooks")
    task = lab.wait_status(task_id, timeout=180)
    assert task["status"] == "completed", lab.console(task_id)
    assert task["last_metrics"]["loss"]["train"]["count"] == 3
    assert "ran 3 epochs at 0.1" in lab.console(task_id)
    artifact = lab.call("GET", f"/tasks/{task_id}/artifacts/executed_notebook")
    assert artifact["filename"] == "train.ipynb"
    resp = requests.get(f"{lab.server.api}/tasks/{task_id}/artifacts/executed_notebook/content",
                        headers=lab.server.headers, timeout=30)
    executed = nbformat.reads(resp.text, as_version=4)
    injected = executed.cells[1]
    assert "injected-parameters" in injected.metadata["tags"] and "epochs = 3" in injected.source
    assert executed.cells[3].outputs[0]["data"]["text/plain"] == "30"

    failed = lab.wait_status(failing, timeout=180)
    assert failed["status"] == "failed", failed
    console = lab.console(failing)
    assert "before the error" in console and "ValueError: cell broke" in console and "never" not in console
    resp = requests.get(f"{lab.server.api}/tasks/{failing}/artifacts/executed_notebook/content",
                        headers=lab.server.headers, timeout=30)
    assert "cell broke" in resp.text  # the failed run's notebook comes back too, with the error in it
