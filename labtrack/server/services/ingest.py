"""Parsing and validating event batches: JSON object/array or NDJSON → columnar series + event rows.

Parsing is the hot path of ingest, so the columnar `scalars` event is checked with whole-list
operations (type sets, min/max) instead of per-point Python objects.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from labtrack.server.errors import BadRequest, Invalid, TooLarge
from labtrack.server.util import MAX_STORED_DEPTH, cut_text, dumps, lone_surrogate_path, surrogate_error

MAX_ITERATION = 2**62
MAX_NAME = 500
STREAMS = ("stdout", "stderr")
# The deepest JSON the ingest path stores (a figure or table); deeper bodies are refused.
MAX_DEPTH = MAX_STORED_DEPTH
MAX_CONSOLE_BYTES = 1024**2  # the default cap on one console event's text (settings.max_console_bytes)
_NUMBER_TYPES = {int, float}


def loads_lenient(data: bytes | str, loc: tuple[Any, ...] = ("body",)) -> Any:
    """Parse JSON; the non-standard NaN/Infinity literals are accepted (our NaN policy).

    Raises:
        BadRequest: not JSON, or nested too deeply to parse.
        Invalid: text holding a lone UTF-16 surrogate (`loc` prefixes where it was found).
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    # orjson rejects NaN/Infinity, which the stdlib accepts; only the rare batch pays for this.
    # orjson also rejects what the stdlib would let through and we must not: lone surrogates
    # (`"\\udce9"` decodes to a str no database can encode) and runaway nesting.
    try:
        value = json.loads(data)
    except RecursionError:
        raise BadRequest(
            "The body nests arrays or objects too deeply to parse: events are flat objects, so send "
            "a batch that nests at most a few hundred levels.", {"max_depth": MAX_DEPTH},
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}. Send a JSON object, array or NDJSON.") from None
    path = lone_surrogate_path(value)
    if path is not None:
        raise surrogate_error([*loc, *path])
    return value


@dataclass
class Series:
    """Points of one metric/variant in a batch, as parallel lists."""

    iterations: list[int] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


@dataclass
class ParsedBatch:
    """A validated batch ready to store."""

    batch_id: str | None
    series: dict[tuple[str, str], Series]
    events: list[dict[str, Any]]
    count: int
    points: int


def parse_body(body: bytes, content_type: str, idempotency_key: str | None) -> tuple[str | None, list[Any]]:
    """Split a request body into (batch id, raw event list)."""
    if not body.strip():
        raise BadRequest("The body is empty: send {\"batch_id\": \"…\", \"events\": [...]}, a JSON array or NDJSON.")
    if "ndjson" in content_type or "jsonlines" in content_type:
        raw: list[Any] = []
        for number, line in enumerate(body.splitlines(), start=1):
            if line.strip():
                try:
                    raw.append(loads_lenient(line, ("body", "events", len(raw))))
                except BadRequest as exc:
                    raise BadRequest(f"NDJSON line {number}: {exc.message}", {"line": number}) from None
        return _check_batch_id(idempotency_key), raw
    data = loads_lenient(body)
    if isinstance(data, list):
        return _check_batch_id(idempotency_key), data
    if isinstance(data, dict):
        unknown = set(data) - {"batch_id", "events"}
        if unknown:
            raise Invalid(
                f"Unknown field(s) {sorted(unknown)} in the batch: it takes only 'batch_id' and 'events'.",
                [{"loc": ["body", k], "msg": "extra fields not permitted"} for k in sorted(unknown)],
            )
        events = data.get("events")
        if not isinstance(events, list):
            raise Invalid("'events' must be a list of events.", [{"loc": ["body", "events"], "msg": "not a list"}])
        batch_id = data.get("batch_id", idempotency_key)
        return _check_batch_id(batch_id), events
    raise Invalid("The batch must be a JSON object, a JSON array or NDJSON.", [{"loc": ["body"], "msg": "wrong type"}])


def _check_batch_id(batch_id: Any) -> str | None:
    if batch_id is None:
        return None
    if not isinstance(batch_id, str) or not 1 <= len(batch_id) <= 200:
        raise Invalid("batch_id must be a string of 1-200 characters.", [{"loc": ["body", "batch_id"], "msg": "bad batch id"}])
    return batch_id


