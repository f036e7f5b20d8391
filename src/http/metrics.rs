//! Prometheus metrics through `prometheus-client`, with label sets bounded by construction: the
//! method is one of a fixed list (anything else is `OTHER`), the route is the router's matched
//! pattern (or `unmatched`), the status a number, the error code one of the API's codes. No
//! label value comes from what a client typed, so no client can grow the exposition.

use std::sync::Mutex;
use std::time::Duration;

use axum::http::Method;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::ErrorCode;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The HTTP methods counted by name; every other one is `OTHER`.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(clippy::upper_case_acronyms)]
enum MethodLabel {
    GET,
    POST,
    HEAD,
    OPTIONS,
    PUT,
    PATCH,
    DELETE,
    OTHER,
}

impl From<&Method> for MethodLabel {
    fn from(method: &Method) -> Self {
        match *method {
            Method::GET => Self::GET,
            Method::POST => Self::POST,
            Method::HEAD => Self::HEAD,
            Method::OPTIONS => Self::OPTIONS,
            Method::PUT => Self::PUT,
            Method::PATCH => Self::PATCH,
            Method::DELETE => Self::DELETE,
            _ => Self::OTHER,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: MethodLabel,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    code: &'static str,
}

/// The server's metrics, rendered at `/metrics`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    errors: Family<ErrorLabels, Counter>,
    /// The route patterns seen, interned once each: labels are `&'static str`.
    routes: Mutex<Vec<&'static str>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(BUCKETS)) as fn() -> Histogram,
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        let mut registry = Registry::with_prefix("invitations");
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            latency.clone(),
        );
        registry.register(
            "graphql_errors",
            "GraphQL errors returned, by code",
            errors.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            errors,
            routes: Mutex::new(Vec::new()),
        }
    }

    /// `route` is the router's matched pattern or `unmatched`: a finite set.
    pub fn record_request(&self, route: &str, method: &Method, status: u16, elapsed: Duration) {
        let route = self.intern(route);
        let method = MethodLabel::from(method);
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts an error by its code; a code the API does not have counts as `OTHER`.
    pub fn record_error_code(&self, code: &str) {
        let code = ErrorCode::ALL
            .into_iter()
            .map(ErrorCode::as_str)
            .find(|known| *known == code)
            .unwrap_or("OTHER");
        self.errors.get_or_create(&ErrorLabels { code }).inc();
    }

    /// The OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The one `&'static str` for a route pattern. Patterns come from the router, so the list
    /// stays as short as the router's table (plus `unmatched`).
    fn intern(&self, route: &str) -> &'static str {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = routes.iter().find(|known| **known == route) {
            return known;
        }
        let leaked: &'static str = Box::leak(route.to_owned().into_boxed_str());
        routes.push(leaked);
        leaked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_requests_and_fills_cumulative_buckets() {
        let metrics = Metrics::new();
        let post = Method::POST;
        metrics.record_request("/graphql", &post, 200, Duration::from_millis(3));
        metrics.record_request("/graphql", &post, 200, Duration::from_millis(30));
        metrics.record_error_code("NOT_FOUND");
        let text = metrics.render();
        assert!(
            text.contains(
                "invitations_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"} 2"
            ),
            "{text}"
        );
        for (bound, count) in [("0.005", 1), ("0.05", 2)] {
            let bucket = format!(
                "invitations_http_request_duration_seconds_bucket{{le=\"{bound}\",route=\"/graphql\"}} {count}"
            );
            assert!(text.contains(&bucket), "{bucket} in {text}");
        }
        assert!(text.contains("invitations_graphql_errors_total{code=\"NOT_FOUND\"} 1"));
    }

    #[test]
    fn made_up_methods_and_codes_share_one_label_each() {
        let metrics = Metrics::new();
        for i in 0..1000 {
            let method = Method::from_bytes(format!("M{i:04}{}", "X".repeat(200)).as_bytes());
            metrics.record_request("unmatched", &method.unwrap(), 405, Duration::ZERO);
            metrics.record_error_code(&format!("MADE_UP_{i}"));
        }
        let text = metrics.render();
        assert!(text.len() < 4096, "{} bytes", text.len());
        assert!(
            text.contains("method=\"OTHER\",status=\"405\"} 1000"),
            "{text}"
        );
        assert!(text.contains("code=\"OTHER\"} 1000"), "{text}");
    }
}
