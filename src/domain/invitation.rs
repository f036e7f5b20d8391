//! The Invitation aggregate: its fields and every state transition.
//!
//! The rules live here and nowhere else. Stores persist whole invitations and refuse a write
//! whose `revision` is stale, so a transition computed here is applied at most once even when
//! many requests race for the same invitation.

use chrono::{DateTime, Utc};

use uuid::Uuid;

use super::event::{ACCEPT_HOLD, EVENT_CLAIM, event_body};
use super::{
    Actor, Contact, Delivery, DeliveryStatus, EmailAddress, EventActor, EventKind, EventType,
    Groups, InvitationEvent, InvitationId, InvitationState, Locale, MessageKind, Metadata,
    OutgoingEvent, PersonName, QueuedMessage, RedirectUrl, Role, Scope, SecretDigest,
    TemplateVariant,
};

/// What an invitation says: whom it invites to what. Chosen by an editor, validated, and
/// kept as it was chosen. A new property of an invitation is a field here.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationDetails {
    /// The invitee's email and phone, and which of them the invitation goes to.
    pub contact: Contact,
    pub name: Option<PersonName>,
    pub role: Role,
    pub groups: Groups,
    pub metadata: Metadata,
    pub locale: Option<Locale>,
    pub scope: Option<Scope>,
    pub redirect_url: Option<RedirectUrl>,
    /// The variant of the invitation message; `None`: the base template.
    pub template: Option<TemplateVariant>,
}

/// Everything an editor chooses when inviting someone: the details, and whether the module
/// emails the link (false: the editor shares it).
#[derive(Debug, Clone)]
pub struct InvitationDraft {
    pub details: InvitationDetails,
    pub send_email: bool,
}

/// A stored invitation. Fields are public for reading; change it only through the transition
/// methods, which keep the state machine's invariants.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: InvitationId,
    pub details: InvitationDetails,
    pub invited_by: Actor,
    /// Where the "accepted" notice goes; `None` when the inviter has no known address.
    pub inviter_email: Option<EmailAddress>,
    pub secret_digest: SecretDigest,
    /// The persisted state. Readers want [`Invitation::state_at`], which applies expiry.
    pub stored_state: InvitationState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub declined_at: Option<DateTime<Utc>>,
    pub accepted_user_id: Option<String>,
    pub send_count: u32,
    pub last_sent_at: Option<DateTime<Utc>>,
    pub delivery: Delivery,
    /// Emails waiting for the sender, written in the same write as the change that caused
    /// them. See [`Invitation::queue_email`] and the sender rules in `outbox`.
    pub outbox: Vec<QueuedMessage>,
    pub events: Vec<InvitationEvent>,
    /// Events stored with the change they report, waiting to be published (see
    /// [`OutgoingEvent`]); removed by [`Invitation::events_published`].
    pub pending_events: Vec<OutgoingEvent>,
    /// Incremented by the store on every write; a write with a stale revision is refused.
    pub revision: u64,
}

/// The most events one invitation keeps: the first (CREATED) and the latest.
pub const MAX_EVENTS: usize = 100;

/// A transition was refused because of the invitation's (effective) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the invitation is {0}")]
pub struct TransitionRefused(pub InvitationState);

impl Invitation {
    /// A new PENDING invitation, with its CREATED event. With `send_email` its delivery is
    /// QUEUED and the caller queues the email ([`Invitation::queue_email`]) before storing it.
    pub fn create(
        id: InvitationId,
        draft: InvitationDraft,
        invited_by: Actor,
        inviter_email: Option<EmailAddress>,
        secret_digest: SecretDigest,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        let delivery = Delivery {
            status: if draft.send_email {
                DeliveryStatus::Queued
            } else {
                DeliveryStatus::Skipped
            },
            ..Delivery::skipped()
        };
        let mut invitation = Self {
            id,
            details: draft.details,
            events: Vec::new(),
            pending_events: Vec::new(),
            invited_by: invited_by.clone(),
            inviter_email,
            secret_digest,
            stored_state: InvitationState::Pending,
            created_at: now,
            updated_at: now,
            expires_at,
            accepted_at: None,
            revoked_at: None,
            declined_at: None,
            accepted_user_id: None,
            send_count: u32::from(draft.send_email),
            last_sent_at: draft.send_email.then_some(now),
            delivery,
            outbox: Vec::new(),
            revision: 0,
        };
        invitation.record(EventKind::Created, EventActor::Editor(invited_by), now);
        invitation
    }

