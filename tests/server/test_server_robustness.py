"""Client mistakes are 4xx with the one error shape, never 500: odd text, odd types, deep nesting, huge bodies."""

from __future__ import annotations

import json
import socket
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
from server_helpers import Api, error

from labtrack.server.settings import SETTINGS_ENV


@pytest.fixture
def any_tracking_server(module_any_tracking_server: Any) -> Any:
    """One server per backend for the module: each test here works on tasks of its own."""
    return module_any_tracking_server


@pytest.fixture
def api(any_tracking_server: Any) -> Api:
    return Api(any_tracking_server)


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


# -- size caps: console text per event and per answer, the events body -------------------------

MIB = 1024 * 1024


def _cut_parts(text: str) -> tuple[str, int, str]:
    """(head, bytes cut, tail) of a text cut with the marker."""
    head, rest = text.split("\n… [cut ", 1)
    number, tail = rest.split(" bytes] …\n", 1)
    return head, int(number), tail


def test_a_huge_console_line_is_stored_cut_with_a_marker(api: Api) -> None:
    tid = api.task()["id"]
    line = "head " + "x" * (5 * MIB) + " tail\n"
    wide = "é" * MIB  # 2 MiB of UTF-8: cut on character boundaries
    for text in (line, wide):
        assert api.post(f"/tasks/{tid}/events", json=[{"type": "console", "text": text}]).status_code == 200
        stored = api.get(f"/tasks/{tid}/console", params={"tail": 1}).json()["items"][0]["text"]
        assert len(stored.encode()) <= MIB, len(stored)
        head, cut, tail = _cut_parts(stored)
        assert text.startswith(head) and text.endswith(tail)
        assert len(head.encode()) > MIB // 3 and len(tail.encode()) > MIB // 3
        assert cut == len(text.encode()) - len(head.encode()) - len(tail.encode())
    # Text at the cap is kept whole.
    exact = "y" * MIB
    api.post(f"/tasks/{tid}/events", json=[{"type": "console", "text": exact}])
    assert api.get(f"/tasks/{tid}/console", params={"tail": 1}).json()["items"][0]["text"] == exact


def test_console_answers_hold_bounded_text(api: Api) -> None:
    tid = api.task()["id"]
    lines = [f"{i:02d}" + "z" * (MIB - 2) for i in range(10)]  # ten lines of 1 MiB, each at the cap
    for line in lines:
        assert api.post(f"/tasks/{tid}/events", json=[{"type": "console", "text": line}]).status_code == 200
    tail = api.get(f"/tasks/{tid}/console", params={"tail": 10})
    assert len(tail.content) < 5 * MIB, len(tail.content)
    assert [item["text"][:2] for item in tail.json()["items"]] == ["06", "07", "08", "09"]  # the newest that fit
    seen: list[str] = []
    cursor: str | None = None
    for _page in range(10):
        params: dict = {"limit": 10} | ({"after": cursor} if cursor else {})
        page = api.get(f"/tasks/{tid}/console", params=params)
        assert len(page.content) < 5 * MIB
        seen += [item["text"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == lines, "paging past the byte bound returns every line once, in order"
    # Small lines page by count as before.
    tid = api.task()["id"]
    api.post(f"/tasks/{tid}/events", json=[{"type": "console", "text": f"l{i}\n"} for i in range(7)])
    page = api.get(f"/tasks/{tid}/console", params={"limit": 5}).json()
    assert len(page["items"]) == 5 and page["next_cursor"] == str(page["items"][-1]["seq"])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_one_line_longer_than_an_answer_comes_back_cut(server_factory, monkeypatch, backend: str) -> None:
    """A line stored before console events were capped (here: a server with a 10 MiB cap)."""
    monkeypatch.setenv(SETTINGS_ENV, json.dumps({"max_console_bytes": 10 * MIB}))
    server = server_factory(backend)
    server.start()
    api = Api(server)
    tid = api.task()["id"]
    line = "q" * (6 * MIB)
    assert api.post(f"/tasks/{tid}/events", json=[{"type": "console", "text": line}]).status_code == 200
    for params in ({"tail": 1}, {"after": 0}):
        text = api.get(f"/tasks/{tid}/console", params=params).json()["items"][0]["text"]
        assert text == "q" * (4 * MIB) + f"\n… [cut {2 * MIB} characters] …\n"


def _raw_post(api: Api, path: str, headers: dict[str, str], chunks: Iterator[bytes]) -> tuple[int, dict]:
    """POST over a bare socket, so the test decides how much of the body is ever sent."""
    url = urlsplit(api.base + path)
    sock = socket.create_connection((url.hostname, url.port), timeout=10)
    with sock:
        lines = [f"POST {url.path} HTTP/1.1", f"Host: {url.netloc}", f"Authorization: {api.session.headers['Authorization']}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending: what we want to see
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            assert more, f"the server closed without an answer: {data!r}"
            data += more
        head, body = data.split(b"\r\n\r\n", 1)
        length = int(next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")))
        while len(body) < length:
            more = sock.recv(65536)
            assert more, "the answer was cut"
            body += more
    return int(head.split(b" ")[1]), json.loads(body)


def test_an_events_body_over_the_cap_is_413_before_it_is_read(api: Api) -> None:
    tid = api.task()["id"]
    # Declared 200 MB, of which 64 KiB is ever sent: the answer must come without the rest.
    status, body = _raw_post(api, f"/tasks/{tid}/events",
                             {"Content-Type": "application/json", "Content-Length": str(200 * 1000**2)},
                             iter([b'[{"type": "console", "text": "' + b"x" * 65536]))
    assert status == 413 and body["error"]["code"] == "too_large", body
    assert "split" in body["error"]["message"] and body["error"]["details"]["max_bytes"] <= 64 * MIB


def test_a_chunked_body_over_the_cap_is_413(server_factory, monkeypatch) -> None:
    monkeypatch.setenv(SETTINGS_ENV, json.dumps({"max_body_bytes": MIB}))
    server = server_factory("sqlite")
    server.start()
    api = Api(server)
    tid = api.task()["id"]

    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    def chunks() -> Iterator[bytes]:
        yield chunk(b'[{"type": "console", "text": "')
        for _ in range(64):  # 4 MiB offered, in 64 KiB chunks, with no length declared
            yield chunk(b"x" * 65536)
        yield chunk(b'"}]') + b"0\r\n\r\n"

    status, body = _raw_post(api, f"/tasks/{tid}/events", {"Content-Type": "application/json",
                                                           "Transfer-Encoding": "chunked"}, chunks())
    assert status == 413 and body["error"]["details"] == {"max_bytes": MIB}, body
    assert api.get(f"/tasks/{tid}/console").json()["items"] == []
