"""The SDK's one error hierarchy: everything the SDK raises on purpose derives from `LabtrackError`."""

from __future__ import annotations

from typing import Any


class LabtrackError(Exception):
    """Base class of every error the labtrack SDK raises on purpose."""


class ConfigurationError(LabtrackError):
    """No usable server address/key could be found, or an argument is invalid."""


class ServerUnreachable(LabtrackError):
    """The tracking server did not answer (connection refused, DNS failure, timeout)."""


class ApiError(LabtrackError):
    """The server answered with an error (the API's `{"error": {...}}` shape).

    Attributes:
        status: HTTP status code.
        code: the API's error code (`not_found`, `invalid`, `illegal_transition`, …).
        details: the `details` object of the error, possibly empty.
    """

    status: int = 0

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{message} (HTTP {status} {code})")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class NotFound(ApiError):
    """The task, artifact or route does not exist (404)."""


class AuthenticationError(ApiError):
    """The API key is missing, unknown or revoked (401)."""


class Conflict(ApiError):
    """The change conflicts with the current state, e.g. an illegal status transition (409)."""


class InvalidRequest(ApiError):
    """The server rejected the request's content (400, 413, 422)."""


def api_error_for(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> ApiError:
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
    return cls(status, code, message, details)
