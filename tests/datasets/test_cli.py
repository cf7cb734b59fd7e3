"""`labtrack data …` round trip in real processes: create, add, remove, close, list, diff, get."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dataset_helpers import read_tree, write_tree


def test_cli_round_trip(tracking_server, client_home: Path, tmp_path: Path) -> None:
    env = {**tracking_server.env, "LABTRACK_HOME": str(client_home)}

    def data(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        run = subprocess.run([sys.executable, "-m", "labtrack", "data", *args, "--no-progress"], env=env,
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert (run.returncode == 0) == ok, f"{args}: {run.returncode}\n{run.stdout}\n{run.stderr}"
        return run

    src = write_tree(tmp_path / "src", {"a.txt": b"a", "b.txt": b"b", "sub/c.png": b"c", "sub/d.txt": b"d"})
    v1 = data("create", "--project", "cli", "--name", "set").stdout.split()[-1]
    data("add", "--files", str(src))
    data("remove", "--files", "sub/*.txt")
    closed = data("close").stdout
    assert "is final (3 files" in closed and closed.split()[-1] == v1
    # the current draft is forgotten once closed: a command without --id says what to do
    assert "No current dataset" in data("upload", ok=False).stderr

    v2 = data("create", "--project", "cli", "--name", "set", "--parents", v1).stdout.split()[-1]
    write_tree(tmp_path / "more", {"e.txt": b"e", "a.txt": b"A"})
    data("add", "--files", str(tmp_path / "more"), "--wildcard", "*.txt")
    data("upload")
    data("close")

    listing = data("list", "--project", "cli").stdout
    assert listing.index(v2) < listing.index(v1) and "final" in listing
    assert data("list", "--id", v2).stdout.count("\n") == 4
    diff = data("diff", "--id", v2, "--other", v1).stdout.splitlines()
    assert diff == ["+ e.txt", "M a.txt"]

    cached = Path(data("get", "--project", "cli", "--name", "set").stdout.strip())
    assert read_tree(cached) == {"a.txt": b"A", "b.txt": b"b", "sub/c.png": b"c", "e.txt": b"e"}
    copy = Path(data("get", "--id", v1, "--copy", str(tmp_path / "work")).stdout.strip())
    assert read_tree(copy) == {"a.txt": b"a", "b.txt": b"b", "sub/c.png": b"c"}

    # errors are one clear line and exit code 1, never a traceback
    for args, text in [
        (("add", "--id", v1, "--files", str(src)), "final and immutable"),
        (("get", "--id", "0" * 32), "No dataset version"),
        (("get", "--project", "cli", "--name", "nope"), "has no"),
        (("create", "--project", "cli", "--name", "set", "--version", "1.0.0"), "already has a version"),
    ]:
        err = data(*args, ok=False).stderr
        assert text in err and "Traceback" not in err, err
    data("create", "--project", "cli", "--name", "other")
    err = data("add", "--files", str(tmp_path / "missing"), ok=False).stderr
    assert "no such file or folder" in err and "Traceback" not in err
