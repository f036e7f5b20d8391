//! The background sweeper: persists expiry (recording the event once, even with several
//! processes sweeping) and purges finished invitations after the retention period.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::InvitationService;
use crate::domain::Invitation;
use crate::error::Result;

/// How many due invitations one round reads at a time.
const BATCH: usize = 200;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Expiries this process recorded (another process may have recorded others).
    pub expired: u64,
    pub purged: u64,
    /// Logged events and finished webhook deliveries past their retention.
    pub purged_events: u64,
}

impl InvitationService {
    /// One sweep: every PENDING invitation past its expiry becomes EXPIRED with an EXPIRED
    /// event; finished invitations older than the retention period are deleted.
    pub async fn sweep(&self) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        loop {
            let now = self.clock.now();
            let due = self.store.due_for_expiry(now, BATCH).await?;
            let batch = due.len();
            let expired = self.expire_all(due, now).await?;
            report.expired += expired;
            let progressed = expired > 0;
            // Stop when the batch was short, or when every item was taken by someone else.
            if batch < BATCH || !progressed {
                break;
            }
        }
        if let Some(retention) = self.settings.retention {
            report.purged = self
                .store
                .purge_finished(self.clock.now() - retention.as_time_delta())
                .await?;
            if report.purged > 0 {
                self.counts_changed();
            }
        }
        report.purged_events = self.purge_events().await?;
        Ok(report)
    }

    /// Expires `due` (copies just read) in one batch write; a copy that changed meanwhile is
    /// read again and expired alone. How many this process expired.
    async fn expire_all(&self, due: Vec<Invitation>, now: DateTime<Utc>) -> Result<u64> {
        let (mut expired, mut read) = (Vec::with_capacity(due.len()), Vec::new());
        for invitation in due {
            let mut next = invitation.clone();
            if next.expire(now).is_ok() {
                expired.push(next);
                read.push(invitation);
            }
        }
        let written = self.store.update_many(&expired).await?;
        let mut count = 0;
        for ((mut next, read), revision) in expired.into_iter().zip(read).zip(written) {
            match revision {
                Some(revision) => {
                    next.revision = revision;
                    self.announce(&next);
                    count += 1;
                }
                None if self.expire_one(read).await? => count += 1,
                None => {}
            }
        }
        if count > 0 {
            self.counts_changed();
        }
        Ok(count)
    }

    /// Sweeps every `interval` until `shutdown` completes. Errors are logged, not fatal: the
    /// next round tries again.
    pub async fn run_sweeper(&self, interval: Duration, shutdown: impl Future<Output = ()>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticker.tick() => match self.sweep().await {
                    Ok(report) if report != SweepReport::default() => {
                        tracing::info!(expired = report.expired, purged = report.purged, purged_events = report.purged_events, "sweep");
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, code = %err.code(), "sweep failed; retrying next round"),
                },
            }
        }
    }
}
