//! A store-neutral, plain-data form of an invitation. Each backend maps its rows or documents
//! to and from this; turning it back into domain types (and rejecting corrupt data) happens
//! here once.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::domain::{
    Actor, Channel, Contact, Delivery, EmailAddress, EventActor, EventKind, Groups, Invitation,
    InvitationDetails, InvitationEvent, InvitationId, Locale, Metadata, OutgoingEvent, PersonName,
    PhoneNumber, QueuedMessage, Recipient, RedirectUrl, Role, Schedule, Scope, SealedBody,
    SecretDigest, TemplateVariant,
};
use crate::ports::{StoreError, StoreResult};

#[derive(Debug, Clone)]
pub(crate) struct EventRecord {
    pub kind: String,
    pub at: DateTime<Utc>,
    /// `editor`, `invitee` or `system`.
    pub by: String,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
}

/// A queued message as both stores keep it: a JSON array in SQLite, an array of subdocuments
/// in MongoDB. The body is sealed; `Debug` shows no part of the message anyway.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageRecord {
    pub id: Uuid,
    pub kind: String,
    /// `EMAIL` or `SMS`; messages queued before text messages existed have none: emails.
    #[serde(default = "email_channel")]
    pub channel: String,
    /// The address of the channel: an email address or an E.164 number.
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_name: Option<String>,
    pub locale: String,
    /// The sealed body (see [`SealedBody`]) in base64: ciphertext only.
    pub sealed_body: String,
    pub next_attempt_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl std::fmt::Debug for MessageRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("body", &crate::domain::REDACTED)
            .finish_non_exhaustive()
    }
}

impl From<&QueuedMessage> for MessageRecord {
    fn from(m: &QueuedMessage) -> Self {
        Self {
            id: m.id,
            kind: m.kind.as_str().to_owned(),
            channel: m.to.channel().as_str().to_owned(),
            to: m.to.as_str().to_owned(),
            to_name: m.to_name.clone(),
            locale: m.locale.clone(),
            sealed_body: STANDARD.encode(m.body.as_bytes()),
            next_attempt_at: m.schedule.next_attempt_at,
            lease_until: m.schedule.lease_until,
            attempts: m.schedule.attempts,
            last_error: m.last_error.clone(),
        }
    }
}

impl MessageRecord {
    fn into_message(self, id: Uuid) -> StoreResult<QueuedMessage> {
        Ok(QueuedMessage {
            id: self.id,
            kind: self
                .kind
                .parse()
                .map_err(bad("a queued message kind", id))?,
            to: self
                .channel
                .parse()
                .ok()
                .and_then(|channel| Recipient::from_stored(channel, &self.to))
                .ok_or_else(|| corrupt("a queued message address", id))?,
            to_name: self.to_name,
            locale: self.locale,
            body: SealedBody::from_bytes(
                STANDARD
                    .decode(&self.sealed_body)
                    .map_err(bad("a queued message body", id))?,
            ),
            schedule: Schedule {
                next_attempt_at: self.next_attempt_at,
                lease_until: self.lease_until,
                attempts: self.attempts,
            },
            last_error: self.last_error,
        })
    }
}

/// An event waiting to be published, as both stores keep it (see [`OutgoingEvent`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PendingEventRecord {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub at: DateTime<Utc>,
    /// `editor`, `invitee` or `system`.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    pub body: String,
    pub available_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
}

impl From<&OutgoingEvent> for PendingEventRecord {
    fn from(event: &OutgoingEvent) -> Self {
        let (by, actor_id, actor_name) = actor_parts(&event.actor);
        Self {
            id: event.id,
            event_type: event.event_type.as_str().to_owned(),
            at: event.at,
            by: by.to_owned(),
            actor_id,
            actor_name,
            body: event.body.clone(),
            available_at: event.available_at,
            held: event.held,
        }
    }
}

impl PendingEventRecord {
    fn into_event(self, id: Uuid) -> StoreResult<OutgoingEvent> {
        Ok(OutgoingEvent {
            id: self.id,
            event_type: self
                .event_type
                .parse()
                .map_err(bad("a pending event type", id))?,
            at: self.at,
            actor: actor_from_parts(&self.by, self.actor_id, self.actor_name)
                .ok_or_else(|| corrupt("a pending event actor", id))?,
            body: self.body,
            available_at: self.available_at,
            held: self.held,
        })
    }
}

