//! Request logging and metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::metrics::Metrics;

/// Logs one line per request (route pattern, never the query string, which may carry a
/// GraphQL variable) and records it in the metrics.
pub(crate) async fn observe(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.record_request(&route, &method, status, elapsed);
    let millis = elapsed.as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(%method, route, status, millis, "request");
    } else {
        tracing::info!(%method, route, status, millis, "request");
    }
    response
}
