//! Publishing events. A change stores its event in the invitation's record (see
//! [`OutgoingEvent`]); right after the write, the process that wrote it hands the record to its
//! dispatcher, which puts each event in the log with one webhook delivery per endpoint that
//! wants it, runs the host's listeners, feeds local subscribers, and takes the event out of
//! the record. Events whose process stopped first are taken over by any dispatcher once their
//! claim ends. Publishing is idempotent, so an event published twice (a crash between the log
//! and the record) is still logged once and delivered once per endpoint.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use tokio::sync::{Notify, broadcast, mpsc};
use uuid::Uuid;

use super::InvitationService;
use crate::domain::{Invitation, InvitationId, OutgoingEvent, WebhookDelivery, WebhookEndpoint};
use crate::error::Result;
use crate::ports::{FeedPosition, InvitationListener, LoggedEvent};

/// Records waiting for the dispatcher. When full, a write does not wait: its events are taken
/// over once their claim ends.
const DISPATCH_QUEUE: usize = 4096;
/// Records published in one batch at most.
const DISPATCH_BATCH: usize = 256;
/// How many invitations with abandoned events one pass reads.
const ABANDONED_BATCH: usize = 200;
/// How long the endpoint list is reused before it is read again. Endpoints made or changed
/// in this process count at once; elsewhere, within this time.
const ENDPOINTS_MAX_AGE: Duration = Duration::from_secs(1);
/// Event ids this process published lately, so that two copies of one record in flight
/// publish each event once.
const RECENT_EVENTS: usize = 16_384;

/// What the events side of the service holds between calls.
#[derive(Debug)]
pub(super) struct EventRuntime {
    dispatch_tx: mpsc::Sender<Ready>,
    dispatch_rx: Mutex<Option<mpsc::Receiver<Ready>>>,
    hub: broadcast::Sender<Arc<LoggedEvent>>,
    /// Whether the dispatcher feeds the hub (one process, SQLite) or a shared feed does
    /// (MongoDB's change stream, which carries every instance's events).
    local_feed: bool,
    listeners: RwLock<Vec<Arc<dyn InvitationListener>>>,
    endpoints: Reread<Vec<WebhookEndpoint>>,
    recent: Mutex<Recent>,
    /// When the queue-full warning was last logged: a bulk import logs it once a minute at
    /// most.
    queue_full_warned: Mutex<Option<Instant>>,
    /// Woken when deliveries were queued, so the webhook sender does not wait for its poll.
    pub(super) deliveries_ready: Notify,
}

#[derive(Debug, Default)]
struct Recent {
    ids: HashSet<Uuid>,
    order: VecDeque<Uuid>,
}

impl Recent {
    /// `false` when `id` was published here lately.
    fn insert(&mut self, id: Uuid) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > RECENT_EVENTS
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        true
    }

    fn forget(&mut self, id: Uuid) {
        self.ids.remove(&id);
    }
}

impl EventRuntime {
    /// `local_feed`: the dispatcher feeds subscribers (no shared feed).
    pub(super) fn new(subscription_buffer: usize, local_feed: bool) -> Self {
        let (dispatch_tx, dispatch_rx) = mpsc::channel(DISPATCH_QUEUE);
        let (hub, _) = broadcast::channel(subscription_buffer.max(1));
        Self {
            dispatch_tx,
            dispatch_rx: Mutex::new(Some(dispatch_rx)),
            hub,
            local_feed,
            listeners: RwLock::new(Vec::new()),
            endpoints: Reread::new(ENDPOINTS_MAX_AGE),
            recent: Mutex::new(Recent::default()),
            queue_full_warned: Mutex::new(None),
            deliveries_ready: Notify::new(),
        }
    }
}

/// A value read from the store and reused for `max_age`. A change made in this process drops
/// it, and a read that was in flight during the change is not kept (it may predate it).
#[derive(Debug)]
struct Reread<T> {
    max_age: Duration,
    state: Mutex<RereadState<T>>,
}

#[derive(Debug)]
struct RereadState<T> {
    /// Moves on with every change.
    generation: u64,
    value: Option<(Instant, Arc<T>)>,
}

