//! `totalCount` for listings, shared and briefly reused.
//!
//! An exact count walks every matching index entry: about 20 ms for 100,000 PENDING
//! invitations on MongoDB, where one page of 50 costs well under a millisecond. So the
//! requests that need the count of the same filter at the same time share one count, and a
//! count is reused for up to `max_age`:
//!
//! - every change this process makes that can move a count (a new invitation, a change of
//!   state or expiry, a purge) drops the reused counts, so an editor sees their own change at
//!   once;
//! - changes made by other processes, and invitations that expire with time, show within
//!   `max_age`;
//! - a request that finds a count older than half of `max_age` still answers with it, and
//!   starts a recount in the background, so a steady stream of listings never waits for one;
//! - a `max_age` of zero counts on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::OnceCell;

use crate::error::Result;
use crate::ports::InvitationFilter;

/// Filters remembered at most; beyond that, a listing with yet another filter counts alone.
const MAX_FILTERS: usize = 256;

#[derive(Debug)]
pub(super) struct TotalCounts {
    max_age: TimeDelta,
    cached: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    /// Moves on with every change that drops the counts; a recount that started before a
    /// change is not kept.
    generation: u64,
    by_filter: HashMap<InvitationFilter, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// Empty while the first count runs; the requests that come meanwhile wait on it.
    count: Arc<OnceCell<Counted>>,
    /// A background recount runs.
    refreshing: bool,
}

#[derive(Debug, Clone, Copy)]
struct Counted {
    total: u64,
    /// The time the count started.
    as_of: DateTime<Utc>,
}

impl Counted {
    fn age(self, now: DateTime<Utc>) -> TimeDelta {
        now - self.as_of
    }
}

impl Entry {
    fn counted(counted: Counted) -> Self {
        Self {
            count: Arc::new(OnceCell::new_with(Some(counted))),
            refreshing: false,
        }
    }

    fn pending() -> Self {
        Self {
            count: Arc::new(OnceCell::new()),
            refreshing: false,
        }
    }
}

/// What a request does with its filter's entry.
enum Plan {
    Answer(u64),
    Wait(Arc<OnceCell<Counted>>),
    CountAlone,
}

impl TotalCounts {
    pub(super) fn new(max_age: TimeDelta) -> Self {
        Self {
            max_age,
            cached: Mutex::default(),
        }
    }

    /// Drops every reused count: the next listing of each filter counts again.
    pub(super) fn invalidate(&self) {
        let mut cached = self.lock();
        cached.generation += 1;
        cached.by_filter.clear();
    }

    /// The number of invitations matching `filter` at `now`, from a count started at most
    /// `max_age` ago and after the last change this process made. `count` makes the store's
    /// count; it runs only when no reusable count exists.
    pub(super) async fn total<F, Fut>(
        self: &Arc<Self>,
        filter: &InvitationFilter,
        now: DateTime<Utc>,
        count: F,
    ) -> Result<u64>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<u64>> + Send + 'static,
    {
        if self.max_age <= TimeDelta::zero() {
            return count().await;
        }
        let cell = match self.plan(filter, now, &count) {
            Plan::Answer(total) => return Ok(total),
            Plan::Wait(cell) => cell,
            Plan::CountAlone => return count().await,
        };
        let counted = cell
            .get_or_try_init(|| async {
                let total = count().await?;
                Ok::<_, crate::error::Error>(Counted { total, as_of: now })
            })
            .await?;
        Ok(counted.total)
    }