/// An actor as three stored fields: `by` (`editor`, `invitee`, `system`), id and name.
pub(crate) fn actor_parts(actor: &EventActor) -> (&'static str, Option<String>, Option<String>) {
    match actor {
        EventActor::Editor(actor) => ("editor", Some(actor.id.clone()), Some(actor.name.clone())),
        EventActor::Invitee => ("invitee", None, None),
        EventActor::System => ("system", None, None),
    }
}

/// The actor [`actor_parts`] stored; `None` when the parts do not make one.
pub(crate) fn actor_from_parts(
    by: &str,
    id: Option<String>,
    name: Option<String>,
) -> Option<EventActor> {
    match (by, id, name) {
        ("editor", Some(id), Some(name)) => Some(EventActor::Editor(Actor { id, name })),
        ("invitee", ..) => Some(EventActor::Invitee),
        ("system", ..) => Some(EventActor::System),
        _ => None,
    }
}

fn email_channel() -> String {
    Channel::Email.as_str().to_owned()
}

#[derive(Debug, Clone)]
pub(crate) struct InvitationRecord {
    pub id: Uuid,
    /// `EMAIL` or `SMS`.
    pub channel: String,
    pub email: Option<String>,
    pub email_normalized: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub name: Option<String>,
    pub role: String,
    pub groups: Vec<String>,
    pub metadata: Map<String, Value>,
    pub locale: Option<String>,
    pub scope: Option<String>,
    pub redirect_url: Option<String>,
    /// The variant of the invitation message.
    pub template: Option<String>,
    pub invited_by_id: String,
    pub invited_by_name: String,
    pub inviter_email: Option<String>,
    pub secret_digest: Vec<u8>,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub declined_at: Option<DateTime<Utc>>,
    /// Derived from the state; stored so that purging can use an index.
    pub finished_at: Option<DateTime<Utc>>,
    pub accepted_user_id: Option<String>,
    pub send_count: i64,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub delivery_status: String,
    pub delivery_attempts: i64,
    pub delivery_last_error: Option<String>,
    pub delivery_last_attempt_at: Option<DateTime<Utc>>,
    pub delivery_locale: Option<String>,
    pub outbox: Vec<MessageRecord>,
    /// Derived from the outbox; stored so that the sender can find due messages by index.
    pub next_message_at: Option<DateTime<Utc>>,
    pub events: Vec<EventRecord>,
    pub pending_events: Vec<PendingEventRecord>,
    /// Derived from the pending events; stored so that a dispatcher can find abandoned ones
    /// by index.
    pub next_event_at: Option<DateTime<Utc>>,
    pub revision: i64,
}

fn corrupt(what: &str, id: Uuid) -> StoreError {
    StoreError::Corrupt(format!("{what} of invitation {id}"))
}

/// `map_err` adapter: any parse failure of a stored field means the record is corrupt.
fn bad<E>(what: &'static str, id: Uuid) -> impl FnOnce(E) -> StoreError {
    move |_| corrupt(what, id)
}

impl From<&InvitationEvent> for EventRecord {
    fn from(event: &InvitationEvent) -> Self {
        let (by, actor_id, actor_name) = actor_parts(&event.actor);
        Self {
            kind: event.kind.as_str().to_owned(),
            at: event.at,
            by: by.to_owned(),
            actor_id,
            actor_name,
        }
    }
}

impl EventRecord {
    fn into_event(self, id: Uuid) -> StoreResult<InvitationEvent> {
        let kind: EventKind = self
            .kind
            .parse()
            .map_err(|_| corrupt("an event kind", id))?;
        let actor = actor_from_parts(&self.by, self.actor_id, self.actor_name)
            .ok_or_else(|| corrupt("an event actor", id))?;
        Ok(InvitationEvent {
            kind,
            at: self.at,
            actor,
        })
    }
}

