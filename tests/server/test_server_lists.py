"""Task lists: filters, every sort key, metric sort, cursor paging with ties, bad parameters."""

from __future__ import annotations

import time

from server_helpers import Api, error


def _ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [t["id"] for t in resp.json()["items"]]


def _all_pages(api: Api, params: dict) -> list[dict]:
    items, cursor = [], None
    while True:
        page = api.get("/tasks", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_filters(api: Api) -> None:
    a = api.task("alpha one", "team/vision", tags=["x", "y"], type="training")
    b = api.task("Beta", "team/vision/sub", tags=["x"], type="testing")
    c = api.task("gamma ALPHA", "other", tags=[], type="training")
    api.post(f"/tasks/{b['id']}/start")
    api.patch(f"/tasks/{c['id']}", json={"archived": True})
    assert set(_ids(api.get("/tasks"))) == {a["id"], b["id"]}
    assert set(_ids(api.get("/tasks", params={"archived": "all"}))) == {a["id"], b["id"], c["id"]}
    assert _ids(api.get("/tasks", params={"archived": "true"})) == [c["id"]]
    assert _ids(api.get("/tasks", params={"project": "team/vision"})) == [a["id"]]
    assert set(_ids(api.get("/tasks", params={"project": "team/vision", "include_subprojects": "true"}))) == {a["id"], b["id"]}
    assert _ids(api.get("/tasks", params={"project_id": a["project_id"]})) == [a["id"]]
    assert _ids(api.get("/tasks", params={"status": "in_progress"})) == [b["id"]]
    assert set(_ids(api.get("/tasks", params={"status": "created,in_progress"}))) == {a["id"], b["id"]}
    assert _ids(api.get("/tasks", params={"type": "testing"})) == [b["id"]]
    assert _ids(api.get("/tasks", params={"tags": "x,y"})) == [a["id"]]
    assert set(_ids(api.get("/tasks", params={"tags": "x"}))) == {a["id"], b["id"]}
    assert set(_ids(api.get("/tasks", params={"search": "alpha", "archived": "all"}))) == {a["id"], c["id"]}
    assert _ids(api.get("/tasks", params={"search": "100%_"})) == []
    assert set(_ids(api.get("/tasks", params={"ids": f"{a['id']},{c['id']}", "archived": "all"}))) == {a["id"], c["id"]}
    t0 = time.time() - 3600
    assert len(_ids(api.get("/tasks", params={"created_after": t0}))) == 2
    assert _ids(api.get("/tasks", params={"created_before": "2000-01-01T00:00:00Z"})) == []
    assert len(_ids(api.get("/tasks", params={"updated_after": "2000-01-01T00:00:00Z"}))) == 2
    listed = api.get("/tasks").json()["items"][0]
    assert "script" not in listed or listed["script"] is None
    error(api.get("/tasks", params={"status": "running"}), 422, "invalid")
    error(api.get("/tasks", params={"created_after": "yesterday"}), 422, "invalid")
    error(api.get("/tasks", params={"sort": "bogus"}), 422, "invalid")
    error(api.get("/tasks", params={"limit": 0}), 422, "invalid")
    error(api.get("/tasks", params={"limit": 1001}), 422, "invalid")
    error(api.get("/tasks", params={"cursor": "not-a-cursor"}), 400, "bad_request")


def test_sorts_and_cursor_paging_are_consistent(api: Api) -> None:
    tasks = []
    for i in range(7):
        t = api.task(f"task {i % 3}", "p")  # repeated names: ties must page without loss
        tasks.append(t)
        if i % 2 == 0:
            api.post(f"/tasks/{t['id']}/start")
        api.post(f"/tasks/{t['id']}/events", json={"events": [
            {"type": "scalar", "metric": "loss", "variant": "train", "iteration": i, "value": 10 - i}]} if i != 3 else {"events": []})
    for sort in ("created", "-created", "name", "-name", "status", "-status", "started", "-started",
                 "last_update", "-last_update", "last_iteration", "-last_iteration",
                 "metric:loss/train", "-metric:loss/train"):
        pages = _all_pages(api, {"sort": sort, "limit": 2})
        assert sorted(t["id"] for t in pages) == sorted(t["id"] for t in tasks), sort
        whole = api.get("/tasks", params={"sort": sort, "limit": 100}).json()["items"]
        assert [t["id"] for t in whole] == [t["id"] for t in pages], sort
    by_loss = [t["last_metrics"].get("loss", {}).get("train", {}).get("last") for t in _all_pages(api, {"sort": "metric:loss/train", "limit": 3})]
    assert by_loss == [4, 5, 6, 8, 9, 10, None]  # ascending, tasks without the metric last
    by_loss_desc = [t["last_metrics"].get("loss", {}).get("train", {}).get("last") for t in _all_pages(api, {"sort": "-metric:loss/train", "limit": 3})]
    assert by_loss_desc == [10, 9, 8, 6, 5, 4, None]
    names = [t["name"] for t in _all_pages(api, {"sort": "name", "limit": 3})]
    assert names == sorted(names)
