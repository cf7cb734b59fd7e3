"""Live charts in a notebook: `LiveScalars`, a plotly FigureWidget that follows a task's scalars.

For the task running in this process it listens to `Logger.report_scalar` and redraws at most
`refresh_hz` times a second from a bounded buffer that keeps each bucket's min and max (so a
spike survives downsampling and a million-point loop never floods the browser). Pointed at
another task (say one an agent runs remotely) it polls the server's downsampled scalars in a
background thread until that task finishes or the widget is closed.

Its display bundle holds, beside the widget view, a static copy of the figure (plotly JSON) and
a marker for labtrack's lab extension, so a saved notebook reopened without the widget's kernel
shows the chart as a plain plot instead of "Error displaying widget: model not found".
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

__all__ = ["LiveScalars", "SeriesBuffer", "LiveChartModel", "FINAL_STATUSES", "LIVE_CHART_MIME", "PLOTLY_MIME"]

FINAL_STATUSES = frozenset({"completed", "failed", "stopped", "published"})
# The display bundle's static parts: labtrack's lab extension draws the plotly figure when the
# widget's model is gone (a reopened notebook) and keeps it current when the notebook is saved.
LIVE_CHART_MIME = "application/vnd.labtrack.live-chart+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
# How often the whole figure is sent as the widget's state between structural changes.
STATE_SYNC_SECONDS = 2.0
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
        client: the `ApiClient` a polled task is read through (default: from the environment).
    """

    def __init__(self, task_or_id: Any, metrics: Iterable[str] | None = None, max_points: int = 2000,
                 refresh_hz: float = 4.0, client: Any = None, **figure_kwargs: Any):
        super().__init__(**figure_kwargs)
        self._lt_client = client  # for a polled task: the ApiClient to use (default: the environment's)
        self._lt_model = LiveChartModel(metrics, max_points, refresh_hz)
        self._lt_stop = threading.Event()
        self._lt_traces: dict[tuple[str, str], int] = {}
        self._lt_panels: list[str] = []
        self._lt_listener: Callable[[str, str, int, float], None] | None = None
        self._lt_colors: dict[str, str] = {}
        self._lt_axes = {"xaxis", "yaxis"}  # the axes the layout has (the first pair always)
        self._lt_points = 0
        # Drawing (redraw thread) and copying the figure for a display bundle never interleave.
        self._lt_draw_lock = threading.RLock()
        self._lt_displayed = False
        self._lt_synced_at = 0.0
        self._lt_state_stale = False
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

    # -- display -------------------------------------------------------------------------------

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        """The widget view plus a static copy of the figure as it is now (see the module doc)."""
        bundle = super()._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        bundle.update(self._lt_static_bundle())
        return bundle

    def _ipython_display_(self) -> None:
        """Display under a display id, so the static copy can be brought up to date at the end."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True, display_id=self._lt_display_id)
        self._lt_displayed = True

    @property
    def _lt_display_id(self) -> str:
        return f"labtrack-live-{self.model_id}"

    def _lt_static_bundle(self) -> dict[str, Any]:
        import plotly.io as pio

        with self._lt_draw_lock:
            figure = json.loads(pio.to_json(self, validate=False))  # plain JSON, as a notebook stores it
            points = self._lt_points
        figure["config"] = {"displaylogo": False, "responsive": True}
        return {
            LIVE_CHART_MIME: {"version": 1, "model_id": self.model_id, "task_id": self._lt_task_id},
            PLOTLY_MIME: figure,
            "text/plain": f"labtrack live chart · {self._lt_label} · {points} points",
        }

    def _lt_publish_final(self) -> None:
        """Bring every display of the chart up to date with the final static copy (a notebook run
        without a browser, say by an agent, then keeps the finished chart)."""
        if not self._lt_displayed:
            return
        try:
            from IPython.display import update_display

            update_display(self._repr_mimebundle_(), raw=True, display_id=self._lt_display_id)
        except Exception:  # noqa: BLE001 - a closed kernel connection must never break training
            pass

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
        if frame.series:  # a frame holds every series; an empty one only changes the status
            self._lt_points = sum(len(xs) for xs, _ in frame.series.values())
        points = self._lt_points
        with self.batch_update():
            for key, (xs, ys) in frame.series.items():
                trace = self.data[self._lt_traces[key]]
                trace.x = xs
                trace.y = ys
            title = f"labtrack · {self._lt_label} · {points} points shown"
            self.layout.title.text = f"{title} · {status}" if status else title
        self._lt_sync_state(force=bool(new_keys) or bool(status))

    def _lt_sync_state(self, force: bool) -> None:
        """Send the whole figure as the widget's state: on a new trace or panel, else every few
        seconds.

        A browser draws a FigureWidget's view from this state and then follows the edit messages,
        but the edits that arrive while it still loads plotly's widget code (seconds, the first
        time on a page) are lost: without a recent state such a view would stay empty. A page
        reloaded while the kernel runs draws from this state too.
        """
        from copy import deepcopy

        self._lt_state_stale = True
        now = time.monotonic()
        if not force and now - self._lt_synced_at < STATE_SYNC_SECONDS:
            return
        self._lt_synced_at = now
        self._lt_state_stale = False
        self._widget_data = deepcopy(self._data)
        self._widget_layout = deepcopy(self._layout_obj._props)

    def _lt_sync_if_stale(self) -> None:
        """The last frames' state, once the chart has been quiet for a while (the loop ended)."""
        if self._lt_state_stale and time.monotonic() - self._lt_synced_at >= STATE_SYNC_SECONDS:
            try:
                with self._lt_draw_lock:
                    self._lt_sync_state(force=True)
            except Exception:  # noqa: BLE001 - a closed widget must never break training
                self._lt_stop.set()

    def _layout_panels(self) -> None:
        """One stacked panel (x/y axis pair) per metric, sharing the iteration axis.

        A new axis is assigned whole and an existing one is changed attribute by attribute, in
        one batch. (plotly's `update_layout` on a shown FigureWidget sends a new axis both ways,
        `yaxis2` and `yaxis2.domain`, and plotly.js then refuses the whole edit: "cannot set
        yaxis2.domain and a parent attribute simultaneously".)
        """
        n = len(self._lt_panels)
        gap = 0.08 if n > 1 else 0.0
        height = (1.0 - gap * (n - 1)) / n
        with self.batch_update():
            self.layout.height = 110 + 230 * n
            for i, metric in enumerate(self._lt_panels):
                suffix = "" if i == 0 else str(i + 1)
                top = 1.0 - i * (height + gap)
                y_axis = {"domain": [max(0.0, top - height), top], "title": {"text": metric}, "anchor": f"x{suffix}"}
                x_axis: dict[str, Any] = {"anchor": f"y{suffix}", "title": {"text": "iteration" if i == n - 1 else ""}}
                if i:
                    x_axis["matches"] = "x"
                for name, props in ((f"yaxis{suffix}", y_axis), (f"xaxis{suffix}", x_axis)):
                    if name in self._lt_axes:
                        self.layout[name].update(props)
                    else:
                        self.layout[name] = props
                        self._lt_axes.add(name)

    def _safe_draw(self, frame: Frame | None, status: str = "") -> None:
        if frame is None and not status:
            return
        try:
            with self._lt_draw_lock:
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
            self._lt_sync_if_stale()
            if getattr(task, "_closed", False):
                break
        self._safe_draw(self._lt_model.take_frame(time.monotonic(), force=True))
        if task is not None and self._lt_listener is not None:
            task.get_logger().remove_scalar_listener(self._lt_listener)
            self._lt_listener = None
        self._lt_publish_final()

    def _poll_loop(self) -> None:
        """Another task: poll the server's metrics and downsampled scalars until it finishes."""
        from labtrack.sdk.client import ApiClient
        from labtrack.sdk.errors import LabtrackError

        interval = max(self._lt_model.min_interval, 1.0)
        failures = 0
        counts: dict[tuple[str, str], int] = {}
        client = self._lt_client
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
                    self._lt_publish_final()
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
