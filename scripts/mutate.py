"""Mutation testing of the ingest, downsampling, auth and proxy code with cosmic-ray (`make mutate`).

Not part of `make test`: it runs the relevant tests once per mutant, which takes long on a small
machine. Design:
- cosmic-ray edits the source file on disk and runs a test command, so every group runs in its own
  throwaway copy of the committed tree (`git archive HEAD`), never in the checkout; the tests start
  the server as `python -m labtrack` from that copy, so the server runs the mutant too (mutmut 3
  cannot do this: it switches mutants inside the pytest process and sees no subprocess).
- One mutation per code site (a seeded pick among the operators that apply there), then a seeded
  sample of sites per group; mutations of type annotations are dropped (never evaluated here).
- A wall-clock cap per group on running mutants (the unmutated baseline run comes on top); what
  did not run stays "pending" in the report.
- SQLite only (`-k "not postgresql"`): PostgreSQL-only statements are out of reach by design.
The survivors (mutants no test noticed) and the counts go to bench/results/mutate.md.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass
class Group:
    """Modules (optionally only some of their functions) and the tests that should notice a change."""

    modules: list[str]
    tests: list[str]
    functions: set[str] = field(default_factory=set)  # empty: the whole modules


_EVENTS = "tests/server/test_server_events.py::"
_KEYS = "tests/server/test_server_security.py::"
# The tests run in the order listed, with -x: put the sharpest first, so most mutants die early.
GROUPS: dict[str, Group] = {
    "ingest": Group(
        modules=["labtrack/server/services/ingest.py", "labtrack/server/store/ingest.py"],
        tests=["tests/server/test_server_event_rules.py", "tests/server/test_server_properties.py",
               _EVENTS + "test_batch_is_stored_once_and_keeps_summaries",
               _EVENTS + "test_bad_events_are_rejected_whole_and_store_nothing", _EVENTS + "test_nan_and_infinity_are_gaps",
               _EVENTS + "test_ndjson_and_array_forms_with_idempotency_header", _EVENTS + "test_batch_over_the_point_limit_is_413",
               _EVENTS + "test_long_series_downsample_from_rollup_blocks"],
    ),
    "downsampling": Group(
        modules=["labtrack/server/services/events.py", "labtrack/server/store/events.py"],
        functions={"_downsample", "_read_series", "_check_range", "bucket_points", "bucket_blocks",
                   "values_at", "iteration_range"},
        tests=["tests/server/test_server_properties.py::test_downsampling_keeps_every_bucket_exact",
               _EVENTS + "test_raw_paging_and_downsampling_keep_spikes", _EVENTS + "test_long_series_downsample_from_rollup_blocks",
               _EVENTS + "test_compare_one_metric_over_many_tasks"],
    ),
    "auth": Group(
        modules=["labtrack/server/auth.py"],
        tests=["tests/server/test_server_api.py::test_health_needs_no_key_and_everything_else_does",
               _KEYS + "test_bootstrap_key_is_admin_and_member_keys_cannot_manage_keys",
               _KEYS + "test_the_recorded_user_is_always_the_keys_user", _KEYS + "test_the_last_admin_key_cannot_be_revoked",
               _KEYS + "test_two_admins_revoking_each_other_at_once_leave_one",
               "tests/server/test_server_ops.py::test_keys_api_and_cli"],
    ),
    "proxy": Group(
        modules=["labtrack/server_ext/proxy.py"],
        # test_ext_auth.py inspects every handler verb for @authenticated (no Jupyter needed).
        tests=["tests/server_ext/test_ext_auth.py", "tests/server_ext/test_ext_proxy_upstream.py",
               "tests/server_ext/test_ext_proxy.py"],
    ),
}


def copy_tree(dest: Path) -> str:
    """The committed tree (HEAD) into `dest`, so mutants never touch the checkout; returns the commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return commit


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions of the type annotations in a module: with `from __future__ import
    annotations` they are never evaluated, so mutating them (`str | None` → `str - None`) tests nothing."""
    spans = []
    for node in ast.walk(ast.parse(path.read_text())):
        note = None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            note = node.returns
        elif isinstance(node, ast.arg):
            note = node.annotation
        elif isinstance(node, ast.AnnAssign):
            note = node.annotation
        if note is not None:
            spans.append(((note.lineno, note.col_offset), (note.end_lineno or note.lineno, note.end_col_offset or 0)))
    return spans


def sample(session: Path, work: Path, group: Group, per_group: int, seed: int) -> int:
    """Skip all but one mutation per site in a seeded sample of sites; returns how many are left."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    rng = random.Random(seed)
    notes = {m: annotation_spans(work / m) for m in group.modules}
    with use_db(str(session), WorkDB.Mode.open) as db:
        sites: dict[tuple, list[str]] = {}
        skipped: list[str] = []
        for item in db.pending_work_items:
            m = item.mutations[0]
            rel = str(Path(m.module_path).relative_to(work)) if Path(m.module_path).is_absolute() else str(m.module_path)
            in_note = any(a <= tuple(m.start_pos) <= b for a, b in notes.get(rel, []))
            outside = group.functions and m.definition_name not in group.functions
            if in_note or outside:
                skipped.append(item.job_id)
                continue
            sites.setdefault((rel, tuple(m.start_pos), tuple(m.end_pos)), []).append(item.job_id)
        chosen: list[str] = []
        for key in sorted(sites):
            jobs = sorted(sites[key])
            pick = rng.choice(jobs)
            chosen.append(pick)
            skipped += [j for j in jobs if j != pick]
        rng.shuffle(chosen)
        skipped += chosen[per_group:]
        if skipped:
            db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="not sampled"))
        return min(per_group, len(chosen))


