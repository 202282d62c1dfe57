#!/usr/bin/env bash
# Start, idempotently and on loopback only, the services Airdock uses: Redis, a Docker engine,
# a registry (Debian's docker-registry), an S3-compatible server (moto) and a PostgreSQL of its own
# (the tests' second database: row locks and constraints behave differently there than in SQLite). A service that already
# answers is left alone, but it is given what containment needs: Redis and the registry get
# credentials only Airdock's processes read (var/services/secrets/), and the Docker engine gets a
# bridge network (with iptables NAT), so no build or container ever needs the host network.
# Missing system packages are installed when run as root; otherwise the exact command to run is printed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${AIRDOCK_SERVICES_DIR:-$ROOT/var/services}
VENV=${VENV:-$ROOT/.venv}
REDIS_PORT=${AIRDOCK_REDIS_PORT:-6379}
REGISTRY_PORT=${AIRDOCK_REGISTRY_PORT:-5000}
S3_PORT=${AIRDOCK_S3_PORT:-9100}
PG_PORT=${AIRDOCK_POSTGRES_PORT:-5432}
BRIDGE=${AIRDOCK_DOCKER_BRIDGE:-airdock0}
BRIDGE_CIDR=${AIRDOCK_DOCKER_BRIDGE_CIDR:-172.31.250.1/24}
SECRETS=$STATE/secrets
mkdir -p "$STATE"/{redis,registry,logs}
mkdir -p -m 0700 "$SECRETS"

log() { printf 'services: %s\n' "$*"; }
die() { printf 'services: %s\n' "$*" >&2; exit 1; }

# command:package pairs this script needs from Debian.
need=(redis-server:redis-server redis-cli:redis-tools dockerd:docker.io docker-registry:docker-registry
      debootstrap:debootstrap curl:curl htpasswd:apache2-utils ip:iproute2 pg_lsclusters:postgresql)
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

