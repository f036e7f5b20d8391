//! Accounts created by the built-in provisioner when an invitation is accepted.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// An account of the built-in provisioner. `password_hash` is an Argon2id PHC string, never a
/// password.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: String,
    /// The email, if the account has one (an account made from an SMS invitation may not).
    pub email: Option<String>,
    pub email_normalized: Option<String>,
    /// The mobile number in E.164, if the account has one.
    pub phone: Option<String>,
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub metadata: Map<String, Value>,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
