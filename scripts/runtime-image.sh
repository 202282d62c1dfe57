#!/usr/bin/env bash
# Build the local Astro-Runtime-like images, one per Airflow line, without pulling from any public
# registry: a Debian base made with debootstrap, then images/runtime/Dockerfile per line. Docker's layer
# cache makes a rebuild with nothing changed take seconds.
#   AIRDOCK_RUNTIME_LINES  lines to build (default: every folder of images/runtime/lines)
#   AIRDOCK_EXTRA_CA_BUNDLE  a CA bundle to trust inside the images (default: $SSL_CERT_FILE, if set)
#   AIRDOCK_DEBIAN_MIRROR  Debian mirror for debootstrap (default: http://deb.debian.org/debian)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEBIAN_IMAGE=airdock/debian:bookworm
MIRROR=${AIRDOCK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
LINES=${AIRDOCK_RUNTIME_LINES:-$(cd "$ROOT/images/runtime/lines" && ls -d */ | tr -d /)}
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

context=$(mktemp -d /tmp/airdock-runtime.XXXXXX)
trap 'rm -rf "$context"' EXIT
cp -r "$ROOT/images/runtime/." "$context/"
if [ -n "$CA" ] && [ -f "$CA" ]; then cp "$CA" "$context/extra-ca.crt"; else : >"$context/extra-ca.crt"; fi

for line in $LINES; do
  # shellcheck disable=SC1090
  . "$ROOT/images/runtime/lines/$line/line.env"
  for target in base runtime; do
    tag=airdock/runtime:$line
    [ "$target" = base ] && tag=$tag-base
    log "building $tag (Airflow $AIRFLOW_VERSION)"
    start=$(date +%s)
    docker build --network host --target "$target" -t "$tag" \
      --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" --build-arg AIRFLOW_LINE="$line" \
      --build-arg DEBIAN_PACKAGES="$DEBIAN_PACKAGES" \
      --label io.airdock.runtime.airflow-version="$AIRFLOW_VERSION" \
      "$context" >"/tmp/airdock-runtime-$line-$target.log" 2>&1 \
      || { tail -n 30 "/tmp/airdock-runtime-$line-$target.log" >&2; exit 1; }
    log "built $tag in $(( $(date +%s) - start ))s"
  done
done
