"""Opaque cursors for keyset paging.

A cursor is the sort key values of the last item on a page, as base64url JSON. Its values go into
SQL comparisons, so decoding checks each one against the kind of the list's sort key: a cursor from
another listing or sort (or a forged one) is refused with a 400 here and never reaches the database,
where PostgreSQL would refuse to compare, say, text with a number.
"""

from __future__ import annotations

import base64
import re
from enum import Enum
from typing import Any, Callable, Sequence

import orjson

from labtrack.server.errors import BadRequest, Invalid

MAX_LIMIT = 1000

_ID = re.compile(r"[0-9a-f]{32}")
_FOREIGN = ("This cursor belongs to another listing or sort: start again without cursor "
            "(a cursor is only valid for the list and sort that gave it).")


class CursorKey(Enum):
    """The kind of one sort key value in a cursor."""

    TEXT = "text"  # a text column; PostgreSQL text can't hold NUL
    INTEGER = "integer"  # a BIGINT column
    NUMBER = "number"  # a float column (timestamps, metric values); an integer is a number too
    ID = "id"  # a 32-hex-character id (util.new_id), the tie-breaker of most lists

    def fits(self, value: Any) -> bool:
        """Whether a decoded JSON value can stand for this key in a comparison."""
        if self is CursorKey.TEXT:
            return isinstance(value, str) and "\x00" not in value
        if self is CursorKey.ID:
            return isinstance(value, str) and _ID.fullmatch(value) is not None
        # bool is an int to Python but not to PostgreSQL; orjson refuses NaN and infinities itself,
        # and reads an integer past 64 bits as a float or an int the database can't bind as BIGINT.
        if type(value) is int:
            return -(2**63) <= value < 2**63
        return self is CursorKey.NUMBER and type(value) is float


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor from the sort key values of the last item on a page."""
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str | None, keys: Sequence[CursorKey]) -> list[Any] | None:
    """The values inside a cursor, one per sort key of the list.

    Raises:
        BadRequest: for anything that did not come from this list and sort.
    """
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception:
        raise BadRequest("The cursor is not valid: pass the next_cursor of the previous page unchanged.") from None
    if not (isinstance(values, list) and len(values) == len(keys)
            and all(key.fits(value) for key, value in zip(keys, values))):
        raise BadRequest(_FOREIGN)
    return values


def page_of(rows: list[dict[str, Any]], limit: int,
            sort_key: Callable[[dict[str, Any]], list[Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """A page from rows read as `limit + 1`: the first `limit`, and a cursor after the last (None when no more).

    Reading one row past the page tells whether there is a next page without a count query.
    """
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(sort_key(rows[-1])) if more else None


def check_limit(limit: int, maximum: int = MAX_LIMIT) -> int:
    """Validate a page size."""
    if limit < 1 or limit > maximum:
        raise Invalid(f"limit must be between 1 and {maximum}.", [{"loc": ["query", "limit"], "msg": f"1..{maximum}"}])
    return limit
