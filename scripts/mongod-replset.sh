#!/usr/bin/env bash
# A three-member MongoDB replica set on 127.0.0.1 for the failover tests and the benchmark:
# three `mongod` processes of the binary scripts/mongod.sh installs, each with its own port and
# data folder under .test-services/replset/, stopped by PID.
#
#   scripts/mongod-replset.sh start   -> starts every member not running (the first start also
#                                        initiates the set), waits for a primary, prints the URI
#                                        on its last line
#   scripts/mongod-replset.sh stop    -> stops every member (SIGTERM, by PID)
#   scripts/mongod-replset.sh pid N   -> the PID of member N (0, 1 or 2), if it runs
#   scripts/mongod-replset.sh uri
#
# Ports: MONGOD_REPLSET_PORT (default 27931) and the next two. Elections: a member that hears
# nothing from the primary for 2 s calls one (MongoDB's default is 10 s; see docs/deployment.md).
# Idempotent: a second `start` reuses the installation, the data and the running members.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
svc="$root/.test-services"
dir="$svc/replset"
base="${MONGOD_REPLSET_PORT:-27931}"
ports=("$base" "$((base + 1))" "$((base + 2))")
set_name="rs3"
uri="mongodb://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}/?replicaSet=$set_name"

log() { printf 'mongod-replset.sh: %s\n' "$*" >&2; }

pid_file() { echo "$dir/member-$1.pid"; }

running() {
  local file
  file="$(pid_file "$1")"
  [ -f "$file" ] && kill -0 "$(cat "$file")" 2>/dev/null
}

start() {
  bash "$root/scripts/mongod.sh" install
  local mongod
  mongod="$(bash "$root/scripts/mongod.sh" bin)"
  for member in 0 1 2; do
    running "$member" && continue
    mkdir -p "$dir/data-$member"
    log "starting member $member on 127.0.0.1:${ports[$member]}"
    # A member killed with SIGKILL leaves its lock file; mongod recovers from its journal.
    "$mongod" --bind_ip 127.0.0.1 --port "${ports[$member]}" --dbpath "$dir/data-$member" \
      --replSet "$set_name" --wiredTigerCacheSizeGB 0.25 \
      --setParameter enableTestCommands=1 \
      --logpath "$dir/member-$member.log" --logappend \
      --fork --pidfilepath "$(pid_file "$member")" >/dev/null
  done
  PYTHONPATH="$(bash "$root/scripts/mongod.sh" pylib)" \
    python3 "$root/scripts/mongo_admin.py" "${ports[0]}" initiate-set "$set_name" "${ports[@]}"
  echo "$uri"
}

stop() {
  for member in 0 1 2; do
    if running "$member"; then
      local pid
      pid="$(cat "$(pid_file "$member")")"
      kill "$pid"
      # A primary shutting down waits up to 10 s for a secondary to catch up: wait for the
      # process to be gone (its port free) before saying so, and kill it after a minute.
      for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        log "member $member did not stop within 60 s; killing it"
        kill -KILL "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      fi
      log "stopped member $member"
    fi
    rm -f "$(pid_file "$member")"
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  pid) running "${2:?member number}" && cat "$(pid_file "$2")" ;;
  uri) echo "$uri" ;;
  *) echo "usage: $0 start|stop|pid N|uri" >&2; exit 2 ;;
esac
