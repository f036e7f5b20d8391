#!/usr/bin/env bash
# Installs the npm packages of a test folder from its lockfile, once: again only when the
# lockfile changes (tests/browser for the browser tests, tests/clients for the client tests).
#
#   scripts/node_packages.sh DIR
set -euo pipefail

dir="$1"
log() { echo "node_packages.sh: $*" >&2; }

command -v npm >/dev/null 2>&1 || { log "npm is missing (Debian package npm)"; exit 1; }
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
have=""
[ -f "$dir/node_modules/.lock-sha256" ] && have="$(cat "$dir/node_modules/.lock-sha256")"
[ "$want" = "$have" ] && exit 0
log "installing the packages of $dir (npm ci)"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
echo "$want" > "$dir/node_modules/.lock-sha256"