def _brief(value: Any) -> str:
    """A client's value quoted in a message, cut short (it may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail(index: int, name: str, message: str) -> Invalid:
    return Invalid(f"Event {index}: {message}", [{"loc": ["body", "events", index, name], "msg": message}])


def _name(ev: dict[str, Any], index: int, key: str, default: str | None = None) -> str:
    value = ev.get(key, default)
    if not isinstance(value, str) or (key == "metric" and not value) or len(value) > MAX_NAME or "\x00" in value:
        raise _fail(index, key, f"'{key}' must be a string of {'1' if key == 'metric' else '0'}-{MAX_NAME} characters "
                    "without NUL (U+0000, which PostgreSQL can't store).")
    return value


def _whole(value: Any) -> Any:
    """1.0 → 1: JSON has one number type, and JSON Schema's integer is any number without a fraction."""
    return int(value) if type(value) is float and value.is_integer() else value


def _iteration(ev: dict[str, Any], index: int, required: bool = True) -> int | None:
    value = _whole(ev.get("iteration"))
    if value is None and not required:
        return None
    if type(value) is not int or not 0 <= value <= MAX_ITERATION:
        raise _fail(index, "iteration", f"'iteration' must be an integer from 0 to {MAX_ITERATION}.")
    return value


def _finite_sum(numbers: list) -> bool:
    """Whether every number in the list is finite (a NaN or ±inf makes the sum non-finite)."""
    try:
        return math.isfinite(sum(numbers))
    except OverflowError:  # an integer too large for a float
        return False


def _time(ev: dict[str, Any], index: int, default: float) -> float:
    value = ev.get("time")
    if value is None:
        return default
    if type(value) not in _NUMBER_TYPES or not _finite_sum([value]):
        raise _fail(index, "time", "'time' must be Unix seconds (a finite number).")
    return float(value)


def _value(value: Any, index: int) -> float | None:
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            raise _fail(index, "value", f"value {value} is too large for a 64-bit float.") from None
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in ("nan", "infinity", "+infinity", "-infinity", "inf", "-inf", "+inf"):
        return None
    raise _fail(index, "value", f"value {value!r} is not a number (NaN/Infinity are accepted and stored as gaps).")


def _values(values: Any, index: int) -> list[float | None]:
    if not isinstance(values, list):
        raise _fail(index, "values", "'values' must be a list of numbers.")
    types = set(map(type, values))
    if types <= {float}:
        if _finite_sum(values):
            return values
        # v - v is 0 exactly for finite numbers and NaN for NaN/±inf.
        return [v if v - v == 0 else None for v in values]
    return [_value(v, index) for v in values]


_FIELDS = {
    "scalar": {"type", "metric", "variant", "iteration", "value", "time"},
    "scalars": {"type", "metric", "variant", "iterations", "values", "times"},
    "console": {"type", "text", "stream", "time"},
    "plot": {"type", "metric", "variant", "iteration", "figure", "time"},
    "table": {"type", "metric", "variant", "iteration", "columns", "rows", "time"},
    "image": {"type", "metric", "variant", "iteration", "uri", "time"},
}


