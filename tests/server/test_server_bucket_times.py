"""Downsampled series carry the time of each bucket's last point, so charts can draw them against
wall time or time since start (the lab extension's x-axis choice)."""

from __future__ import annotations

from server_helpers import Api


def test_each_bucket_has_the_time_of_its_last_point(api: Api) -> None:
    tid = api.task()["id"]
    n = 10_000  # long enough for the rollup-block path too (buckets=10 spans 1,000 iterations each)
    iterations = list(range(n))
    times = [1_700_000_000.0 + i * 0.5 for i in iterations]
    event = {"type": "scalars", "metric": "loss", "variant": "train", "iterations": iterations,
             "values": [1.0 / (i + 1) for i in iterations], "times": times}
    assert api.post(f"/tasks/{tid}/events", json={"events": [event]}).status_code < 300
    for buckets in (10, 100, 5_000):
        ds = api.get(f"/tasks/{tid}/scalars", params={"metric": "loss", "variant": "train", "buckets": buckets}).json()
        assert len(ds["times"]) == len(ds["iterations"]) > 0
        assert ds["times"] == [times[it] for it in ds["iterations"]], buckets
    many = api.get("/scalars", params={"task_ids": tid, "metric": "loss", "buckets": 50}).json()["items"]
    assert many[0]["times"] == [times[it] for it in many[0]["iterations"]]
