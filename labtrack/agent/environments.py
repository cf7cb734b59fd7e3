"""A virtual environment per set of frozen requirements, built once and cached under the workdir.

Each environment is a venv (no pip of its own) whose site-packages holds a `.pth` file that adds
the agent's own site-packages *after* the venv's: everything the agent's Python already has (a
CUDA build of torch on a GPU machine with no package index) is used as it is, and what the venv
installs wins over it. Only requirements the agent's packages don't satisfy are installed
(`uv pip install` when `uv` is on PATH, else pip); when nothing is missing the network is never
touched. Local version labels are ignored when comparing (`torch==2.5.1` is satisfied by
`2.5.1+cu124`), and a few packages are never installed: labtrack itself (the agent's copy is the
one that speaks to this server) and the packaging tools.

Invariant: an environment folder is used only once its `ready` marker exists, and it is written
last; a failed or interrupted build leaves no marker, and the next task rebuilds it.
The cache key is the Python version plus the normalised requirement lines; delete
`<workdir>/envs` after upgrading the agent's own packages to re-plan every environment.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from labtrack.agent.code import file_lock

NEVER_INSTALLED = {"labtrack", "pip", "setuptools", "wheel", "distribute", "uv"}
# pip options that make sense on another machine; the others (-r/-c files, -e paths) do not.
PASSED_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--no-index", "--trusted-host",
                  "--pre", "--prefer-binary", "--only-binary", "--no-binary")
READY = "labtrack-env-ready"


class EnvironmentError_(Exception):
    """The task's environment can't be built (an install failed, no installer)."""


@dataclass
class Environment:
    """A ready environment for one task."""

    key: str
    path: Path
    python: Path
    cache_hit: bool
    seconds: float
    installed: list[str] = field(default_factory=list)


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def normalised_lines(requirements: str | None) -> list[str]:
    """The requirement lines that matter: comments and blanks dropped, order kept."""
    lines = []
    for raw in (requirements or "").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def agent_site_dirs() -> list[str]:
    """The agent's site-packages folders (its venv's, the system's, the user's), in path order."""
    seen: list[str] = []
    for entry in sys.path:
        if entry and Path(entry).name in ("site-packages", "dist-packages") and entry not in seen and Path(entry).is_dir():
            seen.append(entry)
    return seen


def _visible_versions(paths: list[str]) -> dict[str, str]:
    """canonical name → version of every distribution in `paths` (first one wins, as imports do)."""
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions(path=paths):
        name = dist.metadata["Name"] if "Name" in dist.metadata else None
        if name:
            found.setdefault(canonical(name), dist.version)
    return found


def _packaging() -> Any:
    """The `packaging` library, or pip's vendored copy: a GPU box's minimal install may lack the first."""
    try:
        import packaging.requirements
        import packaging.version

        return packaging
    except ImportError:
        import pip._vendor.packaging.requirements
        import pip._vendor.packaging.version

        return pip._vendor.packaging


def _satisfied(requirement: Any, version: str | None) -> bool:
    packaging = _packaging()
    InvalidVersion, Version = packaging.version.InvalidVersion, packaging.version.Version

    if version is None:
        return False
    if requirement.url:
        return True  # installed under that name; its version can't be compared with a URL
    try:
        have = Version(version)
    except InvalidVersion:
        return False
    for spec in requirement.specifier:
        if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
            try:
                if Version(spec.version).public != have.public:
                    return False
            except InvalidVersion:
                return False
        elif not spec.contains(have.public, prereleases=True):
            return False
    return True


def plan_install(lines: list[str], visible: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Split requirement lines into (to install, pip options to pass, notes for the console)."""
    packaging = _packaging()
    InvalidRequirement, Requirement = packaging.requirements.InvalidRequirement, packaging.requirements.Requirement

    missing: list[str] = []
    options: list[str] = []
    notes: list[str] = []
    for line in lines:
        if line.startswith("-"):
            if line.split()[0].split("=")[0] in PASSED_OPTIONS:
                options.append(line)
            else:
                notes.append(f"skipped {line!r} (it names a file or folder of the machine that made the task)")
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement:
            notes.append(f"skipped {line!r} (not a requirement pip understands)")
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue
        name = canonical(req.name)
        if name in NEVER_INSTALLED:
            continue
        have = visible.get(name)
        if _satisfied(req, have):
            continue
        if req.url and req.url.startswith("file:"):
            notes.append(f"skipped {line!r} (a local file of the machine that made the task)")
            continue
        missing.append(line)
    return missing, options, notes


