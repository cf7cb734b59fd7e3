"""The SDK's one error hierarchy: everything the SDK raises on purpose derives from `LabtrackError`."""

from __future__ import annotations

from typing import Any


class LabtrackError(Exception):
    """Base class of every error the labtrack SDK raises on purpose."""


class ConfigurationError(LabtrackError):
    """No usable server address/key could be found, or an argument is invalid."""


class ServerUnreachable(LabtrackError):
    """The tracking server did not answer (connection refused, DNS failure, timeout)."""


class ServerBusy(ServerUnreachable):
    """The server answered, but cannot take data now (5xx, 429, …): nothing was set aside; try later."""


class ApiError(LabtrackError):
    """The server answered with an error (the API's `{"error": {...}}` shape).

    Attributes:
        status: HTTP status code.
        code: the API's error code (`not_found`, `invalid`, `illegal_transition`, …).
        details: the `details` object of the error, possibly empty.
        retry_after: seconds the server asked to wait before trying again (`Retry-After`), or None.
    """

    status: int = 0

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 retry_after: float | None = None):
        super().__init__(f"{message} (HTTP {status} {code})")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after

    def answer(self) -> dict[str, Any]:
        """The server's answer as data (kept next to an operation it refused)."""
        return {"status": self.status, "code": self.code, "message": self.message, "details": self.details}


class NotFound(ApiError):
    """The task, artifact or route does not exist (404)."""


class AuthenticationError(ApiError):
    """The API key is missing, unknown or revoked (401)."""


class Conflict(ApiError):
    """The change conflicts with the current state, e.g. an illegal status transition (409)."""


class InvalidRequest(ApiError):
    """The server rejected the request's content (400, 413, 422)."""


# Refusals that say nothing about the operation itself: the server (or its database) failed, it
# timed out, it asks to slow down, or the credentials are wrong (fix the key, then `labtrack sync`).
_RETRY_LATER = frozenset({401, 403, 408, 425, 429})


def retry_later(exc: ApiError) -> bool:
    """Whether an operation the server refused with `exc` is kept and sent again later.

    Every 5xx is the server's problem, never the operation's; so are 401/403/408/425/429. Only
    the other 4xx answers mean "this operation will never be accepted" and set it aside.
    """
    return exc.status >= 500 or exc.status in _RETRY_LATER


def already_applied(exc: ApiError) -> bool:
    """A 409 that says the server holds this operation already (a duplicate batch): delivered."""
    return exc.status == 409 and (exc.code == "duplicate" or bool(exc.details.get("duplicate")))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils
    import time

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def api_error_for(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                  retry_after: float | None = None) -> ApiError:
    """Build the most specific `ApiError` subclass for an HTTP status."""
    cls: type[ApiError]
    if status == 404:
        cls = NotFound
    elif status == 401:
        cls = AuthenticationError
    elif status == 409:
        cls = Conflict
    elif status in (400, 413, 422):
        cls = InvalidRequest
    else:
        cls = ApiError
    return cls(status, code, message, details, retry_after)
