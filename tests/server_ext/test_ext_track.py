"""Track and snapshot: the saved notebook's exact cells and the kernel's packages land in a task."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import requests


def write_notebook(path: Path, sources: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook with the given (cell_type, source) cells, saved at `path` with outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell_type, source in sources:
        if cell_type == "code":
            cell = nbformat.v4.new_code_cell(source, execution_count=3)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a big output\n" * 10)]
        else:
            cell = nbformat.v4.new_markdown_cell(source)
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return nb


CELLS = [
    ("markdown", "# Training ✓\nwith *ünïcode* and trailing spaces  "),
    ("code", "import math\nlr = 0.01  # tuned\n\n\nprint(math.pi)"),
    ("code", ""),
    ("code", "for i in range(3):\n\tprint(i)\n"),
]


@pytest.fixture
def jupyter(jupyter_factory, tracking_server):
    return jupyter_factory(env=tracking_server.env)


def post(jupyter, route: str, body: object) -> requests.Response:
    return requests.post(jupyter.url(f"labtrack/notebooks/{route}"), json=body, headers=jupyter.headers, timeout=60)


def server_task(tracking_server, task_id: str) -> dict:
    response = requests.get(f"{tracking_server.api}/tasks/{task_id}", headers=tracking_server.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def cells_of(notebook: dict) -> list[tuple[str, str]]:
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]) for c in notebook["cells"]]


def test_track_creates_then_reuses_the_task_with_the_exact_cells(jupyter, tracking_server) -> None:
    write_notebook(jupyter.root_dir / "experiments" / "train model.ipynb", CELLS)
    tracked = post(jupyter, "track", {"path": "experiments/train model.ipynb"})
    assert tracked.status_code == 200, tracked.text
    result = tracked.json()
    task_id = result["task_id"]
    assert result["attach_code"] == (
        f"import labtrack.sdk.notebook_run; labtrack.sdk.notebook_run.track_notebook('{task_id}')"
    )
    assert result["previous_task_id"] is None
    assert result["task"]["id"] == task_id and result["project_id"] == result["task"]["project_id"]
    assert tracking_server.api_key not in tracked.text

    task = server_task(tracking_server, task_id)
    assert task["name"] == "train model" and task["project_name"] == "notebooks"
    script = task["script"]
    assert script["notebook_path"] == "experiments/train model.ipynb"
    assert script["entry_point"] == "train model.ipynb" and script["working_dir"] == "experiments"
    assert script["argv"] == []
    snapshot = script["notebook"]
    assert cells_of(snapshot) == CELLS  # exactly the saved sources, in order
    assert snapshot["nbformat"] == 4 and snapshot["metadata"]["kernelspec"]["name"] == "python3"
    assert all(c.get("outputs", []) == [] for c in snapshot["cells"])  # outputs are not snapshotted
    nbformat.validate(nbformat.from_dict(snapshot))
    # The package list is the kernel environment's (here the same venv): pinned names.
    requirements = script["requirements"].splitlines()
    assert any(line.startswith("nbformat==") for line in requirements)
    assert all("==" in line for line in requirements)

    # Track again with the id the frontend keeps in the notebook metadata: same task, new cells.
    write_notebook(jupyter.root_dir / "experiments" / "train model.ipynb", [*CELLS, ("code", "print('added')")])
    again = post(jupyter, "track", {"path": "experiments/train model.ipynb", "task_id": task_id})
    assert again.status_code == 200 and again.json()["task_id"] == task_id
    assert cells_of(server_task(tracking_server, task_id)["script"]["notebook"])[-1] == ("code", "print('added')")

    # Save → snapshot refresh.
    write_notebook(jupyter.root_dir / "experiments" / "train model.ipynb", CELLS[:2])
    refreshed = post(jupyter, "snapshot", {"path": "experiments/train model.ipynb", "task_id": task_id})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["task_id"] == task_id and refreshed.json()["updated"] is True
    assert cells_of(server_task(tracking_server, task_id)["script"]["notebook"]) == CELLS[:2]

    tasks = requests.get(f"{tracking_server.api}/tasks", headers=tracking_server.headers, timeout=10).json()["items"]
    assert [t["id"] for t in tasks] == [task_id]  # reused, never duplicated


def test_track_with_project_name_and_a_stale_task_id(jupyter, tracking_server) -> None:
    nb = write_notebook(jupyter.root_dir / "a.ipynb", CELLS[:1])
    del nb.metadata["kernelspec"]  # no kernel recorded: the packages come from the default kernel
    nbformat.write(nb, jupyter.root_dir / "a.ipynb")
    gone = "f" * 32  # e.g. the task was deleted on the server: a new one is created
    tracked = post(jupyter, "track", {"path": "a.ipynb", "task_id": gone, "project": "team/vision", "name": "baseline"})
    assert tracked.status_code == 200, tracked.text
    task = server_task(tracking_server, tracked.json()["task_id"])
    assert task["id"] != gone and task["project_name"] == "team/vision" and task["name"] == "baseline"
    assert "nbformat==" in task["script"]["requirements"]


def test_track_default_project_is_configurable(jupyter_factory, tracking_server) -> None:
    jupyter = jupyter_factory(env=tracking_server.env, extra_args=["--LabtrackApp.default_project=lab/notebooks"])
    write_notebook(jupyter.root_dir / "b.ipynb", CELLS[:1])
    config = requests.get(jupyter.url("labtrack/config"), headers=jupyter.headers, timeout=10).json()
    assert config["default_project"] == "lab/notebooks"
    tracked = post(jupyter, "track", {"path": "b.ipynb"})
    assert server_task(tracking_server, tracked.json()["task_id"])["project_name"] == "lab/notebooks"


BAD_REQUESTS = [
    ("track", {}, 422, "invalid", "'path'"),
    ("track", {"path": "missing.ipynb"}, 404, "not_found", "Save the notebook"),
    ("track", {"path": "notes.txt"}, 422, "invalid", "not a notebook"),
    ("track", {"path": "broken.ipynb"}, 422, "invalid", "could not be read"),
    ("track", {"path": "ok.ipynb", "task_id": "nope"}, 422, "invalid", "32 lowercase hex"),
    ("track", {"path": "ok.ipynb", "extra": 1}, 422, "invalid", "Unknown fields"),
    ("track", [1, 2], 400, "bad_request", "JSON object"),
    ("snapshot", {"path": "ok.ipynb"}, 422, "invalid", "track the notebook first"),
    ("snapshot", {"path": "ok.ipynb", "task_id": "e" * 32}, 404, "not_found", ""),
]


def test_bad_requests_get_messages_not_tracebacks(jupyter) -> None:
    write_notebook(jupyter.root_dir / "ok.ipynb", CELLS[:1])
    (jupyter.root_dir / "broken.ipynb").write_text("{not json")
    (jupyter.root_dir / "notes.txt").write_text("hi")
    for route, body, status, code, words in BAD_REQUESTS:
        response = post(jupyter, route, body)
        assert response.status_code == status, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == code and words in error["message"], (body, error)
    invalid_json = requests.post(jupyter.url("labtrack/notebooks/track"), data=b"{", headers=jupyter.headers, timeout=10)
    assert invalid_json.status_code == 400 and "not valid JSON" in invalid_json.json()["error"]["message"]


def test_attach_code_makes_the_kernel_log_into_the_tracked_task(jupyter, tracking_server, monkeypatch) -> None:
    from nbclient import NotebookClient

    write_notebook(jupyter.root_dir / "run.ipynb", CELLS[:1])
    result = post(jupyter, "track", {"path": "run.ipynb"}).json()
    for name, value in tracking_server.env.items():
        if name.startswith("LABTRACK_"):
            monkeypatch.setenv(name, value)  # what a kernel started by this Jupyter inherits
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(result["attach_code"]),
        # What the quickstart does: the tracked task is the current one.
        nbformat.v4.new_code_cell(
            "task = labtrack.Task.current_task() or labtrack.Task.init(project_name='x', task_name='y')\n"
            "task.get_logger().report_scalar('loss', 'train', 0.25, 7)\n"
            "task.close()"
        ),
    ]
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(jupyter.root_dir)}}).execute()
    task = server_task(tracking_server, result["task_id"])
    assert task["last_metrics"]["loss"]["train"]["last"] == 0.25
    assert task["script"]["notebook_path"] == "run.ipynb"  # the snapshot survived the SDK's own capture
    tasks = requests.get(f"{tracking_server.api}/tasks", headers=tracking_server.headers, timeout=10).json()["items"]
    assert len(tasks) == 1


def test_retrack_after_the_run_ended_starts_a_new_run_and_never_touches_the_ended_one(jupyter, tracking_server) -> None:
    path = jupyter.root_dir / "sweep.ipynb"
    write_notebook(path, CELLS)
    first = post(jupyter, "track", {"path": "sweep.ipynb", "project": "cases", "name": "digits-sgd"}).json()
    task_id = first["task_id"]
    api, headers = tracking_server.api, tracking_server.headers
    # The run happens and ends (what a kernel would do): parameters, points, completed.
    requests.post(f"{api}/tasks/{task_id}/start", headers=headers, timeout=10).raise_for_status()
    requests.patch(f"{api}/tasks/{task_id}", json={"hyperparams": {"General": {"lr": {"value": "0.1", "type": "float"}}}},
                   headers=headers, timeout=10).raise_for_status()
    requests.post(f"{api}/tasks/{task_id}/events", headers=headers, timeout=10, json={"events": [
        {"type": "scalars", "metric": "loss", "variant": "train", "iterations": [0, 1], "values": [1.0, 0.5]}]},
    ).raise_for_status()
    requests.post(f"{api}/tasks/{task_id}/complete", headers=headers, timeout=10).raise_for_status()
    ended = server_task(tracking_server, task_id)

    # A save after the run ended leaves the ended run's snapshot as it was.
    write_notebook(path, [*CELLS, ("code", "lr = 0.01")])
    saved = post(jupyter, "snapshot", {"path": "sweep.ipynb", "task_id": task_id})
    assert saved.status_code == 200 and saved.json()["updated"] is False, saved.text
    assert server_task(tracking_server, task_id) == ended

    # Track again (after a reload the page still holds the first id): a new run of the same notebook.
    again = post(jupyter, "track", {"path": "sweep.ipynb", "task_id": task_id})
    assert again.status_code == 200, again.text
    result = again.json()
    assert result["task_id"] != task_id and result["previous_task_id"] == task_id
    run2 = server_task(tracking_server, result["task_id"])
    assert (run2["project_name"], run2["name"], run2["status"]) == ("cases", "digits-sgd", "created")
    assert (run2["run_number"], run2["run_count"]) == (2, 2)
    assert cells_of(run2["script"]["notebook"])[-1] == ("code", "lr = 0.01")
    assert run2["hyperparams"] == {} and run2["last_iteration"] is None
    after = server_task(tracking_server, task_id)
    assert {k: v for k, v in after.items() if k != "run_count"} == {k: v for k, v in ended.items() if k != "run_count"}

    # Tracking the new, not yet run, task again reuses it.
    third = post(jupyter, "track", {"path": "sweep.ipynb", "task_id": result["task_id"]}).json()
    assert third["task_id"] == result["task_id"] and third["previous_task_id"] is None
