//! Webhook endpoints and their deliveries, for admins (DESIGN section 10).

use super::scalars::DateTime;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use uuid::Uuid;

use super::errors::IntoGraphql;
use super::{Caller, InvitationsModule};
use crate::domain::{self, ValidationError};
use crate::error::{Error, Result};
use crate::service::{EndpointInput, EndpointWithSecret};

fn parse_id(id: &ID, field: &str) -> Result<Uuid> {
    Uuid::try_parse(id.trim())
        .map_err(|_| Error::Validation(ValidationError::new(field, "the id is not a valid UUID")))
}

/// A receiver of invitation events.
#[derive(SimpleObject, Debug, Clone)]
pub struct WebhookEndpoint {
    id: ID,
    url: String,
    description: Option<String>,
    /// The event types it receives; empty: every type.
    event_types: Vec<String>,
    /// Disabled endpoints receive nothing; `disabledReason` says why the module disabled one.
    enabled: bool,
    disabled_reason: Option<String>,
    /// Since when every attempt has failed; `null` while it works.
    failing_since: Option<DateTime>,
    /// When the newest secret was made.
    secret_created_at: Option<DateTime>,
    created_at: DateTime,
    updated_at: DateTime,
}

impl From<domain::WebhookEndpoint> for WebhookEndpoint {
    fn from(e: domain::WebhookEndpoint) -> Self {
        Self {
            id: ID(e.id.to_string()),
            url: e.url.as_str().to_owned(),
            description: e.description,
            event_types: e
                .event_types
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since.map(Into::into),
            secret_created_at: e.secrets.first().map(|s| s.created_at.into()),
            created_at: e.created_at.into(),
            updated_at: e.updated_at.into(),
        }
    }
}

/// An endpoint with its new signing secret: the only time the secret is shown.
#[derive(SimpleObject, Debug, Clone)]
pub struct WebhookEndpointWithSecret {
    endpoint: WebhookEndpoint,
    /// `whsec_…`: verify the `webhook-signature` header with it. Shown once.
    secret: String,
}

impl From<EndpointWithSecret> for WebhookEndpointWithSecret {
    fn from(e: EndpointWithSecret) -> Self {
        Self {
            secret: e.secret.expose(),
            endpoint: e.endpoint.into(),
        }
    }
}

/// One attempt to deliver.
#[derive(SimpleObject, Debug, Clone)]
pub struct WebhookAttempt {
    at: DateTime,
    duration_ms: u64,
    /// The HTTP status, when an answer came.
    status_code: Option<u16>,
    /// Why no answer came (refused, timed out, an address that is not allowed).
    error: Option<String>,
    /// The start of the answer's body.
    response: Option<String>,
}

/// One event on its way to one endpoint.
#[derive(SimpleObject, Debug, Clone)]
pub struct WebhookDelivery {
    id: ID,
    /// The `webhook-id` header: the same on every attempt and redelivery.
    message_id: String,
    event_id: ID,
    event_type: String,
    invitation_id: Option<ID>,
    /// PENDING, DELIVERED or FAILED.
    state: String,
    /// Attempts made in all (the latest 25 are listed).
    attempt_count: u32,
    attempts: Vec<WebhookAttempt>,
    next_attempt_at: Option<DateTime>,
    created_at: DateTime,
    /// The JSON body as sent: no secret, no link.
    body: String,
}

impl From<domain::WebhookDelivery> for WebhookDelivery {
    fn from(d: domain::WebhookDelivery) -> Self {
        Self {
            id: ID(d.id.to_string()),
            message_id: d.message_id(),
            event_id: ID(d.event_id.to_string()),
            event_type: d.event_type.as_str().to_owned(),
            invitation_id: d.invitation_id.map(|i| ID(i.to_string())),
            state: d.state.as_str().to_owned(),
            attempt_count: d.attempt_count,
            next_attempt_at: (d.state == domain::WebhookDeliveryState::Pending)
                .then(|| d.next_attempt_at.into()),
            attempts: d
                .attempts
                .into_iter()
                .rev()
                .map(|a| WebhookAttempt {
                    at: a.at.into(),
                    duration_ms: a.duration_ms,
                    status_code: a.status,
                    error: a.error,
                    response: a.response,
                })
                .collect(),
            created_at: d.created_at.into(),
            body: d.body,
        }
    }
}

#[derive(SimpleObject, Debug, Clone)]
pub struct WebhookDeliveryConnection {
    /// Newest first.
    nodes: Vec<WebhookDelivery>,
    has_next_page: bool,
    /// Pass as `after` for the next page.
    end_cursor: Option<String>,
}

