"""Opaque cursors for keyset paging."""

from __future__ import annotations

import base64
from typing import Any, Callable

import orjson

from labtrack.server.errors import BadRequest, Invalid

MAX_LIMIT = 1000


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor from the sort key values of the last item on a page."""
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str | None, length: int) -> list[Any] | None:
    """The values inside a cursor; raises BadRequest for anything that did not come from us."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception:
        raise BadRequest("The cursor is not valid: pass the next_cursor of the previous page unchanged.") from None
    if not isinstance(values, list) or len(values) != length:
        raise BadRequest("The cursor is not valid for this list: pass the next_cursor of the previous page unchanged.")
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
