//! Rules of a queued message (an email or a text message): when it is due, how a sender
//! claims it, and how long to wait after a failure. The message lives inside its invitation's record, so queuing it is part of the
//! same write as the change that caused it; the sender (in the service layer) applies these
//! rules with the store's revision check, so one message is worked on by one sender at a time.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::sealed::{MessageBody, MessageKeys, OpenError, SealError, SealedBody};
use super::vocabulary::string_enum;
use super::{
    Delivery, DeliveryStatus, EmailAddress, Invitation, InvitationState, PhoneNumber, Recipient,
};

string_enum! {
    /// Which message it is, and so who it is for. The text is the template kind that writes
    /// it: `email-templates/<locale>/<kind>.<part>.hbs`.
    pub enum MessageKind ("message kind") {
        /// The invitation, with its link, to the invitee. At most one is queued at a time.
        Invitation = "invitation",
        /// The notice to the inviter that their invitation was accepted.
        InvitationAccepted = "invitation_accepted",
        /// The notice to the invitee that their invitation was extended: no link (the server
        /// does not know the secret of a link it already sent).
        InvitationExtended = "invitation_extended",
    }
}

/// A rendered message waiting in its invitation's record, its body sealed (see
/// [`MessageKeys`]): the body of an invitation holds the link, and a store, its operation log
/// and its backups keep only ciphertext. It lives until it is delivered or given up. Its
/// recipient says its channel: an email address or a phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Also the local part of the `Message-ID`, so a retried message keeps its identity.
    pub id: Uuid,
    pub kind: MessageKind,
    pub to: Recipient,
    /// Display name of the recipient, if known.
    pub to_name: Option<String>,
    /// The template locale it was written in.
    pub locale: String,
    pub body: SealedBody,
    pub schedule: Schedule,
    pub last_error: Option<String>,
}

/// A rendered message before it is queued. A text message has only its `body.text`.
#[derive(Debug, Clone)]
pub struct MessageDraft {
    pub kind: MessageKind,
    pub to: Recipient,
    pub to_name: Option<String>,
    pub locale: String,
    pub body: MessageBody,
}

impl MessageDraft {
    /// The draft as a new message due at `now`, its body sealed with `keys`' current key and
    /// bound to the message's id and recipient.
    pub fn seal(self, keys: &MessageKeys, now: DateTime<Utc>) -> Result<QueuedMessage, SealError> {
        let id = Uuid::now_v7();
        let body = keys.seal(&self.body, &sealing_context(id, &self.to))?;
        Ok(QueuedMessage {
            id,
            kind: self.kind,
            to: self.to,
            to_name: self.to_name,
            locale: self.locale,
            body,
            schedule: Schedule::new(now),
            last_error: None,
        })
    }
}

/// What a sender hands the mailer: a claimed message with its body opened. `Debug` shows
/// none of the body.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    /// The queued message's id, for the `Message-ID`.
    pub id: Uuid,
    pub to: EmailAddress,
    pub to_name: Option<String>,
    pub body: MessageBody,
}

/// What a sender hands the SMS gateway: a claimed text message, opened. `Debug` shows the
/// number masked and none of the text (it holds the link).
#[derive(Clone)]
pub struct OutgoingSms {
    /// The queued message's id: a gateway's idempotency key, and what the outbox file is
    /// named by.
    pub id: Uuid,
    pub to: PhoneNumber,
    pub text: String,
}

impl std::fmt::Debug for OutgoingSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingSms")
            .field("id", &self.id)
            .field("to", &self.to)
            .finish_non_exhaustive()
    }
}

/// A claimed message, opened, for the transport of its channel.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Email(OutgoingEmail),
    Sms(OutgoingSms),
}

impl QueuedMessage {
    /// The message ready to hand over. A body that does not open is a delivery failure: one
    /// that may pass when the key is unknown here (another process has a newer key), a
    /// permanent one when it was changed in the store.
    pub fn open(&self, keys: &MessageKeys) -> Result<Outgoing, DeliveryFailure> {
        let body = keys
            .open(&self.body, &sealing_context(self.id, &self.to))
            .map_err(|err| match err {
                OpenError::UnknownKey(_) => DeliveryFailure::transient(err.to_string()),
                OpenError::NotAuthentic | OpenError::Malformed => {
                    DeliveryFailure::permanent(err.to_string())
                }
            })?;
        Ok(match &self.to {
            Recipient::Email(to) => Outgoing::Email(OutgoingEmail {
                id: self.id,
                to: to.clone(),
                to_name: self.to_name.clone(),
                body,
            }),
            Recipient::Phone(to) => Outgoing::Sms(OutgoingSms {
                id: self.id,
                to: to.clone(),
                text: body.text,
            }),
        })
    }
}

