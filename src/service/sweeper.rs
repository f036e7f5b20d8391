//! The background sweeper: persists expiry (recording the event once, even with several
//! processes sweeping) and purges finished invitations after the retention period.

use std::time::Duration;

use super::InvitationService;
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
            let due = self.store.due_for_expiry(self.clock.now(), BATCH).await?;
            let mut progressed = false;
            let batch = due.len();
            for invitation in due {
                if self.expire_one(invitation).await? {
                    report.expired += 1;
                    progressed = true;
                }
            }
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
