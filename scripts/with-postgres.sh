#!/usr/bin/env bash
# Run a command with LABTRACK_TEST_PG_URL set to this checkout's test PostgreSQL, and stop that
# PostgreSQL afterwards if this script started it (one already running, e.g. started by hand with
# `scripts/postgres.sh start`, is left as it was). With LABTRACK_TEST_PG_URL already set, the
# command runs against that server and nothing is started.
# Usage: scripts/with-postgres.sh COMMAND [ARG...]   (what `make test` and `make bench` run)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
if [ -n "${LABTRACK_TEST_PG_URL:-}" ]; then exec "$@"; fi

if url=$("$HERE/postgres.sh" status); then
  started=0
else
  url=$("$HERE/postgres.sh" start)
  started=1
fi
cleanup() { if [ "$started" = 1 ]; then "$HERE/postgres.sh" stop; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
LABTRACK_TEST_PG_URL="$url" "$@"
