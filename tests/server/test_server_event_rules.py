"""Every field rule of an event batch, at its boundary: the limit itself is stored, one past it is a
422 that stores nothing. (`make mutate` found rules no test held, e.g. an empty image uri.)"""

from __future__ import annotations

from server_helpers import Api, error

MAX_NAME = 500
MAX_URI = 2000
MAX_ITERATION = 2**62


def _image(uri: object) -> dict:
    return {"type": "image", "metric": "samples", "variant": "", "iteration": 1, "uri": uri}


ACCEPTED = [
    _image("x" * MAX_URI),
    {"type": "scalar", "metric": "m" * MAX_NAME, "variant": "v" * MAX_NAME, "iteration": MAX_ITERATION, "value": 1},
    {"type": "scalar", "metric": "m", "variant": "", "iteration": 0, "value": 1},
    {"type": "plot", "metric": "p", "figure": {}},
    {"type": "table", "metric": "t", "columns": [], "rows": []},
    {"type": "console", "text": "", "stream": "stderr"},
]

REFUSED = [
    _image(""), _image("x" * (MAX_URI + 1)), _image(None), _image(7),
    {"type": "image", "metric": "samples"},
    {"type": "scalar", "metric": "m" * (MAX_NAME + 1), "iteration": 1, "value": 1},
    {"type": "scalar", "metric": "m", "variant": "v" * (MAX_NAME + 1), "iteration": 1, "value": 1},
    {"type": "scalar", "metric": "", "iteration": 1, "value": 1},
    {"type": "scalar", "metric": "m", "iteration": MAX_ITERATION + 1, "value": 1},
    {"type": "scalar", "metric": "m", "iteration": 1.5, "value": 1},
    {"type": "scalar", "metric": "m", "iteration": 1},
    {"type": "scalar", "metric": "m", "iteration": 1, "value": 1, "time": "now"},
    {"type": "scalars", "metric": "m", "iterations": [0, MAX_ITERATION + 1], "values": [1, 2]},
    {"type": "scalars", "metric": "m", "iterations": [0], "values": [1], "times": [1, 2]},
    {"type": "plot", "metric": "p", "figure": []},
    {"type": "table", "metric": "t", "columns": [1], "rows": []},
    {"type": "table", "metric": "t", "columns": [], "rows": [1]},
    {"type": "console", "text": 1},
    {"type": "console", "text": "x", "stream": "stdin"},
    "not an object",
]


def test_each_rule_holds_at_its_boundary(sqlite_api: Api) -> None:
    api = sqlite_api
    tid = api.task()["id"]
    for event in REFUSED:
        err = error(api.post(f"/tasks/{tid}/events", json={"events": [event]}), 422, "invalid")
        assert err["details"]["errors"][0]["loc"][:3] == ["body", "events", 0], (event, err)
    assert api.get(f"/tasks/{tid}/metrics").json()["items"] == []
    assert api.get(f"/tasks/{tid}/images").json()["items"] == []
    for event in ACCEPTED:
        r = api.post(f"/tasks/{tid}/events", json={"events": [event]})
        assert r.status_code == 200, (str(event)[:120], r.text[:300])
    assert api.get(f"/tasks/{tid}/images").json()["items"][0]["uri"] == "x" * MAX_URI
