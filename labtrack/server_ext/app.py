"""`LabtrackApp`: the jupyter_server extension that connects JupyterLab to a tracking server.

The top of the package: it wires the handlers, which see it only as a `base.LabtrackContext`.
"""

from __future__ import annotations

import atexit
import os

import httpx
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Unicode, default

from labtrack import local_server, paths
from labtrack.local_server import EmbeddedServer
from labtrack.server_ext.base import LabtrackContext
from labtrack.server_ext.connection import TrackingApi, TrackingConnection, normalize_server_url, redact
from labtrack.server_ext.handlers import ConfigHandler, RunRemotelyHandler, SnapshotHandler, TrackHandler
from labtrack.server_ext.proxy import ProxyHandler


class LabtrackApp(ExtensionApp):
    """Proxy `/labtrack/api/v1/...` to the tracking server and track notebooks.

    With no server configured it starts (or reuses) the per-user embedded one, and it always
    exports `LABTRACK_API_URL`/`LABTRACK_API_KEY` so kernels started by this Jupyter find it.
    """

    name = "labtrack"
    load_other_extensions = True

    api_url = Unicode(
        help="Tracking server URL (e.g. http://127.0.0.1:8765). Default: $LABTRACK_API_URL, then "
        "api_url in the user's labtrack config.json; empty starts the embedded server.",
    ).tag(config=True)
    api_key = Unicode(
        help="API key sent to the tracking server (never to the browser). Default: $LABTRACK_API_KEY, "
        "then api_key in the user's labtrack config.json.",
    ).tag(config=True)
    default_project = Unicode(
        "notebooks", help="Project that Track puts a notebook's task in when none is given."
    ).tag(config=True)
    request_timeout = Float(
        60.0, help="Seconds to wait for the tracking server to connect or send the next bytes."
    ).tag(config=True)
    start_embedded = Bool(
        True, help="Start the per-user embedded tracking server when no api_url is configured."
    ).tag(config=True)

    @default("api_url")
    def _default_api_url(self) -> str:
        # config.json's api_url is consulted in _connect, where a stopped embedded server's address is skipped.
        return os.environ.get("LABTRACK_API_URL", "")

    @default("api_key")
    def _default_api_key(self) -> str:
        return os.environ.get("LABTRACK_API_KEY") or str(paths.read_config().get("api_key") or "")

    connection: TrackingConnection
    http_client: httpx.AsyncClient
    tracking_api: TrackingApi
    _embedded_server: EmbeddedServer | None = None

    def initialize_settings(self) -> None:
        """Find or start the tracking server, export it to kernels, and open the HTTP client."""
        self.connection = self._connect()
        if self.connection.url:
            # Kernels inherit the server's environment: `Task.init` in a notebook just works.
            os.environ["LABTRACK_API_URL"] = self.connection.url
            if self.connection.api_key:
                os.environ["LABTRACK_API_KEY"] = self.connection.api_key
            self.log.info(
                "labtrack: tracking server %s%s",
                self.connection.public_url,
                " (embedded)" if self.connection.embedded else "",
            )
        else:
            self.log.warning("labtrack: no tracking server: %s", self.connection.problem)
        self.http_client = self.connection.make_client(self.request_timeout)
        self.tracking_api = TrackingApi(self.http_client, self.connection)

    def _connect(self) -> TrackingConnection:
        if self.api_url.strip():
            return TrackingConnection(url=normalize_server_url(self.api_url), api_key=self.api_key)
        configured = local_server.configured_server()  # None when it names a stopped embedded server
        if configured is not None:
            return TrackingConnection(url=normalize_server_url(configured[0]), api_key=self.api_key)
        if not self.start_embedded:
            return TrackingConnection(
                problem="no tracking server is configured: set LABTRACK_API_URL or c.LabtrackApp.api_url"
            )
        try:
            server = local_server.ensure_embedded_server()
        except Exception as exc:  # noqa: BLE001 - JupyterLab must start even when this fails
            problem = f"the embedded tracking server did not start: {redact(str(exc), self.api_key)}"
            return TrackingConnection(problem=problem)
        if server.started:
            self._embedded_server = server  # ours to stop at shutdown; a reused one is not
        return TrackingConnection(url=normalize_server_url(server.url), api_key=server.api_key, embedded=True)

    def initialize_handlers(self) -> None:
        """Register the routes (jupyter_server prefixes each with the server's base_url)."""
        self.handlers.extend([
            (r"/labtrack/config", ConfigHandler),
            (r"/labtrack/notebooks/track", TrackHandler),
            (r"/labtrack/notebooks/snapshot", SnapshotHandler),
            (r"/labtrack/notebooks/run-remotely", RunRemotelyHandler),
            (r"/labtrack/api/v1/(.*)", ProxyHandler),
        ])

    async def stop_extension(self) -> None:
        """Close the HTTP client and stop the embedded server if this Jupyter started it."""
        client = getattr(self, "http_client", None)
        if client is not None:
            await client.aclose()
        server, self._embedded_server = self._embedded_server, None
        if server is not None:
            # Jupyter stops extensions before it shuts its kernels down, and a kernel's tracked
            # task flushes its last points and final status as it exits: keep the server up until
            # this process itself exits.
            atexit.register(self._stop_embedded_server, server)

    def _stop_embedded_server(self, server: EmbeddedServer) -> None:
        try:
            local_server.stop_embedded_server(server)
            self.log.info("labtrack: stopped the embedded tracking server")
        except Exception as exc:  # noqa: BLE001 - shutdown must go on
            self.log.warning("labtrack: stopping the embedded tracking server failed: %s", exc)


def _as_context(app: LabtrackApp) -> LabtrackContext:
    """Never called: makes mypy check that the app gives the handlers all they use of it."""
    return app
