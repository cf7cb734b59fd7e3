"""Task lists are in the order they claim, for every sort key and both directions, whole and paged
through the cursor, on SQLite and PostgreSQL (hypothesis draws the tasks: ties, nulls, statuses)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labtrack.server.services.tasks import SORT_KEYS
from server_helpers import Api

METRIC = "metric:loss/train"
ALL_SORTS = [d + k for k in (*SORT_KEYS, METRIC) for d in ("", "-")]

# Action paths that lead to every status, some leaving `started` and `last_iteration` null.
LIFECYCLES: list[tuple[str, ...]] = [
    (), ("start",), ("start", "complete"), ("start", "fail"), ("enqueue",), ("stop",),
    ("start", "complete", "publish"), ("start", "stop"), ("enqueue", "start"),
    ("start", "complete", "reset"),
]


@dataclass
class Spec:
    name: str
    lifecycle: tuple[str, ...]
    last_iteration: int | None  # a loss point at this iteration, or none
    loss: float | None  # its value (None: a NaN gap, the metric has no last)


specs = st.builds(
    Spec,
    name=st.text(alphabet="abc", min_size=1, max_size=2),  # few letters: ties are the norm
    lifecycle=st.sampled_from(LIFECYCLES),
    last_iteration=st.none() | st.integers(0, 3),
    loss=st.none() | st.sampled_from([0.5, 1.0, 2.0]),
)

# Every key with distinct values, ties and nulls, so a sort that is ignored cannot pass.
_EVERY_KEY = [
    Spec("b", ("start", "complete"), 2, 1.0), Spec("a", (), None, None), Spec("c", ("enqueue",), 0, 2.0),
    Spec("a", ("start",), 3, 0.5), Spec("b", ("start", "fail"), 1, None), Spec("c", ("stop",), 2, 2.0),
]


def _value(task: dict[str, Any], sort_key: str) -> Any:
    if sort_key == METRIC:
        return task["last_metrics"].get("loss", {}).get("train", {}).get("last")
    return task[sort_key]  # times are ISO strings of one fixed format: they sort as text


def expected_order(tasks: list[dict[str, Any]], sort: str) -> list[str]:
    """Ids by (value, id), ascending or descending; tasks without a value come last either way."""
    descending, key = sort.startswith("-"), sort.lstrip("-")
    valued = [t for t in tasks if _value(t, key) is not None]
    empty = [t for t in tasks if _value(t, key) is None]
    valued.sort(key=lambda t: (_value(t, key), t["id"]), reverse=descending)
    empty.sort(key=lambda t: t["id"], reverse=descending)
    return [t["id"] for t in valued + empty]


def _make(api: Api, project: str, spec: Spec) -> None:
    task_id = api.task(spec.name, project)["id"]
    if spec.last_iteration is not None:
        point = {"type": "scalar", "metric": "loss", "variant": "train", "iteration": spec.last_iteration,
                 "value": "NaN" if spec.loss is None else spec.loss}
        r = api.post(f"/tasks/{task_id}/events", json={"events": [point]})
        assert r.status_code == 200, r.text
    for action in spec.lifecycle:
        r = api.post(f"/tasks/{task_id}/{action}")
        assert r.status_code == 200, (action, r.text)


def _pages(api: Api, project: str, sort: str, limit: int) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(100):  # a cursor that never ends is a failure, not a hang
        params = {"project": project, "sort": sort, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = api.get("/tasks", params=params)
        assert r.status_code == 200, r.text
        ids += [t["id"] for t in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return ids
    raise AssertionError(f"sort={sort}: the cursor did not end after 100 pages")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(tasks=_EVERY_KEY, limit=2)
@given(tasks=st.lists(specs, min_size=2, max_size=6), limit=st.integers(2, 4))
def test_every_sort_key_orders_lists_and_pages(api: Api, tasks: list[Spec], limit: int) -> None:
    project = f"sorts/{uuid.uuid4().hex[:8]}"
    for spec in tasks:
        _make(api, project, spec)
    listed = api.get("/tasks", params={"project": project, "limit": 1000}).json()["items"]
    assert len(listed) == len(tasks)
    for sort in ALL_SORTS:
        want = expected_order(listed, sort)
        whole = api.get("/tasks", params={"project": project, "sort": sort, "limit": 1000}).json()["items"]
        assert [t["id"] for t in whole] == want, (sort, [_value(t, sort.lstrip("-")) for t in whole])
        assert _pages(api, project, sort, limit) == want, (sort, limit)
