#!/usr/bin/env bash
# Serve the portal (daphne, ASGI) at http://127.0.0.1:8000 with an RQ worker beside it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${VENV:-.venv}/bin/python
mkdir -p var/logs
$PY manage.py collectstatic --noinput -v 0
$PY manage.py airdock_bootstrap
$PY manage.py rqworker deploys default --with-scheduler >var/logs/rqworker.log 2>&1 &
worker=$!
$PY manage.py airdock_reaper --every 60 >var/logs/reaper.log 2>&1 &
reaper=$!
trap 'kill $worker $reaper 2>/dev/null || true' EXIT INT TERM
echo "RQ worker running (pid $worker, log var/logs/rqworker.log). Serving on http://127.0.0.1:8000/ — Ctrl-C stops."
$PY -m daphne -b 127.0.0.1 -p "${AIRDOCK_PORT:-8000}" portal.asgi:application
