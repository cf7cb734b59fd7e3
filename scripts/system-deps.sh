#!/usr/bin/env bash
# Install what the test suite needs from Debian's packages, once: Chromium for the browser tests.
# (PostgreSQL is installed on demand by scripts/postgres.sh.)
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" != 0 ]; then echo "Chromium is missing: run 'sudo apt-get install -y chromium'" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
