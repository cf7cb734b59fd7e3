"""The handlers' base class and what they need of the extension app, as a Protocol.

The app module registers the handlers, so the handlers must not import it back: they see the app
only as a `LabtrackContext`, which `LabtrackApp` satisfies structurally.
"""

from __future__ import annotations

import json
from http.client import responses
from typing import Any, Protocol, cast

import httpx
import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from labtrack.server_ext.connection import TrackingApi, TrackingConnection

_ERROR_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class LabtrackContext(Protocol):
    """What a handler may use of the running extension (set up in `LabtrackApp.initialize_settings`)."""

    @property
    def connection(self) -> TrackingConnection: ...

    @property
    def http_client(self) -> httpx.AsyncClient: ...

    @property
    def tracking_api(self) -> TrackingApi: ...

    @property
    def default_project(self) -> str: ...


class LabtrackHandler(ExtensionHandlerMixin, APIHandler):
    """Base: access to the extension as a `LabtrackContext` and the API's one JSON error shape."""

    @property
    def labtrack(self) -> LabtrackContext:
        return cast(LabtrackContext, self.extensionapp)

    def write_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors raised before a handler runs (403, 400, …) in the API's one JSON shape."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif status_code == 403:
            message = "Forbidden: this request needs Jupyter's token or session cookie (and XSRF token)."
        elif status_code >= 500:
            message = "Unexpected error in the labtrack Jupyter extension; the Jupyter server log has details."
        else:
            message = responses.get(status_code, "Error")
        code = _ERROR_CODES.get(status_code, "server_error" if status_code >= 500 else "bad_request")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": {"code": code, "message": message, "details": {}}}))


__all__ = ["LabtrackContext", "LabtrackHandler"]