def test_command(group: Group) -> str:
    return shlex.join([PYTHON, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *group.tests, "-k", "not postgresql"])


def run_group(name: str, group: Group, per_group: int, cap: float, seed: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"lt-mutate-{name}-"))
    commit = copy_tree(work)
    # A mutant is killed by the first failing example; shrinking it against a real server only
    # costs minutes. The copy is throwaway, so its root conftest may load a profile without it.
    with open(work / "tests" / "conftest.py", "a") as conftest:
        conftest.write("\n\nfrom hypothesis import Phase as _Phase, settings as _settings\n"
                       "_settings.register_profile('mutate', phases=[_Phase.explicit, _Phase.reuse, _Phase.generate])\n"
                       "_settings.load_profile('mutate')\n")
    group = Group([m for m in group.modules if (work / m).exists()], [t for t in group.tests if (work / t.split("::")[0]).exists()], group.functions)
    session, config = work / "session.sqlite", work / "cosmic-ray.toml"
    modules = ", ".join(f'"{m}"' for m in group.modules)
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = [{modules}]\n"
        "timeout = 300.0\n"
        "excluded-modules = []\n"
        f"test-command = {test_command(group)!r}\n"
        "[cosmic-ray.distributor]\nname = \"local\"\n"
    )
    cr = [str(Path(PYTHON).parent / "cosmic-ray")]
    # Every process the tests start (the server, Jupyter with the server extension) imports the copy.
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(work))
    subprocess.run([*cr, "init", str(config), str(session)], cwd=work, env=env, check=True)
    planned = sample(session, work, group, per_group, seed)
    started = time.monotonic()
    baseline = subprocess.run(shlex.split(test_command(group)), cwd=work, env=env, capture_output=True, text=True)
    baseline_s = time.monotonic() - started
    if baseline.returncode != 0:
        return {"name": name, "group": group, "work": work, "commit": commit, "error": "the tests fail without any mutation:\n" + baseline.stdout[-3000:]}
    print(f"[{name}] {planned} mutants, tests take {baseline_s:.0f} s unmutated, cap {cap:.0f} s", flush=True)
    proc = subprocess.Popen([*cr, "exec", str(config), str(session)], cwd=work, env=env, start_new_session=True)
    try:
        proc.wait(timeout=cap)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return {"name": name, "group": group, "work": work, "commit": commit, "session": session, "baseline_s": baseline_s,
            "elapsed_s": time.monotonic() - started}


