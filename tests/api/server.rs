//! Harness for tests over HTTP: the standalone server on 127.0.0.1 port 0, on a store of its
//! own, with an API token per default role, driven with the operations in `fixtures/graphql/`.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::TimeDelta;
use cms_invitations::config::Config;
use cms_invitations::ports::ManualClock;
use cms_invitations::ports::Store;
use cms_invitations::standalone::{self, Server};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::{Backend, Location, Options, config_with, open_store};

/// Settings a test may change before the server starts.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Public operations per minute per client; 0 (the test default) turns the limit off.
    pub public_rate_limit: u32,
    /// Tags the MongoDB connection so that injected faults hit this server only.
    pub mongo_app_name: Option<String>,
    /// `INVITATIONS_CORS_ORIGINS`.
    pub cors_origins: &'static str,
    /// `INVITATIONS_SMTP_URL`; unset: `.eml` files in `data_dir/outbox`.
    pub smtp_url: Option<String>,
    /// `INVITATIONS_EMAIL_TEMPLATES_DIR`, read again before every render.
    pub email_templates_dir: Option<String>,
    /// `INVITATIONS_EMAIL_SEND_TIMEOUT`; unset: `PT5S`.
    pub email_send_timeout: Option<&'static str>,
    /// `INVITATIONS_SMTP_CA_FILE`.
    pub smtp_ca_file: Option<String>,
    /// `INVITATIONS_MAX_BODY_BYTES`; unset: 65536.
    pub max_body_bytes: Option<&'static str>,
    /// `INVITATIONS_RESEND_COOLDOWN`; unset: `PT0S` (tests resend at once).
    pub resend_cooldown: Option<&'static str>,
    /// `INVITATIONS_PERSISTED_QUERY_CACHE_BYTES`; unset: the default.
    pub persisted_query_cache_bytes: Option<&'static str>,
    /// `INVITATIONS_MAX_CONNECTIONS` (also the cap on subscription connections); unset: the
    /// default.
    pub max_connections: Option<&'static str>,
    /// Refuse webhook endpoints on private addresses, as production does. Unset (the test
    /// default): allowed, since every test receiver listens on 127.0.0.1.
    pub refuse_private_webhooks: bool,
    /// `INVITATIONS_EMAIL_REPLY_TO_INVITER`.
    pub reply_to_inviter: bool,
    /// `INVITATIONS_SMS_API_URL` (with a test account, token and sender); unset: `.sms`
    /// files in `data_dir/outbox`.
    pub sms_api_url: Option<String>,
    /// `INVITATIONS_SMS_SEND_TIMEOUT`; unset: `PT5S`.
    pub sms_send_timeout: Option<&'static str>,
}

/// API tokens for the default roles, and some limited to scopes.
#[derive(Clone)]
pub struct Tokens {
    pub admin: String,
    pub editor: String,
    pub author: String,
    pub viewer: String,
    /// An editor limited to the scope `team-a`.
    pub team_a_editor: String,
    /// An admin limited to the scopes `team-a` and `team-c`.
    pub team_a_admin: String,
}

