//! What happened to the invitation email.

use chrono::{DateTime, Utc};

use super::vocabulary::string_enum;

string_enum! {
    pub enum DeliveryStatus ("delivery status") {
        /// Stored with the invitation, waiting for the sender.
        Queued = "QUEUED",
        /// Handed to the SMTP server (or written to the outbox folder).
        Sent = "SENT",
        /// Given up: a permanent error, or the retry limit was reached.
        Failed = "FAILED",
        /// `sendEmail: false`: the editor shares the link themselves.
        Skipped = "SKIPPED",
        /// Not sent: the invitation left PENDING (accepted through a shared link, revoked,
        /// declined or expired) before the sender reached its email.
        Cancelled = "CANCELLED",
    }
}

/// The state of the invitation email (the inviter's notice is not tracked here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The template locale the email was written in; `None` while SKIPPED.
    pub locale: Option<String>,
}

impl Delivery {
    /// Nothing queued: the editor shares the link themselves.
    pub fn skipped() -> Self {
        Self {
            status: DeliveryStatus::Skipped,
            attempts: 0,
            last_error: None,
            last_attempt_at: None,
            locale: None,
        }
    }

    /// A fresh email in `locale`, waiting for the sender.
    pub fn queued(locale: &str) -> Self {
        Self {
            status: DeliveryStatus::Queued,
            locale: Some(locale.to_owned()),
            ..Self::skipped()
        }
    }
}
