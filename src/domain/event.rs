//! The append-only history of an invitation.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// Someone acting on invitations: an editor, or the inviter recorded on an invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub name: String,
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventActor {
    /// An authenticated editor (or a host principal).
    Editor(Actor),
    /// The holder of the secret.
    Invitee,
    /// The module itself: the expiry sweeper, or a rollback.
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Created,
    Resent,
    Accepted,
    Declined,
    Revoked,
    Expired,
    /// Account provisioning failed after the accept was recorded; the invitation is PENDING
    /// again and the link still works.
    AcceptRolledBack,
}

impl EventKind {
    pub const ALL: [Self; 7] = [
        Self::Created,
        Self::Resent,
        Self::Accepted,
        Self::Declined,
        Self::Revoked,
        Self::Expired,
        Self::AcceptRolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Resent => "RESENT",
            Self::Accepted => "ACCEPTED",
            Self::Declined => "DECLINED",
            Self::Revoked => "REVOKED",
            Self::Expired => "EXPIRED",
            Self::AcceptRolledBack => "ACCEPT_ROLLED_BACK",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind {0:?}")]
pub struct UnknownEventKind(String);

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationEvent {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub actor: EventActor,
}
