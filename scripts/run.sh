#!/usr/bin/env bash
# Serve the portal (daphne, ASGI) at http://127.0.0.1:8000 with an RQ worker beside it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${VENV:-.venv}/bin/python
mkdir -p var/logs
$PY manage.py collectstatic --noinput -v 0
$PY manage.py airdock_bootstrap
$PY manage.py rqworker deploys default notifications --with-scheduler >var/logs/rqworker.log 2>&1 &
worker=$!
$PY manage.py airdock_reaper --every 15 >var/logs/reaper.log 2>&1 &
reaper=$!
$PY manage.py airdock_runtime_watch --every 5 >var/logs/runtime-watch.log 2>&1 &
watch=$!
trap 'kill $worker $reaper $watch 2>/dev/null || true' EXIT INT TERM
# The deployments' components reach the portal (for DAG bundles and reports) on the swarm's gateway bridge.
PORT=${AIRDOCK_PORT:-8000}
GATEWAY=$(docker network inspect docker_gwbridge --format '{{(index .IPAM.Config 0).Gateway}}' 2>/dev/null || true)
extra=()
if [ -n "$GATEWAY" ]; then
  extra=(-e "tcp:port=$PORT:interface=$GATEWAY")
  export DJANGO_ALLOWED_HOSTS=${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost,[::1],$GATEWAY}
fi
echo "RQ worker running (pid $worker, log var/logs/rqworker.log). Serving on http://127.0.0.1:8000/ — Ctrl-C stops."
$PY -m daphne -b 127.0.0.1 -p "$PORT" "${extra[@]}" portal.asgi:application
