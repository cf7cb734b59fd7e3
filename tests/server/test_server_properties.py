"""Rules that hold for any input, checked with hypothesis against the real server (SQLite and
PostgreSQL): downsampling keeps every bucket's true count/min/max/last, and a batch id is
scoped to its task."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labtrack.server.services.events import _BLOCKS_PER_BUCKET
from labtrack.server.store.tables import BLOCK_SIZE
from server_helpers import Api

SPIKE = 1e6


@pytest.fixture
def any_tracking_server(module_any_tracking_server: Any) -> Any:
    """One server per backend for the module: every example writes to a task (and project) of its own."""
    return module_any_tracking_server


@pytest.fixture
def api(any_tracking_server: Any) -> Api:
    return Api(any_tracking_server)


@dataclass
class Case:
    """One series (iterations ascend by `step` from `first`) and the ranges read back from it."""

    first: int
    step: int
    values: list[float | None]
    split: int  # points before `split` go in one batch, the rest in a second one
    reversed_batches: tuple[bool, bool]  # which batch arrives in descending order (the rollup's SQL refresh path)
    reads: list[tuple[int | None, int | None, int]]  # (start, end, buckets)

    @property
    def iterations(self) -> list[int]:
        return [self.first + i * self.step for i in range(len(self.values))]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    first = draw(st.integers(0, 3 * BLOCK_SIZE))
    step = draw(st.sampled_from([1, 1, 1, 2, 3]))
    n = draw(st.integers(1, 2500))
    last = first + (n - 1) * step
    bound = st.none() | st.integers(max(0, first - 40), last + 40)
    reads = []
    for _ in range(draw(st.integers(1, 4))):
        start, end = draw(bound), draw(bound)
        if start is not None and end is not None and start > end:
            start, end = end, start
        reads.append((start, end, draw(st.integers(1, 12))))
    # A steady pattern (every bucket of 101+ points has min 0, max 100) so that only the spikes
    # tell whether a bucket saw a point; spikes sit anywhere or right at a read's edges, where
    # a range cuts a rollup block in two.
    values: list[float | None] = [float((i * 37) % 101) for i in range(n)]
    edges = [(e, d) for s, e2, _ in reads for e, d in ((s, 1), (e2, -1)) if e is not None] or [(first, 1)]
    near_edge = st.tuples(st.sampled_from(edges), st.integers(0, BLOCK_SIZE - 1)).map(lambda p: p[0][0] + p[0][1] * p[1])
    for it in draw(st.lists(near_edge | st.integers(first, last), max_size=6)):
        index = min(max(0, (it - first) // step), n - 1)
        values[index] = draw(st.sampled_from([SPIKE, -SPIKE, None]))  # None: a NaN gap
    split = draw(st.integers(0, n))
    return Case(first, step, values, split, (draw(st.booleans()), draw(st.booleans())), reads)


def expected_buckets(iterations: list[int], values: list[float | None], start: int | None, end: int | None, buckets: int) -> dict:
    """The downsampling contract, computed point by point.

    The range [lo, hi] is the stored one clipped to start/end, cut into `buckets` equal-width
    buckets. When every bucket spans at least _BLOCKS_PER_BUCKET rollup blocks, a block that lies
    wholly inside the range is placed by its first iteration (documented: edges may shift by
    one block); every other point, including the partial blocks at the range's edges, by its own.
    """
    out: dict = {"iterations": [], "values": [], "min": [], "max": [], "count": []}
    lo, hi = min(iterations), max(iterations)
    lo = lo if start is None else max(lo, start)
    hi = hi if end is None else min(hi, end)
    if lo > hi:
        return out
    width = hi - lo + 1
    from_blocks = width >= buckets * BLOCK_SIZE * _BLOCKS_PER_BUCKET
    groups: dict[int, list[tuple[int, float | None]]] = {}
    for it, v in zip(iterations, values):
        if not lo <= it <= hi:
            continue
        block_start = it - it % BLOCK_SIZE
        whole = lo <= block_start and block_start + BLOCK_SIZE - 1 <= hi
        place = block_start if from_blocks and whole else it
        groups.setdefault((place - lo) * buckets // width, []).append((it, v))
    for b in sorted(groups):
        points = groups[b]
        finite = [v for _, v in points if v is not None]
        last_it, last_v = max(points, key=lambda p: p[0])
        out["iterations"].append(last_it)
        out["values"].append(last_v)
        out["min"].append(min(finite) if finite else None)
        out["max"].append(max(finite) if finite else None)
        out["count"].append(len(points))
    return out


def _send(api: Api, task_id: str, case: Case) -> None:
    its = case.iterations
    wire = ["NaN" if v is None else v for v in case.values]
    for part, backwards in zip((slice(None, case.split), slice(case.split, None)), case.reversed_batches):
        order = slice(None, None, -1 if backwards else 1)
        event = {"type": "scalars", "metric": "m", "variant": "v", "iterations": its[part][order], "values": wire[part][order]}
        if event["iterations"]:
            r = api.post(f"/tasks/{task_id}/events", json={"events": [event]})
            assert r.status_code == 200, r.text


# A spike in the partial block at each edge of a long range (the rollup's weak spot).
_EDGE_SPIKES = Case(
    first=0, step=1, values=[SPIKE if i in (1005, 2990) else float(i % 7) for i in range(3000)],
    split=1500, reversed_batches=(False, False), reads=[(1001, 2998, 4), (None, 2999, 1)],
)
# A short first batch sent backwards, inside the first rollup block, then a long ascending one:
# the block must be recomputed from both (make mutate found the refresh range untested).
_BACKWARDS_FIRST_BLOCK = Case(
    first=0, step=1, values=[SPIKE if i == 5 else float(i % 5) for i in range(2000)],
    split=20, reversed_batches=(True, False), reads=[(None, None, 1), (0, 1999, 3)],
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(case=_EDGE_SPIKES)
@example(case=_BACKWARDS_FIRST_BLOCK)
@given(case=cases())
def test_downsampling_keeps_every_bucket_exact(api: Api, case: Case) -> None:
    """For any series length, gaps, batch order and range, each bucket's count/min/max/last is the true one."""
    task_id = api.task("ds", f"props/{uuid.uuid4().hex[:8]}")["id"]
    _send(api, task_id, case)
    for start, end, buckets in case.reads:
        params = {"metric": "m", "variant": "v", "buckets": buckets}
        params |= {k: v for k, v in (("start", start), ("end", end)) if v is not None}
        r = api.get(f"/tasks/{task_id}/scalars", params=params)
        assert r.status_code == 200, r.text
        got = {k: r.json()[k] for k in ("iterations", "values", "min", "max", "count")}
        want = expected_buckets(case.iterations, case.values, start, end, buckets)
        assert got == want, f"start={start} end={end} buckets={buckets}"


