//! Invitation states, and how the stored state and the clock give the state everyone sees.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InvitationState {
    Pending,
    Accepted,
    Expired,
    Revoked,
    Declined,
}

impl InvitationState {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Accepted,
        Self::Expired,
        Self::Revoked,
        Self::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Accepted => "ACCEPTED",
            Self::Expired => "EXPIRED",
            Self::Revoked => "REVOKED",
            Self::Declined => "DECLINED",
        }
    }

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

impl fmt::Display for InvitationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown invitation state {0:?}")]
pub struct UnknownState(String);

impl FromStr for InvitationState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}
