"""Tornado handlers for `/labtrack/config` and `/labtrack/notebooks/{track,snapshot,run-remotely}`.

They only parse, call `notebooks`/`connection`, and serialise; every verb is authenticated.
"""

from __future__ import annotations

from typing import Any

import tornado.web
from jupyter_core.utils import ensure_async

import labtrack
from labtrack.server_ext import notebooks, remote_run
from labtrack.server_ext.base import LabtrackHandler
from labtrack.server_ext.connection import TrackingApi, TrackingServerError
from labtrack.server_ext.environment import frozen_requirements, kernel_python


class ConfigHandler(LabtrackHandler):
    """`GET /labtrack/config`: where the tracking server is and whether it answers (never the key)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        app = self.labtrack
        conn = app.connection
        connected, message = False, conn.problem
        if conn.url:
            try:
                await app.tracking_api.health()
                connected, message = True, ""
            except TrackingServerError as exc:
                message = exc.message
        self.write_json({
            "connected": connected,
            "server_url": conn.public_url,
            "embedded": conn.embedded,
            "default_project": app.default_project or notebooks.FALLBACK_PROJECT,
            "version": labtrack.__version__,
            "message": conn.redact(message),
        })


class _NotebookHandler(LabtrackHandler):
    """Shared steps of Track and snapshot: read the saved notebook and its kernel's packages."""

    async def read_notebook(self, path: str, then: str = "track it") -> Any:
        """The saved notebook (an nbformat node) at `path`, or raise a 404/422 the user can act on."""
        contents = self.contents_manager
        if not await ensure_async(contents.file_exists(path)):
            raise notebooks.TrackRequestError(
                f"No saved notebook at '{path}'. Save the notebook first, then {then}.", 404, "not_found"
            )
        try:
            model = await ensure_async(contents.get(path, content=True, type="notebook"))
        except tornado.web.HTTPError as exc:
            raise notebooks.TrackRequestError(
                f"'{path}' could not be read as a notebook: {exc.log_message or exc.reason}", 422, "invalid"
            ) from None
        return model["content"]

    async def requirements_for(self, path: str, notebook: Any) -> str:
        """The frozen package list of the Python the notebook's kernel runs ("" if not Python)."""
        kernel_name = None
        try:
            sessions: list[dict[str, Any]] = await ensure_async(self.session_manager.list_sessions())
            for session in sessions:
                if session.get("path") == path and session.get("kernel"):
                    kernel_name = session["kernel"].get("name")
                    break
        except Exception:  # noqa: BLE001 - a session lookup problem must not block tracking
            self.log.debug("labtrack: session lookup failed", exc_info=True)
        if not kernel_name:
            kernel_name = (notebook.get("metadata", {}).get("kernelspec") or {}).get("name")
        spec_manager = self.kernel_spec_manager
        try:
            name = kernel_name or self.kernel_manager.default_kernel_name
            spec = await ensure_async(spec_manager.get_kernel_spec(name))
        except Exception:  # noqa: BLE001 - an unknown kernel just means no package list
            return ""
        if (spec.language or "").lower() != "python":
            return ""
        return await frozen_requirements(kernel_python(list(spec.argv)))

    async def run(self, need_task_id: bool) -> None:
        """Parse, read, call the service, and answer, mapping every failure to the error shape."""
        try:
            request = notebooks.TrackRequest.parse(self.request.body, need_task_id=need_task_id)
            notebook = await self.read_notebook(request.path)
            requirements = await self.requirements_for(request.path, notebook)
            api: TrackingApi = self.labtrack.tracking_api
            if need_task_id:
                result = await notebooks.refresh_snapshot(api, request, notebook, requirements)
            else:
                result = await notebooks.track_notebook(
                    api, request, notebook, requirements, self.labtrack.default_project
                )
        except notebooks.TrackRequestError as exc:
            self.write_json(exc.to_json(), exc.status)
            return
        except TrackingServerError as exc:
            self.write_json(exc.to_json(), exc.status)
            return
        self.write_json(result)


class TrackHandler(_NotebookHandler):
    """`POST /labtrack/notebooks/track {"path", "task_id"?, "project"?, "name"?}`."""

    @tornado.web.authenticated
    async def post(self) -> None:
        await self.run(need_task_id=False)


class SnapshotHandler(_NotebookHandler):
    """`POST /labtrack/notebooks/snapshot {"path", "task_id"}`: refresh the snapshot on save."""

    @tornado.web.authenticated
    async def post(self) -> None:
        await self.run(need_task_id=True)


class RunRemotelyHandler(_NotebookHandler):
    """`POST /labtrack/notebooks/run-remotely {"path", "queue", "parameters"?, "task_id"?, "project"?, "name"?}`:
    the saved notebook as a new task in the queue; answers `{"task_id", "task", "queue"}`."""

    @tornado.web.authenticated
    async def post(self) -> None:
        try:
            request = remote_run.RunRemotelyRequest.parse(self.request.body)
            notebook = await self.read_notebook(request.path, then="run it remotely")
            requirements = await self.requirements_for(request.path, notebook)
            result = await remote_run.run_remotely(
                self.labtrack.tracking_api, request, notebook, requirements, self.labtrack.default_project
            )
        except (notebooks.TrackRequestError, TrackingServerError) as exc:
            self.write_json(exc.to_json(), exc.status)
            return
        self.write_json(result)
