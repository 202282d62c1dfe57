#!/usr/bin/env bash
# Start, idempotently and on loopback only, the services Airdock uses: Redis, a Docker engine,
# a registry (Debian's docker-registry) and an S3-compatible server (moto). A service that already
# answers is left alone. Missing system packages are installed when run as root; otherwise the
# exact command to run is printed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${AIRDOCK_SERVICES_DIR:-$ROOT/var/services}
VENV=${VENV:-$ROOT/.venv}
REDIS_PORT=${AIRDOCK_REDIS_PORT:-6379}
REGISTRY_PORT=${AIRDOCK_REGISTRY_PORT:-5000}
S3_PORT=${AIRDOCK_S3_PORT:-9100}
mkdir -p "$STATE"/{redis,registry,logs}

log() { printf 'services: %s\n' "$*"; }
die() { printf 'services: %s\n' "$*" >&2; exit 1; }

# command:package pairs this script needs from Debian.
need=(redis-server:redis-server redis-cli:redis-tools dockerd:docker.io docker-registry:docker-registry
      debootstrap:debootstrap curl:curl)
missing=()
for pair in "${need[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$STATE/logs/apt.log" 2>&1 \
      || { tail -n 20 "$STATE/logs/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
  else
    die "missing system packages; run: sudo apt-get install -y ${missing[*]}"
  fi
fi

wait_for() {  # wait_for NAME SECONDS COMMAND...
  local name=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  die "$name did not answer within ${secs}s (logs in $STATE/logs)"
}

# Redis
if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  log "redis already answers on 127.0.0.1:$REDIS_PORT"
else
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$STATE/redis" \
    --save '' --appendonly no --logfile "$STATE/logs/redis.log"
  wait_for redis 15 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping
  log "redis started on 127.0.0.1:$REDIS_PORT"
fi

# Docker engine (unix socket only; no iptables or bridge, which this kind of machine lacks)
if docker info >/dev/null 2>&1; then
  log "docker engine already answers"
else
  [ "$(id -u)" = 0 ] || die "no Docker engine answers; run: sudo dockerd --iptables=false --bridge=none --storage-driver=overlay2 &"
  setsid nohup dockerd --iptables=false --bridge=none --storage-driver=overlay2 \
    >"$STATE/logs/dockerd.log" 2>&1 < /dev/null &
  wait_for "docker engine" 60 docker info
  log "docker engine started"
fi

# Registry
cat >"$STATE/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
YML
if curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1; then
  log "registry already answers on 127.0.0.1:$REGISTRY_PORT"
else
  setsid nohup docker-registry serve "$STATE/registry.yml" >"$STATE/logs/registry.log" 2>&1 < /dev/null &
  wait_for registry 30 curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/"
  log "registry started on 127.0.0.1:$REGISTRY_PORT"
fi

# S3-compatible server (moto, from the project's virtualenv)
if curl -fsS "http://127.0.0.1:$S3_PORT/moto-api/" >/dev/null 2>&1; then
  log "s3 server already answers on 127.0.0.1:$S3_PORT"
else
  [ -x "$VENV/bin/moto_server" ] || die "no moto_server in $VENV; run: make venv"
  setsid nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$STATE/logs/moto.log" 2>&1 < /dev/null &
  wait_for "s3 server" 60 curl -fsS "http://127.0.0.1:$S3_PORT/moto-api/"
  log "s3 server started on 127.0.0.1:$S3_PORT"
fi
