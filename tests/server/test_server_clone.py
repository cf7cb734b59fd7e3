"""`POST /tasks/{id}/clone`: a new draft with the source's code, parameters and configuration."""

from __future__ import annotations

from server_helpers import error

SCRIPT = {"repository": "git@example.com:team/repo.git", "commit": "abc123", "entry_point": "train.py",
          "requirements": "numpy==2.1.0\n", "notebook_path": ""}
PARAMS = {"Args": {"lr": {"value": "0.01", "type": "float", "description": "step size"}}}
CONFIG = {"model.yaml": {"value": "depth: 18\n", "content_type": "yaml"}}


def test_clone_copies_code_parameters_and_configuration_not_results(api) -> None:
    source = api.task("digits-sgd", "cases", tags=["baseline"], comment="first try", type="testing",
                      hyperparams=PARAMS, configuration=CONFIG, script=SCRIPT,
                      runtime={"hostname": "gpu-1", "cpu_count": 8})
    sid = source["id"]
    assert api.post(f"/tasks/{sid}/start").status_code == 200
    events = [{"type": "scalars", "metric": "loss", "variant": "train", "iterations": [0, 1], "values": [2.0, 1.0]}]
    assert api.post(f"/tasks/{sid}/events", json={"batch_id": "b1", "events": events}).status_code == 200
    assert api.post(f"/tasks/{sid}/complete").status_code == 200

    r = api.post(f"/tasks/{sid}/clone")
    assert r.status_code == 201, r.text
    clone = api.get(f"/tasks/{r.json()['id']}").json()
    assert clone["id"] != sid
    assert clone["status"] == "created"
    assert clone["parent_id"] == sid
    assert (clone["project_id"], clone["name"], clone["type"]) == (source["project_id"], "digits-sgd", "testing")
    assert (clone["tags"], clone["comment"]) == (["baseline"], "first try")
    assert clone["hyperparams"] == PARAMS
    assert clone["configuration"] == CONFIG
    for key, value in SCRIPT.items():
        assert clone["script"][key] == value, key
    # Results and the machine stay with the source.
    assert clone["last_metrics"] == {} and clone["last_iteration"] is None
    assert clone["started"] is None and clone["completed"] is None
    assert clone["runtime"]["hostname"] == ""
    assert api.get(f"/tasks/{clone['id']}/metrics").json()["items"] == []
    # The source is untouched.
    after = api.get(f"/tasks/{sid}").json()
    assert after["status"] == "completed" and after["last_metrics"]["loss"]["train"]["count"] == 2


def test_clone_takes_a_name_and_rejects_bad_input(api) -> None:
    source = api.task("digits-sgd", "cases")
    r = api.post(f"/tasks/{source['id']}/clone", json={"name": "digits-sgd lr=0.1"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "digits-sgd lr=0.1"
    error(api.post(f"/tasks/{source['id']}/clone", json={"name": ""}), 422, "invalid")
    error(api.post(f"/tasks/{source['id']}/clone", json={"nme": "typo"}), 422, "invalid")
    error(api.post(f"/tasks/{'0' * 32}/clone"), 404, "not_found")


def test_same_named_runs_are_numbered_by_creation_within_their_project(api) -> None:
    first = api.task("digits-sgd", "cases")
    api.task("other", "cases")
    second = api.post(f"/tasks/{first['id']}/clone").json()
    elsewhere = api.task("digits-sgd", "elsewhere")
    third = api.task("digits-sgd", "cases")
    assert (first["run_number"], first["run_count"]) == (1, 1)  # alone when it was created
    numbers = {t["id"]: (t["run_number"], t["run_count"]) for t in api.get("/tasks", params={"project": "cases", "archived": "all"}).json()["items"]}
    assert numbers[first["id"]] == (1, 3) and numbers[second["id"]] == (2, 3) and numbers[third["id"]] == (3, 3)
    assert api.get(f"/tasks/{elsewhere['id']}").json()["run_number"] == 1
    # Archiving keeps the numbers; deleting renumbers the younger runs.
    assert api.patch(f"/tasks/{second['id']}", json={"archived": True}).status_code == 200
    assert api.get(f"/tasks/{third['id']}").json()["run_number"] == 3
    assert api.delete(f"/tasks/{first['id']}").status_code == 204
    listed = api.get("/tasks", params={"ids": f"{second['id']},{third['id']}", "archived": "all"}).json()["items"]
    assert sorted((t["run_number"], t["run_count"]) for t in listed) == [(1, 2), (2, 2)]
