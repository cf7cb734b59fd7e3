"""`make test`'s PostgreSQL: one per checkout (own data folder, free port), started for a run and
stopped after it, so two checkouts test at once and nothing is left running."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil
import psycopg

CHECKOUT = Path(__file__).resolve().parents[2]
PROBE = "import os, psycopg; psycopg.connect(os.environ['LABTRACK_TEST_PG_URL']).close(); print(os.environ['LABTRACK_TEST_PG_URL'])"


def _fake_checkout(root: Path) -> Path:
    (root / "scripts").mkdir(parents=True)
    for name in ("postgres.sh", "with-postgres.sh"):
        shutil.copy2(CHECKOUT / "scripts" / name, root / "scripts" / name)
    return root


def _postmasters(data_dirs: list[str]) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(arg in data_dirs for arg in cmdline) and "-D" in cmdline:
            found.append(proc)
    return found


def test_two_checkouts_get_their_own_postgres_and_stop_it(tmp_path: Path) -> None:
    import sys

    a, b = _fake_checkout(tmp_path / "a"), _fake_checkout(tmp_path / "b")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABTRACK_TEST_PG")}
    # Checkout b's run (its own shell: no URL inherited) happens inside checkout a's: both up at once.
    inner = f"env -u LABTRACK_TEST_PG_URL {b}/scripts/with-postgres.sh {sys.executable} -c \"{PROBE}\""
    outer = f"{sys.executable} -c \"{PROBE}\" && {inner}"
    data_dirs = []
    try:
        run = subprocess.run([str(a / "scripts" / "with-postgres.sh"), "sh", "-c", outer], env=env,
                             capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stdout + run.stderr
        url_a, url_b = run.stdout.split()
        assert url_a != url_b  # another port
        data_dirs = [subprocess.run([str(c / "scripts" / "postgres.sh"), "datadir"], capture_output=True, text=True,
                                    check=True).stdout.strip() for c in (a, b)]
        assert data_dirs[0] != data_dirs[1]
        assert not _postmasters(data_dirs), "with-postgres.sh left its PostgreSQL running"
        assert subprocess.run([str(a / "scripts" / "postgres.sh"), "status"], capture_output=True).returncode == 1
    finally:
        for checkout in (a, b):
            subprocess.run([str(checkout / "scripts" / "postgres.sh"), "remove"], capture_output=True, timeout=120)
    assert not any(Path(d).exists() for d in data_dirs)