def validate_events(
    raw: list[Any], *, task_id: str, received: float, max_points: int, max_console_bytes: int = MAX_CONSOLE_BYTES,
) -> tuple[dict[tuple[str, str], Series], list[dict[str, Any]], int]:
    """Check every event and sort it into scalar series and other event rows (console text over
    `max_console_bytes` is cut, with a marker)."""
    series: dict[tuple[str, str], Series] = {}
    rows: list[dict[str, Any]] = []
    points = 0
    for index, ev in enumerate(raw):
        if not isinstance(ev, dict):
            raise _fail(index, "type", "each event must be a JSON object with a 'type'.")
        kind = ev.get("type")
        # Any JSON value may arrive here; only a str can be a dict key (a list or object is unhashable).
        allowed = _FIELDS.get(kind) if isinstance(kind, str) else None
        if allowed is None:
            raise _fail(index, "type", f"unknown event type {_brief(kind)}; use one of {', '.join(_FIELDS)}.")
        extra = set(ev) - allowed
        if extra:
            raise _fail(index, sorted(extra)[0], f"unknown field(s) {sorted(extra)} for a '{kind}' event.")
        if kind == "scalars":
            metric, variant = _name(ev, index, "metric"), _name(ev, index, "variant", "")
            iterations = ev.get("iterations")
            if isinstance(iterations, list) and not set(map(type, iterations)) <= {int}:
                iterations = [_whole(it) for it in iterations]  # the slow path, only for 1.0-style numbers
            if not isinstance(iterations, list) or not set(map(type, iterations)) <= {int}:
                raise _fail(index, "iterations", "'iterations' must be a list of integers.")
            if iterations and (min(iterations) < 0 or max(iterations) > MAX_ITERATION):
                raise _fail(index, "iterations", f"iterations must be from 0 to {MAX_ITERATION}.")
            values = _values(ev.get("values"), index)
            if len(values) != len(iterations):
                raise _fail(index, "values", f"'values' has {len(values)} items but 'iterations' has {len(iterations)}.")
            times = ev.get("times")
            if times is None:
                times = [received] * len(iterations)
            elif not isinstance(times, list) or len(times) != len(iterations) or not set(map(type, times)) <= _NUMBER_TYPES:
                raise _fail(index, "times", "'times' must be a list of Unix seconds as long as 'iterations'.")
            elif not _finite_sum(times):
                raise _fail(index, "times", "'times' must be finite.")
            points += len(iterations)
            if points > max_points:
                break
            target = series.setdefault((metric, variant), Series())
            target.iterations.extend(iterations)
            target.values.extend(values)
            target.times.extend(times)
            continue
        points += 1
        if points > max_points:
            break
        when = _time(ev, index, received)
        if kind == "scalar":
            metric, variant = _name(ev, index, "metric"), _name(ev, index, "variant", "")
            if "value" not in ev:
                raise _fail(index, "value", "a 'scalar' event needs a 'value'.")
            target = series.setdefault((metric, variant), Series())
            target.iterations.append(_iteration(ev, index))  # type: ignore[arg-type]
            target.values.append(_value(ev["value"], index))
            target.times.append(when)
            continue
        row: dict[str, Any] = {"task_id": task_id, "kind": kind, "time": when, "metric": "", "variant": "",
                               "iteration": None, "stream": ""}
        if kind == "console":
            text = ev.get("text")
            stream = ev.get("stream", "stdout")
            if not isinstance(text, str):
                raise _fail(index, "text", "'text' must be a string.")
            if stream not in STREAMS:
                raise _fail(index, "stream", "'stream' must be 'stdout' or 'stderr'.")
            # Captured output, not a name anyone chose: a NUL (which PostgreSQL can't store) is
            # shown as U+FFFD on both databases rather than costing the batch.
            row.update(stream=stream, payload=cut_text(text.replace("\x00", "\ufffd"), max_console_bytes))
        else:
            row.update(metric=_name(ev, index, "metric"), variant=_name(ev, index, "variant", ""),
                       iteration=_iteration(ev, index, required=False))
            if kind == "plot":
                if not isinstance(ev.get("figure"), dict):
                    raise _fail(index, "figure", "'figure' must be a plotly figure JSON object.")
                row["payload"] = dumps(ev["figure"], "figure")
            elif kind == "table":
                columns, table_rows = ev.get("columns"), ev.get("rows")
                if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
                    raise _fail(index, "columns", "'columns' must be a list of strings.")
                if not isinstance(table_rows, list) or not all(isinstance(r, list) for r in table_rows):
                    raise _fail(index, "rows", "'rows' must be a list of lists.")
                row["payload"] = dumps({"columns": columns, "rows": table_rows}, "rows")
            else:
                uri = ev.get("uri")
                if not isinstance(uri, str) or not uri or len(uri) > 2000:
                    raise _fail(index, "uri", "'uri' must be a non-empty string (from POST /tasks/{id}/media or external).")
                row["payload"] = dumps({"uri": uri}, "uri")
        rows.append(row)
    if points > max_points:
        raise TooLarge(
            f"The batch has more than {max_points} points: split it into smaller batches.",
            {"max_points": max_points},
        )
    return series, rows, points