def summarize(run: dict) -> tuple[dict[str, int], list[dict]]:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    counts = {"killed": 0, "survived": 0, "incompetent": 0, "pending": 0}
    survivors = []
    with use_db(str(run["session"]), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.test_outcome == TestOutcome.SURVIVED:
                counts["survived"] += 1
                m = item.mutations[0]
                survivors.append({"module": str(Path(m.module_path)), "line": m.start_pos[0], "function": m.definition_name,
                                  "operator": m.operator_name.split("/")[-1], "diff": result.diff or ""})
            elif result.test_outcome == TestOutcome.INCOMPETENT or result.worker_outcome != WorkerOutcome.NORMAL:
                counts["incompetent"] += 1
            else:
                counts["killed"] += 1
        counts["pending"] = sum(1 for _ in db.pending_work_items)
    return counts, sorted(survivors, key=lambda s: (s["module"], s["line"]))


def changed_line(diff: str) -> str:
    """The mutated line of a unified diff: `-old` → `+new`."""
    minus = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    plus = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return f"`{minus[0] if minus else ''}` → `{plus[0] if plus else ''}`"


def report(runs: list[dict], per_group: int, seed: int, out: Path) -> None:
    commit = ", ".join(sorted({run["commit"] for run in runs}))
    lines = [
        "# Mutation testing (`make mutate`)", "",
        f"cosmic-ray on commit {commit}; one mutation per code site, a seeded sample of {per_group} sites "
        f"per group (seed {seed}), SQLite only, the tests listed per group. Machine: {os.cpu_count()} CPUs. "
        "`scripts/mutate.py` reproduces it; see docs/server.md (Testing) for how to read it.", "",
        "| group | modules | killed | survived | incompetent | not run (time cap) | tests, unmutated |",
        "|---|---|---|---|---|---|---|",
    ]
    details = []
    for run in runs:
        if "error" in run:
            lines.append(f"| {run['name']} | {', '.join(run['group'].modules)} | — | — | — | — | fail: see below |")
            details += [f"## {run['name']}: not run", "", "```", run["error"], "```", ""]
            continue
        counts, survivors = summarize(run)
        lines.append(f"| {run['name']} | {', '.join(run['group'].modules)} | {counts['killed']} | {counts['survived']} | "
                     f"{counts['incompetent']} | {counts['pending']} | {run['baseline_s']:.0f} s |")
        details += [f"## Survivors: {run['name']}", ""]
        if not survivors:
            details += ["None.", ""]
            continue
        details += ["| where | function | operator | change |", "|---|---|---|---|"]
        for s in survivors:
            change = changed_line(s["diff"]).replace("|", "\\|")
            details.append(f"| {s['module']}:{s['line']} | {s['function']} | {s['operator']} | {change} |")
        details.append("")
    out.write_text("\n".join(lines + [""] + details))
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", default=list(GROUPS), help=f"any of {', '.join(GROUPS)} (default: all)")
    parser.add_argument("--sites", type=int, default=int(os.environ.get("MUTATE_SITES", 30)), help="mutants per group")
    parser.add_argument("--cap", type=float, default=float(os.environ.get("MUTATE_CAP", 600)), help="seconds of mutant runs per group")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the throwaway copies (session databases)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mutate.md")
    args = parser.parse_args()
    runs = [run_group(name, GROUPS[name], args.sites, args.cap, args.seed) for name in args.groups]
    report(runs, args.sites, args.seed, args.out)
    if not args.keep:
        for run in runs:
            if "work" in run:
                shutil.rmtree(run["work"], ignore_errors=True)


if __name__ == "__main__":
    main()