    fn plan<F, Fut>(
        self: &Arc<Self>,
        filter: &InvitationFilter,
        now: DateTime<Utc>,
        count: &F,
    ) -> Plan
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<u64>> + Send + 'static,
    {
        let mut cached = self.lock();
        let generation = cached.generation;
        if let Some(entry) = cached.by_filter.get_mut(filter) {
            let Some(counted) = entry.count.get().copied() else {
                return Plan::Wait(Arc::clone(&entry.count));
            };
            let age = counted.age(now);
            if age >= TimeDelta::zero() && age < self.max_age {
                if age >= self.max_age / 2 && !entry.refreshing {
                    entry.refreshing = true;
                    self.recount_in_background(filter.clone(), generation, now, count());
                }
                return Plan::Answer(counted.total);
            }
            *entry = Entry::pending();
            return Plan::Wait(Arc::clone(&entry.count));
        }
        if cached.by_filter.len() >= MAX_FILTERS {
            let max_age = self.max_age;
            cached.by_filter.retain(|_, entry| {
                entry
                    .count
                    .get()
                    .is_none_or(|counted| counted.age(now) < max_age)
            });
            if cached.by_filter.len() >= MAX_FILTERS {
                return Plan::CountAlone;
            }
        }
        let entry = cached
            .by_filter
            .entry(filter.clone())
            .or_insert_with(Entry::pending);
        Plan::Wait(Arc::clone(&entry.count))
    }