impl From<&Invitation> for InvitationRecord {
    fn from(inv: &Invitation) -> Self {
        Self {
            id: inv.id.as_uuid(),
            channel: inv.details.contact.channel().as_str().to_owned(),
            email: inv.details.contact.email().map(|e| e.as_str().to_owned()),
            email_normalized: inv
                .details
                .contact
                .email()
                .map(|e| e.normalized().to_owned()),
            phone: inv.details.contact.phone().map(|p| p.as_str().to_owned()),
            name: inv.details.name.as_ref().map(|n| n.as_str().to_owned()),
            role: inv.details.role.as_str().to_owned(),
            groups: inv.details.groups.to_strings(),
            metadata: inv.details.metadata.as_map().clone(),
            locale: inv.details.locale.as_ref().map(|l| l.as_str().to_owned()),
            scope: inv.details.scope.as_ref().map(|s| s.as_str().to_owned()),
            redirect_url: inv
                .details
                .redirect_url
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            template: inv.details.template.as_ref().map(|t| t.as_str().to_owned()),
            invited_by_id: inv.invited_by.id.clone(),
            invited_by_name: inv.invited_by.name.clone(),
            inviter_email: inv.inviter_email.as_ref().map(|e| e.as_str().to_owned()),
            secret_digest: inv.secret_digest.as_bytes().to_vec(),
            state: inv.stored_state.as_str().to_owned(),
            created_at: inv.created_at,
            updated_at: inv.updated_at,
            expires_at: inv.expires_at,
            accepted_at: inv.accepted_at,
            revoked_at: inv.revoked_at,
            declined_at: inv.declined_at,
            finished_at: inv.finished_at(),
            accepted_user_id: inv.accepted_user_id.clone(),
            send_count: i64::from(inv.send_count),
            last_sent_at: inv.last_sent_at,
            delivery_status: inv.delivery.status.as_str().to_owned(),
            delivery_attempts: i64::from(inv.delivery.attempts),
            delivery_last_error: inv.delivery.last_error.clone(),
            delivery_last_attempt_at: inv.delivery.last_attempt_at,
            delivery_locale: inv.delivery.locale.clone(),
            outbox: inv.outbox.iter().map(MessageRecord::from).collect(),
            next_message_at: inv.next_message_at(),
            events: inv.events.iter().map(EventRecord::from).collect(),
            pending_events: inv
                .pending_events
                .iter()
                .map(PendingEventRecord::from)
                .collect(),
            next_event_at: inv.next_event_at(),
            revision: i64::try_from(inv.revision).unwrap_or(i64::MAX),
        }
    }
}

