"""Small helpers shared by the server's layers: ids, clocks, JSON and time conversion."""

from __future__ import annotations

import math
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import orjson

from labtrack.server.errors import Invalid


def new_id() -> str:
    """A fresh 32-hex-character id."""
    return uuid.uuid4().hex


def now() -> float:
    """Wall-clock Unix seconds."""
    return time.time()


def dumps(value: Any, field: str = "body") -> str:
    """Compact JSON text for a stored JSON column (non-finite floats become null).

    Raises:
        Invalid: the value holds something JSON can't carry faithfully (a lone UTF-16 surrogate,
            a number past a double's range, nesting deeper than the encoder allows). An integer
            past 64 bits is stored as the nearest double.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        path = lone_surrogate_path(value)
        if path is not None:
            raise surrogate_error(["body", field, *path]) from None
        if "64-bit" in str(exc):
            # A JSON number is a number: one past 64-bit integers is kept as the nearest double,
            # which is also what orjson (and JavaScript) read back from the stored text.
            try:
                return orjson.dumps(_wide_ints_as_floats(value)).decode()
            except (TypeError, OverflowError) as again:
                exc = again if isinstance(again, TypeError) else TypeError("Integer exceeds the range of a double")
        raise Invalid(
            f"{field} holds a value that can't be stored as JSON ({exc}): numbers must be within a double's range "
            f"and objects may nest at most {MAX_STORED_DEPTH} levels.",
            [{"loc": ["body", field], "msg": str(exc)}],
        ) from None


_INT64 = range(-(2**63), 2**63)


def _wide_ints_as_floats(value: Any) -> Any:
    """A copy of a decoded JSON value with every integer outside int64 as a float (raises
    OverflowError past a double's range). Iterative, so a deep value costs no recursion."""
    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        item = parent[key]
        if isinstance(item, int) and not isinstance(item, bool) and item not in _INT64:
            parent[key] = float(item)
        elif isinstance(item, dict):
            parent[key] = mapping = dict(item)
            stack.extend((mapping, k) for k in mapping)
        elif isinstance(item, list):
            parent[key] = items = list(item)
            stack.extend((items, i) for i in range(len(items)))
    return root[0]


# orjson's encoder refuses deeper nesting, so a stored JSON column can't hold more.
MAX_STORED_DEPTH = 254


def _bad_text(text: str) -> bool:
    """Whether a str can't be encoded as UTF-8: it holds a lone UTF-16 surrogate (as a JSON
    `\\udce9` escape decodes to in Python's json module)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def lone_surrogate_path(value: Any) -> list[Any] | None:
    """The path (keys and indexes) to the first str in a decoded JSON value that UTF-8 can't hold,
    or None when all text is valid. orjson checks the common, clean case in C; only a value it
    refuses is walked in Python (iteratively, so depth costs no recursion)."""
    try:
        orjson.dumps(value)
        return None
    except TypeError:
        pass  # a surrogate, or something else (a huge integer, deep nesting): look
    stack: list[tuple[Any, list[Any]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _bad_text(item):
                return path
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if isinstance(key, str) and _bad_text(key):
                    return [*path, key]
                stack.append((child, [*path, key]))
        elif isinstance(item, list):
            stack.extend((child, [*path, index]) for index, child in reversed(list(enumerate(item))))
    return None


def surrogate_error(loc: list[Any]) -> Invalid:
    """The 422 for text that holds a lone UTF-16 surrogate at `loc`."""
    where = ".".join(str(part).encode("utf-8", "backslashreplace").decode() for part in loc)
    return Invalid(
        f"{where} holds a lone UTF-16 surrogate (such as \\udce9), which is not valid Unicode text: "
        "send UTF-8 text, replacing or dropping characters that can't be encoded.",
        [{"loc": [_printable(part) for part in loc], "msg": "lone surrogate"}],
    )


def _printable(part: Any) -> Any:
    """A location part the JSON error body can carry (a key with a surrogate is escaped)."""
    if isinstance(part, str) and _bad_text(part):
        return part.encode("utf-8", "backslashreplace").decode()
    return part


def cut_text(text: str, max_bytes: int) -> str:
    """`text` when its UTF-8 form fits in `max_bytes`; otherwise its head and tail around a marker
    saying how many bytes were cut (the end of a long output is usually what explains it)."""
    if len(text) * 4 <= max_bytes:  # no str this short can be longer in UTF-8: skip the encode
        return text
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    keep = max(max_bytes - 64, 0) // 2  # the marker fits in the 64 bytes left
    # Cutting bytes may split a character at either edge; "ignore" drops its pieces.
    head = data[:keep].decode("utf-8", "ignore")
    tail = data[len(data) - keep:].decode("utf-8", "ignore") if keep else ""
    cut = len(data) - len(head.encode("utf-8")) - len(tail.encode("utf-8"))
    return f"{head}\n… [cut {cut} bytes] …\n{tail}"


def describe_seconds(seconds: float) -> str:
    """A duration as people write it: 600 → "10 min", 7200 → "2 h", 90 → "90 s", 1.5 → "1.5 s"."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def loads(text: str | None, default: Any = None) -> Any:
    """Decode a stored JSON column."""
    if not text:
        return default
    return orjson.loads(text)


def iso(ts: float | None) -> str | None:
    """Unix seconds → ISO 8601 UTC with microseconds and `Z`."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any, field: str) -> float:
    """A request time (ISO 8601 string or Unix seconds) → Unix seconds; raises ValueError with the field."""
    if isinstance(value, bool):
        raise Invalid(f"{field} must be an ISO 8601 time or Unix seconds.", [{"loc": [field], "msg": "not a time"}])
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise Invalid(f"{field} must be finite.", [{"loc": [field], "msg": "not finite"}])
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(
                f"{field}={value!r} is not a time: use ISO 8601 (2026-11-26T06:30:00Z) or Unix seconds.",
                [{"loc": [field], "msg": "not a time"}],
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    raise Invalid(f"{field} must be an ISO 8601 time or Unix seconds.", [{"loc": [field], "msg": "not a time"}])


def finite_or_none(value: Any) -> float | None:
    """A scalar value under the NaN/inf policy: finite numbers pass, non-finite become None (a gap)."""
    if value is None:
        return None
    if isinstance(value, str):
        # The policy accepts "NaN"/"Infinity"/"-Infinity" strings; any other string is a client bug.
        value = float(value)
    if isinstance(value, bool):
        raise ValueError("a boolean is not a scalar value")
    value = float(value)
    return value if math.isfinite(value) else None
