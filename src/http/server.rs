//! The standalone server's router: the GraphQL endpoint with the given authentication, the
//! GraphiQL explorer, health, readiness and metrics, behind logging, CORS (tower-http) and the
//! security headers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;

use axum::http::HeaderName;
use axum::http::HeaderValue;
use axum::http::Method;
use axum::http::header::{
    AUTHORIZATION, CONTENT_TYPE, COOKIE, PROXY_AUTHORIZATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use super::email_preview;
use super::graphql::{GraphqlOptions, graphql_routes};
use super::metrics::Metrics;
use super::{middleware, operations, ui};
use crate::config::Sensitive;
use crate::email::Page;
use crate::graphql::{InvitationsModule, schema};
use crate::ports::{Authenticator, WebhookTransport};
use crate::service::InvitationService;

/// Everything the standalone router is made of.
#[derive(Debug, Clone)]
pub struct ServerParts {
    pub service: InvitationService,
    /// Who is calling: API tokens in the standalone server.
    pub authenticator: Arc<dyn Authenticator>,
    pub public_rate_limit: u32,
    pub max_body_bytes: usize,
    /// See [`GraphqlOptions::persisted_query_cache_bytes`].
    pub persisted_query_cache_bytes: usize,
    pub cors_origins: Vec<String>,
    /// See [`GraphqlOptions::trusted_proxies`].
    pub trusted_proxies: u8,
    /// A request not read and answered by then gets 408.
    pub request_timeout: Duration,
    /// Answer GraphQL introspection.
    pub introspection: bool,
    /// The bearer token `/metrics` requires; `None`: open.
    pub metrics_token: Option<Sensitive>,
    /// Checks webhook endpoint URLs (the sender uses the same transport).
    pub webhook_transport: Arc<dyn WebhookTransport>,
    /// See [`GraphqlOptions::max_subscription_connections`].
    pub max_subscription_connections: usize,
}

pub fn server_router(parts: ServerParts) -> Router {
    let metrics = Arc::new(Metrics::new());
    let email = parts.service.settings().email.clone();
    let module = InvitationsModule::new(parts.service.clone(), parts.public_rate_limit)
        .with_webhook_transport(parts.webhook_transport);
    let graphql = graphql_routes(
        schema(module, parts.introspection),
        parts.authenticator,
        GraphqlOptions {
            max_body_bytes: parts.max_body_bytes,
            trusted_proxies: parts.trusted_proxies,
            metrics: Some(metrics.clone()),
            persisted_query_cache_bytes: parts.persisted_query_cache_bytes,
            max_subscription_connections: parts.max_subscription_connections,
        },
    );
    let graphql = match cors(&parts.cors_origins) {
        Some(cors) => graphql.layer(cors),
        None => graphql,
    };
    let operations = Router::new()
        .route("/healthz", get(operations::healthz))
        .route("/readyz", get(operations::readyz))
        .with_state(parts.service)
        .route(
            "/metrics",
            get(operations::metrics)
                .with_state((metrics.clone(), parts.metrics_token.map(Arc::new))),
        )
        .merge(
            Router::new()
                .route("/email-preview", get(email_preview::page))
                .route("/email-preview.json", get(email_preview::json))
                .route("/email-preview/html", get(email_preview::html))
                .route("/email-preview/frame", get(email_preview::frame))
                .route(
                    "/accept/messages",
                    get(|state, query| ui::messages(Page::Accept, state, query)),
                )
                .route(
                    "/admin/messages",
                    get(|state, query| ui::messages(Page::Admin, state, query)),
                )
                .with_state(email),
        );
    let request_id = HeaderName::from_static(middleware::REQUEST_ID);
    graphql
        .merge(operations)
        .merge(ui::routes())
        // Every response: no sniffing of content types, no Referer to other sites (the accept
        // page's URL carries the secret in its fragment).
        .layer(SetResponseHeaderLayer::if_not_present(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // A bug that panics answers its one request 500 (and is logged, and counted), instead
        // of dropping the connection.
        .layer(CatchPanicLayer::custom(|_| panicked()))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            parts.request_timeout,
        ))
        .layer(from_fn_with_state(metrics, middleware::observe))
        // Every request gets an id (a proxy's plain one is kept), which its log line and its
        // answer carry.
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, middleware::NewRequestId))
        .layer(from_fn(middleware::plain_request_id))
        .layer(credentials_sensitive())
}

/// Marks credentials sensitive, so no debug print of a request's headers shows them.
fn credentials_sensitive() -> SetSensitiveRequestHeadersLayer {
    SetSensitiveRequestHeadersLayer::new([AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE])
}

/// CORS for the allowed browser origins: preflights answered, responses marked for those
/// origins only, so browsers keep every other origin out. `None` without any origin (no
/// browser on another origin may call).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    (!origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([AUTHORIZATION, CONTENT_TYPE])
            .max_age(Duration::from_secs(600))
    })
}

/// The answer to a request whose handler panicked: the API's INTERNAL error, saying nothing
/// of the cause (the panic hook logs that).
fn panicked() -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": "internal error", "extensions": { "code": "INTERNAL" } }]
    });
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    #[tokio::test]
    async fn credentials_never_show_in_a_debug_print_of_the_headers() {
        let router = Router::new()
            .route(
                "/",
                get(|headers: axum::http::HeaderMap| async move { format!("{headers:?}") }),
            )
            .layer(credentials_sensitive());
        let request = axum::http::Request::get("/")
            .header(AUTHORIZATION, "Bearer cmsi_SECRETVALUE")
            .header(COOKIE, "session=SECRETVALUE")
            .header("x-other", "visible")
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = router.oneshot(request).await.unwrap();
        let body = axum::body::to_bytes(answer.into_body(), 4096)
            .await
            .unwrap();
        let printed = String::from_utf8_lossy(&body);
        assert!(!printed.contains("SECRETVALUE"), "{printed}");
        assert!(printed.contains("visible"), "{printed}");
    }

    #[allow(clippy::panic)]
    async fn bug() -> &'static str {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_handler_that_panics_answers_internal_and_the_router_keeps_serving() {
        let router = Router::new()
            .route("/bug", get(bug))
            .route("/ok", get(|| async { "fine" }))
            .layer(CatchPanicLayer::custom(|_| panicked()));
        let request = |path: &str| {
            axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let answer = router.clone().oneshot(request("/bug")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(answer.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
        assert!(
            !body.to_string().contains("a bug"),
            "the cause is not shown"
        );
        let answer = router.oneshot(request("/ok")).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
}
