//! The background sender: finds queued messages, claims each with a lease written through the
//! store's revision check (so of several processes exactly one sends it), opens its sealed
//! body, hands it to its channel's courier (the [`Mailer`] or the [`SmsSender`]) outside any
//! lock, and records the outcome on the invitation.

use std::time::Duration;

use futures_util::StreamExt as _;
use uuid::Uuid;

use super::InvitationService;
use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::{
    AfterFailure, Claim, DeliveryFailure, Invitation, InvitationId, Outgoing, QueuedMessage,
    RetryPolicy,
};
use crate::error::Result;
use crate::ports::{Mailer, SmsSender, StoreError};

/// Where the sender hands each message: emails to a [`Mailer`], text messages to an
/// [`SmsSender`]. Without one, a text message fails for good, saying so.
#[derive(Debug, Clone, Copy)]
pub struct Couriers<'a> {
    pub mail: &'a dyn Mailer,
    pub sms: Option<&'a dyn SmsSender>,
}

impl<'a> Couriers<'a> {
    pub fn new(mail: &'a dyn Mailer, sms: &'a dyn SmsSender) -> Self {
        Self {
            mail,
            sms: Some(sms),
        }
    }

    /// Messages at once: each courier's own concurrency, together.
    fn concurrency(&self) -> usize {
        self.mail.concurrency() + self.sms.map_or(0, |sms| sms.concurrency())
    }

    async fn send(&self, message: &Outgoing) -> std::result::Result<(), DeliveryFailure> {
        match (message, self.sms) {
            (Outgoing::Email(email), _) => self.mail.send(email).await,
            (Outgoing::Sms(sms), Some(sender)) => sender.send(sms).await,
            (Outgoing::Sms(_), None) => Err(DeliveryFailure::permanent(
                "this server has no SMS gateway or outbox to send text messages through",
            )),
        }
    }
}

/// A mailer alone: text messages fail for good.
impl<'a, M: Mailer + 'a> From<&'a M> for Couriers<'a> {
    fn from(mail: &'a M) -> Self {
        Self { mail, sms: None }
    }
}

impl<'a> From<&'a dyn Mailer> for Couriers<'a> {
    fn from(mail: &'a dyn Mailer) -> Self {
        Self { mail, sms: None }
    }
}

/// The most invitations with due messages one round reads (and claims together).
const BATCH: usize = 200;

/// A round claims what its couriers can send in a few turns (their concurrency times this),
/// at least [`MIN_CLAIM`]: enough to make the claim one write for many messages, few enough
/// that other instances find messages to share when the couriers are slow.
const CLAIM_AHEAD: usize = 4;
const MIN_CLAIM: usize = 16;

/// The most attempts whose outcomes are recorded in one write.
const RECORD_BATCH: usize = 64;
/// How many times, a second apart, a sender tries again to record outcomes the store could not
/// take (a replica set electing a new primary takes a few seconds): the messages went out, and
/// one left unrecorded is sent again when its lease ends.
const RECORD_RETRIES: u32 = 15;
const RECORD_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// What one delivery round did in this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: u64,
    /// Failed this time; will be tried again.
    pub retrying: u64,
    /// Given up: refused for good, or out of attempts.
    pub failed: u64,
    /// Dropped because the invitation left PENDING first.
    pub cancelled: u64,
}

/// One claimed message: its invitation and the copy to send.
type Claimed = (InvitationId, Box<QueuedMessage>);

/// One attempt at a claimed message, with the jitter its retry uses (drawn once, so that a
/// record written again after a lost race decides the same).
struct Attempt {
    invitation: InvitationId,
    message: Box<QueuedMessage>,
    sent: std::result::Result<(), DeliveryFailure>,
    jitter: f64,
}

/// What recording an attempt did to its message.
enum Recorded {
    Sent,
    RetryAt(DateTime<Utc>),
    GaveUp,
    /// No longer queued: superseded by a resend, or recorded by another sender.
    Gone,
}

