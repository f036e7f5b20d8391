//! Integration tests: one binary, every store contract test on both backends (SQLite and a
//! real MongoDB replica set started by `scripts/test.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod mail;
mod process;
mod server;
mod sms_gateway;

mod accepting;
mod architecture;
mod authorization;
mod backends;
mod browser;
mod cli;
mod clients;
mod concurrency;
mod contracts;
mod dump;
mod edge;
mod email_delivery;
mod email_templates;
mod erasure;
mod error_codes;
mod events;
mod extending;
mod failover;
mod graphql_api;
mod host;
mod hostile;
mod http_transport;
mod lifecycle;
mod readme;
mod redaction;
mod schema;
mod scopes;
mod sealing;
mod sending;
mod sms;
mod store_contract;
mod stored_templates;
mod tokens;
mod validation;
mod variants;
