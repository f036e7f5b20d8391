//! The hostile-client suite: what an attacker's client sends, against the real server binary.
//!
//! - `graphql`: property-based GraphQL inputs on both stores: valid operations mutated at
//!   random, variables of the wrong type, huge and odd values, deep nesting, alias floods,
//!   request bodies that are not what they claim to be;
//! - `raw_http`: what no HTTP client library would send: unknown methods, broken chunking,
//!   contradicting lengths, oversized headers and bodies, TLS and other protocols on the plain
//!   port, stalled headers, byte-level mutations of a valid request.
//!
//! Every answer must be below 500 and the server must keep answering; at the end nothing has
//! panicked and the process's peak memory is under [`target::PEAK_RSS_LIMIT_MIB`]. The server
//! logs at debug level into the suite's log folder, where `scripts/test.sh` scans every line
//! for secrets and tokens. Each run appends its counts to `hostile-summary.txt` there, which
//! `scripts/test.sh` prints. The random inputs come from a seed printed with the counts (set
//! `INVITATIONS_HOSTILE_SEED` to replay one) and are bounded in number.

mod graphql;
mod raw_http;
pub(crate) mod target;
