#!/usr/bin/env bash
# Build the shared base of the local Astro Runtime images without pulling from any public registry
# (a Debian made with debootstrap, then images/runtime/Dockerfile), then prebuild the newest
# Runtime version of each line; other versions are built by the portal on first use.
#   AIRDOCK_RUNTIME_PREBUILD  Runtime versions to prebuild (default: the newest of each line;
#                             "none" builds only the base)
#   AIRDOCK_EXTRA_CA_BUNDLE   a CA bundle to trust inside the images (default: $SSL_CERT_FILE, if set)
#   AIRDOCK_DEBIAN_MIRROR     Debian mirror for debootstrap (default: http://deb.debian.org/debian)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${VENV:-$ROOT/.venv}/bin/python
DEBIAN_IMAGE=airdock/debian:bookworm
BASE_IMAGE=${AIRDOCK_RUNTIME_BASE_IMAGE:-airdock/runtime-base:bookworm}
MIRROR=${AIRDOCK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA=${AIRDOCK_EXTRA_CA_BUNDLE:-${SSL_CERT_FILE:-}}
export DOCKER_BUILDKIT=0  # the legacy builder runs ONBUILD triggers on engine 20.10 without buildx

log() { printf 'runtime-image: %s\n' "$*"; }

if ! docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "runtime-image: building $DEBIAN_IMAGE needs root (debootstrap)" >&2; exit 1; }
  rootfs=$(mktemp -d /tmp/airdock-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  log "debootstrap bookworm from $MIRROR (about a minute)"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >/tmp/airdock-debootstrap.log 2>&1 \
    || { tail -n 20 /tmp/airdock-debootstrap.log >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "imported $DEBIAN_IMAGE"
fi

# The database and broker image every deployment's data plane runs (Debian packages).
SERVICES_IMAGE=${AIRDOCK_RUNTIME_SERVICES_IMAGE:-airdock/services:bookworm}
if ! docker image inspect "$SERVICES_IMAGE" >/dev/null 2>&1; then
  docker build -t "$SERVICES_IMAGE" --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" "$ROOT/images/services" \
    >/tmp/airdock-services-image.log 2>&1 || { tail -n 20 /tmp/airdock-services-image.log >&2; exit 1; }
  log "built $SERVICES_IMAGE"
fi

context=$(mktemp -d /tmp/airdock-runtime.XXXXXX)
trap 'rm -rf "$context"' EXIT
cp -r "$ROOT/images/runtime/." "$context/"
if [ -n "$CA" ] && [ -f "$CA" ]; then cp "$CA" "$context/extra-ca.crt"; else : >"$context/extra-ca.crt"; fi
log "building $BASE_IMAGE"
start=$(date +%s)
docker build -t "$BASE_IMAGE" --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" "$context" \
  >/tmp/airdock-runtime-base.log 2>&1 || { tail -n 30 /tmp/airdock-runtime-base.log >&2; exit 1; }
log "built $BASE_IMAGE in $(( $(date +%s) - start ))s"

if [ "${AIRDOCK_RUNTIME_PREBUILD:-newest}" != none ]; then
  # shellcheck disable=SC2086
  "$PY" "$ROOT/manage.py" airdock_runtime build $( [ "${AIRDOCK_RUNTIME_PREBUILD:-newest}" = newest ] && echo --newest || echo "$AIRDOCK_RUNTIME_PREBUILD")
fi
