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
  bash "$root/scripts/node_packages.sh" "$dir"
}

case "${1:-}" in
  install) install_chromium; install_packages ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