/// What a sealed body is bound to: its message and its recipient. A body copied into another
/// message, or a recipient changed in the store, does not open.
fn sealing_context(id: Uuid, to: &Recipient) -> Vec<u8> {
    [id.as_bytes().as_slice(), to.as_str().as_bytes()].concat()
}

/// What a sender may do with a message it asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Claimed: send this copy, then report the outcome.
    Send(Box<QueuedMessage>),
    /// The invitation left PENDING before its email went out: dropped, nothing to send.
    Cancelled,
    /// Gone, held by another sender, or not due yet.
    NotDue,
}

/// How a sender retries a message whose delivery failed for a reason that may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure; doubled after each further one.
    pub initial: TimeDelta,
    /// Longest wait between two attempts.
    pub max: TimeDelta,
    /// Attempts in all, the first included; after the last failure the message is FAILED.
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// The wait before attempt `attempts + 1`: `initial * 2^(attempts - 1)`, capped at `max`,
    /// then scaled into its upper half by `jitter` (0.0..=1.0), so that messages which failed
    /// together do not all retry at the same instant.
    pub fn delay_after(&self, attempts: u32, jitter: f64) -> TimeDelta {
        backoff(self.initial, self.max, attempts, jitter)
    }
}

/// The wait before attempt `attempts + 1` of anything retried (emails, webhooks):
/// `initial * 2^(attempts - 1)`, capped at `max`, then scaled into its upper half by `jitter`
/// (0.0..=1.0), so that failures that happened together do not all retry at the same instant.
pub fn backoff(initial: TimeDelta, max: TimeDelta, attempts: u32, jitter: f64) -> TimeDelta {
    let doublings = attempts.saturating_sub(1).min(30);
    let base_ms = initial
        .num_milliseconds()
        .saturating_mul(1_i64 << doublings)
        .min(max.num_milliseconds())
        .max(0);
    // Truncating to whole milliseconds is intended.
    let jittered = (base_ms as f64 * (0.5 + jitter.clamp(0.0, 1.0) / 2.0)) as i64;
    TimeDelta::milliseconds(jittered)
}

/// When a queued message may be worked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Not before this time (now at queuing; later after a failure).
    pub next_attempt_at: DateTime<Utc>,
    /// A sender holds the message until then; another may take it over afterwards (the first
    /// one crashed or hung).
    pub lease_until: Option<DateTime<Utc>>,
    /// Attempts made so far.
    pub attempts: u32,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(DateTime<Utc>),
    GiveUp,
}

impl Schedule {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            next_attempt_at: now,
            lease_until: None,
            attempts: 0,
        }
    }

    /// Due and not held by a live lease.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.next_attempt_at <= now && self.lease_until.is_none_or(|until| until <= now)
    }

    /// The earliest time a sender may take the message.
    pub fn available_at(&self) -> DateTime<Utc> {
        self.lease_until.map_or(self.next_attempt_at, |until| {
            until.max(self.next_attempt_at)
        })
    }

    /// Takes the message for one attempt until `now + lease`.
    pub fn claim(&mut self, now: DateTime<Utc>, lease: TimeDelta) {
        self.attempts += 1;
        self.lease_until = Some(now + lease);
    }

    /// Records a failed attempt: a later retry, or giving up when `permanent` or out of
    /// attempts.
    pub fn fail(
        &mut self,
        now: DateTime<Utc>,
        permanent: bool,
        policy: &RetryPolicy,
        jitter: f64,
    ) -> AfterFailure {
        self.lease_until = None;
        if permanent || self.attempts >= policy.max_attempts {
            return AfterFailure::GiveUp;
        }
        self.next_attempt_at = now + policy.delay_after(self.attempts, jitter);
        AfterFailure::RetryAt(self.next_attempt_at)
    }
}

/// The outbox side of an invitation: what the service queues and what a sender records.
impl Invitation {
    /// Queues `message`. An invitation email replaces one still queued (a resend supersedes
    /// the old link) and restarts the delivery record in the message's locale.
    pub fn queue_email(&mut self, message: QueuedMessage) {
        if message.kind == MessageKind::Invitation {
            self.outbox
                .retain(|queued| queued.kind != MessageKind::Invitation);
            self.delivery = Delivery::queued(&message.locale);
        }
        self.outbox.push(message);
    }

