//! Webhook endpoints, deliveries and logged events as plain data both stores keep: SQLite as
//! JSON beside a few indexed columns, MongoDB as documents. Times are Unix milliseconds, so
//! that both compare them as numbers. Turning them back into domain types (and rejecting
//! corrupt data) happens here once.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::record::{actor_from_parts, actor_parts};
use crate::domain::{
    InvitationId, SealedBody, StoredSecret, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
    WebhookUrl,
};
use crate::ports::{LoggedEvent, StoreError, StoreResult};

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(ms: i64, what: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(what))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretRecord {
    pub id: Uuid,
    /// The sealed secret in base64: ciphertext only.
    pub sealed: String,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retires_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EndpointRecord {
    pub id: Uuid,
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Absent in records written before it existed: the creation time.
    #[serde(default)]
    pub enabled_at: Option<i64>,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    pub secrets: Vec<SecretRecord>,
    #[serde(default)]
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub revision: i64,
}

impl From<&WebhookEndpoint> for EndpointRecord {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id,
            url: e.url.as_str().to_owned(),
            description: e.description.clone(),
            event_types: e
                .event_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            enabled: e.enabled,
            enabled_at: Some(ms(e.enabled_at)),
            disabled_reason: e.disabled_reason.clone(),
            secrets: e
                .secrets
                .iter()
                .map(|s| SecretRecord {
                    id: s.id,
                    sealed: STANDARD.encode(s.sealed.as_bytes()),
                    created_at: ms(s.created_at),
                    retires_at: s.retires_at.map(ms),
                })
                .collect(),
            failing_since: e.failing_since.map(ms),
            created_at: ms(e.created_at),
            updated_at: ms(e.updated_at),
            revision: i64::try_from(e.revision).unwrap_or(i64::MAX),
        }
    }
}

impl EndpointRecord {
    pub fn into_endpoint(self) -> StoreResult<WebhookEndpoint> {
        let what = |field: &str| format!("the {field} of webhook endpoint {}", self.id);
        Ok(WebhookEndpoint {
            id: self.id,
            url: WebhookUrl::parse(&self.url).map_err(|_| corrupt(&what("url")))?,
            description: self.description.clone(),
            event_types: self
                .event_types
                .iter()
                .map(|t| t.parse())
                .collect::<Result<_, _>>()
                .map_err(|_| corrupt(&what("event types")))?,
            enabled: self.enabled,
            enabled_at: time(
                self.enabled_at.unwrap_or(self.created_at),
                &what("enabling time"),
            )?,
            disabled_reason: self.disabled_reason.clone(),
            secrets: self
                .secrets
                .iter()
                .map(|s| {
                    Ok(StoredSecret {
                        id: s.id,
                        sealed: SealedBody::from_bytes(
                            STANDARD
                                .decode(&s.sealed)
                                .map_err(|_| corrupt(&what("secret")))?,
                        ),
                        created_at: time(s.created_at, &what("secret"))?,
                        retires_at: s.retires_at.map(|t| time(t, &what("secret"))).transpose()?,
                    })
                })
                .collect::<StoreResult<_>>()?,
            failing_since: self
                .failing_since
                .map(|t| time(t, &what("failing time")))
                .transpose()?,
            created_at: time(self.created_at, &what("creation time"))?,
            updated_at: time(self.updated_at, &what("update time"))?,
            revision: u64::try_from(self.revision).map_err(|_| corrupt(&what("revision")))?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttemptRecord {
    pub at: i64,
    pub duration_ms: u64,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub response: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeliveryRecord {
    pub id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub invitation_id: Option<Uuid>,
    pub body: String,
    pub created_at: i64,
    pub state: String,
    pub next_attempt_at: i64,
    #[serde(default)]
    pub lease_until: Option<i64>,
    pub attempt_count: u32,
    pub attempts: Vec<AttemptRecord>,
    pub deadline: i64,
    pub revision: i64,
}

impl From<&WebhookDelivery> for DeliveryRecord {
    fn from(d: &WebhookDelivery) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            endpoint_id: d.endpoint_id,
            event_type: d.event_type.as_str().to_owned(),
            invitation_id: d.invitation_id.map(|i| i.as_uuid()),
            body: d.body.clone(),
            created_at: ms(d.created_at),
            state: d.state.as_str().to_owned(),
            next_attempt_at: ms(d.next_attempt_at),
            lease_until: d.lease_until.map(ms),
            attempt_count: d.attempt_count,
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptRecord {
                    at: ms(a.at),
                    duration_ms: a.duration_ms,
                    status: a.status,
                    error: a.error.clone(),
                    response: a.response.clone(),
                })
                .collect(),
            deadline: ms(d.deadline),
            revision: i64::try_from(d.revision).unwrap_or(i64::MAX),
        }
    }
}

impl DeliveryRecord {
    pub fn into_delivery(self) -> StoreResult<WebhookDelivery> {
        let what = format!("webhook delivery {}", self.id);
        Ok(WebhookDelivery {
            id: self.id,
            event_id: self.event_id,
            endpoint_id: self.endpoint_id,
            event_type: self.event_type.parse().map_err(|_| corrupt(&what))?,
            invitation_id: self.invitation_id.map(InvitationId::from_uuid),
            body: self.body,
            created_at: time(self.created_at, &what)?,
            state: self.state.parse().map_err(|_| corrupt(&what))?,
            next_attempt_at: time(self.next_attempt_at, &what)?,
            lease_until: self.lease_until.map(|t| time(t, &what)).transpose()?,
            attempt_count: self.attempt_count,
            attempts: self
                .attempts
                .into_iter()
                .map(|a| {
                    Ok(WebhookAttempt {
                        at: time(a.at, &what)?,
                        duration_ms: a.duration_ms,
                        status: a.status,
                        error: a.error,
                        response: a.response,
                    })
                })
                .collect::<StoreResult<_>>()?,
            deadline: time(self.deadline, &what)?,
            revision: u64::try_from(self.revision).map_err(|_| corrupt(&what))?,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoggedEventRecord {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    pub at: i64,
    pub invitation_id: Uuid,
    #[serde(default)]
    pub scope: Option<String>,
    pub by: String,
    #[serde(default)]
    pub actor_id: Option<String>,
    #[serde(default)]
    pub actor_name: Option<String>,
    pub body: String,
}

impl From<&LoggedEvent> for LoggedEventRecord {
    fn from(e: &LoggedEvent) -> Self {
        let (by, actor_id, actor_name) = actor_parts(&e.actor);
        Self {
            id: e.id,
            event_type: e.event_type.as_str().to_owned(),
            at: ms(e.at),
            invitation_id: e.invitation_id.as_uuid(),
            scope: e.scope.clone(),
            by: by.to_owned(),
            actor_id,
            actor_name,
            body: e.body.clone(),
        }
    }
}

impl LoggedEventRecord {
    pub fn into_event(self) -> StoreResult<LoggedEvent> {
        let what = format!("logged event {}", self.id);
        Ok(LoggedEvent {
            id: self.id,
            event_type: self.event_type.parse().map_err(|_| corrupt(&what))?,
            at: time(self.at, &what)?,
            invitation_id: InvitationId::from_uuid(self.invitation_id),
            scope: self.scope,
            actor: actor_from_parts(&self.by, self.actor_id, self.actor_name)
                .ok_or_else(|| corrupt(&what))?,
            body: self.body,
        })
    }
}
