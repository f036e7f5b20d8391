#!/usr/bin/env bash
# The browser tests' tools: Debian's chromium and playwright-core from npm (it never downloads a
# browser; the tests launch /usr/bin/chromium).
#
#   scripts/browser.sh install   install both once (idempotent; reinstalls the npm packages
#                                when tests/browser/package-lock.json changes)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/tests/browser"

log() { echo "browser.sh: $*" >&2; }

install_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  log "installing Debian's chromium"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >/dev/null
}

install_packages() {
  command -v npm >/dev/null 2>&1 || { log "npm is missing (Debian package npm)"; exit 1; }
  local want have=""
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  [ -f "$dir/node_modules/.lock-sha256" ] && have="$(cat "$dir/node_modules/.lock-sha256")"
  [ "$want" = "$have" ] && return 0
  log "installing playwright-core (npm ci)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$dir/node_modules/.lock-sha256"
}

case "${1:-}" in
  install) install_chromium; install_packages ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
