"""`Logger`: reporting calls that only append to memory; the sender pulls and ships the data."""

from __future__ import annotations

import collections
import io
from array import array
import json
import math
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from labtrack.sdk import current
from labtrack.sdk.encoding import clean_name, clean_text
from labtrack.sdk.errors import LabtrackError
from labtrack.sdk.notices import warn

ScalarListener = Callable[[str, str, int, float], None]
_time = time.time
_NONFINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
MAX_ITERATION = 2**62  # the server's bound; points outside it are dropped with a warning


class ReportTarget(Protocol):
    """What the logger needs of its task: where files are staged, and the ordered operation queue."""

    @property
    def offline(self) -> bool: ...

    def _stage_path(self, filename: str) -> Path: ...

    def _op_file_ref(self, path: Path) -> str: ...

    def _enqueue(self, op: dict[str, Any]) -> None: ...

    def flush(self, wait: bool = True, timeout: float = 60.0) -> bool: ...


def _json_value(value: Any) -> Any:
    """A scalar as JSON: finite floats stay numbers, NaN/±inf become the API's strings."""
    v = float(value)
    if v != v:
        return "NaN"
    if v in _NONFINITE:
        return _NONFINITE[v]
    return v


class Logger:
    """Reports scalars, text, plots, tables and images for one task.

    `report_scalar` appends a tuple to a per-series list and returns (well under 2 µs): no
    lock, no I/O, no exception for transport problems. The sender thread takes what was
    appended once per interval (`drain`), so nothing is shared beyond CPython's atomic list
    operations. Names are checked once, when a series is first seen (the series dict is the
    cache of names already checked): one that UTF-8 or the server cannot take is repaired there,
    with one warning.
    """

    def __init__(self, task: ReportTarget):
        self._task = task
        self._series: dict[tuple[Any, Any], list] = {}  # keyed by the names as the caller passed them
        self._names: dict[tuple[Any, Any], tuple[str, str]] = {}  # the same keys -> names as sent
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self._console: collections.deque[tuple[str, str, float]] = collections.deque()
        self._partial: dict[str, tuple[str, float]] = {}
        self._listeners: list[ScalarListener] = []
        self._bad_points = 0
        self._lock = threading.Lock()  # only for creating a series, never on the hot path
        self._drain_lock = threading.Lock()  # between drainers (sender, close); reporters never take it

    @classmethod
    def current_logger(cls) -> "Logger":
        """The logger of the current task (raises if there is none)."""
        task = current.current_task()
        if task is None:
            raise LabtrackError("No current task: call labtrack.Task.init(...) first.")
        logger: Logger = task.get_logger()
        return logger

    # -- scalars -------------------------------------------------------------------------------

    def report_scalar(self, title: str, series: str, value: float, iteration: int) -> None:
        """Record one point of the scalar series `title`/`series` at `iteration`."""
        try:
            self._series[(title, series)].append((iteration, value, _time()))
        except KeyError:
            self._new_series(title, series).append((iteration, value, _time()))
        if self._listeners:
            self._notify(title, series, iteration, value)

    def _new_series(self, title: Any, series: Any) -> list:
        """The first point of a series: check its names once, then it takes the fast path."""
        names = (clean_name(title, "metric name"), clean_name(series, "variant name", required=False))
        key = (title, series)
        with self._lock:
            self._names.setdefault(key, names)
            return self._series.setdefault(key, [])

    def add_scalar_listener(self, fn: ScalarListener) -> None:
        """Call `fn(title, series, iteration, value)` on the reporting thread for every scalar."""
        if fn not in self._listeners:
            self._listeners = [*self._listeners, fn]

    def remove_scalar_listener(self, fn: ScalarListener) -> None:
        """Stop calling `fn`; unknown listeners are ignored."""
        self._listeners = [f for f in self._listeners if f != fn]  # == so bound methods match

    def _notify(self, title: str, series: str, iteration: int, value: float) -> None:
        for fn in self._listeners:
            try:
                fn(title, series, iteration, value)
            except Exception:  # a broken chart must never break training
                pass

    # -- other kinds ---------------------------------------------------------------------------

    def report_text(self, msg: str, print_console: bool = False) -> None:
        """Add a line of text to the task's console."""
        text = clean_text(str(msg), "text")
        if print_console:
            print(text)
        self._console.append(("stdout", text if text.endswith("\n") else text + "\n", _time()))

    def write_console(self, stream: str, text: str) -> None:
        """Append captured console output (called by the stdout/stderr tee)."""
        self._console.append((stream, text, _time()))

    def report_plotly(self, title: str, series: str, figure: Any, iteration: int = 0) -> None:
        """Report a plotly figure (a `plotly.graph_objects.Figure` or its dict form)."""
        self._events.append({
            "type": "plot", **_names(title, series), "iteration": int(iteration),
            "figure": _figure_json(figure), "time": _time(),
        })

    def report_matplotlib_figure(self, title: str, series: str, figure: Any, iteration: int = 0,
                                 report_image: bool = True) -> None:
        """Report a matplotlib figure (rendered to a PNG image event)."""
        buf = io.BytesIO()
        figure.savefig(buf, format="png", bbox_inches="tight")
        self._report_image_bytes(title, series, iteration, buf.getvalue(), "figure.png")

    def report_table(self, title: str, series: str, iteration: int = 0, table: Any = None,
                     table_plot: Any = None, columns: list[str] | None = None, csv: str | None = None) -> None:
        """Report a table: a pandas DataFrame, rows (list of lists, header first unless `columns`),
        a list of dicts, or a CSV file path."""
        data = table if table is not None else table_plot
        if data is None and csv is not None:
            import csv as csvmod

            with open(csv, newline="") as fh:
                data = list(csvmod.reader(fh))
        cols, rows = _table_rows(data, columns)
        self._events.append({
            "type": "table", **_names(title, series), "iteration": int(iteration),
            "columns": cols, "rows": rows, "time": _time(),
        })

    def report_image(self, title: str, series: str, iteration: int = 0, local_path: str | None = None,
                     image: Any = None, matrix: Any = None, url: str | None = None) -> None:
        """Report an image: a PIL image, a numpy array, a file path, or an external URL."""
        if url is not None:
            self._events.append({"type": "image", **_names(title, series),
                                 "iteration": int(iteration), "uri": url, "time": _time()})
            return
        source = image if image is not None else (matrix if matrix is not None else local_path)
        if source is None:
            raise ValueError("report_image needs image=, matrix=, local_path= or url=")
        if isinstance(source, (str, Path)):
            path = Path(source)
            self._report_image_file(title, series, iteration, path)
            return
        self._report_image_bytes(title, series, iteration, _image_png(source), "image.png")

    def _report_image_bytes(self, title: str, series: str, iteration: int, data: bytes, filename: str) -> None:
        staged = self._task._stage_path(filename)
        staged.write_bytes(data)
        self._enqueue_image(title, series, iteration, staged, filename)

    def _report_image_file(self, title: str, series: str, iteration: int, path: Path) -> None:
        name = clean_text(path.name, "image file name")  # a name decoded with surrogateescape
        staged = self._task._stage_path(name)
        shutil.copyfile(path, staged)
        self._enqueue_image(title, series, iteration, staged, name)

    def _enqueue_image(self, title: str, series: str, iteration: int, staged: Path, filename: str) -> None:
        self._task._enqueue({
            "op": "image", "file": self._task._op_file_ref(staged), "filename": filename,
            "batch_id": f"img-{uuid.uuid4().hex}", "delete_after": not self._task.offline,
            "event": {"type": "image", **_names(title, series), "iteration": int(iteration), "time": _time()},
        })

    def flush(self, wait: bool = True) -> bool:
        """Send what was reported so far (see `Task.flush`)."""
        return self._task.flush(wait=wait)

    # -- the sender's side ---------------------------------------------------------------------

    def drain(self, final: bool = False) -> list[dict[str, Any]]:
        """Take everything reported since the last call, as API events (sender side only)."""
        with self._drain_lock:
            return self._drain(final)

    def _drain(self, final: bool) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for (title, series), buf in list(self._series.items()):
            n = len(buf)
            if not n:
                continue
            # Appends only ever go to the end, so the first n items are stable while we copy and
            # delete them; no lock is needed on the reporting thread.
            chunk = buf[:n]
            del buf[:n]
            metric, variant = self._names.get((title, series), (title, series))
            event = self._scalars_event(metric, variant, chunk)
            if event is not None:
                events.append(event)
        while self._events:
            events.append(self._events.popleft())
        events.extend(self._drain_console(final))
        return events

    def buffered_points(self) -> int:
        """Scalar points waiting for the sender (cheap: one len() per series)."""
        return sum(len(buf) for buf in list(self._series.values()))

    def _scalars_event(self, title: str, series: str, chunk: list) -> dict[str, Any] | None:
        try:
            # Fast path in C: array() converts plain ints/floats (numpy scalars too) or raises.
            iterations = array("q", [p[0] for p in chunk]).tolist()
            floats = array("d", [p[1] for p in chunk])
            total = sum(floats)
            if total != total or total in _NONFINITE:  # a NaN/inf somewhere (or overflow): go slow
                raise ValueError
            if min(iterations) < 0 or max(iterations) > MAX_ITERATION:
                raise ValueError  # the server would refuse the whole batch: drop just these points
            values: list[Any] = floats.tolist()
        except (TypeError, ValueError, OverflowError):
            iterations, values = self._convert_slowly(title, series, chunk)
            if not iterations:
                return None
            chunk = [p for p in chunk if p is not None] if len(chunk) != len(iterations) else chunk
        return {"type": "scalars", "metric": title, "variant": series, "iterations": iterations,
                "values": values, "times": [p[2] for p in chunk]}

    def _convert_slowly(self, title: str, series: str, chunk: list) -> tuple[list[int], list[Any]]:
        """Point by point: non-finite values become strings, unusable points are dropped (chunk
        entries of dropped points are set to None so the caller can skip their times)."""
        iterations: list[int] = []
        values: list[Any] = []
        for idx, p in enumerate(chunk):
            try:
                it, val = int(p[0]), _json_value(p[1])
                if not 0 <= it <= MAX_ITERATION:
                    raise ValueError(it)
            except (TypeError, ValueError, OverflowError):
                self._bad_points += 1
                chunk[idx] = None
                continue
            iterations.append(it)
            values.append(val)
        if self._bad_points:
            warn(f"labtrack: dropped {self._bad_points} scalar point(s) of {title}/{series} whose "
                 f"value is not a number or whose iteration is not an integer from 0 to {MAX_ITERATION}")
            self._bad_points = 0
        return iterations, values

    def _drain_console(self, final: bool) -> list[dict[str, Any]]:
        """Coalesce console writes into whole lines per stream; hold a partial line one interval."""
        pieces: dict[str, list[str]] = {}
        first_time: dict[str, float] = {}
        # A partial line held back last time has waited a full interval: it goes out now,
        # whatever follows it (progress bars that only write "\r" never end a line).
        was_held = set(self._partial)
        for stream, (text, ts) in self._partial.items():
            pieces[stream] = [text]
            first_time[stream] = ts
        self._partial.clear()
        while self._console:
            stream, text, ts = self._console.popleft()
            if stream not in pieces:
                pieces[stream] = []
                first_time[stream] = ts
            pieces[stream].append(text)
        events = []
        for stream, parts in pieces.items():
            text = clean_text("".join(parts), f"{stream} output")  # e.g. a printed surrogateescape'd name
            if not text:
                continue
            if not final and stream not in was_held and not text.endswith("\n"):
                cut = text.rfind("\n")
                self._partial[stream] = (text[cut + 1:], _time())
                text = text[:cut + 1]
            for start in range(0, len(text), 64_000):  # keep one event reasonably small
                if text[start:start + 64_000]:
                    events.append({"type": "console", "stream": stream, "text": text[start:start + 64_000],
                                   "time": first_time[stream]})
        return events


