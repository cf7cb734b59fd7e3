"""Live charts in a notebook: `LiveScalars`, a plotly FigureWidget that follows a task's scalars.

For the task running in this process it listens to `Logger.report_scalar` and redraws at most
`refresh_hz` times a second from a bounded buffer that keeps each bucket's min and max (so a
spike survives downsampling and a million-point loop never floods the browser). Pointed at
another task (say one an agent runs remotely) it polls the server's downsampled scalars in a
background thread until that task finishes or the widget is closed.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

__all__ = ["LiveScalars", "SeriesBuffer", "LiveChartModel", "FINAL_STATUSES"]

FINAL_STATUSES = frozenset({"completed", "failed", "stopped", "published"})
Point = tuple[float, float]  # (iteration, value)


@dataclass
class _Bucket:
    """Points of consecutive reports merged into one: their min, max and last (with iterations)."""

    count: int
    min_point: Point
    max_point: Point
    last_point: Point

    def add(self, point: Point) -> None:
        self.count += 1
        if point[1] < self.min_point[1]:
            self.min_point = point
        if point[1] > self.max_point[1]:
            self.max_point = point
        self.last_point = point

    def merge(self, later: _Bucket) -> None:
        self.count += later.count
        if later.min_point[1] < self.min_point[1]:
            self.min_point = later.min_point
        if later.max_point[1] > self.max_point[1]:
            self.max_point = later.max_point
        self.last_point = later.last_point

    def points(self) -> list[Point]:
        """The bucket drawn as at most 3 points in iteration order: min and max survive, the
        line ends on the last value."""
        unique = {self.min_point, self.max_point, self.last_point}
        return sorted(unique, key=lambda p: p[0]) if len(unique) > 1 else [self.last_point]


class SeriesBuffer:
    """A bounded, downsampled scalar series: at most `max_points` points drawn, however many added.

    Points are grouped into buckets of `per_bucket` consecutive reports; when there are too
    many buckets, neighbours merge pairwise and `per_bucket` doubles. Each bucket keeps its
    min, max and last point, so a one-iteration spike is still drawn after any amount of
    downsampling. Adding is amortised O(1). Not thread-safe: `LiveChartModel` locks around it.
    """

    def __init__(self, max_points: int = 2000):
        if max_points < 6:
            raise ValueError("max_points must be at least 6")
        self.max_points = max_points
        # Each bucket draws as ≤ 3 points.
        self.max_buckets = max_points // 3
        self.per_bucket = 1
        self.buckets: list[_Bucket] = []
        self.total = 0
        self.skipped = 0

    def add(self, iteration: float, value: float) -> None:
        """Record one point; NaN/±inf are counted in `skipped` and not drawn (the server stores gaps)."""
        try:
            value = float(value)
        except (TypeError, ValueError):
            self.skipped += 1
            return
        if not math.isfinite(value):
            self.skipped += 1
            return
        self.total += 1
        point = (iteration, value)
        if self.buckets and self.buckets[-1].count < self.per_bucket:
            self.buckets[-1].add(point)
            return
        self.buckets.append(_Bucket(1, point, point, point))
        if len(self.buckets) > self.max_buckets:
            self._halve()

    def _halve(self) -> None:
        merged: list[_Bucket] = []
        for i in range(0, len(self.buckets) - 1, 2):
            first = self.buckets[i]
            first.merge(self.buckets[i + 1])
            merged.append(first)
        if len(self.buckets) % 2:
            merged.append(self.buckets[-1])
        self.buckets = merged
        self.per_bucket *= 2

    def xy(self) -> tuple[list[float], list[float]]:
        """The points to draw, in order."""
        xs: list[float] = []
        ys: list[float] = []
        for bucket in self.buckets:
            for x, y in bucket.points():
                xs.append(x)
                ys.append(y)
        return xs, ys


def bucket_points(iterations: list[float], last: list[float | None], mins: list[float | None],
                  maxs: list[float | None]) -> tuple[list[float], list[float]]:
    """Turn the server's downsampled buckets (`GET /scalars?buckets=`) into points to draw.

    A bucket whose min and max differ is drawn as a vertical stroke ending nearest its last
    value, so spikes stay visible.
    """
    xs: list[float] = []
    ys: list[float] = []
    for it, value, lo, hi in zip(iterations, last, mins, maxs):
        if value is None and lo is None:
            continue  # a bucket of gaps (NaN) only
        if lo is None or hi is None or lo == hi:
            xs.append(it)
            ys.append(value if value is not None else lo)  # type: ignore[arg-type]
            continue
        ref = value if value is not None else hi
        ordered = (lo, hi) if abs(ref - hi) <= abs(ref - lo) else (hi, lo)
        xs.extend((it, it))
        ys.extend(ordered)
    return xs, ys


@dataclass
class Frame:
    """What to draw: one (x, y) list pair per (metric, variant)."""

    series: dict[tuple[str, str], tuple[list[float], list[float]]] = field(default_factory=dict)


class LiveChartModel:
    """Buffers and throttle of a live chart, free of any widget code (unit-tested alone).

    `add` runs on the training loop's thread (microseconds); `take_frame(now)` returns a new
    frame only when something changed and at least `1/refresh_hz` seconds have passed since the
    last one.
    """

    def __init__(self, metrics: Iterable[str] | None = None, max_points: int = 2000, refresh_hz: float = 4.0):
        if refresh_hz <= 0:
            raise ValueError("refresh_hz must be positive")
        self.metrics = set(metrics) if metrics else None
        self.max_points = max_points
        self.min_interval = 1.0 / refresh_hz
        self._buffers: dict[tuple[str, str], SeriesBuffer] = {}
        self._server_series: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        self._lock = threading.Lock()
        self._dirty = False
        self._last_frame_at: float | None = None
        self.frames_taken = 0

    def wants(self, metric: str) -> bool:
        """Whether `metric` is charted: the chosen ones, or by default all but system series
        such as `:monitor:` (CPU/memory sampled against seconds, not iterations)."""
        return metric in self.metrics if self.metrics is not None else not metric.startswith(":")

    def add(self, metric: str, variant: str, iteration: float, value: float) -> None:
        """Record a point reported in this process."""
        if not self.wants(metric):
            return
        key = (metric, variant)
        with self._lock:
            buffer = self._buffers.get(key)
            if buffer is None:
                buffer = self._buffers[key] = SeriesBuffer(self.max_points)
            buffer.add(iteration, value)
            self._dirty = True

    def set_series(self, metric: str, variant: str, xs: list[float], ys: list[float]) -> None:
        """Replace a series with points fetched from the server (already downsampled there)."""
        if not self.wants(metric):
            return
        with self._lock:
            self._server_series[(metric, variant)] = (list(xs), list(ys))
            self._dirty = True

    @property
    def dirty(self) -> bool:
        return self._dirty

    def take_frame(self, now: float, force: bool = False) -> Frame | None:
        """A frame to draw, or None when nothing changed or the last frame is too recent."""
        if not self._dirty:
            return None
        if not force and self._last_frame_at is not None and now - self._last_frame_at < self.min_interval:
            return None
        with self._lock:
            frame = Frame({key: buf.xy() for key, buf in self._buffers.items()})
            frame.series.update(self._server_series)
            self._dirty = False
        self._last_frame_at = now
        self.frames_taken += 1
        return frame


def _figure_widget_class() -> type:
    import plotly.graph_objects as go

    return go.FigureWidget


class LiveScalars(_figure_widget_class()):  # type: ignore[misc]
    """A plotly FigureWidget that follows a task's scalars while it runs; one panel per metric.

    Args:
        task_or_id: a `Task` of this process (listened to directly) or a task id (polled from
            the server, e.g. a run on a remote agent).
        metrics: metric titles to show (default: all but system series like `:monitor:`).
        max_points: points drawn per series at most (downsampled, min/max kept).
        refresh_hz: redraws per second at most.
    """

    def __init__(self, task_or_id: Any, metrics: Iterable[str] | None = None, max_points: int = 2000,
                 refresh_hz: float = 4.0, **figure_kwargs: Any):
        super().__init__(**figure_kwargs)
        self._lt_model = LiveChartModel(metrics, max_points, refresh_hz)
        self._lt_stop = threading.Event()
        self._lt_traces: dict[tuple[str, str], int] = {}
        self._lt_panels: list[str] = []
        self._lt_listener: Callable[[str, str, int, float], None] | None = None
        self._lt_colors: dict[str, str] = {}
        self._lt_task, self._lt_task_id = _resolve_task(task_or_id)
        name = getattr(self._lt_task, "name", "") if self._lt_task is not None else ""
        self._lt_label = f"{name} ({self._lt_task_id[:8]})" if name else self._lt_task_id[:8]
        self.update_layout(
            height=320, margin={"l": 60, "r": 20, "t": 70, "b": 40}, hovermode="x unified",
            title={"text": f"labtrack · {self._lt_label} · waiting for scalars…", "font": {"size": 13}},
            # Above the panels, so the plots get the whole width.
            legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        )
        if self._lt_task is not None:
            self._lt_listener = self._lt_model.add
            self._lt_task.get_logger().add_scalar_listener(self._lt_listener)
            target = self._redraw_loop
        else:
            target = self._poll_loop
        self._lt_thread = threading.Thread(target=target, name=f"labtrack-live-{self._lt_task_id[:8]}", daemon=True)
        self._lt_thread.start()

    # -- public --------------------------------------------------------------------------------

    @property
    def task_id(self) -> str:
        return self._lt_task_id

    @property
    def model(self) -> LiveChartModel:
        return self._lt_model

    def stop(self, timeout: float = 5.0) -> None:
        """Stop following the task (the chart keeps what it shows)."""
        self._lt_stop.set()
        if self._lt_task is not None and self._lt_listener is not None:
            self._lt_task.get_logger().remove_scalar_listener(self._lt_listener)
            self._lt_listener = None
        thread = getattr(self, "_lt_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def close(self) -> None:
        """Stop following and close the widget."""
        self.stop()
        super().close()

    # -- drawing -------------------------------------------------------------------------------

    def _draw(self, frame: Frame, status: str = "") -> None:
        import plotly.graph_objects as go
        from plotly.colors import qualitative

        # Frame order is first-report order: the panel of the first metric reported comes first.
        new_keys = [key for key in frame.series if key not in self._lt_traces]
        if new_keys:
            for metric, _ in new_keys:
                if metric not in self._lt_panels:
                    self._lt_panels.append(metric)
            self._layout_panels()
            for key in new_keys:
                panel = self._lt_panels.index(key[0]) + 1
                suffix = "" if panel == 1 else str(panel)
                # One color per variant in every panel: "train" looks the same in loss and accuracy.
                # The legend lists each variant once and toggles it in every panel.
                palette = qualitative.Plotly
                first_of_variant = key[1] not in self._lt_colors
                color = self._lt_colors.setdefault(key[1], palette[len(self._lt_colors) % len(palette)])
                self.add_trace(go.Scatter(
                    x=[], y=[], mode="lines", name=key[1], legendgroup=key[1], showlegend=first_of_variant,
                    line={"color": color, "width": 1.5}, meta=f"{key[0]}/{key[1]}",
                    hovertemplate=f"{key[0]} {key[1]}: %{{y:.4g}}<extra></extra>",
                    xaxis=f"x{suffix}", yaxis=f"y{suffix}",
                ))
                self._lt_traces[key] = len(self.data) - 1
        points = sum(len(xs) for xs, _ in frame.series.values())
        with self.batch_update():
            for key, (xs, ys) in frame.series.items():
                trace = self.data[self._lt_traces[key]]
                trace.x = xs
                trace.y = ys
            title = f"labtrack · {self._lt_label} · {points} points shown"
            self.layout.title.text = f"{title} · {status}" if status else title

    def _layout_panels(self) -> None:
        """One stacked panel (x/y axis pair) per metric, sharing the iteration axis."""
        n = len(self._lt_panels)
        gap = 0.08 if n > 1 else 0.0
        height = (1.0 - gap * (n - 1)) / n
        axes: dict[str, Any] = {}
        for i, metric in enumerate(self._lt_panels):
            suffix = "" if i == 0 else str(i + 1)
            top = 1.0 - i * (height + gap)
            axes[f"yaxis{suffix}"] = {"domain": [max(0.0, top - height), top], "title": {"text": metric},
                                      "anchor": f"x{suffix}"}
            axes[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "matches": "x" if i else None,
                                      "title": {"text": "iteration" if i == n - 1 else ""}}
        self.update_layout(height=110 + 230 * n, **axes)

    def _safe_draw(self, frame: Frame | None, status: str = "") -> None:
        if frame is None and not status:
            return
        try:
            self._draw(frame or Frame(), status)
        except Exception:  # noqa: BLE001 - a closed or broken widget must never break training
            self._lt_stop.set()

    # -- the two ways of following -------------------------------------------------------------

    def _redraw_loop(self) -> None:
        """This process's task: draw buffered points at most refresh_hz times a second."""
        task = self._lt_task
        interval = self._lt_model.min_interval
        while not self._lt_stop.wait(interval):
            self._safe_draw(self._lt_model.take_frame(time.monotonic()))
            if getattr(task, "_closed", False):
                break
        self._safe_draw(self._lt_model.take_frame(time.monotonic(), force=True))
        if task is not None and self._lt_listener is not None:
            task.get_logger().remove_scalar_listener(self._lt_listener)
            self._lt_listener = None

    def _poll_loop(self) -> None:
        """Another task: poll the server's metrics and downsampled scalars until it finishes."""
        from labtrack.sdk.client import ApiClient
        from labtrack.sdk.errors import LabtrackError

        interval = max(self._lt_model.min_interval, 1.0)
        failures = 0
        counts: dict[tuple[str, str], int] = {}
        client = None
        while not self._lt_stop.is_set():
            try:
                client = client or ApiClient.from_environment()
                record = client.get(f"/tasks/{self._lt_task_id}")
                status = record["status"]
                self._lt_label = f"{record.get('name') or 'task'} ({self._lt_task_id[:8]})"
                changed = self._fetch_changed(client, counts)
                failures = 0
                finished = status in FINAL_STATUSES
                frame = self._lt_model.take_frame(time.monotonic(), force=True) if changed else None
                self._safe_draw(frame, status if finished else "")
                if finished:
                    return
                wait = interval
            except LabtrackError as exc:
                failures += 1
                if failures >= 8:
                    self._safe_draw(None, f"stopped following: {exc}")
                    return
                wait = min(30.0, interval * 2 ** failures)
                self._safe_draw(None, f"server problem, retrying in {wait:.0f}s: {exc}")
            self._lt_stop.wait(wait)

    def _fetch_changed(self, client: Any, counts: dict[tuple[str, str], int]) -> bool:
        """Fetch the series whose point count changed; True when any did."""
        metrics = client.get(f"/tasks/{self._lt_task_id}/metrics")["items"]
        stale = sorted({m["metric"] for m in metrics
                        if self._lt_model.wants(m["metric"]) and counts.get((m["metric"], m["variant"])) != m["count"]})
        buckets = max(1, self._lt_model.max_points // 2)
        for metric in stale:
            reply = client.get("/scalars", params={"task_ids": self._lt_task_id, "metric": metric, "buckets": buckets})
            for item in reply["items"]:
                xs, ys = bucket_points(item["iterations"], item["values"], item.get("min", item["values"]),
                                       item.get("max", item["values"]))
                self._lt_model.set_series(item["metric"], item["variant"], xs, ys)
        for m in metrics:
            counts[(m["metric"], m["variant"])] = m["count"]
        return bool(stale)


def _resolve_task(task_or_id: Any) -> tuple[Any, str]:
    """(the Task to listen to or None, the task id) for a Task or a task id string."""
    if isinstance(task_or_id, str):
        from labtrack.sdk.current import current_task

        current = current_task()
        if current is not None and current.id == task_or_id and not getattr(current, "_closed", False):
            return current, task_or_id
        return None, task_or_id
    task_id = getattr(task_or_id, "id", None)
    if not isinstance(task_id, str) or not hasattr(task_or_id, "get_logger"):
        raise TypeError(f"LiveScalars needs a labtrack Task or a task id string, not {type(task_or_id).__name__}")
    if getattr(task_or_id, "_closed", False):
        return None, task_id  # finished here already: show what the server has
    return task_or_id, task_id
