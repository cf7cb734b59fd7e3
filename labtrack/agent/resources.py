"""What the agent's machine has (CPU, memory, GPUs) and how busy it is, for the worker's record.

psutil when it is installed, else `/proc`; GPUs through NVML (the `nvidia-ml-py` package). A
machine without a GPU, or without the NVIDIA driver, has no GPUs: detection answers `[]` and
never raises or prints, so a CPU agent looks exactly like a GPU agent with no devices.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

_nvml_lock = threading.Lock()
_nvml_state: dict[str, Any] = {}  # "module": pynvml once initialised, "failed": True when it can't be


def _nvml() -> Any | None:
    """The initialised pynvml module, or None (no package, no driver, no GPU). Initialised once."""
    with _nvml_lock:
        if "module" in _nvml_state:
            return _nvml_state["module"]
        if _nvml_state.get("failed"):
            return None
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # ImportError, NVMLError_LibraryNotFound, DriverNotLoaded, ...
            _nvml_state["failed"] = True
            return None
        _nvml_state["module"] = pynvml
        return pynvml


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def detect_gpus(indices: list[int] | None = None) -> list[dict[str, Any]]:
    """The GPUs NVML sees (index, name, uuid, memory_total in bytes), limited to `indices` when given."""
    nvml = _nvml()
    if nvml is None:
        return []
    gpus = []
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            if indices is not None and i not in indices:
                continue
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            gpus.append({"index": i, "name": _text(nvml.nvmlDeviceGetName(handle)),
                         "uuid": _text(nvml.nvmlDeviceGetUUID(handle)),
                         "memory_total": int(nvml.nvmlDeviceGetMemoryInfo(handle).total)})
    except Exception:
        return gpus
    return gpus


def gpu_usage(indices: list[int] | None = None) -> list[dict[str, Any]]:
    """Utilization (%), memory used (bytes) and temperature (°C) per GPU; [] without NVML."""
    nvml = _nvml()
    if nvml is None:
        return []
    out = []
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            if indices is not None and i not in indices:
                continue
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            try:
                temperature: float | None = float(nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
            except Exception:
                temperature = None
            out.append({"index": i, "utilization": float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu),
                        "memory_used": int(nvml.nvmlDeviceGetMemoryInfo(handle).used), "temperature": temperature})
    except Exception:
        return out
    return out


def _meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes (Linux without psutil)."""
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts:
                    values[key] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    except OSError:
        pass
    return values


def _proc_cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies from /proc/stat's first line."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


def machine_resources(gpu_indices: list[int] | None = None) -> dict[str, Any]:
    """The worker's `resources`: hostname, cpu_count, memory_total (bytes) and its GPUs."""
    try:
        import psutil

        memory_total = int(psutil.virtual_memory().total)
    except ImportError:
        memory_total = _meminfo().get("MemTotal", 0)
    return {"hostname": socket.gethostname(), "cpu_count": os.cpu_count() or 0, "memory_total": memory_total,
            "gpus": detect_gpus(gpu_indices)}


class UsageSampler:
    """The worker's `usage` at each heartbeat: CPU % since the previous sample, memory and GPUs."""

    def __init__(self, gpu_indices: list[int] | None = None):
        self.gpu_indices = gpu_indices
        try:
            import psutil

            self._psutil: Any = psutil
            psutil.cpu_percent(interval=None)  # the first call only primes psutil's counter
        except ImportError:
            self._psutil = None
        self._last_cpu = _proc_cpu_times()

    def _cpu_percent(self) -> float:
        if self._psutil is not None:
            return float(self._psutil.cpu_percent(interval=None))
        now = _proc_cpu_times()
        before, self._last_cpu = self._last_cpu, now
        if now is None or before is None or now[1] == before[1]:
            return 0.0
        return round(100.0 * (now[0] - before[0]) / (now[1] - before[1]), 1)

    def _memory_used(self) -> int:
        if self._psutil is not None:
            vm = self._psutil.virtual_memory()
            return int(vm.total - vm.available)
        info = _meminfo()
        return info.get("MemTotal", 0) - info.get("MemAvailable", info.get("MemFree", 0))

    def sample(self) -> dict[str, Any]:
        return {"cpu_percent": self._cpu_percent(), "memory_used": self._memory_used(),
                "gpus": gpu_usage(self.gpu_indices)}
