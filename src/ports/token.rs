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
}
