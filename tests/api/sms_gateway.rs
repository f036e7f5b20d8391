//! A local SMS gateway for tests, speaking the Twilio Messages API's shape on 127.0.0.1 port 0:
//! `POST /2010-04-01/Accounts/<account>/Messages.json`, form-encoded `To`, `From` and `Body`,
//! HTTP basic auth, a JSON answer with the message's `sid` or an error's `code` and `message`.
//! A test tells it to fail, hang or refuse numbers, and reads what it received.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use serde_json::json;

pub const ACCOUNT: &str = "ACtest00000000000000000000000000";
pub const TOKEN: &str = "test-sms-token-0123456789";
pub const FROM: &str = "+15005550006";

/// One message the gateway took.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: String,
    pub from: String,
    pub body: String,
}

/// How the gateway answers the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 201 with a sid.
    Accept,
    /// This status, with a JSON error.
    Fail(u16),
    /// No answer for a minute (the sender's timeout ends the attempt first).
    Hang,
}

#[derive(Debug)]
struct Gate {
    mode: Mode,
    /// Requests answered with `then` before `mode` applies again.
    next: Vec<Mode>,
    /// Numbers refused for good (Twilio's 21211, not a valid phone number).
    refused: Vec<String>,
    received: Vec<Received>,
    /// Every request's `To`, answered or not.
    requests: Vec<String>,
}

#[derive(Clone)]
pub struct Gateway {
    pub url: String,
    gate: Arc<Mutex<Gate>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl Gateway {
    pub async fn start() -> Self {
        let gate = Arc::new(Mutex::new(Gate {
            mode: Mode::Accept,
            next: Vec::new(),
            refused: Vec::new(),
            received: Vec::new(),
            requests: Vec::new(),
        }));
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Messages.json",
                post(messages),
            )
            .with_state(gate.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            gate,
            task: Arc::new(task),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Gate) -> T) -> T {
        f(&mut self.gate.lock().unwrap())
    }

    pub fn set_mode(&self, mode: Mode) {
        self.with(|gate| gate.mode = mode);
    }

    /// The next requests are answered as `modes` say, in order; then `mode` again.
    pub fn then(&self, modes: &[Mode]) {
        self.with(|gate| gate.next.extend_from_slice(modes));
    }

    pub fn refuse(&self, number: &str) {
        self.with(|gate| gate.refused.push(number.to_owned()));
    }

    pub fn received(&self) -> Vec<Received> {
        self.with(|gate| gate.received.clone())
    }

    /// How many requests came, answered or not.
    pub fn requests(&self) -> usize {
        self.with(|gate| gate.requests.len())
    }

    /// Waits (at most 30 s) until `count` messages were taken.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway took {} of {count} messages",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn error(status: u16, code: u32, message: &str) -> (StatusCode, String) {
    (
        StatusCode::from_u16(status).unwrap(),
        json!({ "code": code, "message": message, "status": status }).to_string(),
    )
}

async fn messages(
    State(gate): State<Arc<Mutex<Gate>>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"))
    );
    let authorized = headers
        .get("authorization")
        .is_some_and(|value| value.as_bytes() == expected.as_bytes());
    if account != ACCOUNT || !authorized {
        return error(401, 20003, "Authenticate");
    }
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let (to, from, text) = (field("To"), field("From"), field("Body"));
    let mode = {
        let mut gate = gate.lock().unwrap();
        gate.requests.push(to.clone());
        if gate.next.is_empty() {
            gate.mode
        } else {
            gate.next.remove(0)
        }
    };
    match mode {
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return error(504, 20500, "too late");
        }
        Mode::Fail(status) => return error(status, 20500, "Service Unavailable"),
        Mode::Accept => {}
    }
    let mut gate = gate.lock().unwrap();
    if gate.refused.contains(&to) {
        return error(
            400,
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    if to.is_empty() || text.is_empty() || from != FROM {
        return error(400, 21604, "A 'To', 'From' and 'Body' are required.");
    }
    let sid = format!("SM{:032x}", gate.received.len() + 1);
    gate.received.push(Received {
        to: to.clone(),
        from,
        body: text,
    });
    (
        StatusCode::CREATED,
        json!({ "sid": sid, "to": to, "status": "queued", "error_code": null }).to_string(),
    )
}
