//! The append-only history of an invitation.

use chrono::{DateTime, Utc};

use super::vocabulary::string_enum;

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

string_enum! {
    /// What happened to an invitation.
    pub enum EventKind ("event kind") {
        Created = "CREATED",
        Resent = "RESENT",
        Accepted = "ACCEPTED",
        Declined = "DECLINED",
        Revoked = "REVOKED",
        Expired = "EXPIRED",
        /// Account provisioning failed after the accept was recorded; the invitation is PENDING
        /// again and the link still works.
        AcceptRolledBack = "ACCEPT_ROLLED_BACK",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationEvent {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub actor: EventActor,
}
