//! Events leaving the module, on real parts: webhooks to a real HTTP receiver that verifies
//! every signature with the `standardwebhooks` npm package (tests/events/receiver.mjs), the
//! subscription through real GraphQL-over-WebSocket clients (tests/events/subscribe.mjs: the
//! `graphql-ws` library, and the legacy protocol over `ws`), two server instances on one
//! MongoDB, and the host listener port.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use cms_invitations::domain::EventType;
use cms_invitations::error::BoxError;
use cms_invitations::ports::{InvitationListener, LoggedEvent, WebhookRequest, WebhookTransport};
use cms_invitations::service::{CreateInvitation, EndpointInput};
use cms_invitations::webhook::HttpWebhookTransport;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::helpers::{Backend, admin, editor, spawn_app};
use crate::server::{ServerOptions, TestServer, data, spawn_server, spawn_server_with};

const EVENTS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/events");
/// Longest wait for something the server does in the background.
const PATIENCE: Duration = Duration::from_secs(30);

/// The webhook receiver: a node process verifying with `standardwebhooks`.
pub struct Receiver {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Receiver {
    /// Listens on `port` (0: any free port).
    pub async fn start(port: u16) -> Self {
        let mut child = Command::new("node")
            .arg("receiver.mjs")
            .arg(port.to_string())
            .current_dir(EVENTS_DIR)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (scripts/test.sh installs the packages of tests/events)");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("the receiver starts")
            .unwrap()
            .expect("the receiver prints its port");
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap();
        Self {
            child,
            port: u16::try_from(port).unwrap(),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn set_secrets(&self, secrets: &[&str]) {
        let response = self
            .http
            .post(self.url("/control/secrets"))
            .json(&json!({ "secrets": secrets }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    async fn set_statuses(&self, queue: &[u16], default: u16) {
        self.set_answers(queue, default, 0).await;
    }

    /// Statuses as `set_statuses`, each answer `body_bytes` long (0: a word).
    async fn set_answers(&self, queue: &[u16], default: u16, body_bytes: usize) {
        let response = self
            .http
            .post(self.url("/control/statuses"))
            .json(&json!({ "queue": queue, "default": default, "bodyBytes": body_bytes }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    async fn received(&self) -> Vec<Value> {
        self.http
            .get(self.url("/control/received"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until at least `count` webhook requests arrived.
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let received = self.received().await;
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} webhooks expected, {} arrived: {received:#?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// `createWebhookEndpoint` as admin; the endpoint and its secret.
async fn create_endpoint(server: &TestServer, url: &str, types: &[&str]) -> (String, String) {
    let response = server
        .gql(
            "CreateWebhookEndpoint",
            json!({ "input": { "url": url, "eventTypes": types, "description": "test receiver" } }),
            Some(&server.tokens.admin),
        )
        .await;
    let created = data(&response, "createWebhookEndpoint");
    (
        created["endpoint"]["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

async fn deliveries(server: &TestServer, endpoint: &str) -> Vec<Value> {
    let response = server
        .gql(
            "WebhookDeliveries",
            json!({ "endpointId": endpoint, "first": 100 }),
            Some(&server.tokens.admin),
        )
        .await;
    data(&response, "webhookDeliveries")["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until `test` holds for the endpoint's deliveries.
async fn wait_for_deliveries(
    server: &TestServer,
    endpoint: &str,
    what: &str,
    test: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let found = deliveries(server, endpoint).await;
        if test(&found) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries never got to {what}: {found:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn endpoint_state(server: &TestServer, id: &str) -> Value {
    let response = server
        .gql("WebhookEndpoints", json!({}), Some(&server.tokens.admin))
        .await;
    data(&response, "webhookEndpoints")
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .cloned()
        .unwrap()
}

async fn invite(server: &TestServer, email: &str) -> Value {
    server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": email, "role": "author", "sendEmail": false }),
        )
        .await
}

fn types_of(received: &[Value]) -> Vec<String> {
    let mut types: Vec<String> = received
        .iter()
        .map(|r| r["body"]["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    types
}

async fn every_change_arrives_signed_and_verifies_with_the_standard_library(backend: Backend) {
    let server = spawn_server(backend).await;
    let receiver = Receiver::start(0).await;
    let (all, secret) = create_endpoint(&server, &receiver.url("/all"), &[]).await;
    let (_accepted_only, accepted_secret) = create_endpoint(
        &server,
        &receiver.url("/accepted"),
        &["invitation.accepted"],
    )
    .await;
    receiver.set_secrets(&[&secret, &accepted_secret]).await;

    let accepted = invite(&server, "accept@example.org").await;
    let declined = invite(&server, "decline@example.org").await;
    let revoked = invite(&server, "revoke@example.org").await;
    let accept = server
        .gql(
            "AcceptInvitation",
            json!({ "secret": accepted["secret"], "input": { "name": "Ada", "password": "correct horse battery" } }),
            None,
        )
        .await;
    assert!(accept["errors"].is_null(), "{accept}");
    server
        .gql(
            "DeclineInvitation",
            json!({ "secret": declined["secret"] }),
            None,
        )
        .await;
    for (operation, id) in [
        ("RevokeInvitation", &revoked["id"]),
        ("ResendInvitation", &accepted["id"]),
    ] {
        server
            .gql(operation, json!({ "id": id }), Some(&server.tokens.editor))
            .await;
    }

    // Three created, one accepted, one declined, one revoked to `/all`; the accept also to
    // `/accepted`.
    let received = receiver.wait_for(7).await;
    let to_all: Vec<Value> = received
        .iter()
        .filter(|r| r["path"] == "/all")
        .cloned()
        .collect();
    assert_eq!(
        types_of(&to_all),
        [
            "invitation.accepted",
            "invitation.created",
            "invitation.created",
            "invitation.created",
            "invitation.declined",
            "invitation.revoked",
        ]
    );
    let to_accepted: Vec<&Value> = received
        .iter()
        .filter(|r| r["path"] == "/accepted")
        .collect();
    assert_eq!(to_accepted.len(), 1);
    assert_eq!(to_accepted[0]["body"]["type"], "invitation.accepted");
    for request in &received {
        // Verified by the standard library with the endpoint's own secret, and not the other's.
        let own = if request["path"] == "/all" { 0 } else { 1 };
        assert_eq!(request["verifiedBy"][own], true, "{request:#}");
        assert_eq!(request["verifiedBy"][1 - own], false, "{request:#}");
        assert_eq!(request["contentType"], "application/json");
        let raw = request["raw"].as_str().unwrap();
        for secret_like in ["secret", "accept#", "inviteUrl", "http"] {
            assert!(!raw.contains(secret_like), "{secret_like} in {raw}");
        }
        assert!(request["id"].as_str().unwrap().starts_with("msg_"));
    }
    let ids: std::collections::HashSet<&str> =
        received.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids.len(),
        received.len(),
        "one webhook-id per event and endpoint"
    );

    let accept_body = &to_accepted[0]["body"];
    assert_eq!(accept_body["data"]["invitation"]["id"], accepted["id"]);
    assert_eq!(
        accept_body["data"]["invitation"]["email"],
        "accept@example.org"
    );
    assert_eq!(accept_body["data"]["invitation"]["state"], "ACCEPTED");
    assert_eq!(accept_body["data"]["actor"]["kind"], "INVITEE");
    let revoke_body = &to_all
        .iter()
        .find(|r| r["body"]["type"] == "invitation.revoked")
        .unwrap()["body"];
    assert_eq!(revoke_body["data"]["actor"]["kind"], "EDITOR");
    assert_eq!(revoke_body["data"]["actor"]["name"], "Test editor");

    // The resend of an accepted invitation was refused: no event. The log says so at once
    // (every delivery is in), and nothing more arrives after a test event sent last.
    // The test event is answered at length: the delivery log keeps its first 500 characters.
    receiver.set_answers(&[], 200, 100_000).await;
    let test = server
        .gql(
            "SendTestWebhook",
            json!({ "endpointId": all }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(data(&test, "sendTestWebhook")["eventType"], "webhook.test");
    let received = receiver.wait_for(8).await;
    assert_eq!(received.len(), 8);
    assert_eq!(received[7]["body"]["type"], "webhook.test");
    assert_eq!(received[7]["verifiedBy"][0], true);
    let logged = wait_for_deliveries(&server, &all, "the test delivered", |d| {
        d.first()
            .is_some_and(|d| d["eventType"] == "webhook.test" && d["state"] == "DELIVERED")
    })
    .await;
    let response = logged[0]["attempts"][0]["response"].as_str().unwrap();
    assert_eq!(response.chars().count(), 500);

    receiver.stop().await;
    server.cleanup().await;
}

async fn a_receiver_that_is_down_gets_every_event_once_it_is_up(backend: Backend) {
    let server = spawn_server(backend).await;
    // A port with nothing listening: the receiver is down.
    let down = Receiver::start(0).await;
    let port = down.port;
    down.stop().await;
    let (endpoint, secret) =
        create_endpoint(&server, &format!("http://127.0.0.1:{port}/hook"), &[]).await;
    for n in 0..5 {
        invite(&server, &format!("outage{n}@example.org")).await;
    }
    let failed = wait_for_deliveries(&server, &endpoint, "one failed attempt each", |d| {
        d.len() == 5 && d.iter().all(|d| d["attemptCount"].as_u64() >= Some(1))
    })
    .await;
    for delivery in &failed {
        assert_eq!(delivery["state"], "PENDING");
        let attempt = &delivery["attempts"][0];
        assert!(attempt["statusCode"].is_null());
        assert!(
            attempt["error"].as_str().unwrap().contains("connect"),
            "{attempt}"
        );
    }

    let receiver = Receiver::start(port).await;
    receiver.set_secrets(&[&secret]).await;
    // The retries become due.
    server.advance(TimeDelta::minutes(2));
    let delivered = wait_for_deliveries(&server, &endpoint, "all delivered", |d| {
        d.iter().all(|d| d["state"] == "DELIVERED")
    })
    .await;
    let received = receiver.received().await;
    assert_eq!(received.len(), 5, "each event once: {received:#?}");
    for delivery in &delivered {
        // The same webhook-id on the retry as on the failed attempt.
        let arrived: Vec<&Value> = received
            .iter()
            .filter(|r| r["id"] == delivery["messageId"])
            .collect();
        assert_eq!(arrived.len(), 1, "{delivery:#}");
        assert_eq!(arrived[0]["verifiedBy"][0], true);
        assert!(delivery["attemptCount"].as_u64() >= Some(2));
    }
    assert_eq!(
        endpoint_state(&server, &endpoint).await["failingSince"],
        Value::Null
    );

    // A redelivery sends the same webhook-id again.
    let first = &delivered[0];
    let again = server
        .gql(
            "RedeliverWebhook",
            json!({ "deliveryId": first["id"] }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(
        data(&again, "redeliverWebhook")["messageId"],
        first["messageId"]
    );
    let received = receiver.wait_for(6).await;
    assert_eq!(received[5]["id"], first["messageId"]);

    receiver.stop().await;
    server.cleanup().await;
}

async fn a_410_disables_the_endpoint_and_it_receives_nothing_more(backend: Backend) {
    let server = spawn_server(backend).await;
    let receiver = Receiver::start(0).await;
    receiver.set_statuses(&[], 410).await;
    let witness_receiver = Receiver::start(0).await;
    let (endpoint, _) = create_endpoint(&server, &receiver.url("/gone"), &[]).await;
    let (witness, _) = create_endpoint(&server, &witness_receiver.url("/witness"), &[]).await;
    invite(&server, "first@example.org").await;
    let failed = wait_for_deliveries(&server, &endpoint, "failed", |d| {
        d.len() == 1 && d[0]["state"] == "FAILED"
    })
    .await;
    assert_eq!(failed[0]["attempts"][0]["statusCode"], 410);
    assert_eq!(failed[0]["attemptCount"], 1, "a 410 is not retried");
    let state = endpoint_state(&server, &endpoint).await;
    assert_eq!(state["enabled"], false);
    assert!(
        state["disabledReason"].as_str().unwrap().contains("410"),
        "{state}"
    );

    invite(&server, "second@example.org").await;
    // The witness endpoint got the second event, so it was published: the disabled one has
    // no delivery for it.
    wait_for_deliveries(&server, &witness, "both delivered", |d| {
        d.len() == 2 && d.iter().all(|d| d["state"] == "DELIVERED")
    })
    .await;
    assert_eq!(deliveries(&server, &endpoint).await.len(), 1);
    assert_eq!(receiver.received().await.len(), 1);

    // Enabled again, it receives the next event.
    receiver.set_statuses(&[], 200).await;
    let enabled = server
        .gql(
            "UpdateWebhookEndpoint",
            json!({ "id": endpoint, "input": { "enabled": true } }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(data(&enabled, "updateWebhookEndpoint")["enabled"], true);
    assert_eq!(
        data(&enabled, "updateWebhookEndpoint")["disabledReason"],
        Value::Null
    );
    invite(&server, "third@example.org").await;
    receiver.wait_for(2).await;

    receiver.stop().await;
    witness_receiver.stop().await;
    server.cleanup().await;
}

async fn an_endpoint_that_fails_for_the_whole_horizon_is_disabled(backend: Backend) {
    let server = spawn_server(backend).await;
    let receiver = Receiver::start(0).await;
    receiver.set_statuses(&[], 503).await;
    let (endpoint, _) = create_endpoint(&server, &receiver.url("/flaky"), &[]).await;
    invite(&server, "horizon@example.org").await;
    wait_for_deliveries(&server, &endpoint, "one failed attempt", |d| {
        d.len() == 1 && d[0]["attemptCount"] == 1
    })
    .await;
    // Past the 3-day horizon: the next attempt is the last, and the endpoint says why it
    // was disabled.
    server.advance(TimeDelta::days(3) + TimeDelta::hours(1));
    let failed = wait_for_deliveries(&server, &endpoint, "given up", |d| {
        d[0]["state"] == "FAILED"
    })
    .await;
    assert_eq!(failed[0]["attempts"][0]["statusCode"], 503);
    let state = endpoint_state(&server, &endpoint).await;
    assert_eq!(state["enabled"], false, "{state}");
    assert!(
        state["disabledReason"]
            .as_str()
            .unwrap()
            .contains("failed for 72 hours"),
        "{state}"
    );
    receiver.stop().await;
    server.cleanup().await;
}

async fn a_rotated_secret_signs_beside_the_new_one_during_the_grace_period(backend: Backend) {
    let server = spawn_server(backend).await;
    let receiver = Receiver::start(0).await;
    let (endpoint, old) = create_endpoint(&server, &receiver.url("/rotated"), &[]).await;
    let rotated = server
        .gql(
            "RotateWebhookEndpointSecret",
            json!({ "id": endpoint }),
            Some(&server.tokens.admin),
        )
        .await;
    let new = data(&rotated, "rotateWebhookEndpointSecret")["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    assert!(new.starts_with("whsec_"));
    receiver.set_secrets(&[&old, &new]).await;
    invite(&server, "rotation@example.org").await;
    let received = receiver.wait_for(1).await;
    assert_eq!(
        received[0]["verifiedBy"],
        json!([true, true]),
        "{:#}",
        received[0]
    );
    assert_eq!(
        received[0]["signature"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );

    // After the grace period only the new secret signs.
    server.advance(TimeDelta::hours(25));
    invite(&server, "after-grace@example.org").await;
    let received = receiver.wait_for(2).await;
    let signature = received[1]["signature"].as_str().unwrap();
    assert_eq!(signature.split(' ').count(), 1, "{signature}");
    receiver.stop().await;
    server.cleanup().await;
}

async fn webhook_management_is_for_admins_and_checks_its_input(backend: Backend) {
    let server = spawn_server(backend).await;
    let create = |token: String, url: &'static str, types: Value| {
        let server = &server;
        async move {
            server
                .gql(
                    "CreateWebhookEndpoint",
                    json!({ "input": { "url": url, "eventTypes": types } }),
                    Some(&token),
                )
                .await
        }
    };
    let by_editor = create(
        server.tokens.editor.clone(),
        "http://127.0.0.1:9/x",
        json!([]),
    )
    .await;
    assert_eq!(crate::server::error_code(&by_editor), "FORBIDDEN");
    let anonymous = server.gql("WebhookEndpoints", json!({}), None).await;
    assert_eq!(crate::server::error_code(&anonymous), "UNAUTHENTICATED");
    for (url, types, field) in [
        ("ftp://127.0.0.1/x", json!([]), "url"),
        ("https://user:pw@127.0.0.1/x", json!([]), "url"),
        (
            "http://127.0.0.1:9/x",
            json!(["invitation.exploded"]),
            "eventTypes",
        ),
        (
            "http://127.0.0.1:9/x",
            json!(["webhook.test"]),
            "eventTypes",
        ),
    ] {
        let refused = create(server.tokens.admin.clone(), url, types).await;
        assert_eq!(
            crate::server::error_code(&refused),
            "VALIDATION_FAILED",
            "{refused}"
        );
        assert_eq!(
            refused["errors"][0]["extensions"]["field"], field,
            "{refused}"
        );
    }
    let missing = server
        .gql(
            "RotateWebhookEndpointSecret",
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(crate::server::error_code(&missing), "NOT_FOUND");
    // The secret is shown once: listing never shows it.
    let (_, secret) = create_endpoint(&server, "http://127.0.0.1:9/x", &[]).await;
    let listed = server
        .gql("WebhookEndpoints", json!({}), Some(&server.tokens.admin))
        .await;
    assert!(!listed.to_string().contains(&secret[6..]));
    // At most 50 endpoints.
    for n in 1..50 {
        create_endpoint(&server, &format!("http://127.0.0.1:9/{n}"), &[]).await;
    }
    let one_too_many = create(
        server.tokens.admin.clone(),
        "http://127.0.0.1:9/51",
        json!([]),
    )
    .await;
    assert_eq!(
        crate::server::error_code(&one_too_many),
        "VALIDATION_FAILED"
    );
    assert!(
        one_too_many.to_string().contains("at most 50"),
        "{one_too_many}"
    );
    server.cleanup().await;
}

async fn endpoints_on_private_addresses_are_refused_unless_allowed(backend: Backend) {
    let server = spawn_server_with(
        backend,
        ServerOptions {
            refuse_private_webhooks: true,
            ..ServerOptions::default()
        },
    )
    .await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:192.168.0.1]/hook",
    ] {
        let refused = server
            .gql(
                "CreateWebhookEndpoint",
                json!({ "input": { "url": url } }),
                Some(&server.tokens.admin),
            )
            .await;
        assert_eq!(
            crate::server::error_code(&refused),
            "VALIDATION_FAILED",
            "{url}: {refused}"
        );
        assert_eq!(refused["errors"][0]["extensions"]["field"], "url");
    }
    server.cleanup().await;
}

/// The transport itself refuses a name that resolves to a private address when it sends, so a
/// name that changed after the endpoint was saved (DNS rebinding) reaches nothing inside.
#[tokio::test]
async fn the_transport_refuses_private_addresses_after_resolving_and_never_follows_redirects() {
    let receiver = Receiver::start(0).await;
    receiver.set_statuses(&[], 200).await;
    let strict = HttpWebhookTransport::new(Duration::from_secs(5), 4, false).unwrap();
    let url = cms_invitations::domain::WebhookUrl::parse(&format!(
        "http://localhost:{}/rebound",
        receiver.port
    ))
    .unwrap();
    let request = || WebhookRequest {
        url: &url,
        headers: [
            ("webhook-id", "msg_1".into()),
            ("webhook-timestamp", "1".into()),
            ("webhook-signature", "v1,x".into()),
        ],
        body: "{}",
    };
    let refused = strict.post(request()).await.unwrap_err();
    assert!(
        refused.contains("no address webhooks may reach"),
        "{refused}"
    );
    assert!(strict.vet(&url).await.is_err());
    assert!(receiver.received().await.is_empty());

    let allowed = HttpWebhookTransport::new(Duration::from_secs(5), 4, true).unwrap();
    assert_eq!(allowed.post(request()).await.unwrap().status, 200);
    assert_eq!(receiver.received().await.len(), 1);
    // Of a large answer, 2 KiB are read for the log.
    receiver.set_answers(&[], 200, 1_000_000).await;
    let answer = allowed.post(request()).await.unwrap();
    assert_eq!(answer.excerpt.len(), 2048);
    receiver.set_answers(&[], 200, 0).await;
    assert_eq!(receiver.received().await.len(), 2);
    // A 3xx is an answer like any other, never followed.
    receiver.set_statuses(&[302], 200).await;
    assert_eq!(allowed.post(request()).await.unwrap().status, 302);
    assert_eq!(receiver.received().await.len(), 3);
    receiver.stop().await;
}

/// A subscriber: a node process speaking GraphQL over WebSocket.
pub struct Subscriber {
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl Subscriber {
    pub async fn start(
        server: &TestServer,
        protocol: &str,
        token: Option<&str>,
        query: &str,
    ) -> Self {
        let url = format!("ws://{}/graphql", server.address);
        let mut child = Command::new("node")
            .args(["subscribe.mjs", &url, protocol, token.unwrap_or(""), query])
            .current_dir(EVENTS_DIR)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(value);
                }
            }
        });
        Self { child, lines }
    }

    async fn next(&mut self) -> Value {
        tokio::time::timeout(PATIENCE, self.lines.recv())
            .await
            .expect("a subscription message in time")
            .expect("the subscriber is running")
    }

    /// Skips `ready` and returns the next event message's payload.
    pub async fn next_event(&mut self) -> Value {
        loop {
            let line = self.next().await;
            if line.get("ready").is_some() {
                continue;
            }
            return line;
        }
    }

    /// Subscribed for sure: creates invitations on `server` until one's event arrives, then
    /// drops what the warm-up made beyond it, so that the next message is the test's own.
    async fn warm_up(&mut self, server: &TestServer) {
        self.warm_up_in(server, None).await;
    }

    /// [`Self::warm_up`] with invitations in `scope`, for a subscriber limited to it.
    pub async fn warm_up_in(&mut self, server: &TestServer, scope: Option<&str>) {
        let run = uuid::Uuid::now_v7().simple().to_string();
        for n in 0..20 {
            server
                .create_invitation(
                    &server.tokens.admin,
                    json!({ "email": format!("warm-up-{run}-{n}@example.org"), "role": "author",
                            "sendEmail": false, "scope": scope }),
                )
                .await;
            if let Ok(Some(line)) =
                tokio::time::timeout(Duration::from_secs(2), self.lines.recv()).await
                && line.get("ready").is_none()
            {
                while tokio::time::timeout(Duration::from_millis(300), self.lines.recv())
                    .await
                    .is_ok()
                {}
                return;
            }
        }
        panic!("the subscription never delivered an event");
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

const EVENTS_QUERY: &str = "subscription($types: [String!]) { invitationEvents(types: $types) \
    { id type at invitation { id email state } actor { kind id name } } }";

async fn a_subscriber_sees_each_event_over_both_websocket_protocols(backend: Backend) {
    let server = spawn_server(backend).await;
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let query = EVENTS_QUERY
            .replace("($types: [String!])", "")
            .replace("(types: $types)", "");
        let mut subscriber =
            Subscriber::start(&server, protocol, Some(&server.tokens.viewer), &query).await;
        subscriber.warm_up(&server).await;
        let made = invite(&server, &format!("live-{protocol}@example.org")).await;
        let event = subscriber.next_event().await;
        let message = &event["next"]["data"]["invitationEvents"];
        assert_eq!(message["type"], "invitation.created", "{event}");
        assert_eq!(message["invitation"]["id"], made["id"]);
        assert_eq!(message["invitation"]["state"], "PENDING");
        assert_eq!(message["actor"]["kind"], "EDITOR");
        server
            .gql(
                "RevokeInvitation",
                json!({ "id": made["id"] }),
                Some(&server.tokens.editor),
            )
            .await;
        let event = subscriber.next_event().await;
        assert_eq!(
            event["next"]["data"]["invitationEvents"]["type"],
            "invitation.revoked"
        );
        assert_eq!(
            event["next"]["data"]["invitationEvents"]["invitation"]["state"],
            "REVOKED"
        );
        subscriber.stop().await;
    }
    server.cleanup().await;
}

async fn a_subscription_needs_a_reader_and_filters_by_type(backend: Backend) {
    let server = spawn_server(backend).await;
    let mut anonymous = Subscriber::start(
        &server,
        "graphql-transport-ws",
        None,
        "subscription { invitationEvents { id type } }",
    )
    .await;
    let refused = anonymous.next_event().await;
    assert!(refused.to_string().contains("UNAUTHENTICATED"), "{refused}");
    anonymous.stop().await;

    let mut bad_token = Subscriber::start(
        &server,
        "graphql-transport-ws",
        Some("not-a-token"),
        "subscription { invitationEvents { id type } }",
    )
    .await;
    // Bad credentials refuse the connection (async-graphql closes it with the reason).
    let closed = bad_token.next_event().await;
    assert!(closed["closed"].is_number(), "{closed}");
    assert_eq!(
        closed["reason"], "sign in with an API token to do this",
        "{closed}"
    );
    bad_token.stop().await;

    let mut accepted_only = Subscriber::start(
        &server,
        "graphql-transport-ws",
        Some(&server.tokens.editor),
        "subscription { invitationEvents(types: [\"invitation.accepted\"]) { type invitation { email } } }",
    )
    .await;
    // Warm up with accepts: only they come through.
    let mut delivered = None;
    for n in 0..20 {
        let made = invite(&server, &format!("filter-{n}@example.org")).await;
        server
            .gql(
                "AcceptInvitation",
                json!({ "secret": made["secret"], "input": { "name": "F", "password": "correct horse battery" } }),
                None,
            )
            .await;
        if let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_secs(2), accepted_only.lines.recv()).await
            && line.get("ready").is_none()
        {
            delivered = Some(line);
            break;
        }
    }
    let line = delivered.expect("an accept reaches the filtered subscription");
    assert_eq!(
        line["next"]["data"]["invitationEvents"]["type"],
        "invitation.accepted"
    );
    accepted_only.stop().await;
    server.cleanup().await;
}

crate::on_both_backends!(
    every_change_arrives_signed_and_verifies_with_the_standard_library,
    a_receiver_that_is_down_gets_every_event_once_it_is_up,
    a_410_disables_the_endpoint_and_it_receives_nothing_more,
    an_endpoint_that_fails_for_the_whole_horizon_is_disabled,
    a_rotated_secret_signs_beside_the_new_one_during_the_grace_period,
    webhook_management_is_for_admins_and_checks_its_input,
    endpoints_on_private_addresses_are_refused_unless_allowed,
    a_subscriber_sees_each_event_over_both_websocket_protocols,
    a_subscription_needs_a_reader_and_filters_by_type,
    events_are_stored_with_their_change_and_taken_over_when_their_process_stops,
    host_listeners_run_on_each_event_after_it_is_stored,
    a_subscription_that_falls_behind_ends_with_an_error,
    the_sweeper_purges_logged_events_after_their_retention,
    an_email_that_gives_up_is_a_delivery_failed_event,
);

/// Two instances on one MongoDB: each event is delivered once, whichever instance made it,
/// and a subscriber on one instance sees what the other did.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_deliver_each_event_once_and_subscribers_see_both() {
    let a = spawn_server(Backend::Mongo).await;
    let b = a.another_instance().await;
    let receiver = Receiver::start(0).await;
    let (endpoint, secret) = create_endpoint(&a, &receiver.url("/both"), &[]).await;
    receiver.set_secrets(&[&secret]).await;
    let mut on_b = Subscriber::start(
        &b,
        "graphql-transport-ws",
        Some(&b.tokens.viewer),
        "subscription { invitationEvents { type invitation { id email state } } }",
    )
    .await;
    on_b.warm_up(&a).await;

    let mut made = Vec::new();
    for n in 0..20 {
        let server = if n % 2 == 0 { &a } else { &b };
        made.push(invite(server, &format!("pair{n}@example.org")).await);
    }
    // Accepted on A, seen on B.
    let accept = a
        .gql(
            "AcceptInvitation",
            json!({ "secret": made[1]["secret"], "input": { "name": "Pat", "password": "correct horse battery" } }),
            None,
        )
        .await;
    assert!(accept["errors"].is_null(), "{accept}");
    let mut seen_accept = false;
    for _ in 0..40 {
        let event = on_b.next_event().await;
        let message = &event["next"]["data"]["invitationEvents"];
        if message["type"] == "invitation.accepted" {
            assert_eq!(message["invitation"]["id"], made[1]["id"]);
            assert_eq!(message["invitation"]["state"], "ACCEPTED");
            seen_accept = true;
            break;
        }
    }
    assert!(seen_accept, "B's subscriber saw the accept made on A");

    let total = deliveries(&a, &endpoint).await.len();
    let delivered = wait_for_deliveries(&a, &endpoint, "all delivered", |d| {
        d.iter().all(|d| d["state"] == "DELIVERED")
    })
    .await;
    assert!(total >= 21);
    let received = receiver.received().await;
    let mut ids: Vec<&str> = received.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), received.len(), "no event delivered twice");
    assert_eq!(
        received.len(),
        delivered.len(),
        "each delivery arrived once"
    );
    for request in &received {
        assert_eq!(request["verifiedBy"][0], true);
    }
    on_b.stop().await;
    receiver.stop().await;
    b.cleanup().await;
    a.cleanup().await;
}

async fn events_are_stored_with_their_change_and_taken_over_when_their_process_stops(
    backend: Backend,
) {
    // The service alone: no dispatcher runs, as if its process stopped right after the write.
    let app = spawn_app(backend).await;
    let transport = HttpWebhookTransport::new(Duration::from_secs(1), 1, true).unwrap();
    let make_endpoint = |url: &'static str| {
        let (service, transport) = (&app.service, &transport);
        async move {
            let input = EndpointInput {
                url: Some(url.to_owned()),
                ..EndpointInput::default()
            };
            service
                .create_webhook_endpoint(Some(&admin()), input, transport)
                .await
                .unwrap()
                .endpoint
        }
    };
    let earlier = make_endpoint("http://127.0.0.1:9/early").await;
    let paused = make_endpoint("http://127.0.0.1:9/paused").await;
    let set_enabled = |enabled: bool| {
        let (service, transport) = (&app.service, &transport);
        async move {
            let input = EndpointInput {
                enabled: Some(enabled),
                ..EndpointInput::default()
            };
            service
                .update_webhook_endpoint(Some(&admin()), paused.id, input, transport)
                .await
                .unwrap();
        }
    };
    set_enabled(false).await;
    app.advance(TimeDelta::seconds(1));
    let minted = app.invite("stranded@example.org").await;
    let stored = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(stored.pending_events.len(), 1, "stored in the same write");
    assert_eq!(stored.pending_events[0].event_type, EventType::Created);
    assert!(!stored.pending_events[0].body.contains("secret"));
    // Another process takes it over, but only once the writer's claim ended.
    let other = app.another_process();
    assert_eq!(other.publish_abandoned().await.unwrap(), 0);
    assert_eq!(
        app.store
            .get(minted.invitation.id)
            .await
            .unwrap()
            .unwrap()
            .pending_events
            .len(),
        1
    );
    app.advance(TimeDelta::seconds(31));
    // An endpoint made, or enabled again, after the event happened does not get it, however
    // late it is published.
    set_enabled(true).await;
    let later = make_endpoint("http://127.0.0.1:9/late").await;
    let listener = Arc::new(Recorder::default());
    other.add_listener(listener.clone());
    assert_eq!(other.publish_abandoned().await.unwrap(), 1);
    let queued_for = |id| {
        let service = &app.service;
        async move {
            service
                .webhook_deliveries(Some(&admin()), id, 10, None)
                .await
                .unwrap()
                .0
                .len()
        }
    };
    assert_eq!(queued_for(earlier.id).await, 1);
    assert_eq!(queued_for(later.id).await, 0);
    assert_eq!(queued_for(paused.id).await, 0);
    assert!(
        app.store
            .get(minted.invitation.id)
            .await
            .unwrap()
            .unwrap()
            .pending_events
            .is_empty()
    );
    assert_eq!(listener.types(), ["invitation.created"]);
    // Published once: nothing is left to take over.
    app.advance(TimeDelta::minutes(5));
    assert_eq!(other.publish_abandoned().await.unwrap(), 0);
    assert_eq!(listener.types().len(), 1);
    app.cleanup().await;
}

/// A host listener that records the events it is given.
#[derive(Debug, Default)]
struct Recorder {
    events: Mutex<Vec<LoggedEvent>>,
}

impl Recorder {
    fn types(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.event_type.as_str().to_owned())
            .collect()
    }
}

#[async_trait]
impl InvitationListener for Recorder {
    async fn on_event(&self, event: &LoggedEvent) -> Result<(), BoxError> {
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}

async fn host_listeners_run_on_each_event_after_it_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let listener = Arc::new(Recorder::default());
    app.service.add_listener(listener.clone());
    let service = app.service.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let dispatcher = tokio::spawn(async move {
        service
            .run_dispatcher(Duration::from_secs(60), async move {
                let _ = stopped.await;
            })
            .await;
    });
    let minted = app
        .service
        .create(
            Some(&editor()),
            CreateInvitation {
                send_email: false,
                ..CreateInvitation::new("listened@example.org", "author")
            },
        )
        .await
        .unwrap();
    app.service
        .revoke(Some(&editor()), minted.invitation.id)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while listener.types().len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            listener.types()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        listener.types(),
        ["invitation.created", "invitation.revoked"]
    );
    let events = listener.events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .all(|e| e.invitation_id == minted.invitation.id)
    );
    // Stored before the listener ran: the record holds no pending event any more.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !app
        .store
        .get(minted.invitation.id)
        .await
        .unwrap()
        .unwrap()
        .pending_events
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    dispatcher.await.unwrap();
    app.cleanup().await;
}

/// A subscription that falls more than `subscription_buffer` events behind ends with an error
/// instead of holding the events: its stream is polled once (subscribed), then left alone while
/// events are published.
async fn a_subscription_that_falls_behind_ends_with_an_error(backend: Backend) {
    use async_graphql::futures_util::StreamExt as _;
    let app =
        crate::helpers::spawn_app_with_extra(backend, &[("INVITATIONS_SUBSCRIPTION_BUFFER", "8")])
            .await;
    let service = app.service.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for feed in [false, true] {
        let service = service.clone();
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if feed {
                service.run_shared_feed(until).await;
            } else {
                service.run_dispatcher(Duration::from_secs(60), until).await;
            }
        }));
    }
    let schema = cms_invitations::graphql::schema(
        cms_invitations::graphql::InvitationsModule::new(service.clone(), 0),
        true,
    );
    let request = async_graphql::Request::new("subscription { invitationEvents { type } }").data(
        cms_invitations::graphql::Caller {
            principal: Some(editor()),
            client: None,
            accept_language: None,
        },
    );
    let mut stream = schema.execute_stream(request);
    // Subscribed (the resolver ran), nothing to read yet.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stream.next())
            .await
            .is_err()
    );
    // A first event proves the feed is live (MongoDB's change stream opens asynchronously).
    let mut n = 0;
    loop {
        app.invite(&format!("first-{n}@example.org")).await;
        n += 1;
        if let Ok(Some(first)) = tokio::time::timeout(Duration::from_secs(1), stream.next()).await {
            assert!(first.errors.is_empty(), "{first:?}");
            break;
        }
        assert!(n < 20, "the feed never delivered");
    }
    let log = Arc::new(Recorder::default());
    service.add_listener(log.clone());
    for i in 0..30 {
        app.invite(&format!("behind-{i}@example.org")).await;
    }
    // Every event was published (the listener saw them) while the subscriber read nothing.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while log.types().len() < 30 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The listener runs before the hub is fed, so by now at least 29 of the 30 events are in a
    // buffer of 8: the subscription has fallen behind.
    let mut ended_with = None;
    while let Some(response) = tokio::time::timeout(PATIENCE, stream.next()).await.unwrap() {
        if let Some(error) = response.errors.first() {
            let code = error
                .extensions
                .as_ref()
                .and_then(|e| e.get("code"))
                .cloned();
            assert_eq!(
                code,
                Some(async_graphql::Value::from("UNAVAILABLE")),
                "{error:?}"
            );
            ended_with = Some(error.message.clone());
        }
    }
    let message = ended_with.expect("the subscription ended with an error");
    assert!(message.contains("events behind"), "{message}");
    let _ = stop.send(true);
    for task in tasks {
        task.await.unwrap();
    }
    app.cleanup().await;
}

/// A GraphQL-over-WebSocket connection driven by hand (tokio-tungstenite), for what no client
/// library does on purpose: stay silent, or stop reading. `recv_buffer` shrinks the socket's
/// receive buffer, so that a client that stops reading is felt by the server soon.
async fn raw_socket(
    server: &TestServer,
    recv_buffer: Option<u32>,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let stream = socket.connect(server.address).await.unwrap();
    tokio_tungstenite::client_async(subscription_request(server), stream)
        .await
        .unwrap()
        .0
}

/// Reads until the server closes; the close frame's code, if one came.
async fn closed_with(
    socket: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
) -> Option<u16> {
    use futures_util::StreamExt as _;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the server closed the connection in time")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn a_connection_that_never_initialises_is_closed() {
    let server = spawn_server(Backend::Sqlite).await;
    let mut socket = raw_socket(&server, None).await;
    // Silent: no connection_init. The protocol's code for it is 4408.
    assert_eq!(closed_with(&mut socket).await, Some(4408));
    server.cleanup().await;
}

/// A subscriber that stops reading is disconnected, and the server keeps answering everyone
/// else meanwhile.
#[tokio::test]
async fn a_subscriber_that_stops_reading_is_disconnected_without_slowing_the_server() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let server = spawn_server(Backend::Sqlite).await;
    let mut socket = raw_socket(&server, Some(4096)).await;
    let text = |value: Value| Message::Text(value.to_string().into());
    socket
        .send(text(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", server.tokens.viewer) } })))
        .await
        .unwrap();
    let ack = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(ack.to_string().contains("connection_ack"), "{ack}");
    // Each event fills a large message: the same invitation under many aliases.
    let fields: String = (0..150)
        .map(|i| {
            format!(" a{i}: invitation {{ id email name role groups state expiresAt createdAt }}")
        })
        .collect();
    let query = format!("subscription {{ invitationEvents {{ type{fields} }} }}");
    socket
        .send(text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
        ))
        .await
        .unwrap();
    // From now on the client reads nothing.
    let inputs: Vec<Value> = (0..400)
        .map(|i| json!({ "email": format!("flood{i}@example.org"), "role": "viewer", "sendEmail": false, "name": "A Rather Long Name To Make Each Message Larger" }))
        .collect();
    let created = server
        .gql(
            "CreateInvitations",
            json!({ "inputs": inputs }),
            Some(&server.tokens.editor),
        )
        .await;
    assert_eq!(data(&created, "createInvitations")["failed"], 0);
    // Everyone else is served at once while the subscriber's messages pile up.
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let listed = server
            .query(
                "{ invitations(first: 1) { totalCount } }",
                json!({}),
                Some(&server.tokens.viewer),
            )
            .await;
        assert!(data(&listed, "invitations")["totalCount"].as_u64() >= Some(400));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The server gave up on the subscriber: reading what is buffered ends in a closed
    // connection, not in an endless stream.
    let _ = closed_with(&mut socket).await;
    server.cleanup().await;
}

/// Logged events and finished deliveries go after `event_retention`; pending ones stay.
async fn the_sweeper_purges_logged_events_after_their_retention(backend: Backend) {
    let app = spawn_app(backend).await;
    app.invite("kept-a-month@example.org").await;
    app.advance(TimeDelta::seconds(31));
    assert_eq!(app.service.publish_abandoned().await.unwrap(), 1);
    assert_eq!(app.service.sweep().await.unwrap().purged_events, 0);
    app.advance(TimeDelta::days(30));
    assert_eq!(app.service.sweep().await.unwrap().purged_events, 1);
    assert_eq!(app.service.sweep().await.unwrap().purged_events, 0);
    app.cleanup().await;
}

/// A mail server that refuses every recipient for good.
#[derive(Debug)]
struct Refusing;

#[async_trait]
impl cms_invitations::ports::Mailer for Refusing {
    async fn send(
        &self,
        _email: &cms_invitations::domain::OutgoingEmail,
    ) -> Result<(), cms_invitations::domain::DeliveryFailure> {
        Err(cms_invitations::domain::DeliveryFailure::permanent(
            "550 no such user",
        ))
    }
}

/// An invitation email that gives up is an `invitation.delivery_failed` event, by the system.
async fn an_email_that_gives_up_is_a_delivery_failed_event(backend: Backend) {
    let app = spawn_app(backend).await;
    let listener = Arc::new(Recorder::default());
    app.service.add_listener(listener.clone());
    app.invite("nobody-home@example.org").await;
    let report = app.service.deliver_due(&Refusing).await.unwrap();
    assert_eq!(report.failed, 1);
    app.advance(TimeDelta::seconds(31));
    app.service.publish_abandoned().await.unwrap();
    assert_eq!(
        listener.types(),
        ["invitation.created", "invitation.delivery_failed"]
    );
    let failed = listener.events.lock().unwrap()[1].clone();
    assert_eq!(failed.actor, cms_invitations::domain::EventActor::System);
    assert!(
        failed.body.contains(r#""kind":"SYSTEM""#),
        "{}",
        failed.body
    );
    app.cleanup().await;
}

/// A change stream that fails with an error the driver does not resume from is opened again
/// from the last event seen: the subscriber misses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_change_stream_is_opened_again_and_misses_nothing() {
    let (server, app_name) = crate::server::spawn_mongo_server_named("feed").await;
    let mut subscriber = Subscriber::start(
        &server,
        "graphql-transport-ws",
        Some(&server.tokens.viewer),
        "subscription { invitationEvents { type invitation { email } } }",
    )
    .await;
    subscriber.warm_up(&server).await;
    // A client of its own sets the fail point on this server's change stream: its next getMore
    // fails with ChangeStreamFatalError (280), which the driver does not resume from.
    let fail_point = crate::helpers::FailPoint::set(
        bson::doc! { "times": 1 },
        bson::doc! { "failCommands": ["getMore"], "errorCode": 280, "appName": &app_name },
    )
    .await;
    for email in ["during-loss@example.org", "after-loss@example.org"] {
        invite(&server, email).await;
        let event = subscriber.next_event().await;
        assert_eq!(
            event["next"]["data"]["invitationEvents"]["invitation"]["email"], email,
            "{event}"
        );
    }
    let off = fail_point.off().await;
    // The count is of every command the fail point looked at, so only its sign is telling.
    assert!(
        off.get_i32("count").is_ok_and(|n| n >= 1),
        "the fail point was reached: {off}"
    );
    subscriber.stop().await;
    server.cleanup().await;
}

/// Subscription connections are capped per instance (at `max_connections`): one past the cap is
/// refused with 503 before it upgrades, and a place that frees up is taken again.
#[tokio::test]
async fn subscription_connections_beyond_the_cap_are_refused_until_one_closes() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    let server = spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            max_connections: Some("2"),
            ..ServerOptions::default()
        },
    )
    .await;
    let init = |token: &str| {
        Message::Text(
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } })
                .to_string()
                .into(),
        )
    };
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut socket = raw_socket(&server, None).await;
        socket.send(init(&server.tokens.viewer)).await.unwrap();
        let ack = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(ack.to_string().contains("connection_ack"), "{ack}");
        open.push(socket);
    }
    let refused = tokio_tungstenite::connect_async(subscription_request(&server)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("a third subscription connection was not refused: {other:?}"),
    }
    // Plain HTTP is still served: an upgraded connection does not hold an HTTP slot.
    let listed = server
        .query(
            "{ invitations(first: 1) { totalCount } }",
            json!({}),
            Some(&server.tokens.viewer),
        )
        .await;
    assert_eq!(data(&listed, "invitations")["totalCount"], 0);
    // One closes; its place is taken again.
    let mut first = open.remove(0);
    first.close(None).await.unwrap();
    while first.next().await.is_some() {}
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio_tungstenite::connect_async(subscription_request(&server)).await {
            Ok(_) => break,
            Err(err) => assert!(tokio::time::Instant::now() < deadline, "{err}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.cleanup().await;
}

/// A `graphql-transport-ws` upgrade request to `/graphql`.
fn subscription_request(
    server: &TestServer,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{}/graphql", server.address)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    request
}
