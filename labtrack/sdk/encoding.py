"""Text the wire can carry: repair what UTF-8 cannot encode, and the one JSON encoder of operations.

A Python `str` may hold lone surrogates (`"\\udce9"`: file names decoded with
`surrogateescape`, bytes sliced mid-character, careless string building). UTF-8, and so JSON
on the wire and in the spool, cannot encode them. Left alone, one such string makes a whole batch
unsendable. The invariant: such characters are replaced by U+FFFD at the call that reported them
(`clean_text`, `clean_name`), with one warning naming the value; `dumps` repairs whatever still
slips through (a hyperparameter, a table cell) the same way, so an operation is never stuck.
"""

from __future__ import annotations

import json
import re
from typing import Any

from labtrack.sdk.notices import warn_once

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency, but stay usable without it
    orjson = None  # type: ignore[assignment]

MAX_NAME = 500  # the server's limit for metric and variant names
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN = 80  # characters of a bad value quoted in a warning


def _shown(text: str) -> str:
    return repr(text[:_SHOWN]) + ("..." if len(text) > _SHOWN else "")


def encodable(text: str) -> bool:
    """Whether UTF-8 can encode `text` (ASCII is checked first: it is the common case and fast)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def replace_surrogates(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (no warning)."""
    return _SURROGATE.sub("\ufffd", text)


def clean_text(text: str, what: str) -> str:
    """`text`, repaired if UTF-8 cannot encode it, with one warning naming `what` and the value."""
    if encodable(text):
        return text
    fixed = replace_surrogates(text)
    warn_once(f"{what}\0{text[:200]}",
              f"labtrack: {what} {_shown(text)} cannot be encoded as UTF-8 (lone surrogate); "
              f"kept as {_shown(fixed)}")
    return fixed


def clean_name(value: Any, what: str, required: bool = True) -> str:
    """A metric or variant name the server accepts: a str, encodable, at most MAX_NAME characters.

    `required` names (metrics) may not be empty; an empty one becomes "untitled". Each repair
    warns once, naming the value.
    """
    name = clean_text(value if type(value) is str else str(value), what)
    if len(name) > MAX_NAME:
        warn_once(f"{what}\0long\0{name[:200]}",
                  f"labtrack: {what} {_shown(name)} is longer than {MAX_NAME} characters; cut there")
        name = name[:MAX_NAME]
    if required and not name:
        warn_once(f"{what}\0empty", f"labtrack: an empty {what} was reported; kept as 'untitled'")
        name = "untitled"
    return name


def repair_strings(obj: Any, found: list[str] | None = None) -> Any:
    """A copy of a JSON-like value with lone surrogates replaced in every string (keys too).

    Bad originals are appended to `found` (when given), for the warning.
    """
    if isinstance(obj, str):
        if encodable(obj):
            return obj
        if found is not None:
            found.append(obj)
        return replace_surrogates(obj)
    if isinstance(obj, dict):
        return {repair_strings(k, found): repair_strings(v, found) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [repair_strings(v, found) for v in obj]
    return obj


def _raw_dumps(obj: Any) -> bytes:
    if orjson is not None:
        return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")


def dumps(obj: Any) -> bytes:
    """Serialize an operation or request body as UTF-8 JSON, repairing unencodable strings.

    Raises `TypeError` or `ValueError` for what no repair can help (an object JSON cannot hold).
    """
    try:
        return _raw_dumps(obj)
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        found: list[str] = []
        fixed = repair_strings(obj, found)
        if not found:
            raise
    for bad in found[:3]:
        warn_once(f"value\0{bad[:200]}", f"labtrack: the value {_shown(bad)} cannot be encoded as UTF-8 "
                                         "(lone surrogate); sent with U+FFFD in its place")
    return _raw_dumps(fixed)


def loads(data: bytes) -> Any:
    return orjson.loads(data) if orjson is not None else json.loads(data)


def dumps_for_a_person(obj: Any) -> bytes:
    """JSON that always succeeds (repr for what JSON cannot hold, ASCII escapes): for files a person
    reads, such as an operation set aside in `rejected/`."""
    return json.dumps(obj, default=repr, ensure_ascii=True, indent=1).encode("ascii")
