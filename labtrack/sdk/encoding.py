"""Text the wire can carry and the server can store: repair it, and the one JSON encoder of operations.

A Python `str` may hold lone surrogates (`"\\udce9"`: file names decoded with
`surrogateescape`, bytes sliced mid-character, careless string building). UTF-8, and so JSON
on the wire and in the spool, cannot encode them. Left alone, one such string makes a whole batch
unsendable. A NUL (U+0000, from C strings, binary data read as text) encodes, but PostgreSQL text
can't hold it, so the server refuses it (422) in names and other stored text, and the whole
operation would be set aside. The invariant: such characters are replaced by U+FFFD at the call
that reported them (`clean_text`, `clean_name`), with one warning naming the value; `dumps`
repairs whatever still slips through (a task name, a hyperparameter, a table cell) the same way,
so an operation is never stuck.
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
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")
_NUL_ESCAPED = b"\\u0000"  # how both JSON encoders write a NUL inside a string
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


def storable(text: str) -> bool:
    """Whether the server can store `text` as it is: UTF-8 can encode it and it holds no NUL."""
    return "\x00" not in text and encodable(text)


def replace_unstorable(text: str) -> str:
    """`text` with every lone surrogate and NUL replaced by U+FFFD (no warning)."""
    return _UNSTORABLE.sub("\ufffd", text)


def _problem(text: str) -> str:
    """What is wrong with an unstorable `text`, for a warning."""
    return "cannot be encoded as UTF-8 (lone surrogate)" if not encodable(text) else "holds NUL (U+0000)"


def clean_text(text: str, what: str) -> str:
    """`text`, repaired if the server could not store it, with one warning naming `what` and the value."""
    if storable(text):
        return text
    fixed = replace_unstorable(text)
    warn_once(f"{what}\0{text[:200]}", f"labtrack: {what} {_shown(text)} {_problem(text)}; kept as {_shown(fixed)}")
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
    """A copy of a JSON-like value with lone surrogates and NULs replaced in every string (keys too).

    Bad originals are appended to `found` (when given), for the warning.
    """
    if isinstance(obj, str):
        if storable(obj):
            return obj
        if found is not None:
            found.append(obj)
        return replace_unstorable(obj)
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
    """Serialize an operation or request body as UTF-8 JSON, repairing strings the server can't store.

    Raises `TypeError` or `ValueError` for what no repair can help (an object JSON cannot hold).
    """
    found: list[str] = []
    try:
        raw = _raw_dumps(obj)
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        fixed = repair_strings(obj, found)
        if not found:
            raise
    else:
        # One scan of the bytes keeps the common case to a single encoding; the escape may also be
        # a string's literal backslash-u0000, so only strings that really hold a NUL are repaired.
        if _NUL_ESCAPED not in raw:
            return raw
        fixed = repair_strings(obj, found)
        if not found:
            return raw
    for bad in found[:3]:
        warn_once(f"value\0{bad[:200]}", f"labtrack: the value {_shown(bad)} {_problem(bad)}; "
                                         "sent with U+FFFD in its place")
    return _raw_dumps(fixed)


def loads(data: bytes) -> Any:
    return orjson.loads(data) if orjson is not None else json.loads(data)


def dumps_for_a_person(obj: Any) -> bytes:
    """JSON that always succeeds (repr for what JSON cannot hold, ASCII escapes): for files a person
    reads, such as an operation set aside in `rejected/`."""
    return json.dumps(obj, default=repr, ensure_ascii=True, indent=1).encode("ascii")