impl InvitationRecord {
    pub fn into_invitation(self) -> StoreResult<Invitation> {
        let id = self.id;
        Ok(Invitation {
            id: InvitationId::from_uuid(id),
            details: InvitationDetails {
                contact: Contact::new(
                    self.channel.parse().map_err(bad("the channel", id))?,
                    self.email
                        .as_deref()
                        .map(EmailAddress::parse)
                        .transpose()
                        .map_err(bad("the email", id))?,
                    self.phone
                        .as_deref()
                        .map(|p| PhoneNumber::from_stored(p).ok_or(()))
                        .transpose()
                        .map_err(bad("the phone", id))?,
                )
                .map_err(bad("the contact", id))?,
                name: self
                    .name
                    .as_deref()
                    .map(PersonName::parse)
                    .transpose()
                    .map_err(bad("the name", id))?,
                role: Role::parse(&self.role).map_err(bad("the role", id))?,
                groups: Groups::parse(&self.groups).map_err(bad("the groups", id))?,
                metadata: Metadata::from_stored(self.metadata),
                locale: self
                    .locale
                    .as_deref()
                    .map(Locale::parse)
                    .transpose()
                    .map_err(bad("the locale", id))?,
                scope: self
                    .scope
                    .as_deref()
                    .map(Scope::parse)
                    .transpose()
                    .map_err(bad("the scope", id))?,
                redirect_url: match self.redirect_url.as_deref() {
                    None => None,
                    Some(url) => Some(
                        RedirectUrl::from_stored(url)
                            .ok_or_else(|| corrupt("the redirect URL", id))?,
                    ),
                },
                template: self
                    .template
                    .as_deref()
                    .map(TemplateVariant::parse)
                    .transpose()
                    .map_err(bad("the template variant", id))?,
            },
            invited_by: Actor {
                id: self.invited_by_id,
                name: self.invited_by_name,
            },
            inviter_email: self
                .inviter_email
                .as_deref()
                .map(EmailAddress::parse)
                .transpose()
                .map_err(bad("the inviter email", id))?,
            secret_digest: SecretDigest::from_slice(&self.secret_digest)
                .ok_or_else(|| corrupt("the secret digest", id))?,
            stored_state: self.state.parse().map_err(bad("the state", id))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
            revoked_at: self.revoked_at,
            declined_at: self.declined_at,
            accepted_user_id: self.accepted_user_id,
            send_count: u32::try_from(self.send_count).map_err(bad("the send count", id))?,
            last_sent_at: self.last_sent_at,
            delivery: Delivery {
                status: self
                    .delivery_status
                    .parse()
                    .map_err(bad("the delivery status", id))?,
                attempts: u32::try_from(self.delivery_attempts)
                    .map_err(bad("the delivery attempts", id))?,
                last_error: self.delivery_last_error,
                last_attempt_at: self.delivery_last_attempt_at,
                locale: self.delivery_locale,
            },
            outbox: self
                .outbox
                .into_iter()
                .map(|m| m.into_message(id))
                .collect::<StoreResult<_>>()?,
            events: self
                .events
                .into_iter()
                .map(|e| e.into_event(id))
                .collect::<StoreResult<_>>()?,
            pending_events: self
                .pending_events
                .into_iter()
                .map(|e| e.into_event(id))
                .collect::<StoreResult<_>>()?,
            revision: u64::try_from(self.revision).map_err(bad("the revision", id))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        MessageBody, MessageDraft, MessageKey, MessageKeys, MessageKind, Outgoing,
    };

    #[test]
    fn a_stored_message_holds_only_its_sealed_body_and_reads_back_the_same() {
        let keys = MessageKeys::new(MessageKey::from_bytes(&[7; 32]), Vec::new());
        let message = MessageDraft {
            kind: MessageKind::Invitation,
            to: Recipient::Email(EmailAddress::parse("a@example.org").unwrap()),
            to_name: None,
            locale: "en".into(),
            body: MessageBody {
                reply_to: None,
                subject: "Join us".into(),
                html: "<a href=\"https://x/accept#secret=LINK-IN-HTML\">".into(),
                text: "https://x/accept#secret=LINK-IN-TEXT".into(),
            },
        }
        .seal(&keys, Utc::now())
        .unwrap();
        let record = MessageRecord::from(&message);
        let stored = serde_json::to_string(&record).unwrap();
        assert!(
            !stored.contains("LINK-IN") && !stored.contains("Join us"),
            "{stored}"
        );
        assert!(!format!("{record:?}").contains(&record.sealed_body));
        let read = record.clone().into_message(Uuid::now_v7()).unwrap();
        assert_eq!(read, message);
        let Outgoing::Email(email) = read.open(&keys).unwrap() else {
            panic!("an email's message opens as an email");
        };
        assert_eq!(email.body.subject, "Join us");

        // Written before text messages existed: no channel, so an email.
        let mut old = serde_json::to_value(&record).unwrap();
        old.as_object_mut().unwrap().remove("channel");
        let old: MessageRecord = serde_json::from_value(old).unwrap();
        assert_eq!(old.into_message(Uuid::now_v7()).unwrap(), message);
        // A phone's message with an address that is no number is corrupt, not an email.
        let misfiled = MessageRecord {
            channel: "SMS".into(),
            ..record.clone()
        };
        assert!(matches!(
            misfiled.into_message(Uuid::now_v7()),
            Err(StoreError::Corrupt(_))
        ));

        let garbled = MessageRecord {
            sealed_body: "not base64!".into(),
            ..record
        };
        assert!(matches!(
            garbled.into_message(Uuid::now_v7()),
            Err(StoreError::Corrupt(_))
        ));
    }
}
