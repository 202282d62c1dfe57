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
# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "test: installing chromium for the browser tests"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
  else
    echo "test: the browser tests need Chromium; run: sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi
mkdir -p test-artifacts
exec "${VENV:-.venv}/bin/python" -m pytest "$@"
