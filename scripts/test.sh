#!/usr/bin/env bash
# Run the test suite against the services `make services` started.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export AIRDOCK_S3_ENDPOINT_URL=${AIRDOCK_S3_ENDPOINT_URL:-http://127.0.0.1:${AIRDOCK_S3_PORT:-9100}}
# Tests use their own Redis database so a running portal's queues are never touched.
REDIS_PASSWORD=$(cat "${AIRDOCK_SERVICES_DIR:-$ROOT/var/services}/secrets/redis.password" 2>/dev/null || true)
export REDIS_URL=${AIRDOCK_TEST_REDIS_URL:-redis://${REDIS_PASSWORD:+:$REDIS_PASSWORD@}127.0.0.1:${AIRDOCK_REDIS_PORT:-6379}/15}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here); the
# git tests run their own sshd (on a port of their own: the package's service is never started).
need_package() {  # need_package COMMAND PACKAGE WHY
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "test: $3 need $2; run: sudo apt-get install -y $2" >&2
    exit 1
  fi
  echo "test: installing $2 for $3"
  local policy=/usr/sbin/policy-rc.d made=""
  [ -e "$policy" ] || { printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; made=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }
  [ -z "$made" ] || rm -f "$policy"
}
need_package chromium chromium "the browser tests"
need_package sshd openssh-server "the git deploy-key tests"
mkdir -p test-artifacts
# AIRDOCK_TEST_ON_POSTGRES=1 (`make test-faults`): on the PostgreSQL `make services` runs, since
# row locks and the partial unique index behave differently there than in SQLite.
if [ "${AIRDOCK_TEST_ON_POSTGRES:-}" = 1 ]; then
  PG_PASSWORD=$(cat "${AIRDOCK_SERVICES_DIR:-$ROOT/var/services}/secrets/postgres.password")
  export DATABASE_URL=${AIRDOCK_TEST_POSTGRES_URL:-postgres://airdock:$PG_PASSWORD@127.0.0.1:${AIRDOCK_POSTGRES_PORT:-5432}/airdock}
  echo "test: on PostgreSQL (127.0.0.1:${AIRDOCK_POSTGRES_PORT:-5432})"
fi
exec "${VENV:-.venv}/bin/python" -m pytest "$@"