def _names(title: Any, series: Any) -> dict[str, str]:
    return {"metric": clean_name(title, "metric name"), "variant": clean_name(series, "variant name", required=False)}


def _figure_json(figure: Any) -> dict[str, Any]:
    if hasattr(figure, "to_json"):
        return json.loads(figure.to_json())
    if isinstance(figure, dict):
        return json.loads(json.dumps(figure, default=_json_default))
    raise TypeError("report_plotly needs a plotly figure or a dict with 'data' and 'layout'")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def _table_rows(data: Any, columns: list[str] | None) -> tuple[list[str], list[list[Any]]]:
    if data is None:
        raise ValueError("report_table needs table= (a DataFrame or rows) or csv=")
    if hasattr(data, "to_json") and hasattr(data, "columns"):
        split = json.loads(data.to_json(orient="split", date_format="iso", default_handler=str))
        cols = [str(c) for c in split["columns"]]
        rows = split["data"]
        if not _is_range_index(data):
            cols = [str(data.index.name or "")] + cols
            rows = [[idx, *row] for idx, row in zip(split["index"], rows)]
        return cols, rows
    rows_in = list(data)
    if rows_in and isinstance(rows_in[0], dict):
        cols = columns or list(dict.fromkeys(k for row in rows_in for k in row))
        return [str(c) for c in cols], [_jsonable_row([row.get(c) for c in cols]) for row in rows_in]
    if columns is None:
        if not rows_in:
            return [], []
        cols, rows_in = [str(c) for c in rows_in[0]], rows_in[1:]
    else:
        cols = [str(c) for c in columns]
    return cols, [_jsonable_row(list(r)) for r in rows_in]


def _is_range_index(df: Any) -> bool:
    try:
        import pandas as pd

        return isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1
    except ImportError:  # pragma: no cover
        return True


def _jsonable_row(row: list[Any]) -> list[Any]:
    return json.loads(json.dumps(row, default=_json_default))


def _image_png(image: Any) -> bytes:
    """Encode a PIL image or a numpy array (HxW, HxWx3, HxWx4; float in [0,1] or uint8) as PNG."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        import numpy as np

        arr = np.asarray(image)
        if arr.dtype.kind == "f":
            arr = (np.clip(arr, 0.0, 1.0) * 255).round().astype("uint8")
        elif arr.dtype != np.uint8:
            arr = np.clip(arr, 0, 255).astype("uint8")
        image = Image.fromarray(arr)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def iter_series(events: Iterable[dict[str, Any]]) -> Iterable[tuple[str, str, int]]:
    """(metric, variant, points) of each scalars event; used in messages and tests."""
    for event in events:
        if event.get("type") == "scalars":
            yield event["metric"], event["variant"], len(event["iterations"])
