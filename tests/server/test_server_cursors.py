"""Page cursors on every list, SQLite and PostgreSQL: a genuine cursor pages through its list, and
a cursor from another listing or sort, or a forged one, is a 400 with the JSON error body, never a
500 (PostgreSQL refuses to compare a text column with a number, and psycopg can't bind a dict)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from server_helpers import Api, error

# A value's kind, as the server's paging module should judge it (an oracle written apart from it).
TEXT, INTEGER, NUMBER, ID = "text", "integer", "number", "id"
TASK_SORTS = {"created": NUMBER, "last_update": NUMBER, "started": NUMBER, "name": TEXT, "status": TEXT,
              "last_iteration": INTEGER, "metric:loss/train": NUMBER}
MODEL_SORTS = {"created": NUMBER, "last_update": NUMBER, "name": TEXT}
FOREIGN_MESSAGE = "start again without cursor"
A_ID = "0123456789abcdef0123456789abcdef"
# Well-formed JSON lists that no list of this server ever issues.
FORGED: list[list[Any]] = [
    [1.5, "x"], [{"a": 1}, "x"], [1], [{"x": 1}], ["zz", 3], [[1], A_ID], [True, A_ID], [None, A_ID],
    ["a\x00b", A_ID], [2**64 - 1, A_ID], [1.5, "not-an-id"], [1, 2, A_ID, 4], [], ["x\x00"], [False],
    [None], [1, 2**63], [True, 1], [0, 0, "x"], [0, 0, {"a": 1}], [-(2**63) - 1, 0, A_ID],
]


def encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode(cursor: str) -> list[Any]:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def fits(kind: str, value: Any) -> bool:
    if kind == ID:
        return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{32}", value) is not None
    if kind == TEXT:
        return isinstance(value, str) and "\x00" not in value
    in_int64 = type(value) is int and -(2**63) <= value < 2**63
    return in_int64 or (kind == NUMBER and type(value) is float)


@dataclass
class Listing:
    """One list and query, the kinds of its cursor's values, and how to read its items."""

    path: str
    params: dict[str, Any]
    kinds: tuple[str, ...]
    items: Callable[[dict[str, Any]], list[Any]]

    def accepts(self, values: list[Any]) -> bool:
        return len(values) == len(self.kinds) and all(fits(k, v) for k, v in zip(self.kinds, values))


def _ids(body: dict[str, Any]) -> list[Any]:
    return [item.get("id", item.get("key", item.get("path", item.get("sha256", item.get("task_id")))))
            for item in body["items"]]


def _points(body: dict[str, Any]) -> list[Any]:
    return list(zip(body["iterations"], body["values"]))