impl<T> Reread<T> {
    fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            state: Mutex::new(RereadState {
                generation: 0,
                value: None,
            }),
        }
    }

    /// The value when it is young enough; otherwise the generation to read it under.
    fn fresh(&self) -> std::result::Result<Arc<T>, u64> {
        let state = lock(&self.state);
        match &state.value {
            Some((read_at, value)) if read_at.elapsed() < self.max_age => Ok(Arc::clone(value)),
            _ => Err(state.generation),
        }
    }

    /// Keeps `value`, read under `generation`, unless a change came since; whether it did.
    fn keep(&self, generation: u64, value: &Arc<T>) -> bool {
        let mut state = lock(&self.state);
        if state.generation != generation {
            return false;
        }
        state.value = Some((Instant::now(), Arc::clone(value)));
        true
    }

    fn invalidate(&self) {
        let mut state = lock(&self.state);
        state.generation += 1;
        state.value = None;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl InvitationService {
    /// Registers code the host runs on every event after it is stored (see
    /// [`InvitationListener`]).
    pub fn add_listener(&self, listener: Arc<dyn InvitationListener>) {
        self.events
            .listeners
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(listener);
    }

    /// Every event published from now on, for subscriptions of principals who may read
    /// invitations. A receiver that falls behind by more than the buffer gets `Lagged` and
    /// should be closed.
    pub fn subscribe_events_for(
        &self,
        principal: Option<&crate::ports::Principal>,
    ) -> Result<broadcast::Receiver<Arc<LoggedEvent>>> {
        super::permissions::require_reader(principal)?;
        Ok(self.events.hub.subscribe())
    }

    /// Feeds this process's subscribers from the store's shared feed (events logged by every
    /// process), until `shutdown` completes. A lost feed is opened again from the last event
    /// seen. Returns at once for a store one process owns: the dispatcher feeds them then.
    pub async fn run_shared_feed(&self, shutdown: impl Future<Output = ()>) {
        let Some(feed) = self.store.shared_feed() else {
            return;
        };
        tokio::pin!(shutdown);
        let mut position: Option<FeedPosition> = None;
        let mut wait = Duration::from_millis(100);
        loop {
            let run = async {
                let mut stream = feed.watch(position.clone()).await?;
                while let Some(item) = stream.next().await {
                    let (event, at) = item?;
                    if at.is_some() {
                        position = at;
                    }
                    wait = Duration::from_millis(100);
                    // No subscriber: nothing to do.
                    let _ = self.events.hub.send(Arc::new(event));
                }
                Ok::<(), crate::ports::StoreError>(())
            };
            tokio::select! {
                () = &mut shutdown => return,
                outcome = run => {
                    if let Err(err) = outcome {
                        tracing::warn!(error = %err, "the event feed was lost; opening it again");
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Called after every write: hands the record's events this process should publish now to
    /// the dispatcher (them alone, not the record). Never waits; a full queue leaves them to
    /// the takeover.
    pub(super) fn announce(&self, invitation: &Invitation) {
        let Some(ready) = Ready::of(invitation) else {
            return;
        };
        if self.events.dispatch_tx.try_send(ready).is_ok() {
            return;
        }
        let mut warned = lock(&self.events.queue_full_warned);
        // Once a minute at most: a bulk import must not flood the log.
        if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *warned = Some(Instant::now());
            tracing::warn!(
                queued = DISPATCH_QUEUE,
                "the event queue is full; further events are published when their claim ends \
                 (within a minute)"
            );
        }
    }

    /// The endpoints, read at most every [`ENDPOINTS_MAX_AGE`], and read again after a
    /// change made here.
    pub(super) async fn endpoints(&self) -> Result<Arc<Vec<WebhookEndpoint>>> {
        let cache = &self.events.endpoints;
        let mut attempts = 0;
        loop {
            let generation = match cache.fresh() {
                Ok(endpoints) => return Ok(endpoints),
                Err(generation) => generation,
            };
            let endpoints = Arc::new(self.store.list_endpoints().await?);
            attempts += 1;
            // A read that overlapped a change here may predate it: read once more, and never
            // keep it (an endpoint disabled here gets no event written after the change).
            if cache.keep(generation, &endpoints) || attempts == 2 {
                return Ok(endpoints);
            }
        }
    }

    /// Endpoints changed here: the next event reads them again.
    pub(super) fn endpoints_changed(&self) {
        self.events.endpoints.invalidate();
    }

    /// Publishes the ready events of records this process wrote or claimed, as one batch: one
    /// write for the log and the deliveries, one to take the events out of their records.
    /// Events published here lately (two copies of one record in flight) are left out.
    async fn publish(&self, records: Vec<Ready>) -> Result<()> {
        let batch: Vec<Ready> = {
            let mut recent = lock(&self.events.recent);
            records
                .into_iter()
                .filter_map(|mut ready| {
                    ready.events.retain(|event| recent.insert(event.id));
                    (!ready.events.is_empty()).then_some(ready)
                })
                .collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        let outcome = self.publish_batch(&batch).await;
        let unpublished: Vec<Uuid> = match &outcome {
            Ok(left) => left.clone(),
            Err(_) => batch
                .iter()
                .flat_map(|ready| ready.events.iter().map(|event| event.id))
                .collect(),
        };
        // Offered again later (when their claim ends), so not "seen" here any more.
        let mut recent = lock(&self.events.recent);
        for id in unpublished {
            recent.forget(id);
        }
        outcome.map(drop)
    }

    /// Logs, queues, runs the listeners, feeds subscribers and takes the events out of their
    /// records. Returns the ids of events left in their records because a listener failed.
    async fn publish_batch(&self, batch: &[Ready]) -> Result<Vec<Uuid>> {
        let endpoints = self.endpoints().await?;
        let horizon = self.settings.webhooks.retry.horizon;
        let listeners: Vec<Arc<dyn InvitationListener>> = self
            .events
            .listeners
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let now = self.clock.now();
        let items: Vec<(LoggedEvent, Vec<WebhookDelivery>)> = batch
            .iter()
            .flat_map(|ready| {
                ready.events.iter().map(|event| {
                    let logged = LoggedEvent {
                        id: event.id,
                        event_type: event.event_type,
                        at: event.at,
                        invitation_id: ready.invitation,
                        scope: ready.scope.clone(),
                        actor: event.actor.clone(),
                        body: event.body.clone(),
                    };
                    let deliveries = endpoints
                        .iter()
                        .filter(|endpoint| endpoint.wants(event.event_type, event.at))
                        .map(|endpoint| {
                            WebhookDelivery::new(
                                event.id,
                                endpoint.id,
                                event.event_type,
                                Some(ready.invitation),
                                event.body.clone(),
                                now,
                                event.at + horizon,
                            )
                        })
                        .collect();
                    (logged, deliveries)
                })
            })
            .collect();
        let new = self.store.log_events(&items).await?;
        if items.iter().any(|(_, deliveries)| !deliveries.is_empty()) {
            self.events.deliveries_ready.notify_one();
        }
        // A record whose listener failed keeps all its events, in order, for a later pass.
        let mut held_back: HashSet<InvitationId> = HashSet::new();
        for ((logged, _), new) in items.iter().zip(new) {
            if held_back.contains(&logged.invitation_id) {
                continue;
            }
            for listener in &listeners {
                if let Err(err) = listener.on_event(logged).await {
                    tracing::warn!(event = %logged.id, event_type = %logged.event_type, error = %err, "a host listener failed; the event is offered again later");
                    held_back.insert(logged.invitation_id);
                    break;
                }
            }
            if new && self.events.local_feed && !held_back.contains(&logged.invitation_id) {
                // No subscriber: nothing to do.
                let _ = self.events.hub.send(Arc::new(logged.clone()));
            }
        }
        let published: Vec<(InvitationId, Vec<Uuid>)> = batch
            .iter()
            .filter(|ready| !held_back.contains(&ready.invitation))
            .map(|ready| {
                (
                    ready.invitation,
                    ready.events.iter().map(|e| e.id).collect(),
                )
            })
            .collect();
        self.store.remove_published(&published).await?;
        Ok(batch
            .iter()
            .filter(|ready| held_back.contains(&ready.invitation))
            .flat_map(|ready| ready.events.iter().map(|e| e.id))
            .collect())
    }

    /// Publishes events that live in no record (an erased invitation's `invitation.deleted`):
    /// logged with their deliveries, given to listeners and subscribers, at once.
    pub(super) async fn publish_detached(
        &self,
        events: Vec<(InvitationId, Option<String>, OutgoingEvent)>,
    ) -> Result<()> {
        let batch = events
            .into_iter()
            .map(|(invitation, scope, event)| Ready {
                invitation,
                scope,
                events: vec![event],
            })
            .collect();
        self.publish(batch).await
    }

    /// Takes over events whose writer stopped before publishing them, and publishes them.
    /// Returns how many records it published.
    pub async fn publish_abandoned(&self) -> Result<usize> {
        let mut published = 0;
        loop {
            let due = self
                .store
                .abandoned_events(self.clock.now(), ABANDONED_BATCH)
                .await?;
            let batch = due.len();
            let mut claimed = Vec::with_capacity(batch);
            for invitation in due {
                if let Some((invitation, ())) = self
                    .write_quietly(invitation, |invitation, now| {
                        Ok(invitation.claim_abandoned_events(now).then_some(()))
                    })
                    .await?
                {
                    claimed.extend(Ready::of(&invitation));
                }
            }
            let taken = claimed.len();
            self.publish(claimed).await?;
            published += taken;
            if batch < ABANDONED_BATCH || taken == 0 {
                return Ok(published);
            }
        }
    }

    /// Publishes what writes in this process announce, in batches of what queued up meanwhile,
    /// and every `poll` what other processes abandoned, until `shutdown` completes. Errors are
    /// logged: the events stay in their records and are taken over when their claim ends.
    pub async fn run_dispatcher(&self, poll: Duration, shutdown: impl Future<Output = ()>) {
        let Some(mut receiver) = lock(&self.events.dispatch_rx).take() else {
            tracing::error!("the event dispatcher is running already");
            return;
        };
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(poll);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                first = receiver.recv() => {
                    let Some(first) = first else { return };
                    let mut batch = vec![first];
                    while batch.len() < DISPATCH_BATCH {
                        match receiver.try_recv() {
                            Ok(invitation) => batch.push(invitation),
                            Err(_) => break,
                        }
                    }
                    let records = batch.len();
                    if let Err(err) = self.publish(batch).await {
                        tracing::warn!(records, error = %err, code = %err.code(), "events not published yet; they are taken over when their claim ends");
                    }
                }
                _ = ticker.tick() => match self.publish_abandoned().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(records = n, "published events another process left"),
                    Err(err) => tracing::warn!(error = %err, code = %err.code(), "taking over events failed; retrying next round"),
                },
            }
        }
    }
}

/// One record's events ready to publish, with what the log needs of the record.
#[derive(Debug)]
struct Ready {
    invitation: InvitationId,
    scope: Option<String>,
    events: Vec<OutgoingEvent>,
}

impl Ready {
    /// The events of `invitation` the process that wrote (or claimed) it publishes now.
    fn of(invitation: &Invitation) -> Option<Self> {
        let events: Vec<OutgoingEvent> = invitation.ready_events().cloned().collect();
        (!events.is_empty()).then(|| Self {
            invitation: invitation.id,
            scope: invitation
                .details
                .scope
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reread_value_is_reused_until_a_change_and_a_read_overlapping_a_change_is_not_kept() {
        let cache: Reread<u32> = Reread::new(Duration::from_secs(60));
        let generation = cache.fresh().expect_err("nothing read yet");
        assert!(cache.keep(generation, &Arc::new(1)));
        assert_eq!(*cache.fresh().unwrap(), 1, "reused while young");

        cache.invalidate();
        let generation = cache.fresh().expect_err("a change drops it");
        // A change lands while this read is in flight: what it read may predate the change.
        cache.invalidate();
        assert!(!cache.keep(generation, &Arc::new(2)));
        let generation = cache
            .fresh()
            .expect_err("the overlapping read was not kept");
        assert!(cache.keep(generation, &Arc::new(3)));
        assert_eq!(*cache.fresh().unwrap(), 3);
    }

    #[test]
    fn a_reread_value_is_read_again_once_old() {
        let cache: Reread<u32> = Reread::new(Duration::ZERO);
        let generation = cache.fresh().unwrap_err();
        assert!(cache.keep(generation, &Arc::new(1)));
        assert!(cache.fresh().is_err(), "older than a zero max age");
    }
}
