#!/usr/bin/env bash
# A throwaway PostgreSQL on 127.0.0.1 for the tests of this checkout.
#
# Each checkout gets its own cluster: the data folder is named after a hash of the checkout's
# path (/var/tmp/labtrack-pg-<hash>) and the port is a free one picked when the cluster starts
# and kept in <data>/port, so two checkouts on one machine never share a server.
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.
#
# Usage: scripts/postgres.sh start|stop|status|url|remove
#   start   start it if it is not running; print its URL
#   stop    stop it (the data folder stays, so the next start skips initdb)
#   status  print the URL and exit 0 if it runs, exit 1 if not
#   url     print the URL (of the last start when it is not running)
#   remove  stop it and delete its data folder
#   datadir print the data folder
# LABTRACK_TEST_PG_DIR and LABTRACK_TEST_PG_PORT override the data folder and the port.
set -euo pipefail
CHECKOUT=$(cd "$(dirname "$0")/.." && pwd -P)
DATA="${LABTRACK_TEST_PG_DIR:-/var/tmp/labtrack-pg-$(printf %s "$CHECKOUT" | sha1sum | cut -c1-12)}"

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
  # 9>&-: the server must not inherit the lock below, or it would hold it for as long as it runs.
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*" 9>&-; else sh -c "$*" 9>&-; fi
}

port() { cat "$DATA/port" 2>/dev/null || true; }
url() { echo "postgresql://postgres@127.0.0.1:$(port)/postgres"; }

running() {
  # The cluster of this data folder answers on its recorded port (pg_ctl status alone would not
  # tell that the port is still ours).
  [ -f "$DATA/postmaster.pid" ] && [ -n "$(port)" ] && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$(port)"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  if running; then url; return; fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres "$DATA"
    as_postgres "'$BIN/initdb' -D '$DATA' -U postgres --auth=trust -E UTF8 >/dev/null"
  fi
  local port="${LABTRACK_TEST_PG_PORT:-$(free_port)}"
  echo "$port" > "$DATA/port"
  as_postgres "'$BIN/pg_ctl' -D '$DATA' -l '$DATA/server.log' -w -o \"-h 127.0.0.1 -p $port -k /tmp -c fsync=off -c max_connections=200\" start >/dev/null"
  url
}

stop() {
  [ -f "$DATA/postmaster.pid" ] || return 0
  as_postgres "'$BIN/pg_ctl' -D '$DATA' -m fast -w stop" >/dev/null || true
}

case "${1:-start}" in
  start|stop|remove|status) BIN=$(find_bin) ;;
esac
# Two callers starting the same cluster at once (two test runs of one checkout) take turns.
mkdir -p "$(dirname "$DATA")"
exec 9>"$DATA.lock"
flock 9

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if running; then url; else exit 1; fi ;;
  url) if [ -n "$(port)" ]; then url; else echo "$0: never started for $CHECKOUT" >&2; exit 1; fi ;;
  remove) stop; rm -rf "$DATA" "$DATA.lock" ;;
  datadir) echo "$DATA" ;;
  *) echo "usage: $0 start|stop|status|url|remove|datadir" >&2; exit 2 ;;
esac
