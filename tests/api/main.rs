//! Integration tests: one binary, every store contract test on both backends (SQLite and a
//! real MongoDB replica set started by `scripts/test.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod backends;
mod concurrency;
mod contracts;
mod dump;
mod lifecycle;
mod store_contract;
mod validation;
