"""Server benchmark: HTTP ingest vs raw SQLite, 1M-point downsampling, filtered list over 100k tasks.

All in one run, on the same machine and the same data:

1. Ingest: N scalar points (default 1,000,000) of one series through `POST /tasks/{id}/events` in
   columnar batches of B points (default 10,000), one request after another, against raw SQLite
   `executemany` of the same rows into an indexed table `(series_id, iteration, value, time)`
   with the same pragmas (WAL, synchronous=NORMAL), one transaction per batch. Reported: points/s
   and the ratio (target ≥ 0.5).
2. Downsample: the N-point series into 1,000 buckets via `GET /tasks/{id}/scalars?buckets=1000`
   (median of 7, HTTP round trip included; target < 100 ms).
3. List: 100,000 tasks (inserted straight into the server's database, since only reads are
   measured), first page of filtered, sorted lists (median of 7; target < 50 ms).

Environment: LABTRACK_BENCH_SERVER_POINTS, LABTRACK_BENCH_SERVER_BATCH, LABTRACK_BENCH_SERVER_TASKS.
Writes bench/results/server.md.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import orjson
import requests

RESULTS = Path(__file__).resolve().parent / "results" / "server.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A `labtrack server` child process on SQLite in a temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_path = root / "labtrack.db"
        self.key = "lt_bench_" + secrets.token_hex(8)
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}/api/v1"
        env = dict(os.environ, LABTRACK_HOME=str(root), LABTRACK_SERVER_BOOTSTRAP_KEY=self.key)
        self.log = open(root / "server.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "labtrack", "server", "--port", str(self.port),
             "--db", f"sqlite:///{self.db_path}", "--artifacts", str(root / "artifacts")],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.key}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.api}/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def _median_ms(fn: Callable[[], Any], repeat: int = 7) -> float:
    fn()  # warm caches (page cache, connection pool)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_ingest(server: Server, points: int, batch: int) -> tuple[float, str]:
    """Points per second through HTTP; returns (rate, task id)."""
    task = server.session.post(f"{server.api}/tasks", json={"name": "ingest", "project_name": "bench"}).json()
    tid = task["id"]
    values = [random.random() for _ in range(points)]
    bodies = []
    for lo in range(0, points, batch):
        hi = min(points, lo + batch)
        bodies.append(orjson.dumps({"batch_id": f"b{lo}", "events": [{
            "type": "scalars", "metric": "loss", "variant": "train",
            "iterations": list(range(lo, hi)), "values": values[lo:hi], "times": [1.7e9 + i for i in range(lo, hi)],
        }]}))
    headers = {"Content-Type": "application/json"}
    start = time.perf_counter()
    for body in bodies:
        r = server.session.post(f"{server.api}/tasks/{tid}/events", data=body, headers=headers)
        r.raise_for_status()
    elapsed = time.perf_counter() - start
    return points / elapsed, tid


def bench_raw_sqlite(root: Path, points: int, batch: int) -> float:
    """Points per second of plain executemany into an indexed narrow table, one commit per batch."""
    conn = sqlite3.connect(root / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE scalars (id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL, "
                 "iteration INTEGER NOT NULL, value REAL, time REAL NOT NULL)")
    conn.execute("CREATE INDEX ix_scalars ON scalars (series_id, iteration)")
    values = [random.random() for _ in range(points)]
    rows = [(1, i, values[i], 1.7e9 + i) for i in range(points)]
    start = time.perf_counter()
    for lo in range(0, points, batch):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO scalars (series_id, iteration, value, time) VALUES (?, ?, ?, ?)", rows[lo:lo + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return points / elapsed


def seed_tasks(db_path: Path, count: int) -> None:
    """Insert `count` tasks (20 projects, mixed statuses/tags) and a loss summary for each."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=60000")
    projects = [(secrets.token_hex(16), f"bench/p{i}", "", time.time()) for i in range(20)]
    statuses = ["created", "queued", "in_progress", "completed", "failed", "stopped"]
    rng = random.Random(1)
    now = time.time()
    tasks, tags, series = [], [], []
    for i in range(count):
        tid = secrets.token_hex(16)
        created = now - rng.random() * 86400 * 365
        tag = ["baseline"] if i % 10 == 0 else []
        tasks.append((tid, rng.choice(projects)[0], f"run {i}", "training", rng.choice(statuses), "", "", 0, 0,
                      orjson.dumps(tag).decode(), "", None, "bench", created, created, created + rng.random() * 3600,
                      None, rng.randint(0, 10000), "{}", "{}", "{}", "{}"))
        tags.extend((tid, t) for t in tag)
        series.append((tid, "loss", "train", 100, rng.random(), 0.0, 1.0, 99))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO projects (id, name, description, created) VALUES (?, ?, ?, ?)", projects)
    conn.executemany(
        "INSERT INTO tasks (id, project_id, name, type, status, status_reason, status_message, stop_requested, archived,"
        " tags, comment, parent_id, user, created, started, last_update, completed, last_iteration, hyperparams,"
        " configuration, script, runtime) VALUES (" + ",".join("?" * 22) + ")", tasks)
    conn.executemany("INSERT INTO task_tags (task_id, tag) VALUES (?, ?)", tags)
    conn.executemany("INSERT INTO metric_series (task_id, metric, variant, count, last, min, max, last_iteration)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", series)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def main() -> int:
    """Run the three measurements, print a table and write bench/results/server.md."""
    points = int(os.environ.get("LABTRACK_BENCH_SERVER_POINTS", "1000000"))
    batch = int(os.environ.get("LABTRACK_BENCH_SERVER_BATCH", "10000"))
    n_tasks = int(os.environ.get("LABTRACK_BENCH_SERVER_TASKS", "100000"))
    with tempfile.TemporaryDirectory(prefix="labtrack-bench-") as tmp:
        root = Path(tmp)
        server = Server(root)
        try:
            http_rate, tid = bench_ingest(server, points, batch)
            raw_rate = bench_raw_sqlite(root, points, batch)
            params = {"metric": "loss", "variant": "train", "buckets": 1000}
            url = f"{server.api}/tasks/{tid}/scalars"
            check = server.session.get(url, params=params).json()
            assert sum(check["count"]) == points, "downsampled counts must add up to every point"
            downsample_ms = _median_ms(lambda: server.session.get(url, params=params).raise_for_status())
            seed_tasks(server.db_path, n_tasks)
            lists = {
                "project + status, sort -last_update": {"project": "bench/p3", "status": "completed", "sort": "-last_update"},
                "status + tag, sort -created": {"status": "completed,failed", "tags": "baseline", "sort": "-created"},
                "project, sort metric:loss/train": {"project": "bench/p7", "sort": "-metric:loss/train"},
                "name search, sort name": {"search": "run 99", "sort": "name"},
            }
            list_ms = {}
            for label, query in lists.items():
                q = {**query, "limit": 50}
                first = server.session.get(f"{server.api}/tasks", params=q)
                first.raise_for_status()
                assert first.json()["items"], label
                list_ms[label] = _median_ms(lambda q=q: server.session.get(f"{server.api}/tasks", params=q).raise_for_status())
        finally:
            server.stop()
    ratio = http_rate / raw_rate
    lines = [
        "# Server benchmark",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}. "
        f"{points:,} points in batches of {batch:,}; {n_tasks:,} tasks.",
        "",
        "| measurement | result | target | |",
        "|---|---|---|---|",
        f"| ingest via HTTP (columnar batches) | {http_rate:,.0f} points/s | | |",
        f"| raw SQLite executemany, same rows | {raw_rate:,.0f} points/s | | |",
        f"| ingest ratio HTTP / raw | {ratio:.2f} | ≥ 0.50 | {'ok' if ratio >= 0.5 else 'MISSED'} |",
        f"| downsample {points:,} points → 1,000 buckets (HTTP) | {downsample_ms:.1f} ms | < 100 ms | {'ok' if downsample_ms < 100 else 'MISSED'} |",
    ]
    for label, ms in list_ms.items():
        lines.append(f"| first page of {n_tasks:,} tasks: {label} | {ms:.1f} ms | < 50 ms | {'ok' if ms < 50 else 'MISSED'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
