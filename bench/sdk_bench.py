"""SDK benchmark: labtrack against MLflow (SQLite), W&B (offline) and ClearML (offline).

Workload (the same for every tool): one run logs 3 scalar series (loss, acc, lr) for N steps
(3·N points) plus 20 hyperparameters, then finishes. Measured per tool, each trial a fresh
process with its own HOME:

- in-loop µs per reported point (and, in the same process, a bare `list.append` loop: the floor);
- flush: seconds from the end of the loop until every point is durable (labtrack: acknowledged by
  the server, which commits before it answers; peers: their finish/flush call returned);
- read: seconds to read the full `loss` series back (peers offline have no read API: their own
  files are parsed, as their UIs would);
- peak RSS of the trial process.

Peers are installed by this script into `.venv-bench` (pip from PyPI). Results go to
`bench/results/sdk.md`. Environment: `LABTRACK_BENCH_N` (steps, default 100000),
`LABTRACK_BENCH_PEER_N` (steps for peers, default the same), `LABTRACK_BENCH_TOOLS`
(comma list, default `labtrack,mlflow,wandb,clearml`).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".venv-bench"
PEER_PINS = ["mlflow>=3,<4", "wandb==0.31.*", "clearml==2.1.12"]
RESULTS = Path(__file__).resolve().parent / "results" / "sdk.md"

COMMON = r'''
import json, os, resource, sys, time
N = int(sys.argv[1])
HP = {f"hp_{i}": (i * 0.1 if i % 2 else i) for i in range(20)}

def floor_us():
    buf = []
    t = time.perf_counter()
    for i in range(N):
        buf.append(("loss", i, 1.0 / (i + 1)))
        buf.append(("acc", i, i / N))
        buf.append(("lr", i, 0.001))
    return (time.perf_counter() - t) / (3 * N) * 1e6

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def emit(**kw):
    print("RESULT " + json.dumps(kw), flush=True)
'''

LABTRACK_TRIAL = COMMON + r'''
import labtrack
floor = floor_us()
task = labtrack.Task.init("bench", "sdk", auto_connect_streams=False, auto_resource_monitoring=False)
task.connect(HP)
log = task.get_logger()
rep = log.report_scalar
t0 = time.perf_counter()
for i in range(N):
    rep("loss", "train", 1.0 / (i + 1), i)
    rep("acc", "train", i / N, i)
    rep("lr", "train", 0.001, i)
t1 = time.perf_counter()
ok = task.flush(wait=True, timeout=600)
t2 = time.perf_counter()
its, params = [], {"metric": "loss", "variant": "train", "limit": 100000}
while True:
    page = task.client.get(f"/tasks/{task.id}/scalars", params=params)
    its += page["iterations"]
    if not page.get("next_cursor"):
        break
    params["cursor"] = page["next_cursor"]
t3 = time.perf_counter()
assert ok and its == list(range(N)), (ok, len(its))
task.close()
emit(loop=t1 - t0, us=(t1 - t0) / (3 * N) * 1e6, floor=floor, flush=t2 - t1, read=t3 - t2, rss=rss_mb(), points=len(its))
'''

MLFLOW_TRIAL = COMMON + r'''
import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
mlflow.set_tracking_uri("sqlite:///" + os.path.join(os.environ["HOME"], "mlflow.db"))
floor = floor_us()
client = MlflowClient()
exp = client.create_experiment("bench")
run = client.create_run(exp)
rid = run.info.run_id
client.log_batch(rid, params=[Param(k, str(v)) for k, v in HP.items()])
pending = []
t0 = time.perf_counter()
for i in range(N):
    ts = int(time.time() * 1000)
    pending.append(Metric("loss", 1.0 / (i + 1), ts, i))
    pending.append(Metric("acc", i / N, ts, i))
    pending.append(Metric("lr", 0.001, ts, i))
    if len(pending) >= 999:          # MLflow's batch limit is 1000 metrics
        client.log_batch(rid, metrics=pending)
        pending = []
t1 = time.perf_counter()
if pending:
    client.log_batch(rid, metrics=pending)
client.set_terminated(rid)
t2 = time.perf_counter()
hist = client.get_metric_history(rid, "loss")
t3 = time.perf_counter()
assert len(hist) == N, len(hist)
emit(loop=t1 - t0, us=(t1 - t0) / (3 * N) * 1e6, floor=floor, flush=t2 - t1, read=t3 - t2, rss=rss_mb(), points=len(hist),
     note="log_batch every 999 points (its fastest loop)")
'''

WANDB_TRIAL = COMMON + r'''
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
import glob, wandb
floor = floor_us()
run = wandb.init(project="bench", config=HP, dir=os.environ["HOME"])
t0 = time.perf_counter()
for i in range(N):
    wandb.log({"loss": 1.0 / (i + 1), "acc": i / N, "lr": 0.001}, step=i)
t1 = time.perf_counter()
run.finish()
t2 = time.perf_counter()
count = -1
try:  # no offline read API: parse the run's record file (LevelDB log format of protobuf Records)
    import struct
    from wandb.proto import wandb_internal_pb2
    path = glob.glob(os.path.join(os.environ["HOME"], "wandb", "offline-run-*", "run-*.wandb"))[0]
    raw = open(path, "rb").read()
    pos, block, pending, count = 7, 32768, b"", 0
    while pos + 7 <= len(raw):
        if block - pos % block < 7:          # block trailer padding
            pos += block - pos % block
            continue
        length, kind = struct.unpack_from("<HB", raw, pos + 4)
        data = raw[pos + 7: pos + 7 + length]
        pos += 7 + length
        pending = data if kind in (1, 2) else pending + data
        if kind in (1, 4):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(pending)
            if rec.WhichOneof("record_type") == "history":
                count += sum(1 for item in rec.history.item if item.key == "loss" or list(item.nested_key) == ["loss"])
except Exception as exc:
    print("read-back failed:", repr(exc), file=sys.stderr)
t3 = time.perf_counter()
emit(loop=t1 - t0, us=(t1 - t0) / (3 * N) * 1e6, floor=floor, flush=t2 - t1, read=(t3 - t2) if count == N else None,
     rss=rss_mb(), points=count, note="dict per step; read = parse its .wandb file")
'''

CLEARML_TRIAL = COMMON + r'''
import glob, zipfile
from clearml import Task
Task.set_offline(offline_mode=True)
floor = floor_us()
task = Task.init(project_name="bench", task_name="sdk", auto_connect_frameworks=False,
                 auto_resource_monitoring=False, auto_connect_streams=False)
task.connect(HP)
log = task.get_logger()
t0 = time.perf_counter()
for i in range(N):
    log.report_scalar("loss", "train", 1.0 / (i + 1), i)
    log.report_scalar("acc", "train", i / N, i)
    log.report_scalar("lr", "train", 0.001, i)
t1 = time.perf_counter()
task.flush(wait_for_uploads=True)
folder = task.get_offline_mode_folder()
task.close()
t2 = time.perf_counter()
count = 0
for path in glob.glob(os.path.join(str(folder), "*.jsonl")):  # no offline read API: parse its files
    with open(path) as fh:
        for line in fh:
            for ev in (json.loads(line) if line.lstrip().startswith("[") else [json.loads(line)]):
                evs = ev if isinstance(ev, list) else [ev]
                for e in evs:
                    if isinstance(e, dict) and e.get("metric") == "loss":
                        count += 1
t3 = time.perf_counter()
emit(loop=t1 - t0, us=(t1 - t0) / (3 * N) * 1e6, floor=floor, flush=t2 - t1, read=(t3 - t2) if count == N else None,
     rss=rss_mb(), points=count, note="report_scalar per point; read = parse its offline files")
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_peer_venv() -> Path:
    """Create `.venv-bench` with the peers (pip from PyPI) once; return its python."""
    python = BENCH_VENV / "bin" / "python"
    marker = BENCH_VENV / ".installed"
    if not marker.exists() or marker.read_text() != "\n".join(PEER_PINS):
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PINS], check=True)
        marker.write_text("\n".join(PEER_PINS))
    return python


def _run_trial(python: str, code: str, n: int, env: dict[str, str], timeout: float) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        proc = subprocess.run([python, "-c", code, str(n)], env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
            result["wall"] = time.perf_counter() - start
            return result
    return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-600:]}"}


def run_labtrack(n: int, timeout: float) -> dict[str, Any]:
    """One labtrack trial against a real server (SQLite) started for it."""
    with tempfile.TemporaryDirectory(prefix="lt-bench-") as tmp:
        home = Path(tmp)
        port, key = _free_port(), "lt_bench_" + secrets.token_hex(8)
        server_env = dict(os.environ, LABTRACK_HOME=str(home / "server"), LABTRACK_SERVER_BOOTSTRAP_KEY=key)
        log = open(home / "server.log", "wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "labtrack", "server", "--host", "127.0.0.1", "--port", str(port),
             "--db", f"sqlite:///{home / 'lt.db'}", "--artifacts", str(home / "artifacts")],
            env=server_env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            import requests

            deadline = time.monotonic() + 60
            while True:
                if time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(f"the labtrack server did not answer within 60 s:\n{(home / 'server.log').read_text()[-2000:]}")
                try:
                    if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.2)
            env = dict(os.environ, HOME=str(home), LABTRACK_HOME=str(home / "client"),
                       LABTRACK_API_URL=f"http://127.0.0.1:{port}", LABTRACK_API_KEY=key)
            return _run_trial(sys.executable, LABTRACK_TRIAL, n, env, timeout)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()


def _median(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-metric median of repeated trials (this machine is shared: single runs are noisy)."""
    good = [t for t in trials if "error" not in t]
    if not good:
        return trials[0]
    out: dict[str, Any] = {}
    for key in ("us", "floor", "flush", "read", "rss"):
        values = sorted(t[key] for t in good if t.get(key) is not None)
        out[key] = values[len(values) // 2] if values else None
    out["note"] = f"median of {len(good)} trials; µs/point range {min(t['us'] for t in good):.2f}-{max(t['us'] for t in good):.2f}"
    out["loop"] = sorted(t["loop"] for t in good)[len(good) // 2]
    return out


def run_peer(python: Path, code: str, n: int, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="peer-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LABTRACK_", "MLFLOW_", "WANDB_", "CLEARML_"))}
        env.update(HOME=tmp, PYTHONNOUSERSITE="1")
        return _run_trial(str(python), code, n, env, timeout)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def write_report(rows: list[tuple[str, int, dict[str, Any]]]) -> str:
    lines = [
        "# SDK benchmark: labtrack vs peers",
        "",
        f"Generated by `python -m bench` (bench/sdk_bench.py) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}. Workload: 3 scalar series × N steps + 20 "
        "hyperparameters; each trial a fresh process with its own HOME; labtrack against a real local server "
        "(SQLite), peers with local stores (MLflow SQLite, W&B offline, ClearML offline).",
        "",
        "| tool | N | µs/point in loop | floor `list.append` µs | loop s | flush to durable s | loop + flush s | read `loss` back s | peak RSS MB | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for tool, n, r in rows:
        if "error" in r:
            lines.append(f"| {tool} | {n} | – | – | – | – | – | – | – | {r['error'][:200]} |")
            continue
        lines.append(
            f"| {tool} | {n} | {_fmt(r['us'])} | {_fmt(r['floor'])} | {_fmt(r.get('loop'))} | {_fmt(r['flush'], 3)} "
            f"| {_fmt((r.get('loop') or 0) + r['flush'])} | {_fmt(r['read'], 3)} "
            f"| {_fmt(r['rss'], 0)} | {r.get('note', '')} |"
        )
    lines += [
        "",
        "n/a: the tool has no way to read its data back offline, or the read-back did not return all points.",
        "",
        "Reading it: `flush` starts when the loop ends. The peers do their writing inside the loop (MLflow "
        "commits each 999-point batch synchronously) or only to a local file (W&B and ClearML offline, "
        "nothing durable on a server), so little is left for their flush; labtrack's loop only appends to "
        "memory and its flush is the server committing the points (overlapping the loop where the loop is "
        "long enough). `loop + flush` is the time a training run actually gives to logging.",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    return text


def main() -> int:
    """Run every trial and write bench/results/sdk.md; print the table."""
    n = int(os.environ.get("LABTRACK_BENCH_N", "100000"))
    peer_n = int(os.environ.get("LABTRACK_BENCH_PEER_N", str(n)))
    tools = os.environ.get("LABTRACK_BENCH_TOOLS", "labtrack,mlflow,wandb,clearml").split(",")
    timeout = float(os.environ.get("LABTRACK_BENCH_TIMEOUT", "1200"))
    rows: list[tuple[str, int, dict[str, Any]]] = []
    if "labtrack" in tools:
        repeat = int(os.environ.get("LABTRACK_BENCH_REPEAT", "3"))
        trials = [run_labtrack(n, timeout) for _ in range(repeat)]
        rows.append(("labtrack", n, _median(trials)))
        print(rows[-1], flush=True)
    peers = [t for t in tools if t in ("mlflow", "wandb", "clearml")]
    if peers:
        try:
            python = ensure_peer_venv()
        except subprocess.CalledProcessError as exc:
            for tool in peers:
                rows.append((tool, peer_n, {"error": f"could not install peers into .venv-bench: {exc}"}))
            peers = []
        codes = {"mlflow": MLFLOW_TRIAL, "wandb": WANDB_TRIAL, "clearml": CLEARML_TRIAL}
        for tool in peers:
            rows.append((tool, peer_n, run_peer(python, codes[tool], peer_n, timeout)))
            print(rows[-1], flush=True)
    print(write_report(rows))
    return 0 if all("error" not in r for _, _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
