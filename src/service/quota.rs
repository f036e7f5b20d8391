//! How many invitation emails one principal may queue per hour. Counted in this process
//! (several server instances each count their own), over a sliding hour.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{Error, Result};

#[derive(Debug)]
pub(super) struct EmailQuota {
    per_hour: usize,
    /// Per principal, when each of its emails in the last hour was queued, oldest first.
    queued: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl EmailQuota {
    /// `per_hour` 0 turns the quota off.
    pub(super) fn new(per_hour: u32) -> Self {
        Self {
            per_hour: usize::try_from(per_hour).unwrap_or(usize::MAX),
            queued: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `count` emails from `principal`'s hour, all or none: RATE_LIMITED (with the
    /// wait until enough are free again) when they do not fit.
    pub(super) fn take(&self, principal: &str, count: usize, now: DateTime<Utc>) -> Result<()> {
        if self.per_hour == 0 || count == 0 {
            return Ok(());
        }
        let hour_ago = now - TimeDelta::hours(1);
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        // Forget the principals whose whole hour has passed, so the map stays small.
        queued.retain(|_, times| times.back().is_some_and(|last| *last > hour_ago));
        let times = queued.entry(principal.to_owned()).or_default();
        while times.front().is_some_and(|first| *first <= hour_ago) {
            times.pop_front();
        }
        let free = self.per_hour.saturating_sub(times.len());
        if count > free {
            // Enough room once the (count - free) oldest have left the hour.
            let retry_after = if count > self.per_hour {
                TimeDelta::hours(1)
            } else {
                times
                    .get(count - free - 1)
                    .map_or(TimeDelta::hours(1), |at| *at + TimeDelta::hours(1) - now)
            };
            return Err(Error::RateLimited {
                retry_after_secs: u64::try_from(retry_after.num_seconds().max(1)).unwrap_or(1),
            });
        }
        times.extend(std::iter::repeat_n(now, count));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_principal_queues_at_most_its_hourly_share_and_gets_it_back_as_the_hour_moves() {
        let quota = EmailQuota::new(3);
        let start = Utc::now();
        quota.take("ed", 2, start).unwrap();
        quota.take("ann", 3, start).unwrap();
        let refused = quota
            .take("ed", 2, start + TimeDelta::minutes(10))
            .unwrap_err();
        assert!(
            matches!(refused, Error::RateLimited { retry_after_secs } if retry_after_secs == 50 * 60)
        );
        quota.take("ed", 1, start + TimeDelta::minutes(10)).unwrap();
        assert!(quota.take("ed", 1, start + TimeDelta::minutes(59)).is_err());
        quota.take("ed", 2, start + TimeDelta::minutes(61)).unwrap();
        assert!(
            quota.take("ed", 5, start + TimeDelta::hours(5)).is_err(),
            "more than an hour's share"
        );
        assert!(
            EmailQuota::new(0).take("ed", 10_000, start).is_ok(),
            "0 turns it off"
        );
    }
}
