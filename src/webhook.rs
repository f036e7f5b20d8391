//! The webhook transport on reqwest (rustls): one pooled client, no redirects, a timeout per
//! attempt, and a resolver that refuses private addresses after every DNS lookup, so that a
//! name which changes to point inside the network (DNS rebinding) is refused too.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

use crate::domain::{WebhookUrl, is_public_address};
use crate::ports::{WebhookRequest, WebhookResponse, WebhookTransport};

const USER_AGENT: &str = concat!("cms-invitations-webhooks/", env!("CARGO_PKG_VERSION"));
/// Bytes of an answer read for the delivery log; the rest is not read.
const EXCERPT_BYTES: usize = 2048;

#[derive(Debug, Clone)]
pub struct HttpWebhookTransport {
    client: reqwest::Client,
    allow_private: bool,
}

/// Resolves with the system resolver, then drops addresses webhooks may not reach.
#[derive(Debug, Clone, Copy)]
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|address| allow_private || is_public_address(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no address webhooks may reach").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

impl HttpWebhookTransport {
    pub fn new(timeout: Duration, concurrency: usize, allow_private: bool) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(concurrency)
            .user_agent(USER_AGENT)
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .build()
            .map_err(|err| format!("cannot build the webhook HTTP client: {err}"))?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// An IP literal in the URL bypasses the resolver, so it is checked here.
    fn literal_allowed(&self, url: &WebhookUrl) -> Result<(), String> {
        let address = match url.as_url().host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        if self.allow_private || is_public_address(address) {
            Ok(())
        } else {
            Err(format!(
                "{address} is a loopback, private or link-local address; webhooks go to public \
                 addresses only (INVITATIONS_WEBHOOK_ALLOW_PRIVATE=true allows them)"
            ))
        }
    }
}

#[async_trait]
impl WebhookTransport for HttpWebhookTransport {
    async fn post(&self, request: WebhookRequest<'_>) -> Result<WebhookResponse, String> {
        self.literal_allowed(request.url)?;
        let mut builder = self
            .client
            .post(request.url.as_url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.body.to_owned());
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let mut response = builder
            .send()
            .await
            .map_err(|err| crate::net::describe(&err))?;
        let status = response.status().as_u16();
        let mut excerpt = Vec::new();
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                // The status is what counts; a body cut short is fine for the log.
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        Ok(WebhookResponse {
            status,
            excerpt: String::from_utf8_lossy(&excerpt).into_owned(),
        })
    }

    async fn vet(&self, url: &WebhookUrl) -> Result<(), String> {
        self.literal_allowed(url)?;
        let Some(Host::Domain(domain)) = url.as_url().host() else {
            return Ok(());
        };
        let port = url.as_url().port_or_known_default().unwrap_or(443);
        let found: Vec<SocketAddr> = tokio::net::lookup_host((domain, port))
            .await
            .map_err(|err| format!("{domain} does not resolve: {err}"))?
            .collect();
        if found.is_empty() {
            return Err(format!("{domain} does not resolve"));
        }
        if !self.allow_private && !found.iter().any(|a| is_public_address(a.ip())) {
            return Err(format!(
                "{domain} resolves to loopback, private or link-local addresses only; webhooks \
                 go to public addresses (INVITATIONS_WEBHOOK_ALLOW_PRIVATE=true allows them)"
            ));
        }
        Ok(())
    }
}