    /// Queues the "accepted" notice held until `hold_until`: the accept that queued it may
    /// still be rolled back (its account not provisioned), and a rolled-back accept must not
    /// have told the inviter. [`Invitation::release_accept`] lets it go once the account is
    /// there; if that never comes (the process stopped), it goes out when the hold ends.
    pub fn queue_held_notice(&mut self, mut message: QueuedMessage, hold_until: DateTime<Utc>) {
        message.schedule.lease_until = Some(hold_until);
        self.queue_email(message);
    }

    /// Releases what an accept held until its account was there: the notice queued by
    /// [`Invitation::queue_held_notice`] and the accept's event, which the releasing process
    /// publishes now. `false` when there is nothing to release.
    pub fn release_accept(&mut self, now: DateTime<Utc>) -> bool {
        let mut released = false;
        for event in &mut self.pending_events {
            if event.held {
                event.held = false;
                event.available_at = now + super::EVENT_CLAIM;
                released = true;
            }
        }
        for message in &mut self.outbox {
            if message.kind == MessageKind::InvitationAccepted
                && message.schedule.attempts == 0
                && message.schedule.lease_until.is_some()
            {
                message.schedule.lease_until = None;
                released = true;
            }
        }
        released
    }

    /// The invitation email could not even be written (a broken template override): nothing
    /// is queued and the delivery says why, so an editor can resend once it is fixed.
    pub fn email_not_written(&mut self, locale: &str, reason: String, now: DateTime<Utc>) {
        self.outbox
            .retain(|queued| queued.kind != MessageKind::Invitation);
        self.delivery = Delivery {
            status: DeliveryStatus::Failed,
            last_error: Some(reason),
            last_attempt_at: Some(now),
            ..Delivery::queued(locale)
        };
    }

    /// When the sender should next look at this record: the earliest time one of its
    /// messages becomes available. Stores index it.
    pub fn next_message_at(&self) -> Option<DateTime<Utc>> {
        self.outbox
            .iter()
            .map(|message| message.schedule.available_at())
            .min()
    }

    /// The messages a sender may claim at `now`.
    pub fn due_messages(&self, now: DateTime<Utc>) -> impl Iterator<Item = Uuid> + '_ {
        self.outbox
            .iter()
            .filter(move |message| message.schedule.is_due(now))
            .map(|message| message.id)
    }

    /// Takes message `id` for one attempt, until `now + lease`. An invitation email whose
    /// invitation is no longer PENDING is dropped instead (its link would not work).
    pub fn claim_message(&mut self, id: Uuid, now: DateTime<Utc>, lease: TimeDelta) -> Claim {
        let pending = self.state_at(now) == InvitationState::Pending;
        let Some(index) = self.outbox.iter().position(|m| m.id == id) else {
            return Claim::NotDue;
        };
        let message = &mut self.outbox[index];
        if !message.schedule.is_due(now) {
            return Claim::NotDue;
        }
        if message.kind == MessageKind::Invitation && !pending {
            self.outbox.remove(index);
            self.delivery.status = DeliveryStatus::Cancelled;
            return Claim::Cancelled;
        }
        message.schedule.claim(now, lease);
        let claimed = Box::new(message.clone());
        if claimed.kind == MessageKind::Invitation {
            self.delivery.attempts = claimed.schedule.attempts;
            self.delivery.last_attempt_at = Some(now);
        }
        Claim::Send(claimed)
    }

    /// Message `id` was handed over: it leaves the outbox, body and link with it. `false` when
    /// it is no longer queued (superseded by a resend, or recorded by another sender).
    pub fn message_sent(&mut self, id: Uuid, now: DateTime<Utc>) -> bool {
        let Some(index) = self.outbox.iter().position(|m| m.id == id) else {
            return false;
        };
        let message = self.outbox.remove(index);
        if message.kind == MessageKind::Invitation {
            self.delivery.status = DeliveryStatus::Sent;
            self.delivery.attempts = message.schedule.attempts;
            self.delivery.last_error = None;
            self.delivery.last_attempt_at = Some(now);
        }
        true
    }

    /// An attempt at message `id` failed: it waits for a retry, or is given up (and dropped)
    /// when the failure is permanent or the attempts are used up. `None` when the message is
    /// no longer queued.
    pub fn message_failed(
        &mut self,
        id: Uuid,
        now: DateTime<Utc>,
        failure: &DeliveryFailure,
        policy: &RetryPolicy,
        jitter: f64,
    ) -> Option<AfterFailure> {
        let index = self.outbox.iter().position(|m| m.id == id)?;
        let message = &mut self.outbox[index];
        let after = message
            .schedule
            .fail(now, failure.permanent, policy, jitter);
        message.last_error = Some(failure.reason.clone());
        let (kind, attempts) = (message.kind, message.schedule.attempts);
        if after == AfterFailure::GiveUp {
            self.outbox.remove(index);
        }
        if kind == MessageKind::Invitation {
            if after == AfterFailure::GiveUp {
                self.delivery.status = DeliveryStatus::Failed;
                self.publish(
                    super::EventType::DeliveryFailed,
                    super::EventActor::System,
                    now,
                );
            }
            self.delivery.attempts = attempts;
            self.delivery.last_error = Some(failure.reason.clone());
            self.delivery.last_attempt_at = Some(now);
        }
        Some(after)
    }
}

