//! The webhook transport port: how the sender reaches an endpoint over HTTP.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::domain::WebhookUrl;

/// One signed POST.
#[derive(Debug, Clone)]
pub struct WebhookRequest<'a> {
    pub url: &'a WebhookUrl,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    pub headers: [(&'static str, String); 3],
    pub body: &'a str,
}

/// What the endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    /// The start of the answer's body, for the delivery log.
    pub excerpt: String,
}

#[async_trait]
pub trait WebhookTransport: Send + Sync + Debug {
    /// Sends `request` once, without following redirects. `Err` carries why no answer came
    /// (refused, timed out, an address that is not allowed).
    async fn post(&self, request: WebhookRequest<'_>) -> Result<WebhookResponse, String>;

    /// Checks, before an endpoint is saved, that its host resolves to addresses webhooks may
    /// go to. `Err` says why not.
    async fn vet(&self, url: &WebhookUrl) -> Result<(), String>;
}
