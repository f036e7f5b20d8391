//! Prometheus metrics in the text exposition format, without a metrics framework: a few
//! counters and one latency histogram per route, behind short-held locks.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Registry {
    /// (route, method, status) -> requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route -> latency.
    latency: BTreeMap<String, Histogram>,
    /// error code -> GraphQL errors returned.
    errors: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut registry = self.registry();
        *registry
            .requests
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
        let histogram = registry.latency.entry(route.to_owned()).or_default();
        for (count, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    pub fn record_error_code(&self, code: &str) {
        *self.registry().errors.entry(code.to_owned()).or_default() += 1;
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let registry = self.registry();
        let mut out = String::new();
        out.push_str(
            "# HELP invitations_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE invitations_http_requests_total counter\n");
        for ((route, method, status), count) in &registry.requests {
            let _ = writeln!(
                out,
                "invitations_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP invitations_http_request_duration_seconds Time to answer an HTTP request.\n",
        );
        out.push_str("# TYPE invitations_http_request_duration_seconds histogram\n");
        for (route, histogram) in &registry.latency {
            for (count, bound) in histogram.counts.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "invitations_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "invitations_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "invitations_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "invitations_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count
            );
        }
        out.push_str("# HELP invitations_graphql_errors_total GraphQL errors returned, by code.\n");
        out.push_str("# TYPE invitations_graphql_errors_total counter\n");
        for (code, count) in &registry.errors {
            let _ = writeln!(
                out,
                "invitations_graphql_errors_total{{code=\"{code}\"}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_requests_and_fills_cumulative_buckets() {
        let metrics = Metrics::new();
        metrics.record_request("/graphql", "POST", 200, Duration::from_millis(3));
        metrics.record_request("/graphql", "POST", 200, Duration::from_millis(30));
        metrics.record_error_code("NOT_FOUND");
        let text = metrics.render();
        assert!(text.contains(
            "invitations_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "invitations_http_request_duration_seconds_bucket{route=\"/graphql\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "invitations_http_request_duration_seconds_bucket{route=\"/graphql\",le=\"0.05\"} 2"
        ));
        assert!(text.contains("invitations_graphql_errors_total{code=\"NOT_FOUND\"} 1"));
    }
}
