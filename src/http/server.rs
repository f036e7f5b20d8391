//! The standalone server's router: the GraphQL endpoint with the given authentication, the
//! GraphiQL explorer, health, readiness and metrics, behind logging and CORS.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::get;

use tower_http::timeout::TimeoutLayer;

use super::email_preview;
use super::graphql::{GraphqlOptions, graphql_routes};
use super::metrics::Metrics;
use super::{middleware, operations, ui};
use crate::graphql::{InvitationsModule, schema};
use crate::ports::Authenticator;
use crate::service::InvitationService;

/// Everything the standalone router is made of.
#[derive(Debug, Clone)]
pub struct ServerParts {
    pub service: InvitationService,
    /// Who is calling: API tokens in the standalone server.
    pub authenticator: Arc<dyn Authenticator>,
    pub public_rate_limit: u32,
    pub max_body_bytes: usize,
    pub cors_origins: Vec<String>,
    pub trust_forwarded_for: bool,
    /// A request not read and answered by then gets 408.
    pub request_timeout: std::time::Duration,
}

pub fn server_router(parts: ServerParts) -> Router {
    let metrics = Arc::new(Metrics::new());
    let email = parts.service.settings().email.clone();
    let module = InvitationsModule::new(parts.service.clone(), parts.public_rate_limit);
    let graphql = graphql_routes(
        schema(module),
        parts.authenticator,
        GraphqlOptions {
            max_body_bytes: parts.max_body_bytes,
            trust_forwarded_for: parts.trust_forwarded_for,
            metrics: Some(metrics.clone()),
        },
    )
    .layer(from_fn_with_state(
        Arc::<[String]>::from(parts.cors_origins),
        middleware::cors,
    ));
    let operations = Router::new()
        .route("/healthz", get(operations::healthz))
        .route("/readyz", get(operations::readyz))
        .with_state(parts.service)
        .route(
            "/metrics",
            get(operations::metrics).with_state(metrics.clone()),
        )
        .merge(
            Router::new()
                .route("/email-preview", get(email_preview::page))
                .route("/email-preview.json", get(email_preview::json))
                .route("/email-preview/html", get(email_preview::html))
                .with_state(email),
        );
    graphql
        .merge(operations)
        .merge(ui::routes())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            parts.request_timeout,
        ))
        .layer(from_fn_with_state(metrics, middleware::observe))
}
