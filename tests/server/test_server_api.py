"""The REST API end to end over a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import requests
from server_helpers import Api, error


def test_health_needs_no_key_and_everything_else_does(any_tracking_server) -> None:
    base = any_tracking_server.api
    assert requests.get(f"{base}/health").json()["status"] == "ok"
    error(requests.get(f"{base}/projects"), 401, "unauthorized")
    error(requests.get(f"{base}/tasks", headers={"Authorization": "Bearer nope"}), 401, "invalid_key")
    error(requests.get(f"{base}/tasks", headers={"Authorization": "Basic abc"}), 401)
    assert requests.get(f"{base}/tasks", headers=any_tracking_server.headers).status_code == 200


def test_projects_crud_and_hierarchy(api: Api) -> None:
    r = api.post("/projects", json={"name": "team/vision", "description": "cv"})
    assert r.status_code == 201, r.text
    project = r.json()
    assert project["name"] == "team/vision" and project["task_count"] == 0
    error(api.post("/projects", json={"name": "team/vision"}), 409, "conflict")
    error(api.post("/projects", json={"name": "a//b"}), 422, "invalid")
    error(api.post("/projects", json={"name": " a"}), 422, "invalid")
    api.post("/projects", json={"name": "team/nlp"})
    names = [p["name"] for p in api.get("/projects").json()["items"]]
    assert names == ["team/nlp", "team/vision"]
    assert [p["name"] for p in api.get("/projects", params={"search": "VIS"}).json()["items"]] == ["team/vision"]
    page = api.get("/projects", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    page2 = api.get("/projects", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert page2["items"][0]["name"] == "team/vision" and page2["next_cursor"] is None
    renamed = api.patch(f"/projects/{project['id']}", json={"name": "team/cv"}).json()
    assert renamed["name"] == "team/cv"
    error(api.patch(f"/projects/{project['id']}", json={"name": "team/nlp"}), 409, "conflict")
    assert api.post("/tasks", json={"name": "t", "project_id": project["id"]}).status_code == 201
    error(api.delete(f"/projects/{project['id']}"), 409, "not_empty")
    error(api.get("/projects/" + "0" * 32), 404, "not_found")


def test_task_create_get_patch_round_trip(api: Api) -> None:
    hyper = {"Args": {"lr": {"value": "0.01", "type": "float", "description": "learning rate"},
                      "layers": {"value": "[1, 2]", "type": "list"}}}
    task = api.task("run", "p", type="testing", tags=["a", "b"], comment="c", hyperparams=hyper,
                    configuration={"cfg.yaml": {"value": "a: 1\n", "content_type": "yaml"}},
                    script={"repository": "git@x", "argv": ["--lr", "1"]}, runtime={"hostname": "h", "gpus": [{"name": "A100"}]})
    assert task["status"] == "created" and task["type"] == "testing" and task["tags"] == ["a", "b"]
    got = api.get(f"/tasks/{task['id']}").json()
    assert got["hyperparams"]["Args"]["layers"] == {"value": "[1, 2]", "type": "list", "description": ""}
    assert got["hyperparams"]["Args"]["lr"]["value"] == "0.01"
    assert got["configuration"]["cfg.yaml"]["value"] == "a: 1\n"
    assert got["script"]["repository"] == "git@x" and got["script"]["branch"] == ""
    patched = api.patch(f"/tasks/{task['id']}", json={
        "hyperparams": {"General": {"epochs": {"value": "3", "type": "int"}}},
        "script": {"branch": "main"}, "tags": ["c"], "name": "run2",
    }).json()
    assert set(patched["hyperparams"]) == {"Args", "General"}
    assert patched["script"]["repository"] == "git@x" and patched["script"]["branch"] == "main"
    assert patched["tags"] == ["c"] and patched["name"] == "run2"
    cleared = api.patch(f"/tasks/{task['id']}", json={"hyperparams": {"Args": {}}}).json()
    assert set(cleared["hyperparams"]) == {"General"}
    error(api.patch(f"/tasks/{task['id']}", json={"bogus": 1}), 422, "invalid")
    error(api.patch(f"/tasks/{task['id']}", json={"hyperparams": {"A": {"x": {"value": 1}}}}), 422, "invalid")
    error(api.post("/tasks", json={"name": "x"}), 422, "invalid")
    error(api.get("/tasks/" + "f" * 32), 404, "not_found")


def test_status_state_machine(api: Api) -> None:
    tid = api.task()["id"]
    assert api.post(f"/tasks/{tid}/enqueue").json()["status"] == "queued"
    assert api.post(f"/tasks/{tid}/start").json()["started"]
    err = error(api.post(f"/tasks/{tid}/start"), 409, "illegal_transition")
    assert "in_progress" in err["message"] and err["details"]["status"] == "in_progress"
    error(api.post(f"/tasks/{tid}/publish"), 409, "illegal_transition")
    failed = api.post(f"/tasks/{tid}/fail", json={"reason": "boom"}).json()
    assert failed["status"] == "failed" and failed["status_reason"] == "boom"
    assert api.post(f"/tasks/{tid}/reset").json()["status"] == "created"
    api.post(f"/tasks/{tid}/start")
    done = api.post(f"/tasks/{tid}/complete").json()
    assert done["status"] == "completed" and done["completed"]
    assert api.post(f"/tasks/{tid}/publish").json()["status"] == "published"
    error(api.post(f"/tasks/{tid}/reset"), 409, "illegal_transition")
    error(api.post(f"/tasks/{tid}/start", json={"bogus": True}), 422)


def test_stop_is_a_request_until_the_process_acts(api: Api) -> None:
    tid = api.task()["id"]
    api.post(f"/tasks/{tid}/start")
    first = api.post(f"/tasks/{tid}/stop").json()
    assert first["status"] == "in_progress" and first["stop_requested"] is True
    assert api.post(f"/tasks/{tid}/heartbeat").json() == {"status": "in_progress", "stop_requested": True}
    ack = api.post(f"/tasks/{tid}/events", json={"events": [{"type": "console", "text": "x"}]}).json()
    assert ack["stop_requested"] is True
    second = api.post(f"/tasks/{tid}/stop").json()
    assert second["status"] == "stopped" and second["stop_requested"] is False
    queued = api.task()["id"]
    api.post(f"/tasks/{queued}/enqueue")
    assert api.post(f"/tasks/{queued}/stop").json()["status"] == "stopped"
    forced = api.task()["id"]
    api.post(f"/tasks/{forced}/start")
    assert api.post(f"/tasks/{forced}/stop", json={"force": True}).json()["status"] == "stopped"
