"""Session fixtures of the install tests: the wheel built with no node on PATH, and a fresh venv
holding it (see install_fixtures.py for how each is made and why)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Iterator

import pytest

from install_fixtures import BuiltWheel, WheelVenv, copy_checkout, path_without_node


@pytest.fixture(scope="session")
def nodeless_wheel(tmp_path_factory: pytest.TempPathFactory) -> BuiltWheel:
    """The wheel built by pip from a copy of the checkout, with no node on PATH."""
    base = tmp_path_factory.mktemp("nodeless-build")
    source = copy_checkout(base / "source")
    build_path = path_without_node(base / "bin")
    assert shutil.which("node", path=build_path) is None
    env = {k: v for k, v in os.environ.items() if k not in ("NODE", "NODE_PATH", "npm_execpath")}
    env["PATH"] = build_path
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(base / "dist"), str(source)],
        env=env, capture_output=True, text=True, timeout=1500,
    )
    seconds = time.monotonic() - started
    log = result.stdout + result.stderr
    (base / "build.log").write_text(log)
    assert result.returncode == 0, log[-6000:]
    (wheel,) = (base / "dist").glob("labtrack-*.whl")
    print(f"\nwheel built with no node on PATH in {seconds:.0f} s: {wheel.name}")
    return BuiltWheel(path=wheel, build_path=build_path, log=log, seconds=seconds)


@pytest.fixture(scope="session")
def wheel_venv(nodeless_wheel: BuiltWheel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WheelVenv]:
    """A fresh venv with the wheel installed (its dependencies borrowed from the test venv)."""
    root = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    venv = WheelVenv(root)
    site = subprocess.run([str(venv.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "_borrowed_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv.python), "install", "-q", "--no-deps",
                    "--no-index", str(nodeless_wheel.path)], check=True, timeout=300)
    yield venv
