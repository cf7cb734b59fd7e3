"""One error hierarchy: each class carries its HTTP status and code; the web layer renders one shape."""

from __future__ import annotations

from typing import Any


class LabtrackError(Exception):
    """Base of every error a client can cause; `status` and `code` decide the HTTP answer."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        """The JSON error shape shared by every endpoint."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(LabtrackError):
    """Malformed input that is not a schema problem (bad JSON, bad cursor)."""

    status = 400
    code = "bad_request"


class Unauthorized(LabtrackError):
    """Missing or unknown API key."""

    status = 401
    code = "unauthorized"


class Forbidden(LabtrackError):
    """Authenticated but not allowed."""

    status = 403
    code = "forbidden"


class NotFound(LabtrackError):
    """Unknown id or route."""

    status = 404
    code = "not_found"


class MethodNotAllowed(LabtrackError):
    """Wrong verb for a route."""

    status = 405
    code = "method_not_allowed"


class Conflict(LabtrackError):
    """The request contradicts the current state (name taken, illegal status change, not empty)."""

    status = 409
    code = "conflict"


class IllegalTransition(Conflict):
    """A status action that the task's current state does not allow."""

    code = "illegal_transition"


class NotEmpty(Conflict):
    """Deleting something that still has children."""

    code = "not_empty"


class TooLarge(LabtrackError):
    """Body, artifact or batch past a configured limit."""

    status = 413
    code = "too_large"


class Invalid(LabtrackError):
    """Well-formed but wrong values; `details.errors` lists `{"loc", "msg"}`."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, {"errors": errors or []})


class Unavailable(LabtrackError):
    """The server can't do its work right now (its database is unreachable or busy): retry later.

    Not a client mistake and not a bug: clients keep the request and send it again after
    `retry_after` seconds (the `Retry-After` header).
    """

    status = 503
    code = "unavailable"

    def __init__(self, message: str, details: dict[str, Any] | None = None, *, retry_after: int = 2) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after