/// Why an attempt failed, as the transport reported it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DeliveryFailure {
    /// The server refused for good (an SMTP 5xx, an address it will never accept).
    pub permanent: bool,
    /// A short reason for editors; never the message content.
    pub reason: String,
}

impl DeliveryFailure {
    pub fn transient(reason: impl Into<String>) -> Self {
        Self {
            permanent: false,
            reason: reason.into(),
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self {
            permanent: true,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial: TimeDelta::seconds(30),
            max: TimeDelta::minutes(10),
            max_attempts: 5,
        }
    }

    #[test]
    fn the_wait_doubles_up_to_the_cap_and_jitter_keeps_it_in_the_upper_half() {
        let p = policy();
        assert_eq!(p.delay_after(1, 1.0), TimeDelta::seconds(30));
        assert_eq!(p.delay_after(2, 1.0), TimeDelta::seconds(60));
        assert_eq!(p.delay_after(3, 1.0), TimeDelta::seconds(120));
        assert_eq!(p.delay_after(10, 1.0), TimeDelta::minutes(10));
        assert_eq!(p.delay_after(1, 0.0), TimeDelta::seconds(15));
        assert_eq!(p.delay_after(u32::MAX, 0.5), TimeDelta::seconds(450));
    }

    #[test]
    fn a_claimed_message_is_not_due_until_its_lease_runs_out() {
        let now = Utc::now();
        let mut schedule = Schedule::new(now);
        assert!(schedule.is_due(now));
        schedule.claim(now, TimeDelta::minutes(2));
        assert!(!schedule.is_due(now + TimeDelta::minutes(1)));
        assert!(schedule.is_due(now + TimeDelta::minutes(2)));
        assert_eq!(schedule.available_at(), now + TimeDelta::minutes(2));
    }

    fn invitation(now: DateTime<Utc>) -> Invitation {
        super::super::invitation_properties::fresh(now)
    }

    fn message(kind: MessageKind, now: DateTime<Utc>) -> QueuedMessage {
        QueuedMessage {
            id: Uuid::now_v7(),
            kind,
            to: Recipient::Email(EmailAddress::parse("ada@example.org").unwrap()),
            to_name: None,
            locale: "de".into(),
            body: SealedBody::from_bytes(b"sealed".to_vec()),
            schedule: Schedule::new(now),
            last_error: None,
        }
    }

    #[test]
    fn a_sent_invitation_email_leaves_the_outbox_and_marks_the_delivery_sent() {
        let now = Utc::now();
        let mut inv = invitation(now);
        let queued = message(MessageKind::Invitation, now);
        inv.queue_email(queued.clone());
        assert_eq!(inv.delivery.status, DeliveryStatus::Queued);
        assert_eq!(inv.delivery.locale.as_deref(), Some("de"));
        assert_eq!(inv.next_message_at(), Some(now));
        let Claim::Send(claimed) = inv.claim_message(queued.id, now, TimeDelta::minutes(2)) else {
            panic!("not claimed");
        };
        assert_eq!(claimed.schedule.attempts, 1);
        assert_eq!(
            inv.claim_message(queued.id, now, TimeDelta::minutes(2)),
            Claim::NotDue,
            "a second sender must not take a leased message"
        );
        assert!(inv.message_sent(queued.id, now));
        assert!(inv.outbox.is_empty());
        assert_eq!(inv.next_message_at(), None);
        assert_eq!(inv.delivery.status, DeliveryStatus::Sent);
        assert_eq!(inv.delivery.attempts, 1);
        assert!(!inv.message_sent(queued.id, now), "recorded once");
    }

    #[test]
    fn a_resend_replaces_the_queued_email_and_a_late_outcome_of_the_old_one_changes_nothing() {
        let now = Utc::now();
        let mut inv = invitation(now);
        let first = message(MessageKind::Invitation, now);
        inv.queue_email(first.clone());
        assert!(matches!(
            inv.claim_message(first.id, now, TimeDelta::minutes(2)),
            Claim::Send(_)
        ));
        let editor = inv.invited_by.clone();
        let expires = inv.expires_at;
        inv.resend(
            now,
            crate::domain::Secret::generate().unwrap().digest(),
            expires,
            editor,
        )
        .unwrap();
        assert!(inv.outbox.is_empty(), "the old link is not sent any more");
        let second = message(MessageKind::Invitation, now);
        inv.queue_email(second.clone());
        assert!(!inv.message_sent(first.id, now));
        assert_eq!(inv.delivery.status, DeliveryStatus::Queued);
        assert_eq!(inv.outbox, vec![second]);
    }

    #[test]
    fn the_email_of_an_invitation_that_left_pending_is_cancelled_but_the_notice_goes_out() {
        let now = Utc::now();
        let mut inv = invitation(now);
        let email = message(MessageKind::Invitation, now);
        inv.queue_email(email.clone());
        inv.accept(now, "u1".into()).unwrap();
        let notice = message(MessageKind::InvitationAccepted, now);
        inv.queue_email(notice.clone());
        assert_eq!(
            inv.claim_message(email.id, now, TimeDelta::minutes(2)),
            Claim::Cancelled
        );
        assert_eq!(inv.delivery.status, DeliveryStatus::Cancelled);
        assert!(matches!(
            inv.claim_message(notice.id, now, TimeDelta::minutes(2)),
            Claim::Send(_)
        ));
        assert!(inv.message_sent(notice.id, now));
        assert_eq!(
            inv.delivery.status,
            DeliveryStatus::Cancelled,
            "the notice is not the delivery"
        );
    }

    #[test]
    fn a_rolled_back_accept_withdraws_its_notice() {
        let now = Utc::now();
        let mut inv = invitation(now);
        inv.accept(now, "u1".into()).unwrap();
        inv.queue_held_notice(
            message(MessageKind::InvitationAccepted, now),
            now + TimeDelta::minutes(1),
        );
        assert_eq!(
            inv.due_messages(now).count(),
            0,
            "held while the account is made"
        );
        inv.roll_back_accept(now, "u1").unwrap();
        assert!(inv.outbox.is_empty());
    }

    #[test]
    fn a_held_notice_goes_out_once_released() {
        let now = Utc::now();
        let mut inv = invitation(now);
        inv.accept(now, "u1".into()).unwrap();
        inv.queue_held_notice(
            message(MessageKind::InvitationAccepted, now),
            now + TimeDelta::minutes(1),
        );
        assert!(inv.release_accept(now));
        assert_eq!(inv.due_messages(now).count(), 1);
        assert!(!inv.release_accept(now));
    }

    #[test]
    fn failed_attempts_are_recorded_and_the_last_one_gives_up_and_drops_the_body() {
        let now = Utc::now();
        let p = RetryPolicy {
            max_attempts: 2,
            ..policy()
        };
        let mut inv = invitation(now);
        let email = message(MessageKind::Invitation, now);
        inv.queue_email(email.clone());
        let lease = TimeDelta::minutes(2);
        assert!(matches!(
            inv.claim_message(email.id, now, lease),
            Claim::Send(_)
        ));
        let refused = DeliveryFailure::transient("connection refused");
        let retry_at = match inv.message_failed(email.id, now, &refused, &p, 1.0) {
            Some(AfterFailure::RetryAt(at)) => at,
            other => panic!("{other:?}"),
        };
        assert_eq!(inv.delivery.status, DeliveryStatus::Queued);
        assert_eq!(
            inv.delivery.last_error.as_deref(),
            Some("connection refused")
        );
        assert_eq!(inv.next_message_at(), Some(retry_at));
        assert_eq!(inv.claim_message(email.id, now, lease), Claim::NotDue);
        assert!(matches!(
            inv.claim_message(email.id, retry_at, lease),
            Claim::Send(_)
        ));
        assert_eq!(
            inv.message_failed(email.id, retry_at, &refused, &p, 1.0),
            Some(AfterFailure::GiveUp)
        );
        assert!(inv.outbox.is_empty());
        assert_eq!(inv.delivery.status, DeliveryStatus::Failed);
        assert_eq!(inv.delivery.attempts, 2);
    }

    #[test]
    fn failures_retry_later_until_the_attempts_are_used_up_or_the_failure_is_permanent() {
        let now = Utc::now();
        let p = policy();
        let mut schedule = Schedule::new(now);
        for attempt in 1..p.max_attempts {
            schedule.claim(now, TimeDelta::minutes(2));
            let after = schedule.fail(now, false, &p, 1.0);
            assert_eq!(
                after,
                AfterFailure::RetryAt(now + p.delay_after(attempt, 1.0))
            );
            assert!(!schedule.is_due(now));
            assert!(schedule.lease_until.is_none());
        }
        schedule.claim(now, TimeDelta::minutes(2));
        assert_eq!(schedule.fail(now, false, &p, 1.0), AfterFailure::GiveUp);

        let mut permanent = Schedule::new(now);
        permanent.claim(now, TimeDelta::minutes(2));
        assert_eq!(permanent.fail(now, true, &p, 1.0), AfterFailure::GiveUp);
    }

    fn draft() -> MessageDraft {
        MessageDraft {
            kind: MessageKind::Invitation,
            to: Recipient::Email(EmailAddress::parse("ada@example.org").unwrap()),
            to_name: Some("Ada".into()),
            locale: "en".into(),
            body: MessageBody {
                reply_to: None,
                subject: "Join".into(),
                html: "<a href=\"https://x/accept#secret=s\">".into(),
                text: "https://x/accept#secret=s".into(),
            },
        }
    }

    fn keys(byte: u8) -> MessageKeys {
        MessageKeys::new(
            crate::domain::MessageKey::from_bytes(&[byte; 32]),
            Vec::new(),
        )
    }

    #[test]
    fn a_queued_message_opens_into_the_email_it_was_drafted_as() {
        let now = Utc::now();
        let message = draft().seal(&keys(1), now).unwrap();
        assert_eq!(message.schedule, Schedule::new(now));
        let Outgoing::Email(email) = message.open(&keys(1)).unwrap() else {
            panic!("an email's message opens as an email");
        };
        assert_eq!(email.id, message.id);
        assert_eq!(email.to_name.as_deref(), Some("Ada"));
        assert_eq!(email.body, draft().body);
    }

    #[test]
    fn a_body_under_an_unknown_key_may_open_elsewhere_but_a_redirected_one_never_does() {
        let mut message = draft().seal(&keys(1), Utc::now()).unwrap();
        let unknown = message.open(&keys(2)).unwrap_err();
        assert!(!unknown.permanent, "{unknown}");
        message.to = Recipient::Email(EmailAddress::parse("mallory@example.org").unwrap());
        let moved = message.open(&keys(1)).unwrap_err();
        assert!(moved.permanent, "{moved}");
    }

    #[test]
    fn a_text_message_opens_as_an_sms_with_only_its_text() {
        let phone = PhoneNumber::parse("+4915112345678").unwrap();
        let mut sms = draft();
        sms.to = Recipient::Phone(phone.clone());
        sms.body.text = "Ada invites you: https://x.example/a#secret=S".into();
        let message = sms.seal(&keys(1), Utc::now()).unwrap();
        let Outgoing::Sms(opened) = message.open(&keys(1)).unwrap() else {
            panic!("a phone's message opens as an SMS");
        };
        assert_eq!((opened.id, &opened.to), (message.id, &phone));
        assert_eq!(opened.text, "Ada invites you: https://x.example/a#secret=S");
        let shown = format!("{opened:?}");
        assert!(
            !shown.contains("secret") && !shown.contains("12345678"),
            "{shown}"
        );
        // Bound to its number like an email to its address.
        let mut moved = message;
        moved.to = Recipient::Phone(PhoneNumber::parse("+4915187654321").unwrap());
        assert!(moved.open(&keys(1)).unwrap_err().permanent);
    }
}
