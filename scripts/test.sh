#!/usr/bin/env bash
# The whole test suite, from a fresh machine or a warm one:
#   - installs (once) and starts a real MongoDB replica set on 127.0.0.1 (scripts/mongod.sh),
#   - installs (once) a real SMTP server, aiosmtpd, that the email tests start per test
#     (scripts/smtp.sh, scripts/smtp_sink.py),
#   - installs (once) Debian's chromium and playwright-core for the browser tests
#     (scripts/browser.sh; screenshots land in target/browser-screenshots/), and the npm
#     packages of the client tests (scripts/node_packages.sh tests/clients),
#   - checks formatting and lints,
#   - runs every test (unit, property and the integration binary on both stores, with the
#     hostile-client suite in it: tests/api/hostile/), and prints the hostile suite's counts,
#   - scans every log line the suite's servers wrote for tokens, secrets, links, passwords
#     and query strings (scripts/scan_logs.py),
#   - stops mongod again, and the three-member replica set the failover tests start
#     (scripts/mongod-replset.sh).
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
  # The failover tests start a three-member replica set on demand (scripts/mongod-replset.sh).
  bash scripts/mongod-replset.sh stop || true
}
trap cleanup EXIT

INVITATIONS_TEST_SMTP_PYTHONPATH="$(bash scripts/smtp.sh pythonpath)"
export INVITATIONS_TEST_SMTP_PYTHONPATH

bash scripts/browser.sh install
# graphql-js, graphql-http, Apollo Client, graphql-request, GraphQL Code Generator, tsc.
bash scripts/node_packages.sh tests/clients
# standardwebhooks (verifies the webhooks), graphql-ws and ws (the subscription's clients).
bash scripts/node_packages.sh tests/events

# Every log line the suite's servers write is kept here and scanned at the end.
INVITATIONS_TEST_LOG_DIR="$root/target/test-logs"
export INVITATIONS_TEST_LOG_DIR
rm -rf "$INVITATIONS_TEST_LOG_DIR"
mkdir -p "$INVITATIONS_TEST_LOG_DIR"

echo "test.sh: MongoDB at $INVITATIONS_TEST_MONGODB_URI"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
# What the hostile-client suite sent and what the server answered (tests/api/hostile/), and
# what the standard GraphQL clients found (tests/api/clients.rs).
cat "$INVITATIONS_TEST_LOG_DIR/hostile-summary.txt"
cat "$INVITATIONS_TEST_LOG_DIR/clients-summary.json"
# What the primary failovers cost (tests/api/failover.rs).
cat "$INVITATIONS_TEST_LOG_DIR/failover-summary.txt"
# How soon a saved template reached another server process (tests/api/stored_templates.rs).
cat "$INVITATIONS_TEST_LOG_DIR/stored-templates-summary.txt"
# No log line of the whole suite may carry a token, a secret, a link, a password or a query
# string (the scanner first proves it catches each of them).
python3 scripts/scan_logs.py --self-test
python3 scripts/scan_logs.py "$INVITATIONS_TEST_LOG_DIR"
