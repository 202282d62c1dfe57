#!/usr/bin/env bash
# Serve the portal (daphne, ASGI) at http://127.0.0.1:8000 with its workers beside it: the RQ
# worker (deploys, reconciles, notifications), the reaper (deploys whose worker was lost) and the
# runtime watcher. Each of them is supervised: if it dies (a crash, kill -9), it is started again
# within a second or two. Ctrl-C stops them all. For production, docs/systemd/ has the same as units.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${VENV:-.venv}/bin/python
VAR=${AIRDOCK_VAR_DIR:-$ROOT/var}
mkdir -p "$VAR/logs" "$VAR/run"
$PY manage.py collectstatic --noinput -v 0
$PY manage.py airdock_bootstrap

supervise() {  # supervise NAME COMMAND...: run it, and run it again whenever it exits
  local name=$1
  shift
  while true; do
    "$@" >>"$VAR/logs/$name.log" 2>&1 &
    local child=$!
    echo "$child" >"$VAR/run/$name.pid"
    local code=0
    wait "$child" || code=$?
    echo "$(date -u +%FT%TZ) run.sh: $name (pid $child) exited with $code; starting it again" >>"$VAR/logs/$name.log"
    sleep 1
  done
}

trap 'trap - EXIT INT TERM; kill 0 2>/dev/null || true' EXIT INT TERM
supervise rqworker $PY manage.py rqworker deploys default notifications --with-scheduler &
supervise reaper $PY manage.py airdock_reaper --every 15 &
supervise runtime-watch $PY manage.py airdock_runtime_watch --every 5 &
# The deployments' components reach the portal (for DAG bundles and reports) on the swarm's gateway bridge.
PORT=${AIRDOCK_PORT:-8000}
GATEWAY=$(docker network inspect docker_gwbridge --format '{{(index .IPAM.Config 0).Gateway}}' 2>/dev/null || true)
extra=()
if [ -n "$GATEWAY" ]; then
  extra=(-e "tcp:port=$PORT:interface=$GATEWAY")
  export DJANGO_ALLOWED_HOSTS=${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost,[::1],$GATEWAY}
fi
echo "Workers running (logs in $VAR/logs, restarted if they die). Serving on http://127.0.0.1:$PORT/ — Ctrl-C stops."
$PY -m daphne -b 127.0.0.1 -p "$PORT" "${extra[@]}" portal.asgi:application
