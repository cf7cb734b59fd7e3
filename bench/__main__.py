"""Run every `bench/*_bench.py` module's `main()` (or only those named: `python -m bench server sdk`)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Run the selected benchmarks in name order; the exit code is the worst of theirs."""
    here = Path(__file__).resolve().parent
    names = sorted(p.stem for p in here.glob("*_bench.py"))
    wanted = [a if a.endswith("_bench") else f"{a}_bench" for a in argv]
    if wanted:
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            print(f"unknown benchmark(s) {unknown}; available: {names}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    worst = 0
    for name in names:
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        try:
            code = importlib.import_module(f"bench.{name}").main() or 0
        except Exception as exc:  # one failing benchmark must not hide the others' numbers
            print(f"{name} failed: {exc!r}", file=sys.stderr)
            code = 1
        print(f"== {name}: exit {code} in {time.perf_counter() - started:.1f}s ==", flush=True)
        worst = max(worst, int(code))
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
