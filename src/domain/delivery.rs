//! What happened to the invitation email.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Stored with the invitation, waiting for the sender.
    Queued,
    /// Handed to the SMTP server (or written to the outbox folder).
    Sent,
    /// Given up: a permanent error, or the retry limit was reached.
    Failed,
    /// `sendEmail: false`: the editor shares the link themselves.
    Skipped,
    /// Not sent: the invitation left PENDING (accepted through a shared link, revoked,
    /// declined or expired) before the sender reached its email.
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Sent,
        Self::Failed,
        Self::Skipped,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Sent => "SENT",
            Self::Failed => "FAILED",
            Self::Skipped => "SKIPPED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown delivery status {0:?}")]
pub struct UnknownDeliveryStatus(String);

impl FromStr for DeliveryStatus {
    type Err = UnknownDeliveryStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownDeliveryStatus(s.to_owned()))
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
