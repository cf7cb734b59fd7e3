"""Run a notebook cell by cell (nbclient) and save the executed copy: the agent's notebook child.

Started by the agent as `<env python> -m labtrack.agent.notebook_exec IN.ipynb OUT.ipynb KEY` in the
task's environment, so the kernel runs that environment's Python (a kernelspec written next to
the notebook names it). Outputs are echoed to this process's stdout/stderr as they arrive, which
the agent streams to the task's console. Before the first cell the kernel attaches to the task
(`Task.init()` with `LABTRACK_TASK_ID`, silently, so it is not a cell), so the notebook's own
`Task.init`, `Logger.current_logger()` and `connect()` log into that task and the task ends by the
same rules as an interactive run. OUT is rewritten after every cell, so an aborted or failed run
still leaves what it did, and uploaded as artifact KEY after the last cell ran (or failed) while the
kernel still lives, so the artifact is there before the kernel's SDK ends the task. Exit code: 0 when every cell ran, 1 when a cell failed, 2 for anything
else (the kernel died, bad input).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KERNEL_NAME = "labtrack-task"
ATTACH = ("import labtrack as _labtrack_agent\n"
          "_labtrack_agent.Task.init(quiet=True)\n"
          "del _labtrack_agent\n")


def write_kernelspec(folder: Path) -> None:
    """A kernelspec for this Python (the task's environment) under `folder/kernels`."""
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "labtrack task", "language": "python"}))


def _echo(out: Any) -> None:
    """Copy one output to this process's console (text only; images etc. stay in the notebook)."""
    kind = out.get("output_type")
    if kind == "stream":
        stream = sys.stderr if out.get("name") == "stderr" else sys.stdout
        stream.write(out.get("text", ""))
        stream.flush()
    elif kind == "error":
        sys.stderr.write(ANSI.sub("", "\n".join(out.get("traceback") or [f"{out.get('ename')}: {out.get('evalue')}"])) + "\n")
        sys.stderr.flush()
    elif kind in ("execute_result", "display_data"):
        text = (out.get("data") or {}).get("text/plain")
        if text and kind == "execute_result":
            sys.stdout.write((text if isinstance(text, str) else "".join(text)) + "\n")
            sys.stdout.flush()


def upload_executed(target: Path, key: str, filename: str) -> None:
    """Upload the executed notebook while the kernel still lives: an attached kernel ends the task
    when it shuts down, and the artifact must be there by then. A marker tells the agent it's done."""
    task_id = os.environ.get("LABTRACK_TASK_ID")
    if not task_id:
        return
    from labtrack.sdk.client import ApiClient

    try:
        with open(target, "rb") as fh:
            ApiClient.from_environment().put(f"/tasks/{task_id}/artifacts/{key}", data=fh,
                                             params={"type": "notebook", "filename": filename})
    except Exception as exc:  # the agent uploads it after this process ends
        print(f"labtrack agent: could not upload the executed notebook yet: {exc}", file=sys.stderr, flush=True)
        return
    target.with_suffix(".uploaded").touch()


def main(argv: list[str]) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    source, target, key = Path(argv[0]), Path(argv[1]), argv[2]
    nb = nbformat.read(source, as_version=4)
    write_kernelspec(target.parent / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(target.parent / "jupyter"),
                                                               os.environ.get("JUPYTER_PATH")]))

    def save(**_: Any) -> None:
        nbformat.write(nb, target)

    class Client(NotebookClient):  # type: ignore[misc]
        def output(self, outs: Any, msg: Any, display_id: Any, cell_index: int) -> Any:
            out = super().output(outs, msg, display_id, cell_index)
            if out is not None:
                _echo(out)
            return out

        async def async_start_new_kernel_client(self) -> Any:
            kc: Any = await super().async_start_new_kernel_client()
            if os.environ.get("LABTRACK_TASK_ID"):
                reply = await kc.execute_interactive(ATTACH, silent=True, store_history=False, timeout=120,
                                                     output_hook=lambda msg: None)
                if reply["content"].get("status") != "ok":
                    print(f"labtrack agent: the kernel could not attach to the task: {reply['content'].get('evalue')}",
                          file=sys.stderr, flush=True)
            return kc

        async def async_execute(self, reset_kc: bool = False, **kwargs: Any) -> Any:
            """nbclient's cell loop, with the executed notebook saved and uploaded before the kernel stops."""
            self.reset_execution_trackers()
            async with self.async_setup_kernel(**kwargs):
                kc: Any = self.kc
                info = await self.async_wait_for_reply(await ensure_async(kc.kernel_info()))
                if info is not None and "language_info" in info["content"]:
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                try:
                    for index, cell in enumerate(self.nb.cells):
                        await self.async_execute_cell(cell, index, execution_count=self.code_cells_executed + 1)
                finally:
                    self.set_widgets_metadata()
                    save()
                    upload_executed(target, key, source.name)
            return self.nb

    from jupyter_core.utils import ensure_async, run_sync

    client = Client(nb, kernel_name=KERNEL_NAME, timeout=None, startup_timeout=120, allow_errors=False,
                    resources={"metadata": {"path": str(Path.cwd())}}, on_cell_executed=save)
    try:
        # Not client.execute(): nbclient binds that to its own async_execute, not this override.
        run_sync(client.async_execute)()
    except CellExecutionError as exc:
        first = str(exc).strip().splitlines()[-1:] or ["a cell failed"]
        index = next((i for i, c in enumerate(nb.cells)
                      if any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        where = f"cell {index}" if index is not None else "a cell"
        print(f"labtrack agent: {where} failed: {ANSI.sub('', first[0])}", file=sys.stderr, flush=True)
        save()
        return 1
    except Exception as exc:  # the kernel died, was shut down on SIGTERM, could not start
        print(f"labtrack agent: the notebook did not finish: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        save()
        return 2
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
