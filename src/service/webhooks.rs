//! Webhooks: endpoint management for admins, and the background sender that delivers queued
//! deliveries, each claimed with a lease written through the store's revision check (so of
//! several processes exactly one attempts it), signed per Standard Webhooks, and recorded.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use futures_util::StreamExt as _;
use uuid::Uuid;

use super::InvitationService;
use super::permissions::require_webhook_admin;
use crate::config::WebhooksConfig;
use crate::domain::{
    AttemptOutcome, EventType, StoredSecret, ValidationError, WebhookAttempt, WebhookDelivery,
    WebhookDeliveryState, WebhookEndpoint, WebhookRetryPolicy, WebhookSecret, WebhookUrl,
    signature_header,
};
use crate::error::{Error, Result};
use crate::ports::{Principal, StoreError, WebhookRequest, WebhookTransport};

/// Endpoints one installation may have.
pub const MAX_ENDPOINTS: usize = 50;
/// Deliveries one page lists at most.
pub const MAX_DELIVERY_PAGE: usize = 100;

/// The webhook and subscription settings the use cases need.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub retry: WebhookRetryPolicy,
    pub timeout: Duration,
    /// Requests in flight at once, per process.
    pub concurrency: usize,
    /// How long the old secret keeps signing after a rotation.
    pub secret_grace: TimeDelta,
    /// How long logged events and finished deliveries are kept.
    pub retention: TimeDelta,
    /// How far one subscription may fall behind before it is closed.
    pub subscription_buffer: usize,
    /// Whether endpoints may be on private addresses (checked by the transport too).
    pub allow_private: bool,
}

impl WebhookSettings {
    pub fn from_config(config: &WebhooksConfig) -> Self {
        Self {
            retry: WebhookRetryPolicy {
                initial: config.webhook_retry_initial.as_time_delta(),
                max: config.webhook_retry_max.as_time_delta(),
                horizon: config.webhook_retry_horizon.as_time_delta(),
            },
            timeout: Duration::from_secs(
                u64::try_from(config.webhook_timeout.as_seconds()).unwrap_or(10),
            ),
            concurrency: usize::try_from(config.webhook_concurrency).unwrap_or(16),
            secret_grace: config.webhook_secret_grace.as_time_delta(),
            retention: config.event_retention.as_time_delta(),
            subscription_buffer: usize::try_from(config.subscription_buffer).unwrap_or(256),
            allow_private: config.webhook_allow_private,
        }
    }

    /// A claimed attempt is bounded by the timeout; the lease outlasts it many times over.
    fn lease(&self) -> TimeDelta {
        TimeDelta::from_std(self.timeout * 6).unwrap_or(TimeDelta::minutes(1))
    }
}

/// What an admin sends to make or change an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    pub url: Option<String>,
    /// Event type names; empty: every type.
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// An endpoint with the secret that was just made for it: the only time it is shown.
#[derive(Debug, Clone)]
pub struct EndpointWithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: WebhookSecret,
}

/// A claimed delivery after its attempt (or after giving it up without one).
struct Attempted {
    delivery: WebhookDelivery,
    /// The endpoint it was posted to; `None` when it was given up without an attempt.
    endpoint: Option<WebhookEndpoint>,
    outcome: Option<AttemptOutcome>,
}

/// Of two outcomes at one endpoint, the one that says more about its health.
fn strongest(a: AttemptOutcome, b: AttemptOutcome) -> AttemptOutcome {
    use AttemptOutcome::{Delivered, Failed, Gone};
    match (a, b) {
        (Delivered, _) | (_, Delivered) => Delivered,
        (Gone, _) | (_, Gone) => Gone,
        (Failed, Failed) => Failed,
    }
}

fn log_attempt(delivery: &WebhookDelivery) {
    match delivery.state {
        WebhookDeliveryState::Delivered => {
            tracing::debug!(delivery = %delivery.id, endpoint = %delivery.endpoint_id, event_type = %delivery.event_type, "webhook delivered");
        }
        WebhookDeliveryState::Pending => {
            tracing::info!(delivery = %delivery.id, endpoint = %delivery.endpoint_id, attempt = delivery.attempt_count, retry_at = %delivery.next_attempt_at, "webhook not delivered; will retry");
        }
        WebhookDeliveryState::Failed => {
            tracing::warn!(delivery = %delivery.id, endpoint = %delivery.endpoint_id, attempt = delivery.attempt_count, "webhook given up");
        }
    }
}

/// What one sender round did in this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookReport {
    pub delivered: u64,
    pub retrying: u64,
    pub failed: u64,
}

