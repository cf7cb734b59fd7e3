#!/usr/bin/env bash
# Start (or stop) a throwaway PostgreSQL on 127.0.0.1 for the test suite.
# PostgreSQL refuses to run as root, so the cluster belongs to the `postgres` user.
# Usage: scripts/postgres.sh start|stop|url
set -euo pipefail
PORT="${LABTRACK_TEST_PG_PORT:-55432}"
DATA="${LABTRACK_TEST_PG_DIR:-/var/tmp/labtrack-pg-$PORT}"
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$dir" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$dir"
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

case "${1:-start}" in
  start)
    BIN=$(find_bin)
    if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then echo "$URL"; exit 0; fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
      mkdir -p "$DATA"
      [ "$(id -u)" = 0 ] && chown postgres "$DATA"
      as_postgres "'$BIN/initdb' -D '$DATA' -U postgres --auth=trust -E UTF8 >/dev/null"
    fi
    as_postgres "'$BIN/pg_ctl' -D '$DATA' -l '$DATA/server.log' -w -o \"-h 127.0.0.1 -p $PORT -k /tmp -c fsync=off -c max_connections=200\" start >/dev/null"
    echo "$URL"
    ;;
  stop)
    BIN=$(find_bin)
    as_postgres "'$BIN/pg_ctl' -D '$DATA' -m fast stop" >/dev/null || true
    ;;
  url)
    echo "$URL"
    ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