/// Claims every message of `invitation` that is due at `now`, until `now + lease`.
fn claim_due(invitation: &mut Invitation, now: DateTime<Utc>, lease: TimeDelta) -> Vec<Claim> {
    let ids: Vec<Uuid> = invitation.due_messages(now).collect();
    ids.into_iter()
        .map(|id| invitation.claim_message(id, now, lease))
        .filter(|claim| !matches!(claim, Claim::NotDue))
        .collect()
}

/// Records `attempt` on `invitation`.
fn record(
    invitation: &mut Invitation,
    attempt: &Attempt,
    now: DateTime<Utc>,
    retry: &RetryPolicy,
) -> Recorded {
    let id = attempt.message.id;
    match &attempt.sent {
        Ok(()) if invitation.message_sent(id, now) => Recorded::Sent,
        Ok(()) => Recorded::Gone,
        Err(failure) => match invitation.message_failed(id, now, failure, retry, attempt.jitter) {
            Some(AfterFailure::RetryAt(at)) => Recorded::RetryAt(at),
            Some(AfterFailure::GiveUp) => Recorded::GaveUp,
            None => Recorded::Gone,
        },
    }
}

impl InvitationService {
    /// Delivers every message due now, as many at a time as the couriers take, until none is
    /// left. Each round claims the due messages of several invitations in one write,
    /// sends them, and records the outcomes that arrive together in one write: on MongoDB an
    /// invitation costs its insert and a share of two batch writes, not three writes of its
    /// own. Store failures end the round with an error; the messages stay queued (a claimed
    /// one until its lease ends).
    pub async fn deliver_due<'a>(
        &self,
        couriers: impl Into<Couriers<'a>>,
    ) -> Result<DeliveryReport> {
        let couriers = couriers.into();
        let mut report = DeliveryReport::default();
        let limit = (couriers.concurrency() * CLAIM_AHEAD).clamp(MIN_CLAIM, BATCH);
        loop {
            let now = self.clock.now();
            let due = self.store.due_messages(now, limit).await?;
            let batch = due.len();
            let before = report;
            let (copies, to_send, lost) = self.claim_all(due, now, &mut report).await?;
            self.send_and_record(copies, to_send, couriers, &mut report)
                .await?;
            // A batch lost to another sender is not the end: the next read skips what it took.
            if batch < limit || (report == before && lost == 0) {
                return Ok(report);
            }
        }
    }

    /// Claims the due messages of `due` (copies just read) in memory and writes the claims
    /// together. A copy that changed meanwhile is read again and claimed alone. Returns the
    /// written copies, the messages to send, and how many invitations another sender claimed
    /// first.
    async fn claim_all(
        &self,
        due: Vec<Invitation>,
        now: DateTime<Utc>,
        report: &mut DeliveryReport,
    ) -> Result<(HashMap<InvitationId, Invitation>, Vec<Claimed>, usize)> {
        let lease = self.settings.email.lease;
        let mut changed = Vec::with_capacity(due.len());
        let mut claims = Vec::with_capacity(due.len());
        for mut invitation in due {
            let made = claim_due(&mut invitation, now, lease);
            if !made.is_empty() {
                changed.push(invitation);
                claims.push(made);
            }
        }
        let written = self.store.update_many(&changed).await?;
        let mut copies = HashMap::with_capacity(changed.len());
        let mut to_send = Vec::new();
        let mut lost = 0;
        for ((mut invitation, made), revision) in changed.into_iter().zip(claims).zip(written) {
            let (invitation, made) = match revision {
                Some(revision) => {
                    invitation.revision = revision;
                    self.announce(&invitation);
                    (invitation, made)
                }
                None => {
                    let Some(fresh) = self.store.get(invitation.id).await? else {
                        continue;
                    };
                    let alone = self
                        .write_if(fresh, |invitation, now| {
                            let made = claim_due(invitation, now, lease);
                            Ok((!made.is_empty()).then_some(made))
                        })
                        .await?;
                    let Some(alone) = alone else {
                        lost += 1;
                        continue;
                    };
                    alone
                }
            };
            for claim in made {
                match claim {
                    Claim::Send(message) => to_send.push((invitation.id, message)),
                    Claim::Cancelled => report.cancelled += 1,
                    Claim::NotDue => {}
                }
            }
            copies.insert(invitation.id, invitation);
        }
        Ok((copies, to_send, lost))
    }

    /// Sends the claimed messages, as many at a time as the couriers take, then records the
    /// outcomes, [`RECORD_BATCH`] to a write. A round holds only a few turns of the couriers
    /// (see [`CLAIM_AHEAD`]), so an outcome waits at most that long to be recorded. A failed
    /// record does not stop the others; the first store error is returned at the end.
    async fn send_and_record(
        &self,
        mut copies: HashMap<InvitationId, Invitation>,
        to_send: Vec<Claimed>,
        couriers: Couriers<'_>,
        report: &mut DeliveryReport,
    ) -> Result<()> {
        let keys = &self.settings.email.keys;
        let mut attempts: Vec<Attempt> = futures_util::stream::iter(to_send)
            .map(|(invitation, message)| async move {
                let sent = match message.open(keys) {
                    Ok(outgoing) => couriers.send(&outgoing).await,
                    Err(unopened) => Err(unopened),
                };
                Attempt {
                    invitation,
                    message,
                    jitter: if sent.is_ok() { 0.5 } else { jitter() },
                    sent,
                }
            })
            .buffer_unordered(couriers.concurrency().max(1))
            .collect()
            .await;
        let mut first_error = None;
        while !attempts.is_empty() {
            let rest = attempts.split_off(attempts.len().min(RECORD_BATCH));
            let ready = std::mem::replace(&mut attempts, rest);
            if let Err(err) = self.record_all(&mut copies, ready, report).await {
                tracing::warn!(error = %err, code = %err.code(), "could not record sent messages; they are sent again when their lease ends");
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Records `ready` attempts on their invitations' copies, one write for all of them. A
    /// copy that changed meanwhile is read again and its attempts recorded alone.
    async fn record_all(
        &self,
        copies: &mut HashMap<InvitationId, Invitation>,
        ready: Vec<Attempt>,
        report: &mut DeliveryReport,
    ) -> Result<()> {
        let now = self.clock.now();
        let retry = &self.settings.email.retry;
        let mut by_invitation: Vec<(Invitation, Vec<Attempt>)> = Vec::new();
        for attempt in ready {
            match by_invitation
                .iter_mut()
                .find(|(invitation, _)| invitation.id == attempt.invitation)
            {
                Some((_, attempts)) => attempts.push(attempt),
                None => {
                    let Some(copy) = copies.get(&attempt.invitation) else {
                        continue;
                    };
                    by_invitation.push((copy.clone(), vec![attempt]));
                }
            }
        }
        let mut changed = Vec::with_capacity(by_invitation.len());
        let mut recorded = Vec::with_capacity(by_invitation.len());
        for (invitation, attempts) in &by_invitation {
            let mut next = invitation.clone();
            recorded.push(
                attempts
                    .iter()
                    .map(|attempt| record(&mut next, attempt, now, retry))
                    .collect::<Vec<_>>(),
            );
            changed.push(next);
        }
        // Revision-checked: a retry after a write that did land finds the copies moved on, and
        // records on what is stored (where the outcome is already, so nothing changes).
        let mut tries = 0;
        let written = loop {
            match self.store.update_many(&changed).await {
                Err(StoreError::Unavailable(err)) if tries < RECORD_RETRIES => {
                    tries += 1;
                    tracing::info!(error = %err, tries, "the store cannot take the sent messages' record yet; trying again");
                    tokio::time::sleep(RECORD_RETRY_PAUSE).await;
                }
                other => break other?,
            }
        };
        for (((read, attempts), mut next), (revision, mut outcomes)) in by_invitation
            .into_iter()
            .zip(changed)
            .zip(written.into_iter().zip(recorded))
        {
            match revision {
                Some(revision) => {
                    next.revision = revision;
                    self.announce(&next);
                    copies.insert(next.id, next);
                }
                None => {
                    // Changed meanwhile (an edit, a resend): record on what is stored now.
                    let alone = self
                        .write_if(read, |invitation, now| {
                            Ok(Some(
                                attempts
                                    .iter()
                                    .map(|attempt| record(invitation, attempt, now, retry))
                                    .collect::<Vec<_>>(),
                            ))
                        })
                        .await?;
                    match alone {
                        Some((written, again)) => {
                            outcomes = again;
                            copies.insert(written.id, written);
                        }
                        None => outcomes = attempts.iter().map(|_| Recorded::Gone).collect(),
                    }
                }
            }
            for (attempt, outcome) in attempts.iter().zip(outcomes) {
                log_attempt(attempt, &outcome, report);
            }
        }
        Ok(())
    }
    /// Lets the "accepted" notice of a successful accept go, and wakes the sender. A failure
    /// here only delays the notice until its hold ends, so it is logged, not returned.
    pub(super) async fn release_notice(&self, accepted: Invitation) -> Invitation {
        let id = accepted.id;
        match self
            .write_if(accepted.clone(), |invitation, now| {
                Ok(invitation.release_accept(now).then_some(()))
            })
            .await
        {
            Ok(Some((released, ()))) => {
                self.wake_sender();
                released
            }
            Ok(None) => accepted,
            Err(err) => {
                tracing::warn!(invitation = %id, error = %err, "could not release the accepted notice; it goes out when its hold ends");
                accepted
            }
        }
    }

    /// Tells a waiting sender that an email was queued.
    pub(super) fn wake_sender(&self) {
        self.outbox_ready.notify_one();
    }

    /// Delivers due messages whenever a change queues one, and at least every `poll` (for
    /// retries that became due, and messages queued by other processes), until `shutdown`
    /// completes. A round in progress is finished first. Errors are logged, not fatal.
    pub async fn run_sender<'a>(
        &self,
        couriers: impl Into<Couriers<'a>>,
        poll: Duration,
        shutdown: impl Future<Output = ()>,
    ) {
        let couriers = couriers.into();
        tokio::pin!(shutdown);
        loop {
            match self.deliver_due(couriers).await {
                Ok(report) if report != DeliveryReport::default() => {
                    tracing::debug!(
                        sent = report.sent,
                        retrying = report.retrying,
                        failed = report.failed,
                        cancelled = report.cancelled,
                        "delivery round"
                    );
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, code = %err.code(), "delivery round failed; retrying next round");
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.outbox_ready.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// Counts an attempt and logs it, as sent, to be retried or given up. A message sent whose
/// record found it gone (another sender recorded it, or a resend replaced it) still went out.
fn log_attempt(attempt: &Attempt, outcome: &Recorded, report: &mut DeliveryReport) {
    let message = &attempt.message;
    let (invitation, id, kind, locale) = (
        attempt.invitation,
        message.id,
        message.kind,
        &message.locale,
    );
    let channel = message.to.channel();
    let attempt_number = message.schedule.attempts;
    match (&attempt.sent, outcome) {
        (Ok(()), _) => {
            report.sent += 1;
            tracing::info!(%invitation, message_id = %id, %kind, %channel, %locale, attempt = attempt_number, "message sent");
        }
        (Err(failure), Recorded::RetryAt(at)) => {
            report.retrying += 1;
            tracing::warn!(%invitation, message_id = %id, %kind, %channel, attempt = attempt_number, error = %failure, retry_at = %at, "message not sent; will retry");
        }
        (Err(failure), Recorded::GaveUp) => {
            report.failed += 1;
            tracing::error!(%invitation, message_id = %id, %kind, %channel, attempt = attempt_number, permanent = failure.permanent, error = %failure, "message given up");
        }
        (Err(_), Recorded::Sent | Recorded::Gone) => {}
    }
}

/// A uniform number in 0.0..1.0 for spreading retries; 0.5 if the system has no randomness.
pub(super) fn jitter() -> f64 {
    // The top 53 bits fill an f64 mantissa exactly.
    getrandom::u64().map_or(0.5, |n| (n >> 11) as f64 / (1_u64 << 53) as f64)
}
