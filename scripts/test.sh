#!/usr/bin/env bash
# The whole test suite, from a fresh machine or a warm one:
#   - installs (once) and starts a real MongoDB replica set on 127.0.0.1 (scripts/mongod.sh),
#   - installs (once) a real SMTP server, aiosmtpd, that the email tests start per test
#     (scripts/smtp.sh, scripts/smtp_sink.py),
#   - installs (once) Debian's chromium and playwright-core for the browser tests
#     (scripts/browser.sh; screenshots land in target/browser-screenshots/),
#   - checks formatting and lints,
#   - runs every test (unit, property and the integration binary on both stores),
#   - stops mongod again.
# Idempotent: a second run reuses the installed mongod and the build cache in target/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

started_here=0
if ! bash scripts/mongod.sh running >/dev/null 2>&1; then
  started_here=1
fi
INVITATIONS_TEST_MONGODB_URI="$(bash scripts/mongod.sh start | tail -n 1)"
export INVITATIONS_TEST_MONGODB_URI
cleanup() {
  if [ "$started_here" = 1 ]; then
    bash scripts/mongod.sh stop || true
  fi
}
trap cleanup EXIT

INVITATIONS_TEST_SMTP_PYTHONPATH="$(bash scripts/smtp.sh pythonpath)"
export INVITATIONS_TEST_SMTP_PYTHONPATH

bash scripts/browser.sh install

echo "test.sh: MongoDB at $INVITATIONS_TEST_MONGODB_URI"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
