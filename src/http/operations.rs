//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::response::{IntoResponse, Response};

use super::metrics::Metrics;
use crate::config::Sensitive;
use crate::service::InvitationService;

/// The process is up and serving.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// The store answers: 200 `ready`, else 503 with the error code (the cause goes to the log).
pub(crate) async fn readyz(State(service): State<InvitationService>) -> Response {
    match service.ready().await {
        Ok(()) => "ready\n".into_response(),
        Err(err) => {
            crate::graphql::log_cause(&err);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}\n", err.code()),
            )
                .into_response()
        }
    }
}

/// The metrics, to a caller with the configured token (when one is configured): 401 else.
pub(crate) async fn metrics(
    State((metrics, token)): State<(Arc<Metrics>, Option<Arc<Sensitive>>)>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = token {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let expected = token.expose().as_bytes();
        // Compared in constant time over the expected length.
        let same = presented.len() == expected.len()
            && presented
                .as_bytes()
                .iter()
                .zip(expected)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0;
        if !same {
            return (
                StatusCode::UNAUTHORIZED,
                [(WWW_AUTHENTICATE, "Bearer")],
                "the metrics need the metrics token\n",
            )
                .into_response();
        }
    }
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}
