#!/usr/bin/env bash
# The whole suite in two passes (what `make test` runs, inside scripts/with-postgres.sh):
#  1. every test not marked `serial`, on LABTRACK_TEST_WORKERS pytest-xdist workers (default 2),
#     one test file per worker at a time (`--dist loadfile`: a module's shared server stays in one
#     worker). Most tests wait on child processes (servers, kernels, Chromium), so two workers keep
#     two cores busy: about 1.8x faster than one on a 2-core machine.
#  2. the `serial` tests alone: they measure recovery times and memory across outages, which a
#     second busy worker would distort.
# Both passes always run; the exit status is the first failure's.
# Usage: scripts/test-suite.sh PYTHON [PYTEST ARG...]
set -uo pipefail
PY=${1:?usage: scripts/test-suite.sh PYTHON [PYTEST ARG...]}
shift
"$PY" -m pytest -n "${LABTRACK_TEST_WORKERS:-2}" --dist loadfile -m "not serial" "$@" tests
parallel=$?
"$PY" -m pytest -m serial "$@" tests
serial=$?
if [ "$parallel" -ne 0 ]; then exit "$parallel"; fi
exit "$serial"
