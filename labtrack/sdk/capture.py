"""What `Task.init` captures automatically: code, packages, machine, argv, console, resource usage."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol


class ConsoleSink(Protocol):
    """Where the console tee copies writes (the task's `Logger`)."""

    def write_console(self, stream: str, text: str) -> None: ...


class ScalarSink(Protocol):
    """Where the resource monitor reports (the task's `Logger`)."""

    def report_scalar(self, title: str, series: str, value: float, iteration: int) -> None: ...

MAX_DIFF_BYTES = 2 * 1024 * 1024  # a bigger uncommitted diff is cut, with a note saying so


# -- code ----------------------------------------------------------------------------------------

def _git(args: list[str], cwd: Path) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.decode(errors="replace").strip() if out.returncode == 0 else ""


def strip_credentials(url: str) -> str:
    """Remove `user:password@` from a remote URL (tokens must never reach the server)."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1", url)


def entry_point() -> tuple[str, Path]:
    """The script being run (or '' in an interactive session) and its folder."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path and not _in_kernel():
        script = Path(path).resolve()
        return str(script), script.parent
    return "", Path.cwd()


def capture_script(entry: tuple[str, Path] | None = None) -> dict[str, Any]:
    """Repository (without credentials), branch, commit, uncommitted diff, entry point, argv.

    `entry` is `entry_point()` taken on the main thread: CPython removes `__main__.__file__`
    once the script body has finished, which a background capture may outlive.
    """
    script, folder = entry or entry_point()
    info: dict[str, Any] = {"entry_point": script, "working_dir": str(Path.cwd()), "argv": list(sys.argv[1:])}
    root = _git(["rev-parse", "--show-toplevel"], folder)
    if root:
        info["repository"] = strip_credentials(_git(["remote", "get-url", "origin"], folder))
        info["branch"] = _git(["rev-parse", "--abbrev-ref", "HEAD"], folder)
        info["commit"] = _git(["rev-parse", "HEAD"], folder)
        diff = _git(["diff", "HEAD"], folder)
        if len(diff) > MAX_DIFF_BYTES:
            diff = diff[:MAX_DIFF_BYTES] + "\n# labtrack: diff cut at 2 MiB\n"
        info["diff"] = diff
        if script:
            try:
                info["entry_point"] = str(Path(script).relative_to(root))
                info["working_dir"] = os.path.relpath(Path.cwd(), root)
            except ValueError:
                pass
    return info


def frozen_requirements() -> str:
    """The installed distributions as `name==version` lines, sorted: what an agent reinstalls."""
    from importlib import metadata

    lines = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if "Name" in dist.metadata else None
        if name:
            lines.add(f"{name}=={dist.version}")
    return "\n".join(sorted(lines, key=str.lower)) + "\n"


# -- machine -------------------------------------------------------------------------------------

def gpu_info() -> list[dict[str, Any]]:
    """GPUs seen by NVML (name, memory), or [] when NVML or a GPU is absent."""
    try:
        import pynvml  # provided by the nvidia-ml-py package
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:
        return []
    gpus = []
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append({"index": i, "name": name.decode() if isinstance(name, bytes) else name,
                         "memory_gb": round(mem.total / 1024**3, 2)})
    except Exception:
        pass
    return gpus


def capture_runtime() -> dict[str, Any]:
    """Hostname, Python, OS, CPU count, memory and GPUs."""
    import psutil

    return {
        "hostname": socket.gethostname(),
        "python": sys.version.split()[0],
        "os": platform.platform(),
        "cpu_count": os.cpu_count() or 0,
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 2),
        "gpus": gpu_info(),
    }


# -- console -------------------------------------------------------------------------------------

class ConsoleTee:
    """A stream wrapper that writes through and copies every write to the task's console."""

    def __init__(self, stream: Any, name: str, logger: ConsoleSink):
        self._stream = stream
        self._name = name
        self._logger = logger
        self.enabled = True

    def write(self, text: str) -> int:
        result = self._stream.write(text)
        if self.enabled and text:
            try:
                self._logger.write_console(self._name, text)
            except Exception:
                pass
        return result

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def install_tee(logger: ConsoleSink) -> tuple[ConsoleTee, ConsoleTee]:
    out = ConsoleTee(sys.stdout, "stdout", logger)
    err = ConsoleTee(sys.stderr, "stderr", logger)
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    return out, err


def remove_tee(tees: tuple[ConsoleTee, ConsoleTee] | None) -> None:
    """Undo `install_tee`; when someone wrapped our tee in turn, just switch ours off."""
    if not tees:
        return
    out, err = tees
    out.enabled = err.enabled = False
    if sys.stdout is out:
        sys.stdout = out._stream
    if sys.stderr is err:
        sys.stderr = err._stream


# -- resource monitor ----------------------------------------------------------------------------

class ResourceMonitor:
    """Samples CPU, memory and GPU usage into `:monitor:` scalars on a background thread."""

    TITLE = ":monitor:"

    def __init__(self, logger: ScalarSink, interval: float = 30.0):
        self._logger = logger
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labtrack-monitor", daemon=True)
        self._start = time.monotonic()
        self._nvml = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def sample(self) -> None:
        """Report one sample of every gauge."""
        import psutil

        it = int(time.monotonic() - self._start)
        rep = self._logger.report_scalar
        rep(self.TITLE, "cpu_percent", psutil.cpu_percent(interval=None), it)
        mem = psutil.virtual_memory()
        rep(self.TITLE, "memory_used_gb", round(mem.used / 1024**3, 3), it)
        rep(self.TITLE, "process_rss_gb", round(psutil.Process().memory_info().rss / 1024**3, 3), it)
        for gpu in self._gpu_samples():
            for key, value in gpu.items():
                if key != "index":
                    rep(self.TITLE, f"gpu_{gpu['index']}_{key}", value, it)

    def _gpu_samples(self) -> list[dict[str, Any]]:
        try:
            import pynvml
        except ImportError:
            return []
        try:
            if self._nvml is None:
                pynvml.nvmlInit()
                self._nvml = pynvml
            out = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                h = pynvml.nvmlDeviceGetHandleByIndex(i)
                util = pynvml.nvmlDeviceGetUtilizationRates(h)
                mem = pynvml.nvmlDeviceGetMemoryInfo(h)
                out.append({"index": i, "utilization": float(util.gpu),
                            "memory_used_gb": round(mem.used / 1024**3, 3)})
            return out
        except Exception:
            return []

    def _run(self) -> None:
        import psutil

        psutil.cpu_percent(interval=None)  # the first call only primes the counter
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:
                pass


def _in_kernel() -> bool:
    return in_notebook_kernel()


def in_notebook_kernel() -> bool:
    """True inside a Jupyter (ipykernel) kernel."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except Exception:
        return False
    return ip is not None and getattr(ip, "kernel", None) is not None
