"""Client mistakes are 4xx with the one error shape, never 500: odd text, odd types, deep nesting, huge bodies."""

from __future__ import annotations

import json

import pytest
from server_helpers import Api, error

# A lone UTF-16 surrogate, written as a JSON escape: valid JSON syntax, but no UTF-8 text can hold it.
LONE = "\\udce9"


def _post_raw(api: Api, tid: str, body: str, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return api.post(f"/tasks/{tid}/events", data=body.encode(), headers={"Content-Type": content_type})


_POISONED_EVENTS = [
    '{"type": "console", "text": "caf' + LONE + '", "stream": "stdout"}',
    '{"type": "scalar", "metric": "lo' + LONE + 'ss", "iteration": 0, "value": 1}',
    '{"type": "scalars", "metric": "loss", "variant": "' + LONE + '", "iterations": [0], "values": [1]}',
    '{"type": "plot", "metric": "p", "iteration": 0, "figure": {"title": "' + LONE + '"}}',
    # A NaN literal sends the body down the lenient (stdlib) parser, where surrogates used to slip in.
    '{"type": "scalars", "metric": "m' + LONE + '", "iterations": [0], "values": [NaN]}',
    '{"type": "console", "text": "' + LONE + '", "time": NaN}',
]


def test_lone_surrogates_in_events_are_422(api: Api) -> None:
    tid = api.task()["id"]
    for event in _POISONED_EVENTS:
        err = error(_post_raw(api, tid, '{"events": [' + event + "]}"), 422, "invalid")
        assert "surrogate" in err["message"] and "UTF-8" in err["message"], (event, err)
        assert err["details"]["errors"][0]["loc"][:3] == ["body", "events", 0], (event, err)
        ndjson = _post_raw(api, tid, '{"type": "console", "text": "ok"}\n' + event + "\n", "application/x-ndjson")
        assert "surrogate" in error(ndjson, 422, "invalid")["message"], event
    # Nothing of the refused batches was stored, and a good batch still goes through.
    assert api.get(f"/tasks/{tid}/console", params={"tail": 10}).json()["items"] == []
    assert api.get(f"/tasks/{tid}/metrics").json()["items"] == []
    ok = api.post(f"/tasks/{tid}/events", json=[{"type": "console", "text": "café ☕ 😀"}])
    assert ok.status_code == 200, ok.text
    assert api.get(f"/tasks/{tid}/console", params={"tail": 1}).json()["items"][0]["text"] == "café ☕ 😀"


def test_escaped_surrogate_pairs_are_text(api: Api) -> None:
    """A properly paired escape (an emoji written as two \\u escapes) is ordinary text, on both parsers."""
    tid = api.task()["id"]
    pair = "\\ud83d\\ude00"
    for values in ("[1]", "[NaN]"):
        body = '[{"type": "scalars", "metric": "m' + pair + '", "iterations": [0], "values": ' + values + "}]"
        assert _post_raw(api, tid, body).status_code == 200
    assert [m["metric"] for m in api.get(f"/tasks/{tid}/metrics").json()["items"]] == ["m😀"]


def test_values_of_the_wrong_json_type_are_422(api: Api) -> None:
    tid = api.task()["id"]
    for kind in ("{}", "[]", "[1, 2]", "1", "null", "true", '"' + "x" * 100_000 + '"'):
        err = error(_post_raw(api, tid, '[{"type": ' + kind + ', "text": "x"}]'), 422, "invalid")
        assert "unknown event type" in err["message"] and "scalar" in err["message"], err
        assert len(err["message"]) < 300, "the message quotes the client's value in full"
        assert err["details"]["errors"][0]["loc"] == ["body", "events", 0, "type"]
    for body in ('[{"type": "console", "text": "x", "stream": {}}]', '[{"type": "console", "text": []}]',
                 '{"batch_id": [], "events": []}', '{"batch_id": {}, "events": []}',
                 '[{"type": "scalar", "metric": {}, "iteration": 0, "value": 1}]',
                 '[{"type": "scalars", "metric": "m", "iterations": [[0]], "values": [1]}]',
                 '[{"type": "scalars", "metric": "m", "iterations": [0], "values": [{}]}]'):
        error(_post_raw(api, tid, body), 422, "invalid")


def test_deeply_nested_bodies_are_400(api: Api) -> None:
    tid = api.task()["id"]
    for depth in (2000, 100_000):
        for opener in ("[", '{"a":'):
            for content_type in ("application/json", "application/x-ndjson"):
                err = error(_post_raw(api, tid, opener * depth, content_type), 400, "bad_request")
                assert "nest" in err["message"], err
    # Nesting orjson refuses (over its depth limit) inside an otherwise valid batch.
    figure = "[" * 1500 + "]" * 1500
    body = '[{"type": "plot", "metric": "p", "iteration": 0, "figure": {"data": ' + figure + "}}]"
    error(_post_raw(api, tid, body), 400, "bad_request")
    # Deeper than a stored column can hold, though parseable: refused, not a 500 from the encoder.
    figure = "[" * 600 + "]" * 600
    body = '[{"type": "plot", "metric": "p", "iteration": 0, "figure": {"data": ' + figure + "}}]"
    assert "nest" in error(_post_raw(api, tid, body), 422, "invalid")["message"]
    # The server is still fine afterwards.
    assert api.post(f"/tasks/{tid}/events", json=[{"type": "console", "text": "ok"}]).status_code == 200


# -- text entering through the ordinary FastAPI routes ------------------------------------------


def _json(api: Api, verb: str, path: str, body: str):  # type: ignore[no-untyped-def]
    return getattr(api, verb)(path, data=body.encode(), headers={"Content-Type": "application/json"})


def test_lone_surrogates_are_refused_everywhere_text_enters(api: Api) -> None:
    task = api.task()
    tid, pid = task["id"], task["project_id"]
    cases = [
        ("post", "/tasks", '{"name": "n' + LONE + '", "project_name": "p"}'),
        ("post", "/tasks", '{"name": "n", "project_name": "p' + LONE + '"}'),
        ("post", "/tasks", '{"name": "n", "project_name": "p", "tags": ["t' + LONE + '"]}'),
        ("post", "/tasks", '{"name": "n", "project_name": "p", "hyperparams": {"Args": {"lr": {"value": "' + LONE + '"}}}}'),
        ("post", "/tasks", '{"name": "n", "project_name": "p", "hyperparams": {"Ar' + LONE + 'gs": {"lr": {"value": "1"}}}}'),
        ("post", "/tasks", '{"name": "n", "project_name": "p", "script": {"notebook": {"cells": ["' + LONE + '"]}}}'),
        ("post", "/tasks", '{"name": "n", "project_name": "p", "runtime": {"extra": {"k": "' + LONE + '"}}}'),
        ("patch", f"/tasks/{tid}", '{"comment": "' + LONE + '"}'),
        ("patch", f"/tasks/{tid}", '{"tags": ["' + LONE + '"]}'),
        ("patch", f"/tasks/{tid}", '{"configuration": {"c": {"value": "' + LONE + '"}}}'),
        ("post", "/projects", '{"name": "' + LONE + '"}'),
        ("patch", f"/projects/{pid}", '{"description": "' + LONE + '"}'),
        ("post", "/keys", '{"user": "u' + LONE + '"}'),
        ("post", f"/tasks/{tid}/artifacts", '{"key": "k", "uri": "s3://b/' + LONE + '"}'),
        ("post", f"/tasks/{tid}/start", '{"reason": "' + LONE + '"}'),
    ]
    for verb, path, body in cases:
        resp = _json(api, verb, path, body)
        err = error(resp, 422, "invalid")
        assert "surrogate" in err["message"], (path, body, err)
    # None of them changed anything.
    after = api.get(f"/tasks/{tid}").json()
    assert after["comment"] == task["comment"] and after["tags"] == task["tags"]


def test_deep_nesting_on_a_documented_route_is_400(api: Api) -> None:
    error(_json(api, "post", "/tasks", '{"name": ' + "[" * 100_000), 400, "bad_request")
    error(_json(api, "post", "/projects", '{"name": "p", "description": ' + '{"a":' * 100_000), 400, "bad_request")