secret() {  # secret NAME: a random password, made once, readable by root only
  local file="$SECRETS/$1"
  [ -s "$file" ] || (umask 077; head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$file")
  cat "$file"
}

# The key that encrypts secrets in the portal's database (with DJANGO_SECRET_KEY): back it up
secret field.key >/dev/null

# Redis: a password, and persistence (an append-only file, synced every second), so queued deploys
# survive a restart; both set on a running server too (CONFIG SET needs no restart)
REDIS_PASSWORD=$(secret redis.password)
rcli() { REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
if rcli ping 2>/dev/null | grep -q PONG; then
  log "redis already answers on 127.0.0.1:$REDIS_PORT"
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    rcli config set requirepass "$REDIS_PASSWORD" >/dev/null 2>&1
    log "redis: password set (it answered without one)"
  fi
  if [ "$(rcli config get appendonly 2>/dev/null | tail -n 1)" != yes ]; then
    rcli config set appendonly yes >/dev/null 2>&1 && log "redis: persistence turned on (append-only file)"
  fi
elif redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1 | grep -qE "NOAUTH|WRONGPASS"; then
  die "a Redis on 127.0.0.1:$REDIS_PORT has a password Airdock does not know: put it in $SECRETS/redis.password, or set AIRDOCK_REDIS_PORT"
else
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$STATE/redis" \
    --save '' --appendonly yes --appendfsync everysec --logfile "$STATE/logs/redis.log" --requirepass "$REDIS_PASSWORD"
  wait_for redis 15 rcli ping
  log "redis started on 127.0.0.1:$REDIS_PORT"
fi

# The swarm's own address: AIRDOCK_SWARM_ADDR (this machine's address on the network the other
# engines share), or by default 172.31.252.1 on a bridge of Airdock's (airdock-swarm), where the
# tests' second engine, in a network namespace, joins.
SWARM_ADDR=${AIRDOCK_SWARM_ADDR:-172.31.252.1}
if [ -z "${AIRDOCK_SWARM_ADDR:-}" ]; then
  ip link show airdock-swarm >/dev/null 2>&1 || ip link add airdock-swarm type bridge
  ip -4 addr show dev airdock-swarm | grep -q "inet $SWARM_ADDR/" || ip addr add "$SWARM_ADDR/24" dev airdock-swarm
  ip link set airdock-swarm up
fi

# Docker engine, with a bridge network and iptables NAT: containers reach the package indexes but
# not the host's loopback services. An engine Airdock started without a bridge is restarted.
start_engine() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip -4 addr show dev "$BRIDGE" | grep -q "inet " || ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  setsid nohup dockerd --bridge="$BRIDGE" --iptables=true --storage-driver=overlay2 \
    >"$STATE/logs/dockerd.log" 2>&1 < /dev/null &
  echo $! >"$STATE/dockerd.pid"
  wait_for "docker engine" 60 docker info
}
if docker info >/dev/null 2>&1; then
  if docker network inspect bridge >/dev/null 2>&1; then
    log "docker engine already answers (with a bridge network)"
  else
    ours=$(pgrep -f "^dockerd --iptables=false --bridge=none" || true)
    [ -f "$STATE/dockerd.pid" ] && ours=${ours:-$(cat "$STATE/dockerd.pid")}
    [ -n "$ours" ] && [ "$(id -u)" = 0 ] || die "the Docker engine has no bridge network, and builds never use the host network: restart dockerd with --bridge=<bridge> --iptables=true (README, 'Containment')"
    log "restarting the docker engine Airdock started, with a bridge network ($BRIDGE)"
    kill $ours
    for _ in $(seq 1 120); do kill -0 $ours 2>/dev/null || break; sleep 0.5; done
    start_engine
    log "docker engine restarted with a bridge network"
  fi
else
  [ "$(id -u)" = 0 ] || die "no Docker engine answers; run as root: ip link add $BRIDGE type bridge && ip addr add $BRIDGE_CIDR dev $BRIDGE && ip link set $BRIDGE up && dockerd --bridge=$BRIDGE --iptables=true &"
  start_engine
  log "docker engine started (bridge $BRIDGE)"
fi

# Swarm: the engine runs the deployments' Airflow components. Its gateway bridge (where the
# components reach this machine, and the portal answers their agents) gets a fixed address.
GWBRIDGE_SUBNET=${AIRDOCK_GWBRIDGE_SUBNET:-172.31.251.0/24}
if ! docker network inspect docker_gwbridge >/dev/null 2>&1; then
  docker network create --subnet "$GWBRIDGE_SUBNET" --gateway "${GWBRIDGE_SUBNET%.0/24}.1" \
    --opt com.docker.network.bridge.name=docker_gwbridge --opt com.docker.network.bridge.enable_icc=false \
    --opt com.docker.network.bridge.enable_ip_masquerade=true docker_gwbridge >/dev/null
  log "made docker_gwbridge ($GWBRIDGE_SUBNET)"
fi
# The manager advertises $SWARM_ADDR (made before the engine starts), so that other engines can join
# the swarm. Containers never need the swarm's ports: the container-facing bridges may not reach them.
node_addr=$(docker info --format '{{.Swarm.NodeAddr}}')
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ] && [ "$node_addr" != "$SWARM_ADDR" ]; then
  if [ -z "$(docker service ls -q)" ] && [ "$(docker info --format '{{.Swarm.Nodes}}')" = 1 ]; then
    docker swarm leave --force >/dev/null  # an empty one-node swarm on another address: made again
    log "left the empty swarm that advertised $node_addr"
  else
    log "warning: the swarm advertises $node_addr, not $SWARM_ADDR; other engines join it there (README, 'More than one machine')"
  fi
fi
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr "$SWARM_ADDR" --listen-addr "$SWARM_ADDR:2377" >/dev/null
  log "the engine is now a swarm manager, advertising $SWARM_ADDR"
fi
# Tenant containers (builds on $BRIDGE, components on docker_gwbridge) never talk to the swarm's
# control plane, its gossip or its overlay data path on this machine.
[ "$(id -u)" = 0 ] && for iface in "$BRIDGE" docker_gwbridge; do
  for rule in "-p tcp --dport 2377" "-p tcp --dport 7946" "-p udp --dport 7946" "-p udp --dport 4789"; do
    # shellcheck disable=SC2086
    iptables -C INPUT -i "$iface" $rule -j DROP 2>/dev/null || iptables -I INPUT -i "$iface" $rule -j DROP
  done
