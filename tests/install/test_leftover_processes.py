"""The session's process-table check (tests/conftest.py) sees what a test run leaves behind,
including a detached server that is nobody's child, and ignores other runs' processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from process_check import own_processes, wait_for_exit

TESTS = Path(__file__).resolve().parents[1]


def _detached_sleeper(env_home: Path) -> psutil.Process:
    """A `sleep` that outlives its parent shell (reparented, like the embedded server)."""
    out = subprocess.run(["sh", "-c", "sleep 120 >/dev/null 2>&1 & echo $!"], env=dict(os.environ, LABTRACK_HOME=str(env_home)),
                         capture_output=True, text=True, start_new_session=True, check=True).stdout
    return psutil.Process(int(out))


def test_a_detached_process_naming_the_base_temp_folder_counts(tmp_path: Path, tmp_path_factory) -> None:
    basetemp = tmp_path_factory.getbasetemp()
    before = own_processes(basetemp)
    ours = _detached_sleeper(tmp_path / "home")
    other = _detached_sleeper(Path("/nonexistent/another-run") / str(time.time_ns()))
    try:
        assert ours not in psutil.Process().children(recursive=True)  # nobody's child of ours
        left = wait_for_exit(before, basetemp, grace=0.5)
        assert ours in left and other not in left
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait(10)


def test_a_session_that_leaks_a_process_fails_and_stops_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "leaked.pid"
    (tmp_path / "test_leaky.py").write_text(textwrap.dedent(f"""
        import os, subprocess

        def test_leaks(tmp_path):
            out = subprocess.run(["sh", "-c", "sleep 120 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True,
                                 env=dict(os.environ, LABTRACK_HOME=str(tmp_path)), start_new_session=True).stdout
            open({str(pid_file)!r}, "w").write(out)
    """))
    env = dict(os.environ, PYTHONPATH=str(TESTS), LABTRACK_TEST_LEFTOVER_GRACE="1")
    # The suite's own conftest, loaded as a plugin, brings the process-table check to this run.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "--basetemp", str(tmp_path / "basetemp"), str(tmp_path / "test_leaky.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    leaked = int(pid_file.read_text())
    assert result.returncode != 0, result.stdout
    assert "left 1 process(es) running" in result.stdout and f"pid {leaked}: sleep 120" in result.stdout, result.stdout
    assert not psutil.pid_exists(leaked) or psutil.Process(leaked).status() == psutil.STATUS_ZOMBIE
