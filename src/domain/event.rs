//! The append-only history of an invitation.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

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
        /// The expiry moved later; the secret, and so the link, stayed.
        Extended = "EXTENDED",
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

string_enum! {
    /// The type of an event as it leaves the module: in webhook bodies, on the subscription and
    /// to host listeners. The names are the public contract.
    pub enum EventType ("event type") {
        Created = "invitation.created",
        Resent = "invitation.resent",
        Accepted = "invitation.accepted",
        Declined = "invitation.declined",
        Revoked = "invitation.revoked",
        Expired = "invitation.expired",
        Extended = "invitation.extended",
        Deleted = "invitation.deleted",
        /// The invitation email gave up: refused for good, or out of attempts.
        DeliveryFailed = "invitation.delivery_failed",
        /// Sent by `sendTestWebhook` to one endpoint; never about an invitation.
        Test = "webhook.test",
    }
}

impl EventType {
    /// The types an endpoint or a subscription can ask for: every type but the test.
    pub fn published() -> impl Iterator<Item = Self> {
        Self::ALL.into_iter().filter(|t| *t != Self::Test)
    }

    /// The published type of a history event; `None` for a rollback, which undoes an accept
    /// that was never published (see [`OutgoingEvent::held`]).
    pub fn of(kind: EventKind) -> Option<Self> {
        Some(match kind {
            EventKind::Created => Self::Created,
            EventKind::Resent => Self::Resent,
            EventKind::Accepted => Self::Accepted,
            EventKind::Declined => Self::Declined,
            EventKind::Revoked => Self::Revoked,
            EventKind::Expired => Self::Expired,
            EventKind::Extended => Self::Extended,
            EventKind::AcceptRolledBack => return None,
        })
    }
}

/// How long the process that stored an event has it to itself: it publishes the event right
/// after the write, and a dispatcher in another process takes it over only after this, when
/// the first one stopped before it was done.
pub const EVENT_CLAIM: TimeDelta = TimeDelta::seconds(30);

/// How long an accept's event waits for the account to be provisioned before another process
/// may publish it anyway (the accepting process stopped in between).
pub const ACCEPT_HOLD: TimeDelta = TimeDelta::minutes(2);

/// An event waiting, in its invitation's record, to be published: stored in the same write as
/// the change it reports, removed once it is in the event log with its webhook deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEvent {
    /// Also the event's id in the log and on the subscription.
    pub id: Uuid,
    pub event_type: EventType,
    pub at: DateTime<Utc>,
    pub actor: EventActor,
    /// The JSON body, as of the change: what webhooks sign and send. No secret, no link.
    pub body: String,
    /// Before this only the process that stored it publishes it; afterwards any may.
    pub available_at: DateTime<Utc>,
    /// An accept whose account is not provisioned yet: not published until released (or
    /// until `available_at`, if the accepting process stopped).
    pub held: bool,
}

impl OutgoingEvent {
    /// Whether the process that just wrote it should publish it now.
    pub fn is_ready(&self) -> bool {
        !self.held
    }

    /// Whether a dispatcher that did not write it may take it at `now`.
    pub fn is_abandoned(&self, now: DateTime<Utc>) -> bool {
        self.available_at <= now
    }
}

/// The `actor` member of an event body, and its `kind` text.
impl EventActor {
    pub fn kind_str(&self) -> &'static str {
        match self {
            Self::Editor(_) => "EDITOR",
            Self::Invitee => "INVITEE",
            Self::System => "SYSTEM",
        }
    }
}

impl OutgoingEvent {
    /// `invitation.deleted` for an invitation erased at `at`. It lives in no record (the
    /// record is gone) and its body carries the id and scope only: no personal data, so that
    /// receivers learn which copy to erase without being sent the person again.
    pub fn deleted(
        id: super::InvitationId,
        scope: Option<&str>,
        at: DateTime<Utc>,
        actor: EventActor,
    ) -> Self {
        let body = serde_json::json!({
            "type": EventType::Deleted.as_str(),
            "timestamp": body_time(at),
            "data": {
                "invitation": { "id": id.to_string(), "scope": scope },
                "actor": actor_json(&actor, None),
            },
        })
        .to_string();
        Self {
            id: Uuid::now_v7(),
            event_type: EventType::Deleted,
            at,
            actor,
            body,
            available_at: at,
            held: false,
        }
    }
}

/// A time as event bodies write it: RFC 3339, UTC, milliseconds.
fn body_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The `actor` member of an event body; an invitee is named by `invitee_id` (the account).
fn actor_json(actor: &EventActor, invitee_id: Option<&str>) -> serde_json::Value {
    let (id, name) = match actor {
        EventActor::Editor(a) => (Some(a.id.as_str()), Some(a.name.as_str())),
        EventActor::Invitee => (invitee_id, None),
        EventActor::System => (None, None),
    };
    serde_json::json!({ "kind": actor.kind_str(), "id": id, "name": name })
}

/// The JSON body of an event about `invitation` (as it is after the change). The contract:
/// `{type, timestamp, data: {invitation, actor}}`; never a secret or a link.
pub(super) fn event_body(
    event_type: EventType,
    at: DateTime<Utc>,
    actor: &EventActor,
    invitation: &super::Invitation,
) -> String {
    use serde_json::json;
    let details = &invitation.details;
    let timestamp = body_time;
    json!({
        "type": event_type.as_str(),
        "timestamp": timestamp(at),
        "data": {
            "invitation": {
                "id": invitation.id.to_string(),
                "channel": details.contact.channel().as_str(),
                "email": details.contact.email().map(super::EmailAddress::as_str),
                "phone": details.contact.phone().map(super::PhoneNumber::as_str),
                "name": details.name.as_ref().map(|n| n.as_str()),
                "role": details.role.as_str(),
                "groups": details.groups.to_strings(),
                "scope": details.scope.as_ref().map(|s| s.as_str()),
                "locale": details.locale.as_ref().map(|l| l.as_str()),
                "state": invitation.state_at(at).as_str(),
                "expiresAt": timestamp(invitation.expires_at),
                "acceptedAt": invitation.accepted_at.map(timestamp),
                "acceptedUserId": invitation.accepted_user_id.as_deref(),
                "invitedBy": {"id": invitation.invited_by.id, "name": invitation.invited_by.name},
                "metadata": details.metadata.as_map(),
            },
            "actor": actor_json(actor, invitation.accepted_user_id.as_deref()),
        },
    })
    .to_string()
}
