"""Remote runs from the SDK against a real server: Task.create, clone, enqueue, set_parameters under an
agent, execute_remotely (script and notebook kernel) and wait.

No agent runs here: a test that needs one pops the task through the API, as an agent does, and runs
the stored code with `LABTRACK_TASK_ID` in its environment.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import requests

from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ConfigurationError, Conflict, LabtrackError
from labtrack.sdk.remote import TaskWaitTimeout
from labtrack.sdk.task import Task
from tests.sdk.conftest import task_id_from
from tests.sdk.kernel_session import Kernel

TRAIN = """\
import argparse, labtrack
p = argparse.ArgumentParser(); p.add_argument("--epochs", type=int, default=1)
args = p.parse_args()
task = labtrack.Task.init("ignored", "ignored")
print("TASK", task.id)
params = task.connect({"lr": 0.1, "layers": [4]})
print("VALUES", params["lr"], params["layers"], args.epochs)
task.execute_remotely(queue_name="default")  # the agent's run: carries on
print("AFTER")
"""


@pytest.fixture
def client(tracking_server) -> ApiClient:
    return ApiClient(tracking_server.url, tracking_server.api_key)


def _entries(scripts, queue: str = "default") -> list[dict]:
    return scripts.get(f"/queues/{queue}/entries")["items"]


def _pop(scripts, name: str = "test-agent") -> dict:
    """What an agent does: register a worker and pop the default queue (the task goes in_progress)."""
    worker = scripts.post("/workers", {"name": name, "queues": ["default"], "resources": {}})
    resp = requests.post(f"{scripts.server.api}/queues/pop", headers=scripts.server.headers, timeout=30,
                         json={"queues": ["default"], "worker": worker["id"], "wait": 0})
    assert resp.status_code == 200, resp.text
    return resp.json()["task"]


def test_create_from_a_script_stores_its_text_argv_and_packages(scripts, client, tmp_path) -> None:
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    task = Task.create("sdk/remote", script=path, argv=["--epochs", "2"], requirements=["numpy==1.26.4", " "],
                       client=client)
    record = scripts.get(f"/tasks/{task.id}")
    assert record["status"] == "created" and record["name"] == "train" and record["project_name"] == "sdk/remote"
    script = record["script"]
    # Outside git the file itself is stored (ClearML's literal script), for the agent to write and run.
    assert script["diff"] == TRAIN and script["repository"] == "" and script["entry_point"] == "train.py"
    assert script["argv"] == ["--epochs", "2"] and script["working_dir"] == "."
    assert script["requirements"] == "numpy==1.26.4\n"

    (tmp_path / "requirements.txt").write_text("torch==2.3.0\n")
    from_file = Task.create("sdk/remote", "named", script=str(path), requirements=tmp_path / "requirements.txt",
                            argv="--epochs 'a b'", task_type="testing", client=client)
    record = scripts.get(f"/tasks/{from_file.id}")
    assert record["name"] == "named" and record["type"] == "testing"
    assert record["script"]["requirements"] == "torch==2.3.0\n" and record["script"]["argv"] == ["--epochs", "a b"]
    frozen = Task.create("sdk/remote", script=path, client=client)
    assert "labtrack==" in scripts.get(f"/tasks/{frozen.id}")["script"]["requirements"]

    with pytest.raises(ConfigurationError, match="exactly one"):
        Task.create("sdk/remote", script=path, notebook=path, client=client)
    with pytest.raises(ConfigurationError, match="not a file"):
        Task.create("sdk/remote", script=tmp_path / "missing.py", client=client)
    with pytest.raises(ConfigurationError, match="requirements"):
        Task.create("sdk/remote", script=path, requirements=tmp_path / "nope.txt", client=client)


def test_create_from_a_script_in_git_stores_the_checkout(scripts, client, tmp_path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    script = repo / "src" / "train.py"
    script.write_text("print('v1')\n")

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    git("remote", "add", "origin", "https://user:secret@example.com/team/repo.git")
    script.write_text("print('v2')\n")
    task = Task.create("sdk/remote", script=script, requirements=[], client=client)
    stored = scripts.get(f"/tasks/{task.id}")["script"]
    assert stored["repository"] == "https://example.com/team/repo.git"  # no credentials
    assert stored["commit"] == git("rev-parse", "HEAD")
    assert stored["diff"].startswith("diff --git") and "+print('v2')" in stored["diff"]
    assert stored["entry_point"] == "src/train.py" and stored["working_dir"] == "src"


def _write_notebook(path: Path, cells: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="an old output\n")]
    nb.cells[0].execution_count = 3
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# Title"))
    nbformat.write(nb, str(path))


def _sources(cells: list[dict]) -> list[str]:
    # A .ipynb file stores a cell's source as its lines (so does Track's snapshot).
    return ["".join(c["source"]) for c in cells]


def test_create_from_a_notebook_stores_its_snapshot(scripts, client, tmp_path) -> None:
    path = tmp_path / "analysis.ipynb"
    _write_notebook(path, ["x = 1", "print(x + 1)"])
    task = Task.create("sdk/remote", notebook=path, requirements=["pandas==2.2.2"], client=client)
    record = scripts.get(f"/tasks/{task.id}")
    assert record["status"] == "created" and record["name"] == "analysis"
    script = record["script"]
    cells = script["notebook"]["cells"]
    assert _sources(cells) == ["# Title", "x = 1", "print(x + 1)"]
    assert cells[1]["outputs"] == [] and cells[1]["execution_count"] is None  # outputs left out, as Track does
    assert script["entry_point"] == "analysis.ipynb" and script["argv"] == []
    assert script["requirements"] == "pandas==2.2.2\n"
    (tmp_path / "plain.py").write_text("x = 1\n")
    with pytest.raises(ConfigurationError, match="ipynb"):
        Task.create("sdk/remote", notebook=tmp_path / "plain.py", client=client)
    with pytest.raises(ConfigurationError, match="argv"):
        Task.create("sdk/remote", notebook=path, argv=["--x"], client=client)


def test_clone_copies_code_and_parameters_with_parent(scripts, client, tmp_path) -> None:
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    source = Task.create("sdk/remote", script=path, requirements=[], client=client)
    source.set_parameters({"General/lr": 0.5, "Args/epochs": 3})
    copy = Task.clone(source, name="copy")
    record = scripts.get(f"/tasks/{copy.id}")
    assert copy.id != source.id and record["status"] == "created" and record["name"] == "copy"
    assert record["parent_id"] == source.id
    assert record["script"]["diff"] == TRAIN
    assert copy.get_parameters() == {"General/lr": 0.5, "Args/epochs": 3}
    other = Task.create("sdk/remote", script=path, requirements=[], client=client)
    by_id = Task.clone(source.id, parent=other.id, client=client)
    record = scripts.get(f"/tasks/{by_id.id}")
    assert record["parent_id"] == other.id and record["name"] == "train" and record["script"]["diff"] == TRAIN
    assert by_id.get_parameters() == {"General/lr": 0.5, "Args/epochs": 3}


def test_enqueue_puts_the_task_in_the_queue(scripts, client, tmp_path) -> None:
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    first = Task.create("sdk/remote", script=path, requirements=[], client=client)
    second = Task.create("sdk/remote", script=path, requirements=[], client=client)
    record = Task.enqueue(first, queue_name="default")
    assert record["id"] == first.id and record["status"] == "queued"
    Task.enqueue(second.id, priority=5, client=client)  # by id; a higher priority pops first
    assert [(e["task_id"], e["priority"]) for e in _entries(scripts)] == [(second.id, 5), (first.id, 0)]
    assert first.status == "queued"
    with pytest.raises(Conflict, match="queued"):
        Task.enqueue(first)
    with pytest.raises(LabtrackError):
        Task.enqueue(Task.create("sdk/remote", script=path, requirements=[], client=client), queue_name="no-such-queue")


def test_set_parameters_override_connect_in_the_agents_run(scripts, client, tmp_path) -> None:
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    task = Task.create("sdk/remote", "params", script=path, argv=["--epochs", "2"], requirements=[], client=client)
    task.set_parameters({"General/lr": 0.5, "Args/epochs": 7})
    Task.enqueue(task)
    popped = _pop(scripts)
    assert popped["id"] == task.id and popped["status"] == "in_progress"
    # The agent writes the stored script and runs it with its argv and the task id in the environment.
    stored = popped["script"]
    proc = scripts.run(stored["diff"], args=stored["argv"], LABTRACK_TASK_ID=task.id)
    assert task_id_from(proc.stdout) == task.id
    assert "VALUES 0.5 [4] 7" in proc.stdout  # what set_parameters said, not the code's defaults
    assert "AFTER" in proc.stdout  # execute_remotely in the agent's run is a no-op
    record = scripts.get(f"/tasks/{task.id}")
    assert record["status"] == "completed"
    assert Task.get_task(task.id, client=client).get_parameters()["General/lr"] == 0.5


def test_execute_remotely_in_a_script_exits_there_and_leaves_it_queued(scripts) -> None:
    code = """\
