"""Deterministic tests of the live chart's buffer and throttle (no widget, no kernel, no clock)."""

from __future__ import annotations

import math

import pytest

from labtrack.sdk.widgets import LiveChartModel, SeriesBuffer, bucket_points


def test_small_series_are_kept_exactly() -> None:
    buffer = SeriesBuffer(max_points=300)
    for i in range(50):
        buffer.add(i, i * 0.5)
    assert buffer.xy() == (list(range(50)), [i * 0.5 for i in range(50)])


@pytest.mark.parametrize("n", [1_000, 10_000, 1_000_000])
def test_a_million_points_stay_bounded_and_keep_the_spike(n: int) -> None:
    buffer = SeriesBuffer(max_points=2000)
    spike_at = n * 2 // 3 + 1
    for i in range(n):
        buffer.add(i, 1000.0 if i == spike_at else -1.0 if i == 7 else math.sin(i / 50))
    xs, ys = buffer.xy()
    assert len(xs) == len(ys) <= 2000
    assert buffer.total == n
    assert max(ys) == 1000.0 and xs[ys.index(1000.0)] == spike_at  # the one-point spike survives, in place
    assert min(ys) == -1.0 and xs[ys.index(-1.0)] == 7
    assert xs == sorted(xs)  # still a line from left to right
    assert xs[-1] == n - 1  # the last point reported is drawn
    if n >= 10_000:
        assert len(xs) > 500  # and it is not over-thinned


def test_non_finite_values_are_skipped_not_drawn() -> None:
    buffer = SeriesBuffer(max_points=30)
    for i, v in enumerate([1.0, float("nan"), float("inf"), 2.0, "x"]):
        buffer.add(i, v)  # type: ignore[arg-type]
    assert buffer.xy() == ([0, 3], [1.0, 2.0])
    assert buffer.skipped == 3


def test_redraws_are_throttled_to_refresh_hz() -> None:
    model = LiveChartModel(refresh_hz=4)  # at most one frame per 0.25 s
    assert model.take_frame(now=0.0) is None  # nothing reported yet
    drawn = []
    # 10,000 reports over 2.5 simulated seconds, polled every millisecond.
    for step in range(10_000):
        now = step * 0.00025
        model.add("loss", "train", step, 1.0 / (step + 1))
        frame = model.take_frame(now)
        if frame is not None:
            drawn.append((now, len(frame.series[("loss", "train")][0])))
    times = [t for t, _ in drawn]
    assert len(drawn) == 10  # 2.5 s at 4 Hz
    assert all(b - a >= 0.25 - 1e-9 for a, b in zip(times, times[1:]))
    assert model.take_frame(now=2.4999) is None  # too soon after the last frame
    final = model.take_frame(now=2.51, force=True)  # the trailing frame carries the last points
    assert final is not None and final.series[("loss", "train")][0][-1] == 9_999
    assert model.take_frame(now=10.0) is None  # nothing new since: no redraw


def test_system_series_are_hidden_unless_asked_for() -> None:
    model = LiveChartModel(refresh_hz=1)
    model.add(":monitor:", "cpu_percent", 30, 12.0)
    model.add("loss", "train", 0, 1.0)
    frame = model.take_frame(0.0)
    assert frame is not None and set(frame.series) == {("loss", "train")}
    assert LiveChartModel(metrics=[":monitor:"]).wants(":monitor:")


def test_metric_filter() -> None:
    model = LiveChartModel(metrics=["loss"], refresh_hz=1)
    model.add("loss", "train", 0, 1.0)
    model.add("accuracy", "train", 0, 0.5)
    frame = model.take_frame(0.0)
    assert frame is not None and set(frame.series) == {("loss", "train")}


def test_server_buckets_become_strokes_that_keep_min_and_max() -> None:
    xs, ys = bucket_points([9, 19, 29], [0.5, 7.0, None], [0.1, 7.0, None], [0.9, 7.0, None])
    # bucket 1: min 0.1 and max 0.9 at its last iteration, ending nearer its last value (0.5 → 0.9 side);
    # bucket 2: a single value; bucket 3: only gaps.
    assert xs == [9, 9, 19]
    assert sorted(ys[:2]) == [0.1, 0.9] and ys[2] == 7.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SeriesBuffer(max_points=2)
    with pytest.raises(ValueError):
        LiveChartModel(refresh_hz=0)