pub struct TestServer {
    pub address: SocketAddr,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub tokens: Tokens,
    pub config: Config,
    /// The bootstrap admin token the first start made, as a user would see it.
    pub bootstrap_token: Option<String>,
    pub location: Option<Location>,
    /// Holds the bootstrap token file and the `.eml` outbox.
    pub data_dir: std::path::PathBuf,
    http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

pub async fn spawn_server(backend: Backend) -> TestServer {
    spawn_server_with(backend, ServerOptions::default()).await
}

/// A server on MongoDB whose client names itself with a fresh app name starting with `prefix`,
/// so that a fail point can aim at its commands alone; the server and the name.
pub async fn spawn_mongo_server_named(prefix: &str) -> (TestServer, String) {
    let app_name = format!("{prefix}-{}", uuid::Uuid::now_v7().simple());
    let server = spawn_server_with(
        Backend::Mongo,
        ServerOptions {
            mongo_app_name: Some(app_name.clone()),
            ..ServerOptions::default()
        },
    )
    .await;
    (server, app_name)
}

pub async fn spawn_server_with(backend: Backend, options: ServerOptions) -> TestServer {
    crate::helpers::capture_logs();
    let data_dir = crate::helpers::temp_dir();
    let rate_limit = options.public_rate_limit.to_string();
    let data_dir_text = data_dir.display().to_string();
    let config = config_with(
        &Options::default(),
        &[
            ("INVITATIONS_LISTEN", "127.0.0.1:0"),
            ("INVITATIONS_DATA_DIR", &data_dir_text),
            ("INVITATIONS_PUBLIC_RATE_LIMIT", &rate_limit),
            ("INVITATIONS_CORS_ORIGINS", options.cors_origins),
            (
                "INVITATIONS_RESEND_COOLDOWN",
                options.resend_cooldown.unwrap_or("PT0S"),
            ),
            (
                "INVITATIONS_MAX_BODY_BYTES",
                options.max_body_bytes.unwrap_or("65536"),
            ),
            (
                "INVITATIONS_PERSISTED_QUERY_CACHE_BYTES",
                options.persisted_query_cache_bytes.unwrap_or("8388608"),
            ),
            (
                "INVITATIONS_SMTP_URL",
                options.smtp_url.as_deref().unwrap_or(""),
            ),
            (
                "INVITATIONS_SMTP_CA_FILE",
                options.smtp_ca_file.as_deref().unwrap_or(""),
            ),
            (
                "INVITATIONS_EMAIL_SEND_TIMEOUT",
                options.email_send_timeout.unwrap_or("PT5S"),
            ),
            (
                "INVITATIONS_EMAIL_TEMPLATES_DIR",
                options.email_templates_dir.as_deref().unwrap_or(""),
            ),
            (
                "INVITATIONS_WEBHOOK_ALLOW_PRIVATE",
                if options.refuse_private_webhooks {
                    "false"
                } else {
                    "true"
                },
            ),
            ("INVITATIONS_WEBHOOK_TIMEOUT", "PT5S"),
            (
                "INVITATIONS_EMAIL_REPLY_TO_INVITER",
                if options.reply_to_inviter {
                    "true"
                } else {
                    "false"
                },
            ),
            (
                "INVITATIONS_MAX_CONNECTIONS",
                options.max_connections.unwrap_or("1024"),
            ),
            (
                "INVITATIONS_SMS_API_URL",
                options.sms_api_url.as_deref().unwrap_or(""),
            ),
            ("INVITATIONS_SMS_ACCOUNT", crate::sms_gateway::ACCOUNT),
            ("INVITATIONS_SMS_TOKEN", crate::sms_gateway::TOKEN),
            ("INVITATIONS_SMS_FROM", crate::sms_gateway::FROM),
            (
                "INVITATIONS_SMS_SEND_TIMEOUT",
                options.sms_send_timeout.unwrap_or("PT5S"),
            ),
            (
                "INVITATIONS_EMAIL_TEMPLATES_RELOAD",
                if options.email_templates_dir.is_some() {
                    "true"
                } else {
                    "false"
                },
            ),
        ],
    );
    let (store, location) = open_store(backend, &config, options.mongo_app_name.as_deref()).await;
    let clock = Arc::new(ManualClock::starting_now());
    let mut server = Server::bind_on(&config, store.clone(), clock.clone())
        .await
        .unwrap();
    let bootstrap_token = server.take_bootstrap_token().map(|t| t.expose().to_owned());
    let address = server.local_addr().unwrap();
    let tokens = standalone::tokens_on(&config, store.clone(), clock.clone());
    let token = |role: &'static str, scopes: &'static [&'static str]| {
        let tokens = tokens.clone();
        async move {
            let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
            tokens
                .create(standalone::NewToken {
                    role,
                    name: Some(&format!("Test {role}")),
                    email: Some(&format!("{role}@example.org")),
                    expires_in: None,
                    scopes: &scopes,
                })
                .await
                .unwrap()
                .expose()
                .to_owned()
        }
    };
    let tokens = Tokens {
        admin: token("admin", &[]).await,
        editor: token("editor", &[]).await,
        author: token("author", &[]).await,
        viewer: token("viewer", &[]).await,
        team_a_editor: token("editor", &["team-a"]).await,
        team_a_admin: token("admin", &["team-a", "team-c"]).await,
    };
    let (shutdown, task) = run(server);
    TestServer {
        address,
        store,
        clock,
        tokens,
        config,
        bootstrap_token,
        location: Some(location),
        data_dir,
        http: reqwest::Client::new(),
        shutdown: Some(shutdown),
        task: Some(task),
    }
}

/// Runs `server` until the returned sender fires (or is dropped).
fn run(server: Server) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (shutdown, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stop.await;
    }));
    (shutdown, task)
}