def _created(api: Api, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    answer = getattr(api, method)(path, **kwargs)
    assert answer.status_code in (200, 201), (path, answer.status_code, answer.text)
    return answer.json()


@pytest.fixture(scope="module")
def listings(module_any_tracking_server: Any) -> dict[str, Listing]:
    """Two or more items in every list (names unique to this module's server), by listing name."""
    api = Api(module_any_tracking_server)
    tag = uuid.uuid4().hex[:8]
    project = f"cursors-{tag}"
    tasks = [api.task(name, project=project) for name in ("b", "a", "c")]
    task_id = tasks[0]["id"]
    _created(api, "post", f"/tasks/{tasks[1]['id']}/start")
    _created(api, "post", f"/tasks/{task_id}/events", json={"events": [
        {"type": "scalars", "metric": "loss", "variant": "train", "iterations": [0, 1, 1, 2], "values": [4, 3, 2, 1]},
    ]})
    _created(api, "post", f"/tasks/{tasks[2]['id']}/events", json={"events": [
        {"type": "scalar", "metric": "loss", "variant": "train", "iteration": 7, "value": 0.5},
    ]})
    for key in ("a", "b"):
        _created(api, "put", f"/tasks/{task_id}/artifacts/{key}", data=b"bytes")
    for name in ("m2", "m1"):
        _created(api, "post", "/models", json={"name": name, "project": project})
    for version in ("1", "2"):
        dataset = _created(api, "post", "/datasets", json={"project": project, "name": "d", "version": version})
    _created(api, "post", f"/datasets/{dataset['id']}/files", json={"add": [
        {"path": f"f{i}.txt", "size": 1, "sha256": f"{i}" * 64} for i in range(3)]})
    queue = _created(api, "post", "/queues", json={"name": f"q-{tag}"})
    _created(api, "post", "/queues", json={"name": f"r-{tag}"})
    for priority, task in enumerate((tasks[0], tasks[2])):  # tasks[1] runs
        _created(api, "post", f"/queues/{queue['id']}/entries", json={"task_id": task["id"], "priority": priority})
    for name in ("w2", "w1"):
        _created(api, "post", "/workers", json={"name": f"{name}-{tag}", "queues": [queue["id"]]})
    _created(api, "post", "/keys", json={"user": f"u-{tag}", "role": "member"})

    found: dict[str, Listing] = {}
    for sort, kind in TASK_SORTS.items():
        for order in ("", "-"):
            found[f"tasks {order}{sort}"] = Listing("/tasks", {"project": project, "sort": order + sort},
                                                    (kind, ID), _ids)
    for sort, kind in MODEL_SORTS.items():
        for order in ("", "-"):
            found[f"models {order}{sort}"] = Listing("/models", {"project": project, "sort": order + sort},
                                                     (kind, ID), _ids)
    found["projects"] = Listing("/projects", {"search": tag}, (TEXT,), _ids)
    api.post("/projects", json={"name": f"{project}/sub"})
    found["keys"] = Listing("/keys", {}, (ID,), _ids)
    found["artifacts"] = Listing(f"/tasks/{task_id}/artifacts", {}, (TEXT,), _ids)
    found["datasets"] = Listing("/datasets", {"project": project}, (NUMBER, ID), _ids)
    found["dataset files"] = Listing(f"/datasets/{dataset['id']}/files", {}, (TEXT,), _ids)
    found["dataset missing"] = Listing(f"/datasets/{dataset['id']}/missing", {}, (TEXT,), _ids)
    found["queues"] = Listing("/queues", {}, (TEXT,), _ids)
    found["queue entries"] = Listing(f"/queues/{queue['id']}/entries", {}, (INTEGER, INTEGER, ID), _ids)
    found["workers"] = Listing("/workers", {}, (TEXT, ID), _ids)
    found["scalars"] = Listing(f"/tasks/{task_id}/scalars", {"metric": "loss", "variant": "train"},
                               (INTEGER, INTEGER), _points)
    return found


def genuine_cursor(api: Api, listing: Listing) -> str:
    answer = api.get(listing.path, params={**listing.params, "limit": 1})
    assert answer.status_code == 200, answer.text
    cursor = answer.json()["next_cursor"]
    assert cursor, f"{listing.path} {listing.params} holds a single item: the fixture makes two"
    return cursor


@pytest.fixture(scope="module")
def cursors(module_any_tracking_server: Any, listings: dict[str, Listing]) -> dict[str, str]:
    """A genuine next_cursor of each listing (first page of one item)."""
    api = Api(module_any_tracking_server)
    return {name: genuine_cursor(api, listing) for name, listing in listings.items()}


@pytest.fixture
def api(module_any_tracking_server: Any) -> Api:
    return Api(module_any_tracking_server)


def test_a_genuine_cursor_pages_through_every_list(api: Api, listings: dict[str, Listing],
                                                   cursors: dict[str, str]) -> None:
    for name, listing in listings.items():
        assert listing.accepts(decode(cursors[name])), (name, decode(cursors[name]))
        whole = api.get(listing.path, params={**listing.params, "limit": 1000})
        assert whole.status_code == 200, (name, whole.text)
        expected = listing.items(whole.json())
        seen: list[Any] = []
        cursor: str | None = None
        for _ in range(len(expected) + 1):
            page = api.get(listing.path, params={**listing.params, "limit": 1, **({"cursor": cursor} if cursor else {})})
            assert page.status_code == 200, (name, page.text)
            seen += listing.items(page.json())
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        assert seen == expected, name


def test_a_cursor_from_another_listing_or_sort_is_400_never_500(api: Api, listings: dict[str, Listing],
                                                                cursors: dict[str, str]) -> None:
    refused = 0
    for name, listing in listings.items():
        for origin, cursor in cursors.items():
            answer = api.get(listing.path, params={**listing.params, "limit": 2, "cursor": cursor})
            if listing.accepts(decode(cursor)):
                # same kinds of values (say /tasks?sort=-created and /models?sort=-created): a page from
                # that point, which is harmless; only a cursor the SQL can't compare must be refused
                assert answer.status_code == 200, (name, origin, answer.text)
                continue
            refused += 1
            body = error(answer, 400, "bad_request")
            assert FOREIGN_MESSAGE in body["message"], (name, origin, body)
    assert refused > len(listings) * 5  # most pairs differ; guards against an oracle that accepts everything


@pytest.mark.parametrize("values", FORGED, ids=[json.dumps(v) for v in FORGED])
def test_a_forged_cursor_is_400_on_every_list(api: Api, listings: dict[str, Listing], values: list[Any]) -> None:
    for name, listing in listings.items():
        assert not listing.accepts(values)
        answer = api.get(listing.path, params={**listing.params, "cursor": encode(values)})
        body = error(answer, 400, "bad_request")
        assert FOREIGN_MESSAGE in body["message"], (name, body)


def test_the_reported_repros(api: Api, listings: dict[str, Listing]) -> None:
    """The exact requests from the fuzz findings (each answered 500 on PostgreSQL)."""
    task_id = listings["artifacts"].path.split("/")[2]
    repros = [
        ("/tasks", {"sort": "name"}, [1.5, "x"]),
        ("/tasks", {"sort": "-started"}, ["zz", 3]),
        ("/tasks", {"sort": "name"}, [{"a": 1}, "x"]),
        ("/models", {}, [1.5, "x"]),
        *[(path, {}, values) for path in ("/projects", "/keys", f"/tasks/{task_id}/artifacts")
          for values in ([1], [{"x": 1}])],
    ]
    for path, params, values in repros:
        error(api.get(path, params={**params, "cursor": encode(values)}), 400, "bad_request")