import labtrack
with labtrack.Task.init("sdk/remote", "local then remote") as task:
    print("TASK", task.id, flush=True)
    task.get_logger().report_scalar("m", "v", 1.0, 0)
    try:
        task.execute_remotely(queue_name="default")
    finally:
        print("FINALLY", flush=True)
    print("AFTER")
"""
    proc = scripts.run(code)
    task_id = task_id_from(proc.stdout)
    assert "FINALLY" in proc.stdout and "AFTER" not in proc.stdout, proc.stdout
    record = scripts.get(f"/tasks/{task_id}")
    assert record["status"] == "queued", (record["status"], record["status_reason"], proc.stderr)
    assert [e["task_id"] for e in _entries(scripts)] == [task_id]
    assert record["script"]["diff"] == code and record["script"]["entry_point"] == "script1.py"
    assert "labtrack==" in record["script"]["requirements"]
    # The local run's points went with the reset: the agent's run starts clean.
    assert scripts.get(f"/tasks/{task_id}/metrics")["items"] == []


@pytest.fixture
def kernels(scripts):
    started: list[Kernel] = []

    def start(**env: str) -> Kernel:
        kernel = Kernel(scripts.env(**env), scripts.tmp_path)
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        kernel.stop()


def test_execute_remotely_from_a_notebook_kernel_enqueues_and_the_kernel_lives(scripts, kernels, tmp_path) -> None:
    cells = [
        "import labtrack\ntask = labtrack.Task.init('sdk/remote', 'notebook')\nprint('TASK', task.id)",
        "handle = task.execute_remotely(queue_name='default')\nprint('HANDLE', handle.id, handle.status)",
    ]
    path = tmp_path / "remote.ipynb"
    _write_notebook(path, cells)
    # JupyterLab tells a kernel its notebook's path in JPY_SESSION_NAME.
    kernel = kernels(JPY_SESSION_NAME=str(path))
    first = kernel.run(cells[0])
    assert first.status == "ok", first.stderr
    task_id = first.task_id
    second = kernel.run(cells[1])
    assert second.status == "ok", (second.ename, second.stderr)
    assert f"HANDLE {task_id} queued" in second.stdout
    third = kernel.run("print('ALIVE', 6 * 7, labtrack.Task.current_task())")
    assert third.status == "ok" and "ALIVE 42 None" in third.stdout
    # A run that has ended already is sent the same way (reset, then enqueued).
    again = kernel.run("t2 = labtrack.Task.init('sdk/remote', 'again')\nprint('TASK', t2.id)\nt2.mark_completed()\n"
                       "print('HANDLE2', t2.execute_remotely().status)")
    assert again.status == "ok" and "HANDLE2 queued" in again.stdout, (again.ename, again.stderr)
    record = scripts.get(f"/tasks/{task_id}")
    assert record["status"] == "queued"
    assert [e["task_id"] for e in _entries(scripts)] == [task_id, again.task_id]
    script = record["script"]
    assert _sources(script["notebook"]["cells"]) == ["# Title", *cells]
    assert script["entry_point"] == "remote.ipynb" and script["argv"] == []
    assert "labtrack==" in script["requirements"]


def test_wait_returns_the_ended_status_and_times_out_cleanly(scripts, client, tmp_path) -> None:
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    task = Task.create("sdk/remote", script=path, requirements=[], client=client)

    def finish_later() -> None:
        time.sleep(1.0)
        scripts.post(f"/tasks/{task.id}/start")
        scripts.post(f"/tasks/{task.id}/fail", {"reason": "boom"})

    thread = threading.Thread(target=finish_later)
    thread.start()
    try:
        started = time.monotonic()
        assert Task.get_task(task.id, client=client).wait(timeout=30, poll=0.1) == "failed"
        assert time.monotonic() - started >= 0.9
    finally:
        thread.join(10)
    waiting = Task.create("sdk/remote", script=path, requirements=[], client=client)
    started = time.monotonic()
    with pytest.raises(TaskWaitTimeout, match="still created") as caught:
        waiting.wait(timeout=0.5, poll=0.1)
    assert 0.4 <= time.monotonic() - started < 5
    assert isinstance(caught.value, TimeoutError) and caught.value.status == "created"


def test_an_agent_runs_what_execute_remotely_sent(scripts, tmp_path) -> None:
    """End to end with the real agent: the local run stops at execute_remotely, the agent's run goes
    past it with the parameters set meanwhile, and ends completed with its scalars."""
    code = """\
