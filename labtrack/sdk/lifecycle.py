"""Status that tells the truth: atexit, uncaught exceptions, SIGTERM, aborts from outside, notebooks.

Installed once per process by the first `Task.init`. Each hook only records what happened on the
current task; the task decides its final status when it closes (at exit, or at `close()`). The
hooks reach the current task through `current.py` and use only `LifecycleTask`: this module sits
below `task.py` and never imports it.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
import traceback
from typing import Any, Protocol

from labtrack.sdk import current
from labtrack.sdk.capture import ConsoleSink, in_notebook_kernel
from labtrack.sdk.notices import warn

_installed = False
_previous_excepthook = sys.excepthook
_cell_running = threading.Event()


class LifecycleTask(Protocol):
    """What the hooks need of the current task."""

    _closed: bool
    _terminated: bool
    _abort_requested: bool

    def _record_exception(self, exc_type: Any, exc: Any, tb: Any) -> None: ...

    def _record_cell_outcome(self, error: BaseException | None) -> None: ...

    def _finish_at_exit(self) -> None: ...

    def get_logger(self) -> ConsoleSink: ...

    def mark_stopped(self, force: bool = True, status_message: str = "") -> None: ...


def _current() -> LifecycleTask | None:
    task: LifecycleTask | None = current.current_task()
    return task


def install() -> None:
    """Install the process-wide hooks (idempotent)."""
    global _installed, _previous_excepthook
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    if in_notebook_kernel():
        _install_kernel_hooks()
        return
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)
            if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
                # Processes started in the background by a shell inherit an ignored SIGINT, and
                # Python then never raises KeyboardInterrupt, so an abort from outside would go
                # unnoticed. Keep ignoring real Ctrl-C, but let our own abort through.
                signal.signal(signal.SIGINT, _sigint_when_ignored)
        except (ValueError, OSError):  # not allowed here (e.g. embedded interpreter): skip
            pass


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    task = _current()
    if task is not None:
        task._record_exception(exc_type, exc, tb)
    _previous_excepthook(exc_type, exc, tb)


def _sigint_when_ignored(signum: int, frame: Any) -> None:
    task = _current()
    if task is not None and task._abort_requested:
        raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: Any) -> None:
    task = _current()
    if task is not None:
        task._terminated = True
    # Unwind the main thread (finally blocks run), then atexit marks the task stopped.
    raise SystemExit(128 + signum)


def _at_exit() -> None:
    task = _current()
    if task is not None and not task._closed:
        try:
            task._finish_at_exit()
        except Exception as exc:  # never turn a clean exit into a traceback
            warn(f"labtrack: could not close task at exit: {exc}")


def interrupt_main() -> None:
    """Interrupt the main thread like Ctrl-C (used when someone aborts the task from outside).

    A real SIGINT (not `_thread.interrupt_main`) is sent so that blocking calls such as
    `time.sleep` wake up. In a kernel only a running cell is interrupted.
    """
    if in_notebook_kernel() and not _cell_running.is_set():
        return
    try:
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # type: ignore[arg-type]
    except (OSError, ValueError, TypeError):
        import _thread

        _thread.interrupt_main()


# -- notebooks -----------------------------------------------------------------------------------

def _install_kernel_hooks() -> None:
    from IPython import get_ipython

    ip = get_ipython()
    ip.events.register("pre_run_cell", _pre_run_cell)
    ip.events.register("post_run_cell", _post_run_cell)


def _pre_run_cell(info: Any = None) -> None:
    _cell_running.set()


def _post_run_cell(result: Any) -> None:
    """Every cell's outcome goes to the task, which ends by its last cell's (stopped after an
    interrupt, failed after an error, else completed); a failed cell is also written to the
    task's console. The task goes on meanwhile (the user may fix the cell)."""
    _cell_running.clear()
    task = _current()
    if task is None or task._closed:
        return
    error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
    try:
        task._record_cell_outcome(error)
    except Exception:  # never break the kernel over bookkeeping
        pass
    if error is None:
        return
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        task.get_logger().write_console("stderr", text)
        if isinstance(error, KeyboardInterrupt) and task._abort_requested:
            task.mark_stopped(status_message="aborted from outside")
    except Exception:
        pass


def notebook_abort(task: LifecycleTask) -> None:
    """Abort in a kernel with no cell running: just stop the task; the kernel stays."""
    if not _cell_running.is_set():
        task.mark_stopped(status_message="aborted from outside")
