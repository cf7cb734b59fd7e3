"""Datasets benchmark: 10k files / 1 GB through a real server (SQLite, local artifact folder).

Measured in one run, on the same files:
- hashing throughput: `sha256sum` (one process, and `xargs -P <cpus>`) against labtrack's
  parallel streamed hashing;
- version 1: create + add (hash, send manifest) + upload + finalize, wall time and bytes the server
  wrote into its blob store;
- version 2 with 1% of the files changed: sync_folder + upload + finalize, and the bytes written
  (only the changed contents should be);
- get_local_copy: cold (empty cache: every blob downloaded and verified), warm (every file's sha256
  checked again) and warm with `verify=False` (sizes only).

Environment: `LABTRACK_BENCH_DS_FILES` (default 10000), `LABTRACK_BENCH_DS_BYTES` (total, default
1000000000), `LABTRACK_BENCH_DS_CHANGED` (fraction changed in v2, default 0.01). Results go to
`bench/results/datasets.md`. The source files are read once before the hashers run, so each of
them (sha256sum included) reads from the page cache: the numbers compare CPU work, not disk reads.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from bench.server_bench import Server

RESULTS = Path(__file__).resolve().parent / "results" / "datasets.md"


def _folder_bytes(root: Path) -> tuple[int, int]:
    """(files, bytes) under a folder."""
    count = size = 0
    for base, _dirs, files in os.walk(root):
        for name in files:
            count += 1
            size += os.path.getsize(os.path.join(base, name))
    return count, size


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _make_files(root: Path, count: int, total: int) -> list[Path]:
    each = max(1, total // count)
    made = []
    for i in range(count):
        path = root / f"d{i % 100:02d}" / f"f{i:06d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(each))
        made.append(path)
    return made


def _sha256sum(root: Path, parallel: int) -> float:
    cmd = f"find {root} -type f -print0 | xargs -0 -n 500 -P {parallel} sha256sum > /dev/null"
    seconds, _ = _timed(lambda: subprocess.run(cmd, shell=True, check=True))
    return seconds


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def run(files: int, total: int, changed_fraction: float) -> dict[str, Any]:
    from labtrack.sdk.client import ApiClient
    from labtrack.sdk.dataset_files import collect_files, default_workers, hash_files
    from labtrack.sdk.datasets import Dataset

    results: dict[str, Any] = {"files": files, "total": total, "workers": default_workers()}
    with tempfile.TemporaryDirectory(prefix="labtrack-ds-bench-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["LABTRACK_HOME"] = str(tmp / "client")
        src = tmp / "src"
        made = _make_files(src, files, total)
        _count, real_total = _folder_bytes(src)
        results["total"] = real_total

        # Read every file once first, so each hasher reads from the page cache alike (the first
        # one would otherwise pay the disk for the others).
        subprocess.run(f"find {src} -type f -print0 | xargs -0 cat > /dev/null", shell=True, check=True)
        results["sha256sum_1"] = _sha256sum(src, 1)
        results["sha256sum_n"] = _sha256sum(src, os.cpu_count() or 1)
        results["hash_labtrack"], _ = _timed(lambda: hash_files(collect_files(src), show_progress=False))

        (tmp / "server").mkdir()
        server = Server(tmp / "server")
        try:
            client = ApiClient(server.api, server.key)
            blobs = tmp / "server" / "artifacts" / "blobs"

            def version_one() -> Any:
                ds = Dataset.create("bench", "bench", client=client)
                t_add, _ = _timed(lambda: ds.add_files(src, show_progress=False))
                t_up, report = _timed(lambda: ds.upload(show_progress=False))
                t_fin, _ = _timed(ds.finalize)
                results.update(v1_add=t_add, v1_upload=t_up, v1_finalize=t_fin, v1_report=report)
                return ds

            results["v1_total"], v1 = _timed(version_one)
            results["v1_written"] = _folder_bytes(blobs)

            changed = made[:: max(1, round(1 / changed_fraction))][: max(1, round(files * changed_fraction))]
            for path in changed:
                path.write_bytes(os.urandom(path.stat().st_size))
            results["changed_files"] = len(changed)
            results["changed_bytes"] = sum(p.stat().st_size for p in changed)

            def version_two() -> Any:
                ds = Dataset.create("bench", "bench", parent_datasets=[v1], client=client)
                t_sync, counts = _timed(lambda: ds.sync_folder(src, show_progress=False))
                t_up, report = _timed(lambda: ds.upload(show_progress=False))
                ds.finalize()
                results.update(v2_sync=t_sync, v2_counts=counts, v2_upload=t_up, v2_report=report)
                return ds

            results["v2_total"], v2 = _timed(version_two)
            after = _folder_bytes(blobs)
            results["v2_written"] = (after[0] - results["v1_written"][0], after[1] - results["v1_written"][1])

            os.environ["LABTRACK_DATASET_CACHE"] = str(tmp / "cache")
            fresh = Dataset.get(v2.id, client=client)
            results["get_cold"], _ = _timed(lambda: fresh.get_local_copy(show_progress=False))
            results["get_warm"], _ = _timed(lambda: fresh.get_local_copy(show_progress=False))
            results["get_warm_sizes"], _ = _timed(lambda: fresh.get_local_copy(verify=False, show_progress=False))
        finally:
            server.stop()
            os.environ.pop("LABTRACK_DATASET_CACHE", None)
    return results


def write_report(r: dict[str, Any]) -> str:
    total = r["total"]
    rate = lambda seconds: f"{total / seconds / 1e6:,.0f} MB/s"  # noqa: E731
    v1_files, v1_bytes = r["v1_written"]
    v2_files, v2_bytes = r["v2_written"]
    lines = [
        "# Datasets benchmark",
        "",
        f"Generated by `python -m bench datasets` (bench/datasets_bench.py) on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs (shared with other work), "
        f"Python {platform.python_version()}; a real `labtrack server` on loopback (SQLite, local artifact "
        f"folder). {r['files']:,} files of random bytes, {_mb(total)} in all; {r['workers']} hashing/transfer threads.",
        "",
        "## Hashing the same files (page-cached)",
        "",
        "| hasher | s | throughput |",
        "|---|---:|---:|",
        f"| `sha256sum` (one process) | {r['sha256sum_1']:.2f} | {rate(r['sha256sum_1'])} |",
        f"| `sha256sum` (`xargs -P {os.cpu_count()}`) | {r['sha256sum_n']:.2f} | {rate(r['sha256sum_n'])} |",
        f"| labtrack `hash_files` (threads, 1 MiB chunks) | {r['hash_labtrack']:.2f} | {rate(r['hash_labtrack'])} |",
        "",
        "## Versions",
        "",
        "| step | s | notes |",
        "|---|---:|---|",
        f"| v1 create + add + upload + finalize | {r['v1_total']:.2f} | add (hash + manifest) {r['v1_add']:.2f} s, "
        f"upload {r['v1_upload']:.2f} s ({r['v1_report']['uploaded']:,} blobs, {_mb(r['v1_report']['bytes'])}), "
        f"finalize {r['v1_finalize']:.2f} s |",
        f"| v1 written by the server | | {v1_files:,} blobs, {_mb(v1_bytes)} |",
        f"| v2 ({r['changed_files']} files = {r['changed_files'] / r['files']:.0%} changed, {_mb(r['changed_bytes'])}): "
        f"create + sync + upload + finalize | {r['v2_total']:.2f} | sync (hash all + manifest) {r['v2_sync']:.2f} s, "
        f"upload {r['v2_upload']:.2f} s ({r['v2_report']['uploaded']} blobs, {_mb(r['v2_report']['bytes'])}) |",
        f"| v2 written by the server | | **{v2_files:,} blobs, {v2_bytes:,} bytes** "
        f"(the changed files: {r['changed_bytes']:,} bytes) |",
        "",
        "## Local copies of v2",
        "",
        "| get_local_copy | s | notes |",
        "|---|---:|---|",
        f"| cold (empty cache) | {r['get_cold']:.2f} | every blob downloaded, hashed while it streams, linked in |",
        f"| warm (default: every file's sha256 checked) | {r['get_warm']:.2f} | {rate(r['get_warm'])} verified |",
        f"| warm, `verify=False` (sizes only) | {r['get_warm_sizes']:.2f} | |",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    files = int(os.environ.get("LABTRACK_BENCH_DS_FILES", "10000"))
    total = int(float(os.environ.get("LABTRACK_BENCH_DS_BYTES", "1000000000")))
    changed = float(os.environ.get("LABTRACK_BENCH_DS_CHANGED", "0.01"))
    if not shutil.which("sha256sum"):
        print("sha256sum is not installed (coreutils): it is the baseline", flush=True)
        return 1
    results = run(files, total, changed)
    report = write_report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print(report, flush=True)
    v2_bytes = results["v2_written"][1]
    if v2_bytes != results["changed_bytes"]:
        print(f"v2 wrote {v2_bytes} bytes, not the {results['changed_bytes']} bytes of the changed files", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
