//! The background sender: finds queued messages, claims each with a lease written through the
//! store's revision check (so of several processes exactly one sends it), opens its sealed
//! body, hands it to its channel's courier (the [`Mailer`] or the [`SmsSender`]) outside any
//! lock, and records the outcome on the invitation.

use std::time::Duration;

use futures_util::StreamExt as _;
use uuid::Uuid;

use super::InvitationService;
use crate::domain::{AfterFailure, Claim, DeliveryFailure, Invitation, Outgoing};
use crate::error::Result;
use crate::ports::{Mailer, SmsSender};

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

/// How many invitations with due messages one round reads at a time.
const BATCH: usize = 200;

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

enum Outcome {
    Sent,
    Retrying,
    Failed,
    Cancelled,
    /// Taken by another sender, superseded, or not due after all.
    Skipped,
}

impl InvitationService {
    /// Delivers every message due now, as many at a time as the couriers take, until none is
    /// left. Store failures end the round with an error; the messages stay queued.
    pub async fn deliver_due<'a>(
        &self,
        couriers: impl Into<Couriers<'a>>,
    ) -> Result<DeliveryReport> {
        let couriers = couriers.into();
        let mut report = DeliveryReport::default();
        loop {
            let now = self.clock.now();
            let due = self.store.due_messages(now, BATCH).await?;
            let batch = due.len();
            let work: Vec<(Invitation, Uuid)> = due
                .into_iter()
                .flat_map(|invitation| {
                    let ids: Vec<Uuid> = invitation.due_messages(now).collect();
                    ids.into_iter().map(move |id| (invitation.clone(), id))
                })
                .collect();
            let outcomes: Vec<Result<Outcome>> = futures_util::stream::iter(work)
                .map(|(invitation, id)| self.deliver_one(invitation, id, couriers))
                .buffer_unordered(couriers.concurrency().max(1))
                .collect()
                .await;
            let mut progressed = false;
            for outcome in outcomes {
                let counter = match outcome? {
                    Outcome::Sent => &mut report.sent,
                    Outcome::Retrying => &mut report.retrying,
                    Outcome::Failed => &mut report.failed,
                    Outcome::Cancelled => &mut report.cancelled,
                    Outcome::Skipped => continue,
                };
                *counter += 1;
                progressed = true;
            }
            if batch < BATCH || !progressed {
                return Ok(report);
            }
        }
    }

    /// Claims message `id` of `invitation` (a copy just read), sends it and records how it
    /// went.
    async fn deliver_one(
        &self,
        invitation: Invitation,
        id: Uuid,
        couriers: Couriers<'_>,
    ) -> Result<Outcome> {
        let email = &self.settings.email;
        let claimed = self
            .write_if(invitation, |invitation, now| {
                Ok(match invitation.claim_message(id, now, email.lease) {
                    Claim::NotDue => None,
                    claim => Some(claim),
                })
            })
            .await?;
        let (invitation, message) = match claimed {
            None | Some((_, Claim::NotDue)) => return Ok(Outcome::Skipped),
            Some((_, Claim::Cancelled)) => return Ok(Outcome::Cancelled),
            Some((invitation, Claim::Send(message))) => (invitation, message),
        };
        let invitation_id = invitation.id;
        let sent = match message.open(&email.keys) {
            Ok(outgoing) => couriers.send(&outgoing).await,
            Err(unopened) => Err(unopened),
        };
        let channel = message.to.channel();
        match sent {
            Ok(()) => {
                self.write_if(invitation, |invitation, now| {
                    Ok(invitation.message_sent(id, now).then_some(()))
                })
                .await?;
                tracing::info!(invitation = %invitation_id, message_id = %id, kind = %message.kind, %channel, locale = %message.locale, attempt = message.schedule.attempts, "message sent");
                Ok(Outcome::Sent)
            }
            Err(failure) => {
                let jitter = jitter();
                let after = self
                    .write_if(invitation, |invitation, now| {
                        Ok(invitation.message_failed(id, now, &failure, &email.retry, jitter))
                    })
                    .await?;
                match after {
                    Some((_, AfterFailure::RetryAt(at))) => {
                        tracing::warn!(invitation = %invitation_id, message_id = %id, kind = %message.kind, %channel, attempt = message.schedule.attempts, error = %failure, retry_at = %at, "message not sent; will retry");
                        Ok(Outcome::Retrying)
                    }
                    Some((_, AfterFailure::GiveUp)) => {
                        tracing::error!(invitation = %invitation_id, message_id = %id, kind = %message.kind, %channel, attempt = message.schedule.attempts, permanent = failure.permanent, error = %failure, "message given up");
                        Ok(Outcome::Failed)
                    }
                    None => Ok(Outcome::Skipped),
                }
            }
        }
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

/// A uniform number in 0.0..1.0 for spreading retries; 0.5 if the system has no randomness.
pub(super) fn jitter() -> f64 {
    // The top 53 bits fill an f64 mantissa exactly.
    getrandom::u64().map_or(0.5, |n| (n >> 11) as f64 / (1_u64 << 53) as f64)
}
