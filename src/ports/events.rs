//! Events leaving the module: the event log, webhook endpoints and their deliveries (the
//! [`EventStore`] port), and the [`InvitationListener`] port through which an embedding host
//! runs its own code on each event.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use uuid::Uuid;

use super::store::StoreResult;
use crate::domain::{
    EventActor, EventType, Invitation, InvitationId, WebhookDelivery, WebhookEndpoint,
};
use crate::error::BoxError;

/// An event as the log keeps it, subscribers receive it and host listeners are given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub id: Uuid,
    pub event_type: EventType,
    pub at: DateTime<Utc>,
    pub invitation_id: InvitationId,
    /// The invitation's scope, so that subscriptions can filter without reading it.
    pub scope: Option<String>,
    pub actor: EventActor,
    /// The webhook body: `{type, timestamp, data: {invitation, actor}}`.
    pub body: String,
}

#[async_trait]
pub trait EventStore: Send + Sync + Debug {
    /// Puts each event in the log and queues its deliveries (one per endpoint that wants it),
    /// in as few writes as the store allows. Idempotent: an event already in the log, or a
    /// delivery of the same event to the same endpoint already queued, stays as it is. For each
    /// event, in order, whether it was not in the log yet.
    async fn log_events(
        &self,
        events: &[(LoggedEvent, Vec<WebhookDelivery>)],
    ) -> StoreResult<Vec<bool>>;

    /// Takes events that are in the log now out of their invitations' records (a change of
    /// each record: its revision moves on, so a copy read before cannot write them back).
    async fn remove_published(&self, published: &[(InvitationId, Vec<Uuid>)]) -> StoreResult<()>;

    /// Up to `limit` invitations holding events that any dispatcher may take at `now` (the
    /// process that stored them stopped before it published them).
    async fn abandoned_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Invitation>>;

    async fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()>;

    /// Writes `endpoint` if its stored revision is still `endpoint.revision`; the new
    /// revision, or `Conflict`.
    async fn update_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<u64>;

    /// `false` when there was no such endpoint. Its queued deliveries are given up by the
    /// sender when it reaches them.
    async fn delete_endpoint(&self, id: Uuid) -> StoreResult<bool>;

    async fn get_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>>;

    /// Every endpoint, oldest first.
    async fn list_endpoints(&self) -> StoreResult<Vec<WebhookEndpoint>>;

    /// Queues one delivery (a test event); `Conflict` when its id exists.
    async fn insert_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()>;

    /// Claims up to `limit` PENDING deliveries due at `now` and not held by a live lease, the
    /// longest waiting first: each is held until `now + lease` (and its revision moves on) in
    /// the same write that picks it, so of several senders exactly one gets each.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
        limit: usize,
    ) -> StoreResult<Vec<WebhookDelivery>>;

    /// Writes each delivery whose stored revision is still its `revision`; for each, whether
    /// it was written (`false`: it changed meanwhile, an admin's redelivery say).
    async fn save_deliveries(&self, deliveries: &[WebhookDelivery]) -> StoreResult<Vec<bool>>;

    /// Writes `delivery` if its stored revision is still `delivery.revision`; the new
    /// revision, or `Conflict`.
    async fn update_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<u64>;

    async fn get_delivery(&self, id: Uuid) -> StoreResult<Option<WebhookDelivery>>;

    /// Up to `first` deliveries to `endpoint`, newest first, older than `before` if given.
    async fn list_deliveries(
        &self,
        endpoint: Uuid,
        first: usize,
        before: Option<Uuid>,
    ) -> StoreResult<Vec<WebhookDelivery>>;

    /// Deletes logged events and finished deliveries older than `before`; how many went.
    async fn purge_events(&self, before: DateTime<Utc>) -> StoreResult<u64>;

    /// For a store several processes share: the feed of events logged by any of them.
    /// `None` for a store one process owns (its dispatcher feeds subscribers directly).
    fn shared_feed(&self) -> Option<Arc<dyn SharedEventFeed>> {
        None
    }
}

/// Where a feed stands, to resume after it: opaque to everyone but the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPosition(pub Vec<u8>);

pub type FeedStream = BoxStream<'static, StoreResult<(LoggedEvent, Option<FeedPosition>)>>;

/// Events logged by every process sharing a store (MongoDB: a change stream).
#[async_trait]
pub trait SharedEventFeed: Send + Sync + Debug {
    /// Events logged from now on, or after `resume`. The stream ends or fails when the feed
    /// is lost; open it again from the last position seen.
    async fn watch(&self, resume: Option<FeedPosition>) -> StoreResult<FeedStream>;
}

/// Code an embedding host runs on each event, after it is stored and before it counts as
/// published. Called at least once per event (once in normal operation); an error is logged
/// and the event is offered again on the dispatcher's next pass.
#[async_trait]
pub trait InvitationListener: Send + Sync + Debug {
    async fn on_event(&self, event: &LoggedEvent) -> Result<(), BoxError>;
}