import labtrack
task = labtrack.Task.init("sdk/remote", "agent run")
print("TASK", task.id, flush=True)
params = task.connect({"lr": 0.1})
task.execute_remotely(queue_name="default")
print("REMOTE", params["lr"], flush=True)
for i in range(5):
    task.get_logger().report_scalar("loss", "train", params["lr"] / (i + 1), i)
"""
    task_id = task_id_from(scripts.run(code).stdout)
    assert scripts.get(f"/tasks/{task_id}")["status"] == "queued"
    Task.get_task(task_id, client=ApiClient(scripts.server.url, scripts.server.api_key)).set_parameters(
        {"General/lr": 0.5})
    _run_agent_once(scripts, tmp_path)
    record = scripts.get(f"/tasks/{task_id}")
    assert record["status"] == "completed", (record["status"], record["status_reason"])
    console = "".join(i["text"] for i in scripts.get(f"/tasks/{task_id}/console", tail=1000)["items"])
    assert "REMOTE 0.5" in console
    assert scripts.series(task_id, "loss", "train") == ([0, 1, 2, 3, 4], [0.5 / (i + 1) for i in range(5)])


def _run_agent_once(scripts, tmp_path: Path) -> None:
    agent = subprocess.run([sys.executable, "-m", "labtrack", "agent", "--queue", "default", "--once",
                            "--workdir", str(tmp_path / "agent"), "--name", "test-agent"],
                           env=scripts.env(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert agent.returncode == 0, agent.stdout + agent.stderr


def test_an_agent_runs_the_notebook_a_kernel_sent(scripts, kernels, tmp_path) -> None:
    cells = [
        "import labtrack\ntask = labtrack.Task.init('sdk/remote', 'notebook via agent')\nprint('TASK', task.id)",
        "task.execute_remotely(queue_name='default')",
        "for i in range(3):\n    task.get_logger().report_scalar('acc', 'val', i / 10, i)\nprint('CELL3 ran')",
    ]
    path = tmp_path / "via_agent.ipynb"
    _write_notebook(path, cells)
    kernel = kernels(JPY_SESSION_NAME=str(path))
    task_id = kernel.run(cells[0]).task_id
    assert kernel.run(cells[1]).status == "ok"
    _run_agent_once(scripts, tmp_path)
    record = scripts.get(f"/tasks/{task_id}")
    assert record["status"] == "completed", (record["status"], record["status_reason"])
    assert scripts.series(task_id, "acc", "val") == ([0, 1, 2], [0.0, 0.1, 0.2])  # the cells after it ran there
    assert "executed_notebook" in {a["key"] for a in scripts.get(f"/tasks/{task_id}/artifacts")["items"]}


def test_execute_remotely_with_clone_enqueues_a_copy_and_the_local_run_goes_on(scripts) -> None:
    code = """\
import labtrack
task = labtrack.Task.init("sdk/remote", "local and a copy")
print("TASK", task.id, flush=True)
task.connect({"lr": 0.1})
copy = task.execute_remotely(queue_name="default", clone=True)
print("COPY", copy.id, copy.status, flush=True)
task.get_logger().report_scalar("m", "v", 1.0, 0)
"""
    proc = scripts.run(code)
    task_id = task_id_from(proc.stdout)
    copy_id, copy_status = next(line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("COPY "))
    assert copy_id != task_id and copy_status == "queued"
    local, copy = scripts.get(f"/tasks/{task_id}"), scripts.get(f"/tasks/{copy_id}")
    assert local["status"] == "completed" and local["last_iteration"] == 0  # the local run went on
    assert copy["parent_id"] == task_id and copy["script"]["diff"] == code
    assert copy["hyperparams"]["General"]["lr"]["value"] == "0.1" and "labtrack==" in copy["script"]["requirements"]
    assert [e["task_id"] for e in _entries(scripts)] == [copy_id]
