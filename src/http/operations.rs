//! `/healthz`, `/readyz` and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::metrics::Metrics;
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

pub(crate) async fn metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}
