//! Invitation states, and how the stored state and the clock give the state everyone sees.

use chrono::{DateTime, Utc};

use super::vocabulary::string_enum;

string_enum! {
    pub enum InvitationState ("invitation state") {
        Pending = "PENDING",
        Accepted = "ACCEPTED",
        Expired = "EXPIRED",
        Revoked = "REVOKED",
        Declined = "DECLINED",
    }
}

impl InvitationState {
    /// ACCEPTED, REVOKED and DECLINED never change again. EXPIRED can be resent.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Accepted | Self::Revoked | Self::Declined)
    }

    /// The state a reader sees: a PENDING invitation past its `expires_at` reads as EXPIRED,
    /// whether or not the sweeper has persisted that yet.
    pub fn effective(stored: Self, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if stored == Self::Pending && expires_at <= now {
            Self::Expired
        } else {
            stored
        }
    }
}
