"""Small helpers shared by the server's layers: ids, clocks, JSON and time conversion."""

from __future__ import annotations

import math
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import orjson


def new_id() -> str:
    """A fresh 32-hex-character id."""
    return uuid.uuid4().hex


def now() -> float:
    """Wall-clock Unix seconds."""
    return time.time()


def dumps(value: Any, field: str = "body") -> str:
    """Compact JSON text for a stored JSON column (non-finite floats become null).

    Raises:
        Invalid: the value holds something JSON can't carry faithfully (an integer past 64 bits).
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        from labtrack.server.errors import Invalid

        raise Invalid(
            f"{field} holds a value that can't be stored as JSON ({exc}); integers must fit in 64 bits.",
            [{"loc": ["body", field], "msg": str(exc)}],
        ) from None


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
    from labtrack.server.errors import Invalid

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
