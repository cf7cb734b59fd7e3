"""`Task`: one tracked run. `Task.init` creates (or attaches to) a task and makes it current."""

from __future__ import annotations

import json
import os
import re
import threading
import traceback
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

from labtrack.sdk import argv, capture, current, lifecycle, remote
from labtrack.sdk.announce import announce_task
from labtrack.sdk.artifacts import Artifact, serialize_artifact, sha256_file
from labtrack.sdk.client import ApiClient
from labtrack.sdk.errors import ConfigurationError, LabtrackError, NotFound, ServerUnreachable
from labtrack.sdk.logger import Logger
from labtrack.sdk.models import Model
from labtrack.sdk.models import record_input as record_input_model
from labtrack.sdk.notices import warn
from labtrack.sdk.orphans import start_background_sweep
from labtrack.sdk.owners import owner_marker
from labtrack.sdk.params import (
    apply_values, decode_section, encode_section, flatten_hyperparams, object_values,
)
from labtrack.sdk.spool import SessionFolder, spool_root
from labtrack.sdk.transport import Sender, deliver_op

TASK_TYPES = ("training", "testing", "inference", "data_processing", "application", "monitor",
              "controller", "optimizer", "service", "qc", "custom")
_ARTIFACT_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")

argv.install_argparse_capture()  # normally already done by `import labtrack`


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class Task:
    """A tracked run (ClearML's `Task`): parameters, scalars, console, artifacts, status."""

    _current: "Task | None" = None
    _offline_default: bool = False
    _init_lock = threading.RLock()
    # Set by `notebook_run` once the lab extension has tracked this kernel's notebook: `Task.init`
    # then adopts the notebook's run instead of starting another task. None everywhere else.
    _notebook_init: "Callable[[str | None, str | None, Iterable[str] | None], Task | None] | None" = None

    def __init__(self, client: ApiClient | None, record: dict[str, Any], offline_folder: Path | None = None):
        self._client = client
        self._record = record
        self._offline_folder = offline_folder
        self._logger: Logger | None = None
        self._sender: Sender | None = None
        self._closed = False
        self._owned = False  # True when this process started the task and so decides its status
        self._remote = False  # attached via LABTRACK_TASK_ID: server hyperparameters win in connect()
        self._exc_info: tuple[type[BaseException], BaseException, Any] | None = None
        self._terminated = False
        self._closing = False  # close() has begun: an abort notice must not interrupt it
        self._abort_requested = False
        self._hyperparams: dict[str, dict[str, Any]] = dict(record.get("hyperparams") or {})
        self._server_hyperparams: dict[str, dict[str, Any]] = dict(record.get("hyperparams") or {})
        self._server_configuration: dict[str, Any] = dict(record.get("configuration") or {})
        self._local_artifacts: dict[str, Artifact] = {}
        self._tees: tuple[capture.ConsoleTee, capture.ConsoleTee] | None = None
        self._monitor: capture.ResourceMonitor | None = None
        self._argparse_hook: Callable[[Any], Any] | None = None
        self._capture_thread: threading.Thread | None = None
        self._cell_note = ""  # what the last notebook cell's outcome says in status_message

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        project_name: str | None = None,
        task_name: str | None = None,
        task_type: str = "training",
        tags: Iterable[str] | None = None,
        reuse_last_task_id: bool = False,
        continue_last_task: bool | str = False,
        auto_connect_arg_parser: bool = True,
        auto_connect_streams: bool = True,
        auto_resource_monitoring: bool = True,
        capture_code: bool = True,
        capture_packages: bool = True,
        offline: bool | None = None,
        api_url: str | None = None,
        api_key: str | None = None,
        quiet: bool | None = None,
    ) -> "Task":
        """Create a task (or attach to one) and make it the current task.

        Args:
            continue_last_task: `True` continues the newest task with this project and name;
                a task id string attaches to that task (what the JupyterLab Track button runs).
            auto_connect_*, auto_resource_monitoring, capture_*: switch each capture off.
            offline: write a session folder instead of talking to a server (default:
                `Task.set_offline` / `LABTRACK_OFFLINE`).
            quiet: `True` skips the one line naming the task and where to see it (default:
                silent when `LABTRACK_QUIET=1`).

        Raises:
            ServerUnreachable: online and the server does not answer (use offline mode).
            ConfigurationError: bad arguments.
        """
        if task_type not in TASK_TYPES:
            raise ConfigurationError(f"task_type {task_type!r} is not one of: {', '.join(TASK_TYPES)}")
        with cls._init_lock:
            env_task_id = os.environ.get("LABTRACK_TASK_ID") or None
            attach_id = continue_last_task if isinstance(continue_last_task, str) and continue_last_task else None
            remote = False
            if attach_id is None and env_task_id and continue_last_task is False:
                attach_id, remote = env_task_id, True
            adopt = cls._notebook_init
            going_offline = cls.is_offline() if offline is None else offline
            if adopt is not None and attach_id is None and continue_last_task is False and not going_offline:
                # A tracked notebook: its run takes this project and name (see notebook_run.py).
                adopted = adopt(project_name, task_name, tags)
                if adopted is not None:
                    return adopted
            current = cls._current
            if current is not None and not current._closed:
                if attach_id is not None and current.id == attach_id:
                    return current
                if attach_id is None and not capture.in_notebook_kernel():
                    # In a script the task is the process's run: a second init returns it (ClearML).
                    return current
                current.close()
            lifecycle.install()
            offline = cls._offline_default or _truthy("LABTRACK_OFFLINE") if offline is None else offline
            if offline:
                task = cls._create_offline(project_name, task_name, task_type, tags)
            else:
                client = ApiClient.from_environment(api_url, api_key)
                if attach_id is None and continue_last_task is True:
                    attach_id = cls._find_last(client, project_name, task_name)
                if attach_id is not None:
                    task = cls._attach(client, attach_id)
                    task._remote = remote
                else:
                    task = cls._create_online(client, project_name, task_name, task_type, tags)
            cls._current = task
            announce_task(task.id, task.name, task.project, api_url=None if task.offline else task.client.url,
                          offline_folder=task.get_offline_mode_folder(), in_kernel=capture.in_notebook_kernel(),
                          quiet=quiet)
            # An attached task already holds its code (the Track snapshot, or what was enqueued for
            # an agent): re-capturing here would replace it with the kernel's or agent's own argv.
            # LABTRACK_CAPTURE_CONSOLE=0: an agent streams this process's console itself (no copy twice).
            streams = auto_connect_streams and os.environ.get("LABTRACK_CAPTURE_CONSOLE", "1").strip() != "0"
            task._start_capture(auto_connect_arg_parser, streams, auto_resource_monitoring,
                                capture_code and attach_id is None, capture_packages)
            return task

    @staticmethod
    def _default_name(task_name: str | None) -> str:
        if task_name:
            return str(task_name)
        script, _ = capture.entry_point()
        return Path(script).stem if script else "notebook"

    @classmethod
    def _create_online(cls, client: ApiClient, project: str | None, name: str | None, task_type: str,
                       tags: Iterable[str] | None) -> "Task":
        body = {"name": cls._default_name(name), "project_name": project or "default", "type": task_type,
                "tags": list(tags or [])}
        try:
            record = client.post("/tasks", json=body)
            record = client.post(f"/tasks/{record['id']}/start")
        except ServerUnreachable as exc:
            raise ServerUnreachable(
                f"{exc}. Start the server, check LABTRACK_API_URL, or run offline with "
                "labtrack.Task.set_offline(True) / LABTRACK_OFFLINE=1 and `labtrack sync` later."
            ) from exc
        task = cls(client, record)
        task._owned = True
        task._start_sender()
        _replay_orphans(client, task.id)
        return task

    @classmethod
    def _attach(cls, client: ApiClient, task_id: str) -> "Task":
        try:
            record = client.get(f"/tasks/{task_id}")
        except NotFound as exc:
            raise LabtrackError(f"Task {task_id} does not exist on {client.url}; check the id.") from exc
        task = cls(client, record)
        if record["status"] in ("created", "queued"):
            task._record = client.post(f"/tasks/{task_id}/start")
            task._owned = True
        elif record["status"] == "in_progress":
            task._owned = True  # e.g. an agent started it for us; we report how it ends
        task._start_sender()
        _replay_orphans(client, task.id)
        return task

    @staticmethod
    def _find_last(client: ApiClient, project: str | None, name: str | None) -> str | None:
        params: dict[str, Any] = {"sort": "-created", "limit": 50}
        if project:
            params["project"] = project
        if name:
            params["search"] = name
        for item in client.get("/tasks", params=params).get("items", []):
            if not name or item["name"] == name:
                return item["id"]
        return None

    @classmethod
    def _create_offline(cls, project: str | None, name: str | None, task_type: str,
                        tags: Iterable[str] | None) -> "Task":
        from labtrack import paths

        local_id = uuid.uuid4().hex
        root = Path(os.environ.get("LABTRACK_OFFLINE_DIR") or paths.data_dir() / "offline") / local_id
        body = {"name": cls._default_name(name), "project_name": project or "default", "type": task_type,
                "tags": list(tags or [])}
        SessionFolder(root).create({"offline": True, "task_id": None, "local_id": local_id, "create": body,
                                    "owner": owner_marker()})
        record = {"id": local_id, "name": body["name"], "project_name": body["project_name"], "type": task_type,
                  "tags": body["tags"], "status": "in_progress", "comment": "", "hyperparams": {}}
        task = cls(None, record, offline_folder=root)
        task._owned = True
        task._start_sender()
        task._enqueue({"op": "action", "action": "start"})
        return task

    def _start_sender(self) -> None:
        spool = self._offline_folder or spool_root() / f"{self.id}-{uuid.uuid4().hex[:6]}"
        meta = None if self._offline_folder is None else SessionFolder(spool).meta()
        self._sender = Sender(
            self._client, self.id, spool,
            interval=_env_float("LABTRACK_FLUSH_INTERVAL", 1.0),
            heartbeat_interval=_env_float("LABTRACK_HEARTBEAT_INTERVAL", 10.0),
            on_stop_requested=self._on_stop_requested,
            spool_meta=meta,
        )
        self._sender.add_source(lambda final: self.get_logger().drain(final),
                                size=lambda: self.get_logger().buffered_points())
        self._sender.start()
        if self._client is not None:
            self._sender.heartbeat_now()

    def _start_capture(self, argparse_on: bool, streams: bool, monitor: bool, code: bool, packages: bool) -> None:
        logger = self.get_logger()
        if streams:
            self._tees = capture.install_tee(logger)
        if argparse_on:
            for ns in argv.parsed_namespaces():
                self.connect(ns, name="Args")
            hook: Callable[[Any], Any] = lambda ns: self.connect(ns, name="Args")  # noqa: E731
            self._argparse_hook = hook
            argv.add_argparse_hook(hook)
        if monitor:
            self._monitor = capture.ResourceMonitor(logger, _env_float("LABTRACK_MONITOR_INTERVAL", 10.0))
            self._monitor.start()
        if code or packages:
            # git and the package list take a few hundred ms: never on the caller's thread.
            self._capture_thread = threading.Thread(target=self._capture_environment,
                                                    args=(code, packages, capture.entry_point()),
                                                    name="labtrack-capture", daemon=True)
            self._capture_thread.start()

    def _capture_environment(self, code: bool, packages: bool, entry: tuple[str, Path]) -> None:
        try:
            body: dict[str, Any] = {"runtime": capture.capture_runtime()}
            if code or packages:
                script = capture.capture_script(entry) if code else {}
                if packages:
                    script["requirements"] = capture.frozen_requirements()
                body["script"] = script
            if self._sender is not None and not self._sender.stopping:
                self._enqueue({"op": "patch", "body": body})
        except Exception as exc:
            warn(f"labtrack: environment capture failed (the run goes on): {exc}")

    # -- identity ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._record["id"]

    @property
    def name(self) -> str:
        return self._record.get("name", "")

    @property
    def project(self) -> str:
        """The project's name."""
        return self._record.get("project_name", "")

    @property
    def task_type(self) -> str:
        return self._record.get("type", "")

    @property
    def client(self) -> ApiClient:
        """The `ApiClient` this task talks through (raises for offline tasks)."""
        if self._client is None:
            raise LabtrackError("This task is offline: it has no server client. Sync it with `labtrack sync`.")
        return self._client

    @property
    def offline(self) -> bool:
        return self._client is None

    @property
    def status(self) -> str:
        """The task's status as the server has it (the local view offline or when unreachable)."""
        if self._client is not None:
            try:
                self._record["status"] = self._client.get(f"/tasks/{self.id}")["status"]
            except LabtrackError:
                pass
        return self._record.get("status", "")

    def __repr__(self) -> str:
        return f"<labtrack.Task {self.id} {self.project}/{self.name}>"

    @classmethod
    def current_task(cls) -> "Task | None":
        """The task `Task.init` made current in this process, if any."""
        return cls._current

    @classmethod
    def set_offline(cls, offline_mode: bool = False) -> None:
        """Make later `Task.init` calls write an offline session folder (`labtrack sync` uploads it)."""
        cls._offline_default = bool(offline_mode)

    @classmethod
    def is_offline(cls) -> bool:
        return cls._offline_default or _truthy("LABTRACK_OFFLINE")

    def get_offline_mode_folder(self) -> Path | None:
        """The session folder of an offline task (None online)."""
        return self._offline_folder

    @classmethod
    def get_task(cls, task_id: str | None = None, project_name: str | None = None,
                 task_name: str | None = None, client: ApiClient | None = None) -> "Task":
        """An existing task by id, or the newest with this project and name."""
        client = client or ApiClient.from_environment()
        if task_id is None:
            task_id = cls._find_last(client, project_name, task_name)
            if task_id is None:
                raise LabtrackError(f"No task named {task_name!r} in project {project_name!r}.")
        try:
            return cls(client, client.get(f"/tasks/{task_id}"))
        except NotFound as exc:
            raise LabtrackError(f"Task {task_id} does not exist on {client.url}.") from exc

    @classmethod
    def get_tasks(cls, project_name: str | None = None, task_name: str | None = None,
                  tags: Iterable[str] | None = None, status: Iterable[str] | None = None,
                  task_ids: Iterable[str] | None = None, client: ApiClient | None = None,
                  limit: int = 1000) -> list["Task"]:
        """Tasks matching every given filter (`task_name` is a case-insensitive substring)."""
        client = client or ApiClient.from_environment()
        params: dict[str, Any] = {"sort": "-created"}
        if project_name:
            params["project"] = project_name
        if task_name:
            params["search"] = task_name
        if tags:
            params["tags"] = ",".join(tags)
        if status:
            params["status"] = ",".join(status)
        if task_ids:
            params["ids"] = ",".join(task_ids)
        out = []
        for item in client.paginate("/tasks", params=params, limit=min(limit, 1000)):
            out.append(cls(client, item))
            if len(out) >= limit:
                break
        return out

    # -- remote runs (labtrack/sdk/remote.py) ------------------------------------------------------

    @classmethod
    def create(cls, project_name: str | None = None, task_name: str | None = None,
               script: str | os.PathLike[str] | None = None, notebook: str | os.PathLike[str] | None = None,
               requirements: str | os.PathLike[str] | Iterable[str] | None = None,
               argv: str | Iterable[str] | None = None, working_directory: str | None = None,
               task_type: str = "training", tags: Iterable[str] | None = None,
               client: ApiClient | None = None) -> "Task":
        """A `created` task from a script or a notebook file, not run (see `remote.create`).

        `requirements`: a list of lines, a requirements.txt path, or None (this Python's packages).
        """
        if task_type not in TASK_TYPES:
            raise ConfigurationError(f"task_type {task_type!r} is not one of: {', '.join(TASK_TYPES)}")
        return remote.create(lambda c, record: cls(c, record), project_name, task_name, script, notebook,
                             requirements, argv if argv is None or isinstance(argv, str) else list(argv),
                             working_directory, task_type, tags, client)

    @classmethod
    def clone(cls, source_task: "Task | str", name: str | None = None, parent: str | None = None,
              client: ApiClient | None = None) -> "Task":
        """A `created` copy of a task (code, parameters, configuration); `parent` defaults to the source."""
        client = client or _client_of(source_task)
        return cls(client, remote.clone(client, _id_of(source_task), name, parent))

    @classmethod
    def enqueue(cls, task: "Task | str", queue_name: str = remote.DEFAULT_QUEUE, priority: int = 0,
                client: ApiClient | None = None) -> dict[str, Any]:
        """Put a created, stopped or failed task in a queue (name or id); returns the task's record.

        Raises `Conflict` (naming the task's status) for any other task, `NotFound` for no such queue.
        """
        if isinstance(task, Task) and task._sender is not None and not task._closed:
            task.flush(wait=True)  # parameters set on this handle reach the server first
        return remote.enqueue(client or _client_of(task), _id_of(task), queue_name, priority)

    def execute_remotely(self, queue_name: str = remote.DEFAULT_QUEUE, clone: bool = False,
                         exit_process: bool = True, priority: int = 0) -> "Task | None":
        """Stop running here and let an agent run this task from the start (ClearML's semantics).

        A script exits at this line, its task `queued`; a notebook kernel enqueues its saved
        notebook and stays; in the agent's run it is a no-op returning None (see `remote.py`).
        """
        task_id = remote.execute_remotely(self, queue_name, exit_process, clone, priority)
        return None if task_id is None else Task(self._client, self.client.get(f"/tasks/{task_id}"))

    def wait(self, timeout: float | None = None, poll: float = 1.0) -> str:
        """Block until the task has ended and return that status; `TaskWaitTimeout` after `timeout` s."""
        status = remote.wait(self.client, self.id, timeout, poll)
        self._record["status"] = status
        return status

    def enqueue_widget(self, **kw: Any) -> Any:
        """A notebook widget to pick a queue, edit this task's parameters, enqueue it and follow it."""
        from labtrack.sdk.enqueue_widget import Enqueue

        return Enqueue(self, Task, **kw)

    # -- reporting -----------------------------------------------------------------------------

    def get_logger(self) -> Logger:
        """This task's `Logger`."""
        if self._logger is None:
            self._logger = Logger(self)
            if self._sender is None and not self._closed:
                self._start_sender()
        return self._logger

    def live(self, **kw: Any) -> Any:
        """A live chart widget of this task's scalars, for a notebook cell."""
        from labtrack.sdk.widgets import LiveScalars

        return LiveScalars(self, **kw)

    def _enqueue(self, op: dict[str, Any]) -> None:
        if self._sender is not None and not self._sender.stopping:
            self._sender.enqueue(op)
        elif self._client is not None:
            deliver_op(self._client, self.id, op)  # a task handle from get_task(): write through
        else:
            raise LabtrackError("This offline task is closed; start a new one.")

    def _stage_path(self, filename: str) -> Path:
        from labtrack import paths

        base = self._offline_folder / "files" if self._offline_folder else paths.data_dir() / "staging" / self.id
        folder = base / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, exist_ok=True)
        return folder / (Path(filename).name or "file")

    def _op_file_ref(self, path: Path) -> str:
        if self._offline_folder is not None:
            return path.relative_to(self._offline_folder).as_posix()
        return str(path)

    def flush(self, wait: bool = True, timeout: float = 60.0) -> bool:
        """Send everything reported so far; with `wait`, block until it is on the server (bounded).

        Returns True when everything reached the server (offline: the session folder).
        """
        if self._sender is None:
            return True
        if not wait:
            self._sender.wake()
            return True
        return self._sender.flush(timeout)

    # -- parameters and configuration ----------------------------------------------------------

    def connect(self, mutable: Any, name: str | None = None) -> Any:
        """Store a dict, argparse namespace or object as the hyperparameter section `name`.

        Values keep their types (they come back exactly). When this process runs a task for an
        agent (`LABTRACK_TASK_ID`), the values stored on the server replace the local ones.
        Returns the same object. A model (`InputModel`) is recorded as the task's input model instead,
        under `name` (default: the model's name).
        """
        import argparse

        if isinstance(mutable, Model):
            record_input_model(self, mutable, name)
            return mutable
        section = name or ("Args" if isinstance(mutable, argparse.Namespace) else "General")
        values = object_values(mutable)
        if self._remote and section in self._server_hyperparams:
            server_values = decode_section(self._server_hyperparams[section])
            override = {k: v for k, v in server_values.items() if k in values or isinstance(mutable, dict)}
            apply_values(mutable, override)
            values.update(override)
        merged = dict(self._hyperparams.get(section, {}))
        merged.update(encode_section(values))
        self._hyperparams[section] = merged
        self._enqueue({"op": "patch", "body": {"hyperparams": {section: merged}}})
        return mutable

    def set_parameters(self, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Set parameters from a flat `{"Section/name": value}` mapping (no section → General)."""
        sections: dict[str, dict[str, Any]] = {}
        for key, value in {**(params or {}), **kwargs}.items():
            section, _, pname = str(key).rpartition("/")
            sections.setdefault(section or "General", {})[pname] = value
        for section, values in sections.items():
            merged = dict(self._hyperparams.get(section, {}))
            merged.update(encode_section(values))
            self._hyperparams[section] = merged
        self._enqueue({"op": "patch", "body": {"hyperparams": {s: self._hyperparams[s] for s in sections}}})

    def get_parameters(self) -> dict[str, Any]:
        """All hyperparameters as ClearML's flat `{"Section/name": value}`, with their types."""
        if self._client is None:
            return flatten_hyperparams(self._hyperparams)
        self.flush(wait=True)
        return flatten_hyperparams(self._client.get(f"/tasks/{self.id}").get("hyperparams") or {})

    def get_parameter(self, name: str, default: Any = None) -> Any:
        return self.get_parameters().get(name, default)

    def connect_configuration(self, configuration: dict | str | os.PathLike[str], name: str = "General",
                              description: str | None = None) -> Any:
        """Store a configuration dict or file under `name`; returns the dict or the file path.

        Under an agent the server's stored configuration is returned instead.
        """
        is_path = isinstance(configuration, (str, os.PathLike))
        server = self._server_configuration.get(name) if self._remote else None
        if isinstance(configuration, (str, os.PathLike)):
            path = Path(configuration)
            if server is not None:
                out = self._stage_path(path.name)
                out.write_text(server.get("value", ""))
                return str(out)
            text = path.read_text()
            kind = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}.get(path.suffix.lower(), "text")
        else:
            if server is not None:
                try:
                    remote = json.loads(server.get("value", "{}"))
                except ValueError:
                    remote = None
                if isinstance(remote, dict) and isinstance(configuration, dict):
                    configuration.clear()
                    configuration.update(remote)
                    return configuration
            text, kind = json.dumps(configuration, indent=2, sort_keys=True, default=str), "json"
        self._enqueue({"op": "patch", "body": {"configuration": {name: {"value": text, "content_type": kind}}}})
        return str(configuration) if is_path else configuration

    def add_tags(self, tags: str | Iterable[str]) -> None:
        """Add tags (kept unique, in order)."""
        new = [tags] if isinstance(tags, str) else list(tags)
        merged = list(dict.fromkeys([*(self._record.get("tags") or []), *new]))
        self._record["tags"] = merged
        self._enqueue({"op": "patch", "body": {"tags": merged}})

    def get_tags(self) -> list[str]:
        return list(self._record.get("tags") or [])

    def set_comment(self, comment: str) -> None:
        self._record["comment"] = comment
        self._enqueue({"op": "patch", "body": {"comment": str(comment)}})

    def set_name(self, name: str) -> None:
        self._record["name"] = name
        self._enqueue({"op": "patch", "body": {"name": str(name)}})

    def move_to_project(self, new_project_name: str) -> None:
        """Move the task to the project named `new_project_name` (created when missing)."""
        from labtrack.sdk.projects import project_id

        new_id = project_id(self.client, str(new_project_name))
        self._record.update(project_id=new_id, project_name=str(new_project_name))
        self._enqueue({"op": "patch", "body": {"project_id": new_id}})

    # -- artifacts -----------------------------------------------------------------------------

    def upload_artifact(self, name: str, artifact_object: Any, metadata: dict[str, Any] | None = None,
                        wait_on_upload: bool = False) -> bool:
        """Store an object as artifact `name` (dict/list, file, folder, DataFrame, ndarray, PIL
        image, or anything picklable), with a preview. Uploads in the background unless
        `wait_on_upload`."""
        if not isinstance(name, str) or not _ARTIFACT_KEY.fullmatch(name):
            raise ConfigurationError(
                f"artifact name {name!r} is not allowed: use 1-128 characters of letters, digits, '.', '_' "
                "or '-', not starting with '.'"
            )
        staged_dir = self._stage_path("x").parent
        path, type_name, preview = serialize_artifact(artifact_object, staged_dir, name)
        op = {"op": "artifact", "key": name, "type": type_name, "file": self._op_file_ref(path),
              "filename": path.name, "preview": preview, "metadata": dict(metadata or {}),
              "delete_after": self._offline_folder is None}
        self._local_artifacts[name] = Artifact(
            key=name, type=type_name, filename=path.name, size=path.stat().st_size, sha256=sha256_file(path),
            preview=preview, metadata=dict(metadata or {}), task_id=self.id, _client=self._client,
            _local_path=path if self._offline_folder is not None else None,
        )
        self._enqueue(op)
        if wait_on_upload:
            return self.flush(wait=True)
        return True

    @property
    def artifacts(self) -> dict[str, Artifact]:
        """The task's artifacts by name (waits for pending uploads first)."""
        if self._client is None:
            return dict(self._local_artifacts)
        self.flush(wait=True)
        items = self._client.paginate(f"/tasks/{self.id}/artifacts")
        return {a["key"]: Artifact.from_api(a, self.id, self._client) for a in items}

    # -- reading back --------------------------------------------------------------------------

    def get_reported_scalars(self, max_samples: int = 0) -> dict[str, dict[str, dict[str, list]]]:
        """All scalars as ClearML's `{title: {series: {"x": [...], "y": [...]}}}`.

        `max_samples` > 0 asks the server for that many min/max/last buckets per series instead.
        """
        client = self.client
        self.flush(wait=True)
        out: dict[str, dict[str, dict[str, list]]] = {}
        for m in client.get(f"/tasks/{self.id}/metrics").get("items", []):
            xs: list = []
            ys: list = []
            params: dict[str, Any] = {"metric": m["metric"], "variant": m["variant"]}
            if max_samples:
                page = client.get(f"/tasks/{self.id}/scalars", params={**params, "buckets": max_samples})
                xs, ys = page["iterations"], page["values"]
            else:
                params["limit"] = 100_000
                while True:
                    page = client.get(f"/tasks/{self.id}/scalars", params=params)
                    xs.extend(page["iterations"])
                    ys.extend(page["values"])
                    if not page.get("next_cursor"):
                        break
                    params["cursor"] = page["next_cursor"]
            out.setdefault(m["metric"], {})[m["variant"]] = {"x": xs, "y": ys}
        return out

    def get_console(self, tail: int = 1000) -> str:
        """The last `tail` console entries as one string."""
        self.flush(wait=True)
        items = self.client.get(f"/tasks/{self.id}/console", params={"tail": tail}).get("items", [])
        return "".join(i["text"] for i in items)

    def reload(self) -> dict[str, Any]:
        """Fetch the task's full record from the server."""
        self._record = self.client.get(f"/tasks/{self.id}")
        return self._record

    # -- status --------------------------------------------------------------------------------

    def _set_status(self, action: str, reason: str = "", message: str = "", force: bool = False) -> None:
        body: dict[str, Any] = {}
        if reason:
            body["reason"] = reason[-10_000:]
        if message:
            body["message"] = message
        if force:
            body["force"] = True
        if self._sender is not None and not self._sender.stopping:
            self._sender.collect_now(final=True)  # what was reported goes before the status change
        self._enqueue({"op": "action", "action": action, "body": body})
        self._record["status"] = {"complete": "completed", "fail": "failed", "stop": "stopped"}[action]

    def mark_completed(self, status_message: str = "") -> None:
        """Mark the task completed and close it (the process, or kernel, keeps running)."""
        self._end("complete", message=status_message)

    def mark_failed(self, status_reason: str = "", status_message: str = "") -> None:
        """Mark the task failed with a reason and close it."""
        self._end("fail", reason=status_reason or "marked failed", message=status_message)

    def mark_stopped(self, force: bool = True, status_message: str = "") -> None:
        """Mark the task stopped (aborted) and close it."""
        self._end("stop", message=status_message, force=True)

    def _end(self, action: str, reason: str = "", message: str = "", force: bool = False) -> None:
        if self._closed:
            return
        if self._sender is not None and self._sender.is_sender_thread():
            # Never close from the sender's own thread (it would wait for itself).
            threading.Thread(target=self._end, args=(action, reason, message, force), daemon=True).start()
            return
        self._quiesce()
        self._set_status(action, reason, message, force)
        self._owned = False  # the status is decided
        self.close()

    def _quiesce(self) -> None:
        """Stop producing console output and let the environment capture land before the end."""
        if self._capture_thread is not None:
            self._capture_thread.join(10)  # a short script still gets its code and packages recorded
            self._capture_thread = None
        capture.remove_tee(self._tees)
        self._tees = None

    def close(self, timeout: float | None = None) -> None:
        """Finish the task: completed unless already ended, then flush (bounded) and detach.

        Never exits the process; in a notebook the kernel stays alive.
        """
        if self._closed:
            return
        self._closing = True
        self._quiesce()
        if self._owned:
            if self._terminated and not self._abort_requested and self._sender is not None:
                # SIGTERM because of an abort our heartbeat had not seen yet (an agent stopping us)?
                self._abort_requested = self._sender.stop_requested_now()
            action, reason, message = self._final_status()
            self._set_status(action, reason, message, force=action == "stop")
            self._owned = False
        self._closed = True
        if self._argparse_hook is not None:
            argv.remove_argparse_hook(self._argparse_hook)
        if self._monitor is not None:
            self._monitor.stop()
        if self._sender is not None:
            report = self._sender.close(timeout if timeout is not None else _env_float("LABTRACK_EXIT_TIMEOUT", 30.0))
            if report:
                warn(report)
            elif self._offline_folder is not None:
                warn(f"labtrack: offline session saved in {self._offline_folder}; upload it with: "
                      f"labtrack sync {self._offline_folder}")
        if Task._current is self:
            Task._current = None

    def __enter__(self) -> "Task":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._record_exception(exc_type, exc, tb)
            self._finish_at_exit()
        else:
            self.close()

    def _record_exception(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._exc_info = (exc_type, exc, tb)

    def _record_cell_outcome(self, error: BaseException | None) -> None:
        """A notebook cell has ended (lifecycle's post_run_cell hook).

        The last executed cell decides how the task ends (see `_final_status`); meanwhile the
        task's status message says how that cell went, so a list shows "last cell failed" while
        the kernel lives on.
        """
        if not self._owned:
            return  # a task this process does not run (e.g. attached after it ended) keeps its status
        if error is None:
            self._exc_info, note = None, ""
        else:
            self._exc_info = (type(error), error, error.__traceback__)
            if isinstance(error, KeyboardInterrupt):
                note = "last cell interrupted"
            else:
                note = f"last cell failed: {type(error).__name__}: {error}"[:500]
        if note != self._cell_note:
            self._cell_note = note
            self._enqueue({"op": "patch", "body": {"status_message": note}})

    def _final_status(self) -> tuple[str, str, str]:
        """How the task ends, as (action, reason, message), from what happened to it.

        The uncaught exception of a script, or the error of a notebook's last executed cell,
        comes first: KeyboardInterrupt is `stopped`, anything else `failed` with its traceback.
        Then an abort from outside or SIGTERM is `stopped`; otherwise the task `completed`.
        """
        if self._exc_info is not None:
            exc_type, exc, tb = self._exc_info
            if issubclass(exc_type, KeyboardInterrupt):
                return "stop", "", "aborted" if self._abort_requested else (self._cell_note or "KeyboardInterrupt")
            return "fail", "".join(traceback.format_exception(exc_type, exc, tb)), self._cell_note
        if self._abort_requested or self._terminated:
            return "stop", "", "aborted" if self._abort_requested else "SIGTERM"
        return "complete", "", ""

    def _finish_at_exit(self) -> None:
        """End the task by what happened (called at exit, also a kernel's, and by `__exit__`)."""
        self.close()

    def _on_stop_requested(self) -> None:
        """Someone asked (through the server) for this task to stop: interrupt like Ctrl-C."""
        if self._closed or not self._owned:
            return  # its status is decided already (closing, or a task this process does not run)
        self._abort_requested = True
        if self._terminated or self._closing:
            # Already ending (SIGTERM, exit): an interrupt now would land in the exit handler and
            # break the close that records the status. The flag alone makes it end `aborted`.
            return
        warn(f"labtrack: task {self.id} was aborted from outside; interrupting the main thread")
        if capture.in_notebook_kernel():
            lifecycle.interrupt_main()
            lifecycle.notebook_abort(self)
        else:
            lifecycle.interrupt_main()


__all__ = ["TASK_TYPES", "Task"]

current.register(lambda: Task._current)  # the hooks and helpers below task.py find the current task there


def _id_of(task: "Task | str") -> str:
    task_id = task.id if isinstance(task, Task) else task
    if not isinstance(task_id, str) or not task_id:
        raise ConfigurationError(f"expected a labtrack Task or a task id string, not {task!r}")
    return task_id


def _client_of(task: "Task | str") -> ApiClient:
    return task.client if isinstance(task, Task) else ApiClient.from_environment()


def _replay_orphans(client: ApiClient, task_id: str) -> None:
    """Replay, in the background, what processes killed while the server was down left in the spool.

    The task this process just started or attached to is replayed but never ended by the sweep.
    """
    try:
        start_background_sweep(client, live_task_ids={task_id})
    except Exception as exc:  # starting a thread must never break Task.init
        warn(f"labtrack: could not start replaying earlier runs' unsent data ({exc}); run `labtrack sync --all`")
