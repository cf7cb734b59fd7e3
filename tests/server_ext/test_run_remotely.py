"""Run remotely through a real Jupyter server and a real tracking server: the saved notebook and its
kernel's packages become a new queued task with the tracked task's parameters (edits applied), a real
agent runs it with them, and every refusal is a 4xx in the user's terms that leaves no task behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import nbformat
import pytest
import requests
from agent_lab import Lab
from jupyter_fixtures import JupyterServer, start_jupyter


@pytest.fixture(scope="module")
def tracking_server(module_tracking_server):
    """One server for the module: each test makes its own notebook and reads back only its tasks."""
    return module_tracking_server


@pytest.fixture(scope="module")
def jupyter(tracking_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    base = tmp_path_factory.mktemp("run-remotely")
    server = start_jupyter(base / "root", base / "jupyter", env=tracking_server.env)
    yield server
    server.stop()


def write_notebook(jupyter: JupyterServer, path: str, sources: list[str], parameters_cell: int | None = None) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        if i == parameters_cell:
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    file = jupyter.root_dir / path
    file.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, file)


def post(jupyter: JupyterServer, route: str, body: Any) -> requests.Response:
    kwargs: dict[str, Any] = {"data": body} if isinstance(body, (bytes, str)) else {"json": body}
    return requests.post(jupyter.url(f"labtrack/notebooks/{route}"), headers=jupyter.headers, timeout=120, **kwargs)


def api(server: Any, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(method, f"{server.api}/{path}", json=body, headers=server.headers, timeout=30)
    assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def task_ids(server: Any) -> set[str]:
    return {t["id"] for t in api(server, "GET", "tasks?limit=1000&archived=all")["items"]}


def tracked_task(jupyter: JupyterServer, server: Any, path: str, hyperparams: dict[str, Any]) -> dict[str, Any]:
    """Track the notebook (as the Track button does) and give its task connected parameters."""
    answer = post(jupyter, "track", {"path": path, "project": "remote-tests"})
    assert answer.status_code == 200, answer.text
    return api(server, "PATCH", f"tasks/{answer.json()['task_id']}", {"hyperparams": hyperparams})


PARAMS = {"General": {"lr": {"value": "0.1", "type": "float", "description": "step size"},
                      "epochs": {"value": "2", "type": "int", "description": ""},
                      "note": {"value": "local", "type": "str", "description": ""}}}


def test_run_remotely_enqueues_a_new_task_with_the_notebook_and_edited_parameters(jupyter, tracking_server) -> None:
    path = "work/train.ipynb"
    write_notebook(jupyter, path, ["lr = 0.1\nepochs = 2\nnote = 'local'", "print('epochs', epochs, 'lr', lr, note)"],
                   parameters_cell=0)
    source = tracked_task(jupyter, tracking_server, path, PARAMS)

    answer = post(jupyter, "run-remotely", {"path": path, "queue": "default", "task_id": source["id"],
                                            "parameters": {"General/epochs": "3", "note": "remote"}})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert tracking_server.api_key not in answer.text
    assert result["task_id"] != source["id"] and result["queue"]["name"] == "default"

    task = api(tracking_server, "GET", f"tasks/{result['task_id']}")
    assert task["status"] == "queued" and task["queue"] == result["queue"]["id"]
    assert task["parent_id"] == source["id"]
    assert (task["project_id"], task["name"]) == (source["project_id"], source["name"])
    assert task["hyperparams"]["General"]["epochs"] == {"value": "3", "type": "int", "description": ""}
    assert task["hyperparams"]["General"]["lr"] == PARAMS["General"]["lr"]  # untouched
    assert task["hyperparams"]["General"]["note"]["value"] == "remote"
    script = task["script"]
    assert script["notebook_path"] == path and script["entry_point"] == "train.ipynb"
    assert ["".join(c["source"]) for c in script["notebook"]["cells"]][1].startswith("print('epochs'")
    assert any(line.startswith("nbformat==") for line in script["requirements"].splitlines())
    entries = api(tracking_server, "GET", "queues/default/entries")["items"]
    assert result["task_id"] in [e["task_id"] for e in entries]
    # The tracked task itself is left as it was.
    assert api(tracking_server, "GET", f"tasks/{source['id']}")["status"] == "created"
    api(tracking_server, "POST", f"tasks/{result['task_id']}/dequeue")


def test_an_agent_runs_the_remote_task_with_the_edited_parameters(jupyter, tracking_server, tmp_path: Path) -> None:
    api(tracking_server, "POST", "queues", {"name": "remote-box-q"})
    path = "agent run.ipynb"
    write_notebook(jupyter, path, ["epochs = 2", "print('ran with epochs', epochs * 10)"], parameters_cell=0)
    source = tracked_task(jupyter, tracking_server, path, {"General": {"epochs": {"value": "2", "type": "int"}}})
    answer = post(jupyter, "run-remotely", {"path": path, "queue": "remote-box-q", "task_id": source["id"],
                                            "parameters": {"General/epochs": "7"}})
    assert answer.status_code == 200, answer.text
    lab = Lab(tracking_server, tmp_path)
    try:
        lab.start_agent("remote-box", queues=("remote-box-q",))
        task = lab.wait_status(answer.json()["task_id"])
        assert task["status"] == "completed", lab.console(task["id"])
        executed = requests.get(f"{tracking_server.api}/tasks/{task['id']}/artifacts/executed_notebook/content",
                                headers=tracking_server.headers, timeout=30)
        assert executed.status_code == 200, executed.text
        notebook = nbformat.reads(executed.text, as_version=4)  # nbformat joins the multiline strings
        outputs = [o.get("text", "") for c in notebook.cells for o in c.get("outputs", [])]
        assert "ran with epochs 70\n" in outputs
    finally:
        lab.stop_agents()


def test_without_a_tracked_task_the_run_starts_in_the_default_project(jupyter, tracking_server) -> None:
    write_notebook(jupyter, "plain.ipynb", ["print(1)"])
    answer = post(jupyter, "run-remotely", {"path": "plain.ipynb", "queue": "default"})
    assert answer.status_code == 200, answer.text
    task = answer.json()["task"]
    assert (task["project_name"], task["name"], task["status"]) == ("notebooks", "plain", "queued")
    assert task["hyperparams"] == {} and task["parent_id"] is None
    api(tracking_server, "POST", f"tasks/{task['id']}/dequeue")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"path": "missing.ipynb", "queue": "default"}, 404,
         "No saved notebook at 'missing.ipynb'. Save the notebook first, then run it remotely."),
        ({"path": "ok.ipynb", "queue": "no-such-queue"}, 404, "There is no queue 'no-such-queue'"),
        ({"path": "ok.ipynb"}, 422, "'queue' is required"),
        ({"path": "ok.ipynb", "queue": "a/b"}, 422, "'a/b' is not a queue name"),
        ({"path": "ok.ipynb", "queue": ".."}, 422, "'..' is not a queue name"),
        ({"path": "ok.txt", "queue": "default"}, 422, "Run remotely works on .ipynb files"),
        ({"path": "empty.ipynb", "queue": "default"}, 422, "has no code cells"),
        ({"path": "ok.ipynb", "queue": "default", "parameters": ["lr"]}, 422, "'parameters' must be an object"),
        ({"path": "ok.ipynb", "queue": "default", "parameters": {"lr": [1]}}, 422, "must be text, a number"),
        ({"path": "ok.ipynb", "queue": "default", "parameters": {"General/": "1"}}, 422, "needs a name"),
        ({"path": "ok.ipynb", "queue": "default", "task_id": "0" * 32}, 404, "no longer exists: press Track again"),
        ({"path": "ok.ipynb", "queue": "default", "gpu": 1}, 422, "Unknown fields ['gpu']"),
        (b"{not json", 400, "not valid JSON"),
    ],
)
def test_refusals_are_4xx_in_user_terms_and_leave_no_task(jupyter, tracking_server, body, status, message) -> None:
    write_notebook(jupyter, "ok.ipynb", ["print('ok')"])
    write_notebook(jupyter, "empty.ipynb", ["", "  \n"])
    before = task_ids(tracking_server)
    answer = post(jupyter, "run-remotely", body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert message in error["message"] and set(error) == {"code", "message", "details"}
    assert task_ids(tracking_server) == before


@pytest.mark.parametrize(
    ("edit", "message"),
    [("many", "Parameter 'General/epochs' must be an int, got 'many'."),
     ("0.5.1", "Parameter 'General/lr' must be a float, got '0.5.1'."),
     ("maybe", "Parameter 'General/shuffle' must be true or false, got 'maybe'.")],
)
def test_an_edit_that_does_not_fit_the_parameters_type_is_refused(jupyter, tracking_server, edit, message) -> None:
    path = "typed.ipynb"
    write_notebook(jupyter, path, ["print(1)"])
    key = message.split("'")[1]
    source = tracked_task(jupyter, tracking_server, path, {"General": {
        "epochs": {"value": "2", "type": "int"}, "lr": {"value": "0.1", "type": "float"},
        "shuffle": {"value": "True", "type": "bool"}}})
    before = task_ids(tracking_server)
    answer = post(jupyter, "run-remotely", {"path": path, "queue": "default", "task_id": source["id"],
                                            "parameters": {key: edit}})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"] == message
    assert task_ids(tracking_server) == before


def test_typed_values_are_stored_canonically(jupyter, tracking_server) -> None:
    path = "canon.ipynb"
    write_notebook(jupyter, path, ["print(1)"])
    source = tracked_task(jupyter, tracking_server, path, {"Args": {
        "lr": {"value": "0.1", "type": "float"}, "shuffle": {"value": "True", "type": "bool"},
        "layers": {"value": "[1, 2]", "type": "list"}}})
    answer = post(jupyter, "run-remotely", {"path": path, "queue": "default", "task_id": source["id"], "parameters": {
        "Args/lr": "1e-3", "Args/shuffle": "no", "Args/layers": "[64,64]", "Args/seed": 7, "Args/fast": True}})
    assert answer.status_code == 200, answer.text
    args = answer.json()["task"]["hyperparams"]["Args"]
    assert {k: (v["value"], v["type"]) for k, v in args.items()} == {
        "lr": ("0.001", "float"), "shuffle": ("False", "bool"), "layers": ("[64, 64]", "list"),
        "seed": ("7", "int"), "fast": ("True", "bool")}
    api(tracking_server, "POST", f"tasks/{answer.json()['task_id']}/dequeue")