fn event_types(names: &[String]) -> Result<Vec<EventType>> {
    let mut types = Vec::with_capacity(names.len());
    for name in names {
        let event_type = name
            .trim()
            .parse::<EventType>()
            .ok()
            .filter(|t| *t != EventType::Test)
            .ok_or_else(|| {
                Error::validation(
                    "eventTypes",
                    format!(
                        "unknown event type {name:?}; the types are {}",
                        EventType::published()
                            .map(EventType::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        if !types.contains(&event_type) {
            types.push(event_type);
        }
    }
    Ok(types)
}

fn description(text: Option<String>) -> Result<Option<String>> {
    let Some(text) = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > WebhookEndpoint::MAX_DESCRIPTION_CHARS
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(Error::validation(
            "description",
            "must be at most 500 characters without control characters",
        ));
    }
    Ok(Some(text))
}

impl InvitationService {
    /// Seals `secret` for `endpoint` under a new secret id.
    fn seal_secret(&self, endpoint: Uuid, secret: &WebhookSecret) -> Result<StoredSecret> {
        StoredSecret::seal(
            &self.settings.email.keys,
            endpoint,
            secret,
            self.clock.now(),
        )
        .map_err(|err| Error::Internal(Box::new(err)))
    }

    /// The URL, checked by the transport (its host must resolve to addresses webhooks may
    /// reach).
    async fn endpoint_url(
        &self,
        url: &str,
        transport: &dyn WebhookTransport,
    ) -> Result<WebhookUrl> {
        let url = WebhookUrl::parse(url)?;
        transport
            .vet(&url)
            .await
            .map_err(|why| Error::Validation(ValidationError::new("url", why)))?;
        Ok(url)
    }

    pub async fn webhook_endpoints(
        &self,
        principal: Option<&Principal>,
    ) -> Result<Vec<WebhookEndpoint>> {
        require_webhook_admin(principal)?;
        Ok(self.store.list_endpoints().await?)
    }

    pub async fn webhook_endpoint(
        &self,
        principal: Option<&Principal>,
        id: Uuid,
    ) -> Result<WebhookEndpoint> {
        require_webhook_admin(principal)?;
        self.store
            .get_endpoint(id)
            .await?
            .ok_or(Error::NoSuch("webhook endpoint"))
    }

    /// Makes an endpoint with a new secret, shown once in the result.
    pub async fn create_webhook_endpoint(
        &self,
        principal: Option<&Principal>,
        input: EndpointInput,
        transport: &dyn WebhookTransport,
    ) -> Result<EndpointWithSecret> {
        require_webhook_admin(principal)?;
        let url = self
            .endpoint_url(input.url.as_deref().unwrap_or_default(), transport)
            .await?;
        let types = event_types(input.event_types.as_deref().unwrap_or_default())?;
        let description = description(input.description)?;
        if self.store.list_endpoints().await?.len() >= MAX_ENDPOINTS {
            return Err(Error::validation(
                "url",
                format!("at most {MAX_ENDPOINTS} webhook endpoints"),
            ));
        }
        let now = self.clock.now();
        let id = Uuid::now_v7();
        let secret = WebhookSecret::generate().map_err(|err| Error::Internal(Box::new(err)))?;
        let endpoint = WebhookEndpoint {
            id,
            url,
            description,
            event_types: types,
            enabled: input.enabled.unwrap_or(true),
            enabled_at: now,
            disabled_reason: None,
            secrets: vec![self.seal_secret(id, &secret)?],
            failing_since: None,
            created_at: now,
            updated_at: now,
            revision: 0,
        };
        self.store.insert_endpoint(&endpoint).await?;
        self.endpoints_changed();
        tracing::info!(endpoint = %id, "webhook endpoint created");
        Ok(EndpointWithSecret { endpoint, secret })
    }

    /// Reads endpoint `id`, applies `change`, writes it back; on a lost race, again.
    async fn change_endpoint<T>(
        &self,
        id: Uuid,
        mut change: impl FnMut(&mut WebhookEndpoint) -> Result<T>,
    ) -> Result<(WebhookEndpoint, T)> {
        for _ in 0..super::MAX_CONFLICT_RETRIES {
            let mut endpoint = self
                .store
                .get_endpoint(id)
                .await?
                .ok_or(Error::NoSuch("webhook endpoint"))?;
            let out = change(&mut endpoint)?;
            match self.store.update_endpoint(&endpoint).await {
                Ok(revision) => {
                    endpoint.revision = revision;
                    self.endpoints_changed();
                    return Ok((endpoint, out));
                }
                Err(StoreError::Conflict) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::Unavailable("the endpoint kept changing".into()))
    }

    /// Changes the fields `input` names. Enabling an endpoint clears why it was disabled.
    pub async fn update_webhook_endpoint(
        &self,
        principal: Option<&Principal>,
        id: Uuid,
        input: EndpointInput,
        transport: &dyn WebhookTransport,
    ) -> Result<WebhookEndpoint> {
        require_webhook_admin(principal)?;
        let url = match input.url.as_deref() {
            Some(url) => Some(self.endpoint_url(url, transport).await?),
            None => None,
        };
        let types = input.event_types.as_deref().map(event_types).transpose()?;
        let description = input
            .description
            .map(|d| description(Some(d)))
            .transpose()?;
        let now = self.clock.now();
        let (endpoint, ()) = self
            .change_endpoint(id, |endpoint| {
                if let Some(url) = &url {
                    endpoint.url = url.clone();
                }
                if let Some(types) = &types {
                    endpoint.event_types = types.clone();
                }
                if let Some(description) = &description {
                    endpoint.description = description.clone();
                }
                match input.enabled {
                    Some(true) if !endpoint.enabled => endpoint.enable(now),
                    Some(false) if endpoint.enabled => {
                        endpoint.disable("disabled by an admin".into(), now);
                    }
                    _ => {}
                }
                endpoint.updated_at = now;
                Ok(())
            })
            .await?;
        Ok(endpoint)
    }

    /// Deletes the endpoint; its queued deliveries are given up.
    pub async fn delete_webhook_endpoint(
        &self,
        principal: Option<&Principal>,
        id: Uuid,
    ) -> Result<bool> {
        require_webhook_admin(principal)?;
        let deleted = self.store.delete_endpoint(id).await?;
        self.endpoints_changed();
        if deleted {
            tracing::info!(endpoint = %id, "webhook endpoint deleted");
        }
        Ok(deleted)
    }

    /// A new secret, shown once; the old one keeps signing for the grace period.
    pub async fn rotate_webhook_secret(
        &self,
        principal: Option<&Principal>,
        id: Uuid,
    ) -> Result<EndpointWithSecret> {
        require_webhook_admin(principal)?;
        let secret = WebhookSecret::generate().map_err(|err| Error::Internal(Box::new(err)))?;
        let stored = self.seal_secret(id, &secret)?;
        let grace = self.settings.webhooks.secret_grace;
        let now = self.clock.now();
        let (endpoint, ()) = self
            .change_endpoint(id, |endpoint| {
                endpoint.rotate(stored.clone(), now, grace);
                Ok(())
            })
            .await?;
        tracing::info!(endpoint = %id, "webhook secret rotated");
        Ok(EndpointWithSecret { endpoint, secret })
    }

    /// Queues a `webhook.test` event to an enabled endpoint, whatever types it asked for.
    pub async fn send_test_webhook(
        &self,
        principal: Option<&Principal>,
        id: Uuid,
    ) -> Result<WebhookDelivery> {
        let endpoint = self.webhook_endpoint(principal, id).await?;
        if !endpoint.enabled {
            return Err(Error::validation(
                "endpointId",
                "the endpoint is disabled; enable it first",
            ));
        }
        let now = self.clock.now();
        let event_id = Uuid::now_v7();
        let body = serde_json::json!({
            "type": EventType::Test.as_str(),
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": { "endpointId": endpoint.id.to_string(), "message": "a test event from cms-invitations" },
        })
        .to_string();
        let delivery = WebhookDelivery::new(
            event_id,
            endpoint.id,
            EventType::Test,
            None,
            body,
            now,
            now + self.settings.webhooks.retry.horizon,
        );
        self.store.insert_delivery(&delivery).await?;
        self.events.deliveries_ready.notify_one();
        Ok(delivery)
    }

    /// A page of the endpoint's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        principal: Option<&Principal>,
        endpoint: Uuid,
        first: usize,
        before: Option<Uuid>,
    ) -> Result<(Vec<WebhookDelivery>, bool)> {
        require_webhook_admin(principal)?;
        if !(1..=MAX_DELIVERY_PAGE).contains(&first) {
            return Err(Error::validation(
                "first",
                format!("must be 1 to {MAX_DELIVERY_PAGE}"),
            ));
        }
        let mut page = self
            .store
            .list_deliveries(endpoint, first + 1, before)
            .await?;
        let more = page.len() > first;
        page.truncate(first);
        Ok((page, more))
    }

    /// Queues a delivery again, due now, with the same `webhook-id` and body.
    pub async fn redeliver_webhook(
        &self,
        principal: Option<&Principal>,
        id: Uuid,
    ) -> Result<WebhookDelivery> {
        require_webhook_admin(principal)?;
        for _ in 0..super::MAX_CONFLICT_RETRIES {
            let mut delivery = self
                .store
                .get_delivery(id)
                .await?
                .ok_or(Error::NoSuch("webhook delivery"))?;
            if delivery.state == WebhookDeliveryState::Pending && delivery.lease_until.is_some() {
                return Err(Error::validation(
                    "deliveryId",
                    "the delivery is being attempted right now",
                ));
            }
            delivery.redeliver(self.clock.now(), &self.settings.webhooks.retry);
            match self.store.update_delivery(&delivery).await {
                Ok(revision) => {
                    delivery.revision = revision;
                    self.events.deliveries_ready.notify_one();
                    return Ok(delivery);
                }
                Err(StoreError::Conflict) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::Unavailable("the delivery kept changing".into()))
    }

    /// Attempts every delivery due now until none is left: claims a batch in one write,
    /// attempts it `concurrency` at a time, records the batch in one write.
    pub async fn deliver_due_webhooks(
        &self,
        transport: &dyn WebhookTransport,
    ) -> Result<WebhookReport> {
        let settings = &self.settings.webhooks;
        let concurrency = settings.concurrency.max(1);
        // A batch takes at most `batch / concurrency` timeouts, well within the lease.
        let batch = concurrency * 4;
        let mut report = WebhookReport::default();
        loop {
            let claimed = self
                .store
                .claim_deliveries(self.clock.now(), settings.lease(), batch)
                .await?;
            let count = claimed.len();
            if count == 0 {
                return Ok(report);
            }
            let endpoints = self.endpoints().await?;
            let attempted: Vec<Result<Attempted>> = futures_util::stream::iter(claimed)
                .map(|delivery| self.attempt_webhook(delivery, &endpoints, transport))
                .buffer_unordered(concurrency)
                .collect()
                .await;
            let attempted = attempted.into_iter().collect::<Result<Vec<_>>>()?;
            let deliveries: Vec<WebhookDelivery> =
                attempted.iter().map(|a| a.delivery.clone()).collect();
            let saved = self.store.save_deliveries(&deliveries).await?;
            let mut health: Vec<(&WebhookEndpoint, AttemptOutcome)> = Vec::new();
            for (attempt, saved) in attempted.iter().zip(saved) {
                let delivery = &attempt.delivery;
                if !saved {
                    tracing::warn!(delivery = %delivery.id, "a webhook attempt's record lost a race; the delivery may be attempted again");
                }
                log_attempt(delivery);
                let counter = match delivery.state {
                    WebhookDeliveryState::Delivered => &mut report.delivered,
                    WebhookDeliveryState::Pending => &mut report.retrying,
                    WebhookDeliveryState::Failed => &mut report.failed,
                };
                *counter += 1;
                if let (Some(endpoint), Some(outcome)) = (&attempt.endpoint, attempt.outcome) {
                    // Per endpoint, what the batch says: a success wins, then a 410.
                    match health.iter_mut().find(|(e, _)| e.id == endpoint.id) {
                        Some((_, seen)) => *seen = strongest(*seen, outcome),
                        None => health.push((endpoint, outcome)),
                    }
                }
            }
            for (endpoint, outcome) in health {
                self.endpoint_health(endpoint, outcome).await;
            }
            if count < batch {
                return Ok(report);
            }
        }
    }

    /// One attempt of a claimed delivery: signed and posted, or given up when its endpoint is
    /// gone or disabled. The outcome is recorded on the returned copy, not yet stored.
    async fn attempt_webhook(
        &self,
        mut delivery: WebhookDelivery,
        endpoints: &[WebhookEndpoint],
        transport: &dyn WebhookTransport,
    ) -> Result<Attempted> {
        let settings = &self.settings.webhooks;
        let endpoint = match endpoints.iter().find(|e| e.id == delivery.endpoint_id) {
            Some(endpoint) => Some(endpoint.clone()),
            // Maybe made in another process within the list's age: read it.
            None => self.store.get_endpoint(delivery.endpoint_id).await?,
        };
        let Some(endpoint) = endpoint else {
            delivery.abandon("the endpoint was deleted", self.clock.now());
            return Ok(Attempted {
                delivery,
                endpoint: None,
                outcome: None,
            });
        };
        if !endpoint.enabled {
            let reason = format!(
                "the endpoint is disabled ({})",
                endpoint.disabled_reason.as_deref().unwrap_or("by an admin")
            );
            delivery.abandon(&reason, self.clock.now());
            return Ok(Attempted {
                delivery,
                endpoint: None,
                outcome: None,
            });
        }
        let attempt_at = self.clock.now();
        let started = Instant::now();
        let sent = match self.open_secrets(&endpoint, attempt_at) {
            Ok(secrets) => {
                let message_id = delivery.message_id();
                let timestamp = attempt_at.timestamp();
                let signature =
                    signature_header(&secrets, &message_id, timestamp, delivery.body.as_bytes());
                transport
                    .post(WebhookRequest {
                        url: &endpoint.url,
                        headers: [
                            ("webhook-id", message_id),
                            ("webhook-timestamp", timestamp.to_string()),
                            ("webhook-signature", signature),
                        ],
                        body: &delivery.body,
                    })
                    .await
            }
            Err(why) => Err(why),
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (outcome, attempt) = match sent {
            Ok(response) => (
                AttemptOutcome::of_status(response.status),
                WebhookAttempt {
                    at: attempt_at,
                    duration_ms,
                    status: Some(response.status),
                    error: None,
                    response: Some(
                        response
                            .excerpt
                            .chars()
                            .take(WebhookAttempt::RESPONSE_CHARS)
                            .collect(),
                    ),
                },
            ),
            Err(error) => (
                AttemptOutcome::Failed,
                WebhookAttempt {
                    at: attempt_at,
                    duration_ms,
                    status: None,
                    error: Some(error),
                    response: None,
                },
            ),
        };
        delivery.record(attempt, outcome, &settings.retry, super::sender::jitter());
        Ok(Attempted {
            delivery,
            endpoint: Some(endpoint),
            outcome: Some(outcome),
        })
    }

    /// The endpoint's signing secrets, opened.
    fn open_secrets(
        &self,
        endpoint: &WebhookEndpoint,
        now: chrono::DateTime<chrono::Utc>,
    ) -> std::result::Result<Vec<WebhookSecret>, String> {
        let secrets: Vec<WebhookSecret> = endpoint
            .signing_secrets(now)
            .map(|stored| {
                stored
                    .open(&self.settings.email.keys, endpoint.id)
                    .ok_or_else(|| {
                        "the endpoint's secret cannot be opened with the configured message keys"
                            .to_owned()
                    })
            })
            .collect::<std::result::Result<_, _>>()?;
        if secrets.is_empty() {
            return Err("the endpoint has no secret that signs".into());
        }
        Ok(secrets)
    }

    /// Records on the endpoint that it works again, or disables it after a 410 or a whole
    /// horizon of failures. Written only when something changes. Failures are logged: the next
    /// attempt decides again.
    async fn endpoint_health(&self, seen: &WebhookEndpoint, outcome: AttemptOutcome) {
        let now = self.clock.now();
        let horizon = self.settings.webhooks.retry.horizon;
        let needs_write = match outcome {
            AttemptOutcome::Delivered => seen.failing_since.is_some(),
            AttemptOutcome::Gone => true,
            AttemptOutcome::Failed => seen
                .failing_since
                .is_none_or(|since| now - since >= horizon),
        };
        if !needs_write {
            return;
        }
        let outcome_of = |endpoint: &mut WebhookEndpoint| -> Result<bool> {
            Ok(match outcome {
                AttemptOutcome::Delivered => {
                    endpoint.succeeded();
                    false
                }
                AttemptOutcome::Gone => endpoint.enabled && endpoint.failed(now, true, horizon),
                AttemptOutcome::Failed => endpoint.enabled && endpoint.failed(now, false, horizon),
            })
        };
        match self.change_endpoint(seen.id, outcome_of).await {
            Ok((endpoint, true)) => {
                tracing::warn!(endpoint = %endpoint.id, reason = endpoint.disabled_reason.as_deref().unwrap_or_default(), "webhook endpoint disabled")
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(endpoint = %seen.id, error = %err, "could not record the endpoint's health")
            }
        }
    }

    /// Delivers due webhooks whenever deliveries are queued, and at least every `poll`, until
    /// `shutdown` completes. Errors are logged, not fatal.
    pub async fn run_webhook_sender(
        &self,
        transport: &dyn WebhookTransport,
        poll: Duration,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            match self.deliver_due_webhooks(transport).await {
                Ok(report) if report != WebhookReport::default() => tracing::debug!(
                    delivered = report.delivered,
                    retrying = report.retrying,
                    failed = report.failed,
                    "webhook round"
                ),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, code = %err.code(), "webhook round failed; retrying next round")
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.events.deliveries_ready.notified() => {}
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Deletes logged events and finished deliveries past the retention period.
    pub(super) async fn purge_events(&self) -> Result<u64> {
        let before = self.clock.now() - self.settings.webhooks.retention;
        Ok(self.store.purge_events(before).await?)
    }
}