done
# Registry: htpasswd authentication; deletes on, for retention (manage.py airdock_prune deletes old
# images' manifests, then runs its garbage collection while no deploy pushes)
REGISTRY_PASSWORD=$(secret registry.password)
htpasswd -Bbn airdock "$REGISTRY_PASSWORD" >"$SECRETS/registry.htpasswd.new" 2>/dev/null
if ! [ -s "$SECRETS/registry.htpasswd" ] || ! htpasswd -vb "$SECRETS/registry.htpasswd" airdock "$REGISTRY_PASSWORD" >/dev/null 2>&1; then
  mv "$SECRETS/registry.htpasswd.new" "$SECRETS/registry.htpasswd"
else
  rm -f "$SECRETS/registry.htpasswd.new"
fi
cat >"$STATE/registry.yml.new" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
auth:
  htpasswd:
    realm: airdock
    path: $SECRETS/registry.htpasswd
http:
  addr: 127.0.0.1:$REGISTRY_PORT
YML
changed=1
cmp -s "$STATE/registry.yml.new" "$STATE/registry.yml" && changed=0
mv "$STATE/registry.yml.new" "$STATE/registry.yml"
registry_up() { curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$REGISTRY_PORT/v2/" 2>/dev/null | grep -qE '^(200|401)$'; }
if registry_up && [ "$changed" = 0 ]; then
  log "registry already answers on 127.0.0.1:$REGISTRY_PORT"
else
  old=$(pgrep -f "docker-registry serve $STATE/registry.yml" || true)
  if [ -n "$old" ]; then
    kill $old; for _ in $(seq 1 40); do kill -0 $old 2>/dev/null || break; sleep 0.25; done
  fi
  registry_up && die "a registry Airdock did not start answers on 127.0.0.1:$REGISTRY_PORT; stop it or set AIRDOCK_REGISTRY_PORT"
  setsid nohup docker-registry serve "$STATE/registry.yml" >"$STATE/logs/registry.log" 2>&1 < /dev/null &
  wait_for registry 30 registry_up
  log "registry started on 127.0.0.1:$REGISTRY_PORT (htpasswd authentication)"
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

# PostgreSQL: a cluster of Airdock's own in var/services/postgres (not the system one), on
# 127.0.0.1 only, with a password; role and database `airdock` (it may create the tests' database).
PG_PASSWORD=$(secret postgres.password)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PG_DATA=$STATE/postgres
pg_up() { PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U airdock -d airdock -tAc 'select 1' 2>/dev/null | grep -q 1; }
if pg_up; then
  log "postgresql already answers on 127.0.0.1:$PG_PORT"
else
  [ -n "$PG_BIN" ] || die "no PostgreSQL server binaries in /usr/lib/postgresql"
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    install -d -m 0700 "$PG_DATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$PG_DATA"
    pwfile=$(mktemp); printf '%s\n' "$PG_PASSWORD" >"$pwfile"; chmod 0644 "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" >"$STATE/logs/postgres-init.log" 2>&1 \
      || { rm -f "$pwfile"; tail -n 20 "$STATE/logs/postgres-init.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
  fi
  install -d -m 0775 "$STATE/postgres-run"
  [ "$(id -u)" = 0 ] && chown postgres: "$STATE/postgres-run" "$STATE/logs" 2>/dev/null || true
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$STATE/logs/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$STATE/postgres-run -c fsync=off" start >/dev/null \
    || { tail -n 20 "$STATE/logs/postgres.log" >&2; die "postgresql did not start"; }
  PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'airdock') THEN CREATE ROLE airdock LOGIN CREATEDB PASSWORD '$PG_PASSWORD'; END IF;
END \$\$;
SQL
  PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'airdock'" | grep -q 1 \
    || PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE airdock OWNER airdock"
  wait_for postgresql 30 pg_up
  log "postgresql started on 127.0.0.1:$PG_PORT (role and database airdock)"
fi
