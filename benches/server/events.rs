//! Events under load, on the release binary: what a webhook endpoint costs `createInvitation`,
//! how fast deliveries drain to a local receiver, and how long an event takes from the
//! mutation's response to a subscriber's WebSocket message (same instance, and across two
//! instances on one MongoDB). Part of `cargo bench --bench server`; see `docs/performance.md`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use super::{CREATE, Figure, Server, drive};

/// A local receiver that answers 204 and notes when each request arrived and which invitation
/// it was about.
struct Receiver {
    url: String,
    arrivals: Arc<std::sync::Mutex<Vec<(Instant, String)>>>,
}

/// The part of a bench email that names its phase: `ev3-mb@example.org` is phase `mb`.
fn phase(email: &str) -> &str {
    let local = email.split('@').next().unwrap_or_default();
    local.rsplit('-').next().unwrap_or_default()
}

impl Receiver {
    async fn start() -> Self {
        let arrivals = Arc::new(std::sync::Mutex::new(Vec::new()));
        let noted = arrivals.clone();
        let app = Router::new().route(
            "/hook",
            post(move |body: String| {
                let noted = noted.clone();
                async move {
                    let value: Value = serde_json::from_str(&body).unwrap_or_default();
                    let email = value["data"]["invitation"]["email"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    noted.lock().unwrap().push((Instant::now(), email));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, arrivals }
    }

    /// When each delivery about an invitation of `phase` arrived, in order.
    fn arrivals_of(&self, phase_tag: &str) -> Vec<(Instant, String)> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, email)| phase(email) == phase_tag)
            .cloned()
            .collect()
    }

    /// Waits until `total` distinct invitations of `phase` were delivered (or 120 s passed);
    /// how many were.
    async fn wait_for(&self, phase_tag: &str, total: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let distinct: HashSet<String> = self
                .arrivals_of(phase_tag)
                .into_iter()
                .map(|(_, email)| email)
                .collect();
            if distinct.len() >= total || Instant::now() >= deadline {
                return distinct.len();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Makes an endpoint for `url`; its id.
async fn add_endpoint(server: &Server, url: &str) -> String {
    let created = server
        .gql(
            "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } } }",
            json!({ "input": { "url": url } }),
            Some(&server.token),
        )
        .await
        .expect("the endpoint is created");
    created["data"]["createWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn set_enabled(server: &Server, endpoint: &str, enabled: bool) {
    let updated = server
        .gql(
            "mutation($id: ID!, $input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $input) { enabled } }",
            json!({ "id": endpoint, "input": { "enabled": enabled } }),
            Some(&server.token),
        )
        .await;
    assert!(updated.is_some(), "the endpoint is updated");
    // Endpoints are read at most once a second by every instance.
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

async fn creates(server: &Server, count: usize, tag: &str) -> Figure {
    let token = server.token.clone();
    drive("createInvitation", 16, count, |i| {
        let token = token.clone();
        async move {
            let input = json!({ "email": format!("ev{i}-{tag}@example.org"), "role": "viewer", "sendEmail": false });
            server
                .gql(CREATE, json!({ "input": input }), Some(&token))
                .await
                .is_some()
        }
    })
    .await
}

/// Two runs of one scenario as one figure.
fn merged(a: &Figure, b: &Figure) -> Figure {
    Figure {
        requests: a.requests + b.requests,
        seconds: a.seconds + b.seconds,
        errors: a.errors + b.errors,
        latencies_ms: [a.latencies_ms.clone(), b.latencies_ms.clone()].concat(),
        ..a.clone()
    }
}

/// The figures of the events pass.
pub struct EventFigures {
    pub without_webhook: Figure,
    pub with_webhook: Figure,
    /// Events per second reaching the receiver, between its 10th and 90th percentile arrival.
    pub delivery_rate: f64,
    /// Distinct invitations of the burst whose event was delivered, of `expected`.
    pub delivered: usize,
    pub expected: usize,
    /// Deliveries beyond the first of one event, anywhere in the pass (at-least-once delivery
    /// allows them; a healthy run has none).
    pub duplicates: usize,
    /// Deliveries of events written while no endpoint was enabled (there must be none).
    pub unwanted: usize,
    /// Milliseconds from the mutation's response to the subscriber's message.
    pub same_instance_ms: Vec<f64>,
    pub across_instances_ms: Vec<f64>,
}

impl EventFigures {
    /// What a smoke run asserts: every wanted event delivered once, no other.
    pub fn check(&self) {
        assert_eq!(self.delivered, self.expected, "every burst event delivered");
        assert_eq!(self.duplicates, 0, "no event delivered twice");
        assert_eq!(
            self.unwanted, 0,
            "no event delivered that was written while its endpoint was disabled or absent"
        );
    }
}

/// Runs on `server` (and, for the cross-instance figure, `second`, on the same database).
pub async fn run(
    server: &Server,
    second: Option<&Server>,
    creates_16: usize,
    burst: usize,
    subscription_rounds: usize,
    tag: &str,
) -> EventFigures {
    // Without and with the endpoint in turn, twice, so that the machine's drift falls on both:
    // phases `a` and `c` without (no endpoint, then a disabled one), `b` and `d` with.
    let receiver = Receiver::start().await;
    let half = creates_16 / 2;
    let first_without = creates(server, half, &format!("{tag}a")).await;
    let endpoint = add_endpoint(server, &receiver.url).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let first_with = creates(server, half, &format!("{tag}b")).await;
    receiver.wait_for(&format!("{tag}b"), half).await;
    set_enabled(server, &endpoint, false).await;
    let second_without = creates(server, half, &format!("{tag}c")).await;
    set_enabled(server, &endpoint, true).await;
    let second_with = creates(server, half, &format!("{tag}d")).await;
    receiver.wait_for(&format!("{tag}d"), half).await;
    let without_webhook = merged(&first_without, &second_without);
    let with_webhook = merged(&first_with, &second_with);

    // A burst of events in three bulk calls; the rate is what the sender sustains.
    let bulk = "mutation($inputs: [CreateInvitationInput!]!) { createInvitations(inputs: $inputs) { failed } }";
    for call in 0..burst.div_ceil(1000) {
        let inputs: Vec<Value> = (0..1000.min(burst - call * 1000))
            .map(|i| json!({ "email": format!("burst{call}-{i}-{tag}@example.org"), "role": "viewer", "sendEmail": false }))
            .collect();
        assert!(
            server
                .gql(bulk, json!({ "inputs": inputs }), Some(&server.token))
                .await
                .is_some()
        );
    }
    let delivered = receiver.wait_for(tag, burst).await;
    let arrivals: Vec<Instant> = receiver
        .arrivals_of(tag)
        .into_iter()
        .map(|(at, _)| at)
        .collect();
    let delivery_rate = if arrivals.len() >= 10 {
        let (low, high) = (arrivals.len() / 10, arrivals.len() * 9 / 10);
        (high - low) as f64 / arrivals[high].duration_since(arrivals[low]).as_secs_f64()
    } else {
        f64::NAN
    };

    let same_instance_ms =
        subscription_latencies(server, server, subscription_rounds, &format!("{tag}s")).await;
    let across_instances_ms = match second {
        Some(second) => {
            subscription_latencies(server, second, subscription_rounds, &format!("{tag}x")).await
        }
        None => Vec::new(),
    };
    let all = receiver.arrivals.lock().unwrap().clone();
    let distinct: HashSet<&str> = all.iter().map(|(_, email)| email.as_str()).collect();
    let unwanted = [format!("{tag}a"), format!("{tag}c")];
    EventFigures {
        without_webhook,
        with_webhook,
        delivery_rate,
        delivered,
        expected: burst,
        duplicates: all.len() - distinct.len(),
        unwanted: all
            .iter()
            .filter(|(_, email)| unwanted.iter().any(|u| phase(email) == u))
            .count(),
        same_instance_ms,
        across_instances_ms,
    }
}

/// Creates invitations one at a time on `writer` and times, for each, the `created` event on
/// a `graphql-transport-ws` subscription to `watcher` after the mutation answered.
async fn subscription_latencies(
    writer: &Server,
    watcher: &Server,
    rounds: usize,
    tag: &str,
) -> Vec<f64> {
    let url = watcher.base.replace("http://", "ws://") + "/graphql";
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let send = |value: Value| Message::Text(value.to_string().into());
    socket
        .send(send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", watcher.token) } })))
        .await
        .unwrap();
    loop {
        let message = socket.next().await;
        let Some(Ok(Message::Text(text))) = message else {
            unreachable!("the server closed before its connection_ack: {message:?}");
        };
        if text.contains("connection_ack") {
            break;
        }
    }
    socket
        .send(send(json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription { invitationEvents(types: [\"invitation.created\"]) { invitation { email } } }" } })))
        .await
        .unwrap();
    // Subscribed once an event comes through.
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(email) =
                    value["payload"]["data"]["invitationEvents"]["invitation"]["email"].as_str()
                {
                    let _ = events_tx.send((email.to_owned(), Instant::now()));
                }
            }
        }
    });
    let create = |email: String| async move {
        writer
            .gql(
                CREATE,
                json!({ "input": { "email": email, "role": "viewer", "sendEmail": false } }),
                Some(&writer.token),
            )
            .await
            .is_some()
    };
    let mut warmed = false;
    for n in 0..50 {
        assert!(create(format!("warm{n}-{tag}@example.org")).await);
        if tokio::time::timeout(Duration::from_secs(1), events.recv())
            .await
            .is_ok()
        {
            warmed = true;
            break;
        }
    }
    assert!(warmed, "the subscription delivers events");
    while events.try_recv().is_ok() {}
    let mut latencies = Vec::with_capacity(rounds);
    for n in 0..rounds {
        let email = format!("sub{n}-{tag}@example.org");
        assert!(create(email.clone()).await);
        let answered = Instant::now();
        loop {
            let (seen, at) = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("the event arrives")
                .unwrap();
            if seen == email {
                // An event that beat the response counts as no wait.
                latencies.push(at.saturating_duration_since(answered).as_secs_f64() * 1000.0);
                break;
            }
        }
    }
    latencies
}

pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn print(title: &str, f: &EventFigures) {
    println!("\n{title}");
    println!(
        "- createInvitation, 16 clients: {:.0}/s without a webhook endpoint, {:.0}/s with one subscribed to everything: {:.2}x (p99 {:.1} ms vs {:.1} ms)",
        f.without_webhook.rate(),
        f.with_webhook.rate(),
        f.with_webhook.rate() / f.without_webhook.rate(),
        f.without_webhook.percentile(0.99),
        f.with_webhook.percentile(0.99),
    );
    println!(
        "- webhook delivery to a local receiver: {:.0} events/s sustained ({} of {} delivered; {} duplicates, {} unwanted)",
        f.delivery_rate, f.delivered, f.expected, f.duplicates, f.unwanted
    );
    println!(
        "- subscription, mutation response to WebSocket message, same instance: p50 {:.1} ms, p99 {:.1} ms ({} events)",
        percentile(&f.same_instance_ms, 0.5),
        percentile(&f.same_instance_ms, 0.99),
        f.same_instance_ms.len()
    );
    if !f.across_instances_ms.is_empty() {
        println!(
            "- subscription across two instances (change stream): p50 {:.1} ms, p99 {:.1} ms ({} events)",
            percentile(&f.across_instances_ms, 0.5),
            percentile(&f.across_instances_ms, 0.99),
            f.across_instances_ms.len()
        );
    }
}
