//! Rules of a queued email: when it is due, how a sender claims it, and how long to wait after
//! a failure. The message lives inside its invitation's record, so queuing it is part of the
//! same write as the change that caused it; the sender (in the service layer) applies these
//! rules with the store's revision check, so one message is worked on by one sender at a time.

use chrono::{DateTime, TimeDelta, Utc};

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
        let doublings = attempts.saturating_sub(1).min(30);
        let base_ms = self
            .initial
            .num_milliseconds()
            .saturating_mul(1_i64 << doublings)
            .min(self.max.num_milliseconds())
            .max(0);
        let jitter = jitter.clamp(0.0, 1.0);
        // Truncating to whole milliseconds is intended.
        let jittered = (base_ms as f64 * (0.5 + jitter / 2.0)) as i64;
        TimeDelta::milliseconds(jittered)
    }
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
}
