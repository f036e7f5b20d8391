#!/usr/bin/env bash
# A real SMTP server for the tests: aiosmtpd from PyPI, installed into .test-services/.
#
#   scripts/smtp.sh install      install aiosmtpd once (idempotent)
#   scripts/smtp.sh pythonpath   print the PYTHONPATH that makes scripts/smtp_sink.py run
#
# The tests start scripts/smtp_sink.py themselves, one server per test on 127.0.0.1, so that a
# test can stop and restart "the mail server" without disturbing the others.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
lib="$root/.test-services/smtp-pylib"
version="1.4.6"

log() { echo "smtp.sh: $*" >&2; }

install() {
  [ -f "$lib/.aiosmtpd-$version" ] && return 0
  log "installing aiosmtpd==$version"
  rm -rf "$lib"
  python3 -m pip install --quiet --disable-pip-version-check --target "$lib" "aiosmtpd==$version"
  touch "$lib/.aiosmtpd-$version"
}

case "${1:-}" in
  install) install ;;
  pythonpath) install; echo "$lib" ;;
  *) echo "usage: $0 install|pythonpath" >&2; exit 2 ;;
esac
