//! API tokens of the standalone server, stored by digest only.

use chrono::{DateTime, Utc};

/// A stored API token. `digest` is the SHA-256 of the token; the token itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    pub digest: [u8; 32],
    pub created_at: DateTime<Utc>,
    /// Where "invitation accepted" notices for this token's invitations go.
    pub email: Option<String>,
    /// After this instant the token is refused; `None`: it does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// Set once the token is revoked; a revoked token is refused.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the token last signed a request in (kept to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// The scopes the token is limited to; empty: every scope.
    pub scopes: Vec<String>,
}
