"""The frozen package list of a kernel's Python environment (for a task's `script.requirements`)."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

log = logging.getLogger(__name__)

# Runs inside the kernel's interpreter: importlib.metadata works even where pip is missing.
_FREEZE_SCRIPT = """
import importlib.metadata as md
seen = {}
for dist in md.distributions():
    name = dist.metadata["Name"]
    if name and name.lower() not in seen:
        seen[name.lower()] = f"{name}=={dist.version}"
print("\\n".join(sorted(seen.values(), key=str.lower)))
"""

#: Snapshots run on every save; the package list rarely changes within a couple of minutes.
CACHE_SECONDS = 120.0
_cache: dict[str, tuple[float, str]] = {}


def kernel_python(argv: list[str]) -> str:
    """The interpreter a kernelspec's argv runs, resolved the way jupyter_client resolves it."""
    exe = argv[0] if argv else sys.executable
    # jupyter_client substitutes the server's own interpreter for these bare names.
    if exe in {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}:
        return sys.executable
    return exe


async def frozen_requirements(python: str, timeout: float = 30.0) -> str:
    """`name==version` lines for every distribution importable by `python`; "" when that fails."""
    cached = _cache.get(python)
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        proc = await asyncio.create_subprocess_exec(
            python, "-c", _FREEZE_SCRIPT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError as exc:
        log.warning("labtrack: cannot list the packages of %s: %s", python, exc)
        return ""
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        log.warning("labtrack: listing the packages of %s took over %.0fs; skipped", python, timeout)
        return ""
    if proc.returncode != 0:
        log.warning("labtrack: listing the packages of %s failed (exit %s)", python, proc.returncode)
        return ""
    text = out.decode(errors="replace").strip()
    _cache[python] = (time.monotonic(), text)
    return text