def test_one_batch_id_in_two_tasks_stores_both(api: Api) -> None:
    """A batch id is unique per task: the same id sent to another task is a new batch, not a duplicate."""
    a, b = api.task("a")["id"], api.task("b")["id"]
    body = {"batch_id": "shared-1", "events": [
        {"type": "scalars", "metric": "loss", "variant": "", "iterations": [0, 1, 2], "values": [3.0, 2.0, 1.0]},
        {"type": "console", "text": "hello\n"}]}
    for task_id in (a, b):
        r = api.post(f"/tasks/{task_id}/events", json=body)
        assert r.status_code == 200, r.text
        assert r.json() == {"batch_id": "shared-1", "accepted": 2, "duplicate": False, "stop_requested": False}
    for task_id in (a, b):
        again = api.post(f"/tasks/{task_id}/events", json=body).json()
        assert again["duplicate"] is True, again  # and still idempotent within each task
        metrics = api.get(f"/tasks/{task_id}/metrics").json()["items"]
        assert [(m["metric"], m["count"], m["last"]) for m in metrics] == [("loss", 3, 1.0)], task_id
        console = api.get(f"/tasks/{task_id}/console", params={"tail": 10}).json()["items"]
        assert [c["text"] for c in console] == ["hello\n"], task_id
        assert api.get(f"/tasks/{task_id}").json()["last_iteration"] == 2