    fn recount_in_background(
        self: &Arc<Self>,
        filter: InvitationFilter,
        generation: u64,
        now: DateTime<Utc>,
        count: impl Future<Output = Result<u64>> + Send + 'static,
    ) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let outcome = count.await;
            let mut cached = this.lock();
            if cached.generation != generation {
                return;
            }
            match outcome {
                Ok(total) => {
                    cached
                        .by_filter
                        .insert(filter, Entry::counted(Counted { total, as_of: now }));
                }
                Err(err) => {
                    if let Some(entry) = cached.by_filter.get_mut(&filter) {
                        entry.refreshing = false;
                    }
                    tracing::warn!(error = %err, code = %err.code(), "background recount failed");
                }
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, Cached> {
        self.cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::domain::InvitationState;
    use crate::error::Error;

    /// A store stand-in: answers `value`, counting its calls, after `delay`.
    #[derive(Clone)]
    struct Counter {
        calls: Arc<AtomicU64>,
        value: Arc<AtomicU64>,
        delay: Duration,
    }

    impl Counter {
        fn new(value: u64, delay: Duration) -> Self {
            Self {
                calls: Arc::default(),
                value: Arc::new(AtomicU64::new(value)),
                delay,
            }
        }

        fn count(&self) -> impl Future<Output = Result<u64>> + Send + 'static {
            let (calls, value, delay) = (self.calls.clone(), self.value.clone(), self.delay);
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                Ok(value.load(Ordering::SeqCst))
            }
        }

        fn calls(&self) -> u64 {
            self.calls.load(Ordering::SeqCst)
        }

        /// What `counts` answers for `filter` at `at`, counting through this counter.
        async fn total(
            &self,
            counts: &Arc<TotalCounts>,
            filter: &InvitationFilter,
            at: DateTime<Utc>,
        ) -> Result<u64> {
            counts.total(filter, at, || self.count()).await
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn pending() -> InvitationFilter {
        InvitationFilter {
            states: vec![InvitationState::Pending],
            ..InvitationFilter::default()
        }
    }

    fn counts(max_age_seconds: i64) -> Arc<TotalCounts> {
        Arc::new(TotalCounts::new(TimeDelta::seconds(max_age_seconds)))
    }

    #[tokio::test]
    async fn concurrent_requests_for_one_filter_share_one_count() {
        let (counts, counter) = (counts(10), Counter::new(7, Duration::from_millis(50)));
        let filter = pending();
        let requests = (0..16).map(|_| counter.total(&counts, &filter, t0()));
        let totals = futures_util::future::join_all(requests).await;
        assert!(totals.into_iter().all(|total| total.unwrap() == 7));
        assert_eq!(counter.calls(), 1);
    }

    #[tokio::test]
    async fn a_count_is_reused_only_within_max_age_and_for_the_same_filter() {
        let (counts, counter) = (counts(10), Counter::new(7, Duration::ZERO));
        counter.total(&counts, &pending(), t0()).await.unwrap();
        counter.value.store(8, Ordering::SeqCst);
        let reused = counter
            .total(&counts, &pending(), t0() + TimeDelta::seconds(4))
            .await;
        assert_eq!(reused.unwrap(), 7);
        let other_filter = counter
            .total(&counts, &InvitationFilter::default(), t0())
            .await;
        assert_eq!(other_filter.unwrap(), 8);
        let too_old = counter
            .total(&counts, &pending(), t0() + TimeDelta::seconds(10))
            .await;
        assert_eq!(too_old.unwrap(), 8);
        // A clock that went back does not make an old count young.
        let back = counter
            .total(&counts, &pending(), t0() - TimeDelta::seconds(1))
            .await;
        assert_eq!(back.unwrap(), 8);
        assert_eq!(counter.calls(), 4);
    }

    #[tokio::test]
    async fn a_change_drops_every_count_and_a_recount_started_before_it_is_not_kept() {
        let (counts, counter) = (counts(10), Counter::new(7, Duration::ZERO));
        counter.total(&counts, &pending(), t0()).await.unwrap();
        counter.value.store(8, Ordering::SeqCst);
        counts.invalidate();
        let after_change = counter.total(&counts, &pending(), t0()).await;
        assert_eq!(after_change.unwrap(), 8);

        // Past half the age, the old count answers and a recount starts; a change lands
        // before the recount finishes, so the recount's figure must not be kept.
        let slow = Counter::new(9, Duration::from_millis(100));
        let half = t0() + TimeDelta::seconds(6);
        assert_eq!(slow.total(&counts, &pending(), half).await.unwrap(), 8);
        counts.invalidate();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(slow.calls(), 1);
        counter.value.store(10, Ordering::SeqCst);
        assert_eq!(counter.total(&counts, &pending(), half).await.unwrap(), 10);
    }

    #[tokio::test]
    async fn past_half_its_age_a_count_answers_and_is_recounted_in_the_background() {
        let (counts, counter) = (counts(10), Counter::new(7, Duration::ZERO));
        counter.total(&counts, &pending(), t0()).await.unwrap();
        counter.value.store(8, Ordering::SeqCst);
        let half = t0() + TimeDelta::seconds(6);
        for _ in 0..5 {
            assert_eq!(counter.total(&counts, &pending(), half).await.unwrap(), 7);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // One recount for the five requests, and its figure counts from when it started.
        assert_eq!(counter.calls(), 2);
        let later = half + TimeDelta::seconds(4);
        assert_eq!(counter.total(&counts, &pending(), later).await.unwrap(), 8);
        assert_eq!(counter.calls(), 2);
    }

    #[tokio::test]
    async fn a_failed_count_reaches_its_request_and_the_next_one_counts_again() {
        let counts = counts(10);
        let failed = counts
            .total(&pending(), t0(), || async {
                Err(Error::Unavailable("the store is down".into()))
            })
            .await;
        assert!(matches!(failed, Err(Error::Unavailable(_))));
        let counter = Counter::new(7, Duration::ZERO);
        assert_eq!(counter.total(&counts, &pending(), t0()).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn max_age_zero_counts_every_time() {
        let (counts, counter) = (counts(0), Counter::new(7, Duration::ZERO));
        for _ in 0..3 {
            counter.total(&counts, &pending(), t0()).await.unwrap();
        }
        assert_eq!(counter.calls(), 3);
    }

    #[tokio::test]
    async fn many_distinct_filters_are_counted_without_growing_the_cache_beyond_its_bound() {
        let (counts, counter) = (counts(10), Counter::new(7, Duration::ZERO));
        for i in 0..(MAX_FILTERS + 10) {
            let filter = InvitationFilter {
                role: Some(format!("role-{i}")),
                ..InvitationFilter::default()
            };
            assert_eq!(counter.total(&counts, &filter, t0()).await.unwrap(), 7);
        }
        assert_eq!(counts.lock().by_filter.len(), MAX_FILTERS);
        assert_eq!(counter.calls(), (MAX_FILTERS + 10) as u64);
    }
}