    /// The state as of `now`: PENDING past `expires_at` reads as EXPIRED.
    pub fn state_at(&self, now: DateTime<Utc>) -> InvitationState {
        InvitationState::effective(self.stored_state, self.expires_at, now)
    }

    /// A resend is possible while PENDING or EXPIRED.
    pub fn is_resendable(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.state_at(now),
            InvitationState::Pending | InvitationState::Expired
        )
    }

    /// A revoke is possible while PENDING (and not yet expired).
    pub fn is_revocable(&self, now: DateTime<Utc>) -> bool {
        self.state_at(now) == InvitationState::Pending
    }

    /// When the invitation reached a state it will not leave by itself; stores use it to purge
    /// finished invitations after the retention period.
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        match self.stored_state {
            InvitationState::Pending => None,
            InvitationState::Expired => Some(self.expires_at),
            InvitationState::Accepted => self.accepted_at,
            InvitationState::Revoked => self.revoked_at,
            InvitationState::Declined => self.declined_at,
        }
    }

    fn require_pending(&self, now: DateTime<Utc>) -> Result<(), TransitionRefused> {
        match self.state_at(now) {
            InvitationState::Pending => Ok(()),
            other => Err(TransitionRefused(other)),
        }
    }

    /// Appends an event. The history keeps the CREATED event and the latest ones, at most
    /// [`MAX_EVENTS`] in all, so repeated resends cannot grow a record without bound.
    /// Every recorded change that leaves the module is also queued for publishing, in the same
    /// write (see [`OutgoingEvent`]).
    fn record(&mut self, kind: EventKind, actor: EventActor, now: DateTime<Utc>) {
        self.updated_at = now;
        if self.events.len() >= MAX_EVENTS {
            self.events.remove(1);
        }
        if let Some(event_type) = EventType::of(kind) {
            self.publish(event_type, actor.clone(), now);
        }
        self.events.push(InvitationEvent {
            kind,
            at: now,
            actor,
        });
    }

    /// Queues an event of `event_type` with the invitation as it is now.
    pub(super) fn publish(&mut self, event_type: EventType, actor: EventActor, now: DateTime<Utc>) {
        let body = event_body(event_type, now, &actor, self);
        self.pending_events.push(OutgoingEvent {
            id: Uuid::now_v7(),
            event_type,
            at: now,
            actor,
            body,
            available_at: now + EVENT_CLAIM,
            held: false,
        });
    }

    /// The events the process that wrote this copy publishes now.
    pub fn ready_events(&self) -> impl Iterator<Item = &OutgoingEvent> {
        self.pending_events.iter().filter(|e| e.is_ready())
    }

    /// Whether any event waits that another process may take over at `now`.
    pub fn next_event_at(&self) -> Option<DateTime<Utc>> {
        self.pending_events.iter().map(|e| e.available_at).min()
    }

    /// Removes events that are in the event log now; `false` when none of them was here.
    pub fn events_published(&mut self, ids: &[Uuid]) -> bool {
        let before = self.pending_events.len();
        self.pending_events.retain(|e| !ids.contains(&e.id));
        self.pending_events.len() != before
    }

    /// Takes over the events abandoned at `now` for `claim`; `false` when none is.
    pub fn claim_abandoned_events(&mut self, now: DateTime<Utc>) -> bool {
        let mut claimed = false;
        for event in &mut self.pending_events {
            if event.is_abandoned(now) {
                event.available_at = now + EVENT_CLAIM;
                event.held = false;
                claimed = true;
            }
        }
        claimed
    }

    /// PENDING -> ACCEPTED by the holder of the secret, before `expires_at`.
    pub fn accept(&mut self, now: DateTime<Utc>, user_id: String) -> Result<(), TransitionRefused> {
        self.require_pending(now)?;
        self.stored_state = InvitationState::Accepted;
        self.accepted_at = Some(now);
        self.accepted_user_id = Some(user_id);
        self.record(EventKind::Accepted, EventActor::Invitee, now);
        if let Some(event) = self.pending_events.last_mut() {
            // Published once the account is there (`release_accept`), never after a rollback.
            event.held = true;
            event.available_at = now + ACCEPT_HOLD;
        }
        Ok(())
    }

    /// Undoes an accept whose account could not be provisioned, so that the link works again.
    /// Only the accept that `user_id` identifies can be rolled back; the "accepted" notice it
    /// queued is withdrawn.
    pub fn roll_back_accept(
        &mut self,
        now: DateTime<Utc>,
        user_id: &str,
    ) -> Result<(), TransitionRefused> {
        if self.stored_state != InvitationState::Accepted
            || self.accepted_user_id.as_deref() != Some(user_id)
        {
            return Err(TransitionRefused(self.state_at(now)));
        }
        self.stored_state = InvitationState::Pending;
        self.accepted_at = None;
        self.accepted_user_id = None;
        self.outbox
            .retain(|message| message.kind != MessageKind::InvitationAccepted);
        self.pending_events
            .retain(|event| !(event.held && event.event_type == EventType::Accepted));
        self.record(EventKind::AcceptRolledBack, EventActor::System, now);
        Ok(())
    }

    /// PENDING -> DECLINED by the holder of the secret.
    pub fn decline(&mut self, now: DateTime<Utc>) -> Result<(), TransitionRefused> {
        self.require_pending(now)?;
        self.stored_state = InvitationState::Declined;
        self.declined_at = Some(now);
        self.record(EventKind::Declined, EventActor::Invitee, now);
        Ok(())
    }

    /// PENDING -> REVOKED by an editor.
    pub fn revoke(&mut self, now: DateTime<Utc>, by: Actor) -> Result<(), TransitionRefused> {
        self.require_pending(now)?;
        self.stored_state = InvitationState::Revoked;
        self.revoked_at = Some(now);
        self.record(EventKind::Revoked, EventActor::Editor(by), now);
        Ok(())
    }

    /// PENDING or EXPIRED -> PENDING with a new secret and expiry; the old link stops working.
    /// The delivery starts again as QUEUED; the caller queues the new email.
    pub fn resend(
        &mut self,
        now: DateTime<Utc>,
        secret_digest: SecretDigest,
        expires_at: DateTime<Utc>,
        by: Actor,
    ) -> Result<(), TransitionRefused> {
        if !self.is_resendable(now) {
            return Err(TransitionRefused(self.state_at(now)));
        }
        self.stored_state = InvitationState::Pending;
        self.secret_digest = secret_digest;
        self.expires_at = expires_at;
        self.send_count = self.send_count.saturating_add(1);
        self.last_sent_at = Some(now);
        self.outbox
            .retain(|message| message.kind != MessageKind::Invitation);
        self.delivery = Delivery {
            status: DeliveryStatus::Queued,
            locale: self.delivery.locale.take(),
            ..Delivery::skipped()
        };
        self.record(EventKind::Resent, EventActor::Editor(by), now);
        Ok(())
    }

    /// PENDING or EXPIRED -> PENDING until `expires_at`, keeping the secret: the link the
    /// invitee already has keeps working (or works again). Nothing is sent; the caller may
    /// queue a notice. Refused once the invitation is accepted, revoked or declined.
    pub fn extend(
        &mut self,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        by: Actor,
    ) -> Result<(), TransitionRefused> {
        if !self.is_resendable(now) {
            return Err(TransitionRefused(self.state_at(now)));
        }
        self.stored_state = InvitationState::Pending;
        self.expires_at = expires_at;
        self.record(EventKind::Extended, EventActor::Editor(by), now);
        Ok(())
    }

    /// Persists expiry: stored PENDING whose `expires_at` has passed -> EXPIRED. Refused for
    /// anything else, so concurrent sweepers record each expiry once.
    pub fn expire(&mut self, now: DateTime<Utc>) -> Result<(), TransitionRefused> {
        if self.stored_state != InvitationState::Pending || self.expires_at > now {
            return Err(TransitionRefused(self.state_at(now)));
        }
        self.stored_state = InvitationState::Expired;
        self.record(EventKind::Expired, EventActor::System, now);
        Ok(())
    }
}
