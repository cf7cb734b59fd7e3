"""Event ingest and reads: every kind, idempotent batches, summaries, downsampling, comparison."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from server_helpers import Api, error


@pytest.fixture
def any_tracking_server(module_any_tracking_server: Any) -> Any:
    """One server per backend for the module: each test here writes and reads only its own tasks."""
    return module_any_tracking_server


@pytest.fixture
def api(any_tracking_server: Any) -> Api:
    return Api(any_tracking_server)


def _scalars(metric: str, variant: str, iterations: list[int], values: list) -> dict:
    return {"type": "scalars", "metric": metric, "variant": variant, "iterations": iterations, "values": values}


def test_batch_is_stored_once_and_keeps_summaries(api: Api) -> None:
    tid = api.task()["id"]
    batch = {"batch_id": "b-1", "events": [
        _scalars("loss", "train", list(range(100)), [100 - i for i in range(100)]),
        {"type": "scalar", "metric": "loss", "variant": "val", "iteration": 7, "value": 0.5},
        {"type": "console", "text": "epoch 1\n", "stream": "stdout"},
        {"type": "plot", "metric": "pr", "variant": "", "iteration": 1, "figure": {"data": [{"x": [1], "y": [2]}]}},
        {"type": "table", "metric": "confusion", "variant": "", "iteration": 1, "columns": ["a"], "rows": [[1], [2]]},
        {"type": "image", "metric": "samples", "variant": "0", "iteration": 1, "uri": "media/x.png"},
    ]}
    first = api.post(f"/tasks/{tid}/events", json=batch).json()
    assert first == {"batch_id": "b-1", "accepted": 6, "duplicate": False, "stop_requested": False}
    again = api.post(f"/tasks/{tid}/events", json=batch).json()
    assert again["duplicate"] is True and again["accepted"] == 6
    task = api.get(f"/tasks/{tid}").json()
    assert task["last_iteration"] == 99
    assert task["last_metrics"]["loss"]["train"] == {"last": 1.0, "min": 1.0, "max": 100.0, "last_iteration": 99, "count": 100}
    metrics = api.get(f"/tasks/{tid}/metrics").json()["items"]
    assert [(m["metric"], m["variant"], m["count"]) for m in metrics] == [("loss", "train", 100), ("loss", "val", 1)]
    raw = api.get(f"/tasks/{tid}/scalars", params={"metric": "loss", "variant": "train"}).json()
    assert raw["iterations"] == list(range(100)) and raw["values"][0] == 100
    console = api.get(f"/tasks/{tid}/console", params={"tail": 5}).json()["items"]
    assert [c["text"] for c in console] == ["epoch 1\n"]
    plots = api.get(f"/tasks/{tid}/plots").json()["items"]
    assert plots[0]["figure"] == {"data": [{"x": [1], "y": [2]}]}
    assert api.get(f"/tasks/{tid}/tables").json()["items"][0]["rows"] == [[1], [2]]
    assert api.get(f"/tasks/{tid}/images").json()["items"][0]["uri"] == "media/x.png"


def test_monitor_gauges_are_not_iterations(api: Api) -> None:
    tid = api.task("gauges", "events")["id"]
    api.post(f"/tasks/{tid}/events", json={"events": [
        {"type": "scalars", "metric": ":monitor:", "variant": "cpu_percent", "iterations": [30, 600], "values": [5, 7]},
        {"type": "scalars", "metric": "loss", "variant": "train", "iterations": [0, 9], "values": [1, 0.5]}]})
    task = api.get(f"/tasks/{tid}").json()
    assert task["last_iteration"] == 9  # seconds of the monitor are not the run's progress
    assert task["last_metrics"][":monitor:"]["cpu_percent"]["last"] == 7


def test_ndjson_and_array_forms_with_idempotency_header(api: Api) -> None:
    tid = api.task()["id"]
    lines = "\n".join(json.dumps({"type": "scalar", "metric": "m", "iteration": i, "value": i}) for i in range(5))
    headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": "nd-1"}
    assert api.post(f"/tasks/{tid}/events", data=lines, headers=headers).json()["accepted"] == 5
    assert api.post(f"/tasks/{tid}/events", data=lines, headers=headers).json()["duplicate"] is True
    arr = [{"type": "scalar", "metric": "m", "iteration": 9, "value": 9}]
    assert api.post(f"/tasks/{tid}/events", json=arr).json()["accepted"] == 1
    assert api.get(f"/tasks/{tid}/metrics").json()["items"][0]["count"] == 6
    err = error(api.post(f"/tasks/{tid}/events", data="{\"type\": 1}\nnot json", headers=headers | {"Idempotency-Key": "nd-2"}), 400, "bad_request")
    assert "line 2" in err["message"]


def test_nan_and_infinity_are_gaps(api: Api) -> None:
    tid = api.task()["id"]
    body = ('{"events": [{"type": "scalars", "metric": "loss", "variant": "", "iterations": [0, 1, 2, 3],'
            ' "values": [1.0, NaN, "Infinity", -Infinity]}]}')
    r = api.post(f"/tasks/{tid}/events", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    series = api.get(f"/tasks/{tid}/scalars", params={"metric": "loss"}).json()
    assert series["values"] == [1.0, None, None, None]
    summary = api.get(f"/tasks/{tid}").json()["last_metrics"]["loss"][""]
    assert summary["last"] == 1.0 and summary["min"] == 1.0 and summary["max"] == 1.0 and summary["count"] == 4


def test_bad_events_are_rejected_whole_and_store_nothing(api: Api) -> None:
    tid = api.task()["id"]
    good = _scalars("m", "", [0, 1], [1, 2])
    cases = [
        ({"events": [good, {"type": "scalar", "metric": "m", "iteration": "x", "value": 1}]}, 422),
        ({"events": [good, {"type": "nope"}]}, 422),
        ({"events": [good, _scalars("m", "", [0, 1], [1])]}, 422),
        ({"events": [good, {"type": "scalar", "metric": "m", "iteration": 1, "value": "abc"}]}, 422),
        ({"events": [good, {"type": "scalar", "metric": "m", "iteration": -1, "value": 1}]}, 422),
        ({"events": [good, {"type": "console", "text": "x", "extra": 1}]}, 422),
        ({"events": [good], "bogus": 1}, 422),
        ({"events": "no"}, 422),
    ]
    for body, status in cases:
        error(api.post(f"/tasks/{tid}/events", json=body), status)
    error(api.post(f"/tasks/{tid}/events", data="{bad json", headers={"Content-Type": "application/json"}), 400, "bad_request")
    error(api.post(f"/tasks/{'0' * 32}/events", json={"events": [good]}), 404, "not_found")
    assert api.get(f"/tasks/{tid}/metrics").json()["items"] == []


def test_batch_over_the_point_limit_is_413(api: Api) -> None:
    tid = api.task()["id"]
    n = 100_001
    error(api.post(f"/tasks/{tid}/events", json={"events": [_scalars("m", "", list(range(n)), [0.0] * n)]}), 413, "too_large")


def test_raw_paging_and_downsampling_keep_spikes(api: Api) -> None:
    tid = api.task()["id"]
    n = 10_000
    values = [math.sin(i / 100) for i in range(n)]
    values[4321] = 50.0  # a spike must survive downsampling
    for lo in range(0, n, 2500):
        api.post(f"/tasks/{tid}/events", json={"events": [_scalars("loss", "train", list(range(lo, lo + 2500)), values[lo:lo + 2500])]})
    # raw, paged
    seen, cursor = [], None
    while True:
        params = {"metric": "loss", "variant": "train", "limit": 3000, "start": 100, "end": 9099}
        if cursor:
            params["cursor"] = cursor
        page = api.get(f"/tasks/{tid}/scalars", params=params).json()
        seen += page["iterations"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(range(100, 9100))
    # downsampled
    ds = api.get(f"/tasks/{tid}/scalars", params={"metric": "loss", "variant": "train", "buckets": 100}).json()
    assert ds["buckets"] == 100 and len(ds["iterations"]) == 100 and sum(ds["count"]) == n
    assert max(ds["max"]) == 50.0
    assert ds["iterations"][-1] == n - 1 and ds["values"][-1] == values[-1]
    for i, last_it in enumerate(ds["iterations"]):
        assert ds["values"][i] == values[last_it]
        assert ds["min"][i] <= ds["values"][i] <= ds["max"][i]
    part = api.get(f"/tasks/{tid}/scalars", params={"metric": "loss", "variant": "train", "buckets": 10, "start": 1000, "end": 1999}).json()
    assert sum(part["count"]) == 1000 and part["iterations"][-1] == 1999
    error(api.get(f"/tasks/{tid}/scalars", params={"metric": "loss", "cursor": "garbage!"}), 400, "bad_request")


def test_compare_one_metric_over_many_tasks(api: Api) -> None:
    ids = []
    for k in range(3):
        tid = api.task(f"t{k}")["id"]
        ids.append(tid)
        api.post(f"/tasks/{tid}/events", json={"events": [
            _scalars("loss", "train", list(range(50)), [k + i for i in range(50)]),
            _scalars("loss", "val", [0, 49], [k, k]),
        ]})
    both = api.get("/scalars", params={"task_ids": ",".join(ids), "metric": "loss"}).json()["items"]
    assert [(i["task_id"], i["variant"]) for i in both] == [(t, v) for t in ids for v in ("train", "val")]
    one = api.get("/scalars", params={"task_ids": ",".join(ids), "metric": "loss", "variant": "train", "buckets": 5}).json()["items"]
    assert len(one) == 3 and all(sum(i["count"]) == 50 for i in one)
    error(api.get("/scalars", params={"task_ids": ",".join(["a" * 32] * 2), "metric": "loss"}), 422)


def test_console_tail_and_paging(api: Api) -> None:
    tid = api.task()["id"]
    api.post(f"/tasks/{tid}/events", json={"events": [{"type": "console", "text": f"line {i}"} for i in range(30)]})
    tail = api.get(f"/tasks/{tid}/console", params={"tail": 3}).json()["items"]
    assert [t["text"] for t in tail] == ["line 27", "line 28", "line 29"]
    page = api.get(f"/tasks/{tid}/console", params={"limit": 10}).json()
    assert len(page["items"]) == 10 and page["next_cursor"]
    rest = api.get(f"/tasks/{tid}/console", params={"after": page["next_cursor"], "limit": 100}).json()
    assert [t["text"] for t in rest["items"]][0] == "line 10" and rest["next_cursor"] is None


def test_delete_and_reset_remove_events(api: Api) -> None:
    tid = api.task()["id"]
    api.post(f"/tasks/{tid}/events", json={"batch_id": "x", "events": [_scalars("m", "", [1], [1])]})
    assert api.post(f"/tasks/{tid}/reset").json()["last_metrics"] == {}
    assert api.get(f"/tasks/{tid}/metrics").json()["items"] == []
    assert api.post(f"/tasks/{tid}/events", json={"batch_id": "x", "events": []}).json()["duplicate"] is False
    assert api.delete(f"/tasks/{tid}").status_code == 204
    error(api.get(f"/tasks/{tid}/metrics"), 404)


def test_long_series_downsample_from_rollup_blocks(api: Api) -> None:
    """Long ranges are bucketed from the rollup; out-of-order and gappy batches must keep it exact."""
    tid = api.task()["id"]
    n = 20_000
    values = [float(i % 97) for i in range(n)]
    values[12_345] = 1e6
    values[777] = -1e6
    # ascending batches, one reversed batch (the SQL refresh path) and a re-reported iteration
    api.post(f"/tasks/{tid}/events", json={"events": [_scalars("m", "", list(range(0, 10_000)), values[:10_000])]})
    rev = list(range(n - 1, 9_999, -1))
    api.post(f"/tasks/{tid}/events", json={"events": [_scalars("m", "", rev, [values[i] for i in rev])]})
    api.post(f"/tasks/{tid}/events", json={"events": [_scalars("m", "", [5, 6], ["NaN", 3.5])]})
    ds = api.get(f"/tasks/{tid}/scalars", params={"metric": "m", "buckets": 10}).json()
    assert sum(ds["count"]) == n + 2
    assert max(ds["max"]) == 1e6 and min(ds["min"]) == -1e6
    assert ds["iterations"][-1] == n - 1 and ds["values"][-1] == values[-1]
    assert len(ds["iterations"]) == 10 and ds["iterations"] == sorted(ds["iterations"])
    # a range that starts and ends inside blocks counts exactly the points in it
    part = api.get(f"/tasks/{tid}/scalars", params={"metric": "m", "buckets": 4, "start": 1001, "end": 18_998}).json()
    assert sum(part["count"]) == 18_998 - 1001 + 1
    assert part["iterations"][-1] == 18_998 and max(part["max"]) == 1e6
    assert min(part["min"]) == 0.0  # the -1e6 at 777 is outside the range


def test_concurrent_writers_lose_nothing(api: Api, any_tracking_server) -> None:
    """Parallel batches into one task (new series appearing at once) and parallel task creation
    into one new project: every request succeeds and every point is counted once."""
    import threading

    import requests

    tid = api.task()["id"]
    failures: list[str] = []

    def writer(w: int) -> None:
        session = requests.Session()
        session.headers.update(any_tracking_server.headers)
        for b in range(4):
            body = {"batch_id": f"w{w}-b{b}", "events": [
                _scalars(f"m{b}", "", list(range(w * 100, w * 100 + 100)), [1.0] * 100),
                {"type": "console", "text": f"{w}/{b}"}]}
            r = session.post(f"{any_tracking_server.api}/tasks/{tid}/events", json=body, timeout=60)
            if r.status_code != 200 or r.json()["duplicate"]:
                failures.append(r.text)
        r = session.post(f"{any_tracking_server.api}/tasks", json={"name": f"c{w}", "project_name": "race/new"}, timeout=60)
        if r.status_code != 201:
            failures.append(r.text)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    metrics = {m["metric"]: m["count"] for m in api.get(f"/tasks/{tid}/metrics").json()["items"]}
    assert metrics == {f"m{b}": 600 for b in range(4)}
    assert len(api.get(f"/tasks/{tid}/console", params={"limit": 100}).json()["items"]) == 24
    assert len(api.get("/tasks", params={"project": "race/new"}).json()["items"]) == 6