/// The text of `fixtures/graphql/<name>.graphql`.
pub fn operation(name: &str) -> String {
    let path = format!(
        "{}/fixtures/graphql/{name}.graphql",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"))
}

impl TestServer {
    /// A second server instance on the same MongoDB database, with its own connection, event
    /// dispatcher, webhook sender and change stream, as another process of a deployment.
    /// Shares the clock. The first instance's cleanup drops the database.
    pub async fn another_instance(&self) -> TestServer {
        let Some(Location::Mongo(first)) = &self.location else {
            panic!("several instances share a MongoDB database only");
        };
        let data_dir = crate::helpers::temp_dir();
        let mut config = self.config.clone();
        config.store.data_dir = data_dir.clone();
        let store = cms_invitations::store::mongo::MongoStore::connect(
            &crate::helpers::mongodb_uri(),
            first.database().name(),
            config.store.retention,
        )
        .await
        .unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let server = Server::bind_on(&config, store.clone(), self.clock.clone())
            .await
            .unwrap();
        let address = server.local_addr().unwrap();
        let (shutdown, task) = run(server);
        TestServer {
            address,
            store,
            clock: self.clock.clone(),
            tokens: self.tokens.clone(),
            config,
            bootstrap_token: None,
            location: None,
            data_dir,
            http: reqwest::Client::new(),
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    /// The server's (manual) clock, now.
    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use cms_invitations::ports::Clock as _;
        self.clock.now()
    }

    /// A new API token for `role`, named `name`, with notices to `email`.
    pub async fn token(&self, role: &str, name: &str, email: Option<&str>) -> String {
        standalone::tokens_on(&self.config, self.store.clone(), self.clock.clone())
            .create(standalone::NewToken {
                role,
                name: Some(name),
                email,
                ..standalone::NewToken::default()
            })
            .await
            .unwrap()
            .expose()
            .to_owned()
    }

    /// Runs the operation file `name` with `variables`, as `token` (None: anonymous), and
    /// returns the whole response body. Asserts HTTP 200.
    pub async fn gql(&self, name: &str, variables: Value, token: Option<&str>) -> Value {
        self.query(&operation(name), variables, token).await
    }

    /// `createInvitation` with `input` as `token`; the created invitation (asserts no errors).
    pub async fn create_invitation(&self, token: &str, input: Value) -> Value {
        let response = self
            .gql("CreateInvitation", json!({ "input": input }), Some(token))
            .await;
        data(&response, "createInvitation").clone()
    }

    /// The text of the `.eml` in the outbox that holds `needle`, waiting at most 30 s.
    pub async fn mail_with(&self, needle: &str) -> String {
        let outbox = self.data_dir.join("outbox");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let found = std::fs::read_dir(&outbox).ok().and_then(|entries| {
                entries
                    .flatten()
                    .filter(|f| f.path().extension().is_some_and(|e| e == "eml"))
                    .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
                    .find(|text| text.contains(needle))
            });
            if let Some(mail) = found {
                return mail;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no email with {needle:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// Runs a GraphQL document given inline.
    pub async fn query(&self, document: &str, variables: Value, token: Option<&str>) -> Value {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": document, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "HTTP status of {document}");
        response.json().await.unwrap()
    }

    /// Stops the server and removes what the test stored.
    pub async fn cleanup(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        drop(self.store);
        let _ = std::fs::remove_dir_all(&self.data_dir);
        match self.location.take() {
            Some(Location::Sqlite(dir)) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Some(Location::Mongo(store)) => store.database().drop().await.unwrap(),
            None => {}
        }
    }
}

/// The HTTP status of `response` and the error code of its body, if it has one.
pub async fn status_and_code(response: reqwest::Response) -> (u16, Option<String>) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let code = body["errors"][0]["extensions"]["code"].as_str();
    (status, code.map(str::to_owned))
}

/// The `extensions.code` of the first error, or panics showing the response.
pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {response:#}"))
}

/// `data.<field>` of a response that must have no errors.
pub fn data<'a>(response: &'a Value, field: &str) -> &'a Value {
    assert!(
        response.get("errors").is_none(),
        "unexpected errors: {response:#}"
    );
    &response["data"][field]
}
