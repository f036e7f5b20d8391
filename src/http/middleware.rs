//! Request logging and metrics, and the request id each log line and answer carries.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header that carries a request's id, on the request and on its answer.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// Longest request id taken from a client (or the proxy in front of the server).
const MAX_REQUEST_ID: usize = 64;

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
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("")
        .to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.record_request(&route, &method, status, elapsed);
    let millis = elapsed.as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(%method, route, status, millis, request_id, "request");
    } else {
        tracing::info!(%method, route, status, millis, request_id, "request");
    }
    response
}

/// A new UUID v7 for each request that comes without a usable id.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Keeps a client's `x-request-id` only when it is one short plain token (what a proxy's id
/// looks like), so a correlating proxy keeps its ids and a hostile client puts nothing of its
/// choosing into the logs; anything else is dropped and a new id is made.
pub(crate) async fn plain_request_id(mut request: Request, next: Next) -> Response {
    let ids = request.headers().get_all(REQUEST_ID);
    let plain = ids.iter().count() <= 1
        && ids.iter().all(|id| {
            id.len() <= MAX_REQUEST_ID
                && id
                    .as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b))
        });
    if !plain {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}