#[derive(InputObject, Debug, Clone)]
pub struct CreateWebhookEndpointInput {
    /// `https://…` (or `http://`); loopback and private addresses are refused unless the
    /// server allows them.
    url: String,
    /// Event types to receive, e.g. `invitation.accepted`; empty or absent: every type.
    event_types: Option<Vec<String>>,
    description: Option<String>,
}

#[derive(InputObject, Debug, Clone)]
pub struct UpdateWebhookEndpointInput {
    url: Option<String>,
    event_types: Option<Vec<String>>,
    description: Option<String>,
    /// `true` re-enables an endpoint the module disabled.
    enabled: Option<bool>,
}

/// Admins' webhook queries, ready to merge into a host's `MergedObject`.
#[derive(Debug, Default, Clone, Copy)]
pub struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// Every webhook endpoint, oldest first. Admins only.
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<WebhookEndpoint>> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let endpoints = module
            .service
            .webhook_endpoints(caller.principal.as_ref())
            .await
            .gql()?;
        Ok(endpoints.into_iter().map(Into::into).collect())
    }

    /// The endpoint's deliveries, newest first, with their attempts. Admins only.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<WebhookDeliveryConnection> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let endpoint = parse_id(&endpoint_id, "endpointId").gql()?;
        let first = usize::try_from(first.unwrap_or(20)).unwrap_or(0);
        let after = after
            .map(|cursor| {
                Uuid::try_parse(&cursor)
                    .map_err(|_| Error::validation("after", "the cursor is not valid"))
            })
            .transpose()
            .gql()?;
        let (page, has_next_page) = module
            .service
            .webhook_deliveries(caller.principal.as_ref(), endpoint, first, after)
            .await
            .gql()?;
        let end_cursor = page.last().map(|d| d.id.to_string());
        Ok(WebhookDeliveryConnection {
            nodes: page.into_iter().map(Into::into).collect(),
            has_next_page,
            end_cursor,
        })
    }
}

/// Admins' webhook mutations, ready to merge into a host's `MergedObject`.
#[derive(Debug, Default, Clone, Copy)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Makes an endpoint. The response is the only place its `secret` is shown.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpointWithSecret> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let transport = module.webhook_transport().gql()?;
        let created = module
            .service
            .create_webhook_endpoint(
                caller.principal.as_ref(),
                EndpointInput {
                    url: Some(input.url),
                    event_types: input.event_types,
                    description: input.description,
                    enabled: None,
                },
                transport.as_ref(),
            )
            .await
            .gql()?;
        Ok(created.into())
    }

    /// Changes the fields given; `enabled: true` re-enables a disabled endpoint.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpoint> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = parse_id(&id, "id").gql()?;
        let transport = module.webhook_transport().gql()?;
        let endpoint = module
            .service
            .update_webhook_endpoint(
                caller.principal.as_ref(),
                id,
                EndpointInput {
                    url: input.url,
                    event_types: input.event_types,
                    description: input.description,
                    enabled: input.enabled,
                },
                transport.as_ref(),
            )
            .await
            .gql()?;
        Ok(endpoint.into())
    }

    /// Deletes the endpoint; its queued deliveries are given up. `false` when there was none.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<bool> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = parse_id(&id, "id").gql()?;
        module
            .service
            .delete_webhook_endpoint(caller.principal.as_ref(), id)
            .await
            .gql()
    }

    /// A new secret, shown once; the old one keeps signing beside it for the grace period.
    async fn rotate_webhook_endpoint_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<WebhookEndpointWithSecret> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = parse_id(&id, "id").gql()?;
        let rotated = module
            .service
            .rotate_webhook_secret(caller.principal.as_ref(), id)
            .await
            .gql()?;
        Ok(rotated.into())
    }

    /// Queues a `webhook.test` event to the endpoint.
    async fn send_test_webhook(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
    ) -> async_graphql::Result<WebhookDelivery> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = parse_id(&endpoint_id, "endpointId").gql()?;
        let delivery = module
            .service
            .send_test_webhook(caller.principal.as_ref(), id)
            .await
            .gql()?;
        Ok(delivery.into())
    }

    /// Queues a delivery again now, with the same `webhook-id` and body.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> async_graphql::Result<WebhookDelivery> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = parse_id(&delivery_id, "deliveryId").gql()?;
        let delivery = module
            .service
            .redeliver_webhook(caller.principal.as_ref(), id)
            .await
            .gql()?;
        Ok(delivery.into())
    }
}