class EnvironmentCache:
    """Environments under `root`, one folder per requirements hash."""

    def __init__(self, root: Path, base_python: str | None = None):
        self.root = root
        self.base_python = base_python or sys.executable

    def key(self, lines: list[str]) -> str:
        digest = hashlib.sha256()
        digest.update(f"python {sys.version_info.major}.{sys.version_info.minor} {self.base_python}\n".encode())
        digest.update("\n".join(lines).encode())
        return digest.hexdigest()[:16]

    def prepare(self, requirements: str | None, note: Callable[[str], None], output: Callable[[str], None],
                stop: threading.Event | None = None) -> Environment:
        """The environment for these requirements: from the cache, or built now.

        Raises:
            EnvironmentError_: the build failed (its output went to `output`).
        """
        started = time.monotonic()
        lines = normalised_lines(requirements)
        key = self.key(lines)
        path = self.root / key
        python = path / "bin" / "python"
        with file_lock(self.root / f"{key}.lock"):
            if (path / READY).exists() and python.exists():
                return Environment(key, path, python, True, time.monotonic() - started)
            shutil.rmtree(path, ignore_errors=True)
            try:
                installed = self._build(path, lines, note, output, stop)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            (path / READY).write_text("\n".join(installed) + "\n")
        return Environment(key, path, python, False, time.monotonic() - started, installed)

    def _build(self, path: Path, lines: list[str], note: Callable[[str], None], output: Callable[[str], None],
               stop: threading.Event | None) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        made = subprocess.run([self.base_python, "-m", "venv", "--without-pip", str(path)],
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise EnvironmentError_(f"python -m venv failed: {made.stderr.strip()[-2000:]}")
        site = path / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        agent_dirs = agent_site_dirs()
        # `addsitedir` (not a bare path line) so the agent's own .pth files (editable installs) apply too;
        # it appends, so the venv's own packages come first.
        (site / "_labtrack_agent_site.pth").write_text(
            "".join(f"import site; site.addsitedir({d!r})\n" for d in agent_dirs))
        visible = _visible_versions([str(site), *agent_dirs, *_pythonpath()])
        missing, options, notes = plan_install(lines, visible)
        for line in notes:
            note(line)
        if not missing:
            note(f"environment {path.name}: " + ("all requirements are already installed; nothing to download"
                                                 if lines else "no requirements"))
            return []
        wanted = sum(not line.startswith("-") for line in lines)
        note(f"environment {path.name}: installing {len(missing)} of {wanted} requirements: "
             + ", ".join(missing[:10]) + (" …" if len(missing) > 10 else ""))
        req_file = path / "labtrack-requirements.txt"
        req_file.write_text("".join(f"{line}\n" for line in options + missing))
        uv = shutil.which("uv")
        if uv:
            cmd = [uv, "pip", "install", "--python", str(path / "bin" / "python"), "-r", str(req_file)]
        else:
            cmd = [str(path / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                   "--no-input", "-r", str(req_file)]
        code = _run_streaming(cmd, output, stop, env={**os.environ, "VIRTUAL_ENV": str(path), "PIP_REQUIRE_VIRTUALENV": "0"})
        if stop is not None and stop.is_set():
            raise EnvironmentError_("stopped while the environment was being built")
        if code != 0:
            raise EnvironmentError_(f"installing the requirements failed ({'uv' if uv else 'pip'} exit code {code})")
        return missing


def _pythonpath() -> list[str]:
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]


def _run_streaming(cmd: list[str], output: Callable[[str], None], stop: threading.Event | None,
                   env: dict[str, str]) -> int:
    """Run an installer, copying its output as it comes; killed when `stop` is set."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None

    def pump() -> None:
        for raw in iter(proc.stdout.readline, b""):  # type: ignore[union-attr]
            output(raw.decode(errors="replace"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    while proc.poll() is None:
        if stop is not None and stop.wait(0.2):
            proc.kill()
        elif stop is None:
            time.sleep(0.2)
    reader.join(5)
    return proc.returncode
