//! The standalone server's wing: everything a host embedding the module brings itself.
//!
//! - wiring: the configured store, the system clock, the mailer, the service and the HTTP
//!   server (this file), with one [`StartupError`] for what can go wrong on the way;
//! - the message key for the embedded store when none is configured ([`MESSAGE_KEY_FILE`]);
//! - API tokens for editors, an [`Authenticator`](crate::ports::Authenticator) ([`tokens`]);
//! - the account provisioner that keeps accounts in the module's own store, with Argon2id
//!   password hashing ([`StoreProvisioner`]);
//! - loading demo invitations from a file ([`seed`]).

mod error;
mod message_key;
mod password;
mod provisioner;
pub mod seed;
pub mod tokens;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use error::StartupError;
pub use message_key::MESSAGE_KEY_FILE;
pub use provisioner::StoreProvisioner;
pub use tokens::{ApiTokens, IssuedToken, NewToken};

use crate::config::Config;
use crate::domain::IsoDuration;
use crate::email::{FileMailer, Sender, SmtpMailer, prune_outbox};
use crate::http::{ConnectionLimits, ServerParts, server_router};
use crate::ports::{Clock, Mailer, SmsSender, Store, StoreResult, SystemClock, WebhookTransport};
use crate::service::{Couriers, InvitationService, Settings};
use crate::sms::{FileSmsSender, GatewaySettings, MessagesApiGateway};
use crate::store::mongo::MongoStore;
use crate::store::sqlite::SqliteStore;
use crate::webhook::HttpWebhookTransport;

/// File name of the embedded store inside `data_dir`.
pub const SQLITE_FILE: &str = "invitations.sqlite3";

/// File in `data_dir` that keeps the bootstrap admin token, readable by its owner only.
pub const BOOTSTRAP_TOKEN_FILE: &str = "bootstrap-admin-token";

/// Folder in `data_dir` that receives `.eml` files when no SMTP server is configured.
pub const OUTBOX_DIR: &str = "outbox";

/// How often the sender looks for due messages besides being woken by a change.
const SENDER_POLL: Duration = Duration::from_secs(1);
/// How often a dispatcher looks for events another process stored and did not publish.
const TAKEOVER_POLL: Duration = Duration::from_secs(5);

/// The configured SMTP server, else the `.eml` outbox folder under `data_dir`.
pub fn mailer(config: &Config) -> Result<Arc<dyn Mailer>, StartupError> {
    let email = &config.email;
    let sender = Sender::parse(&email.email_from).map_err(StartupError::Mailer)?;
    let Some(url) = &email.smtp_url else {
        let outbox = config.store.data_dir.join(OUTBOX_DIR);
        return Ok(Arc::new(FileMailer::new(outbox, sender)));
    };
    let extra_roots = match &email.smtp_ca_file {
        None => None,
        Some(path) => Some(std::fs::read(path).map_err(|err| {
            StartupError::Mailer(format!(
                "cannot read smtp_ca_file {}: {err}",
                path.display()
            ))
        })?),
    };
    let timeout = email
        .email_send_timeout
        .as_time_delta()
        .to_std()
        .unwrap_or(Duration::from_secs(30));
    let mailer = SmtpMailer::new(
        url.expose(),
        sender,
        email.smtp_pool_size,
        timeout,
        extra_roots.as_deref(),
    )
    .map_err(StartupError::Mailer)?;
    Ok(Arc::new(mailer))
}

/// The configured SMS gateway, else the `.sms` outbox folder under `data_dir`.
pub fn sms_sender(config: &Config) -> Result<Arc<dyn SmsSender>, StartupError> {
    let sms = &config.sms;
    let Some(api_url) = &sms.sms_api_url else {
        let outbox = config.store.data_dir.join(OUTBOX_DIR);
        return Ok(Arc::new(FileSmsSender::new(outbox)));
    };
    let gateway = MessagesApiGateway::new(GatewaySettings {
        api_url: api_url.clone(),
        account: sms.sms_account.clone(),
        token: sms
            .sms_token
            .as_ref()
            .map(|token| token.expose().to_owned())
            .unwrap_or_default(),
        from: sms.sms_from.clone(),
        timeout: std_duration(sms.sms_send_timeout),
        concurrency: usize::try_from(sms.sms_concurrency).unwrap_or(1),
    })
    .map_err(StartupError::Sms)?;
    Ok(Arc::new(gateway))
}

/// The webhook transport the configuration describes.
pub fn webhook_transport(config: &Config) -> Result<Arc<dyn WebhookTransport>, StartupError> {
    let settings = crate::service::WebhookSettings::from_config(&config.webhooks);
    let transport = HttpWebhookTransport::new(
        settings.timeout,
        settings.concurrency,
        settings.allow_private,
    )
    .map_err(StartupError::Webhooks)?;
    Ok(Arc::new(transport))
}

/// MongoDB when a URI is configured, else the embedded SQLite file under `data_dir`.
pub async fn open_store(config: &Config) -> StoreResult<Arc<dyn Store>> {
    let store = &config.store;
    Ok(match &store.mongodb_uri {
        Some(uri) => Arc::new(
            MongoStore::connect(uri.expose(), &store.mongodb_database, store.retention).await?,
        ),
        None => Arc::new(SqliteStore::open(config.store.data_dir.join(SQLITE_FILE)).await?),
    })
}

/// The service as the standalone server runs it.
pub async fn service(config: &Config) -> Result<InvitationService, StartupError> {
    // A missing key is found before the store is reached.
    let config = message_key::with_message_key(config)?;
    let store = open_store(&config).await?;
    service_on(&config, store, Arc::new(SystemClock))
}

/// The service on a given store and clock (tests pass their own).
pub fn service_on(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> Result<InvitationService, StartupError> {
    let provisioner = Arc::new(StoreProvisioner::new(
        store.clone(),
        clock.clone(),
        config.rules.existing_account_policy,
    ));
    Ok(InvitationService::new(
        store,
        clock,
        provisioner,
        Settings::from_config(message_key::with_message_key(config)?.as_ref())
            .map_err(StartupError::Service)?,
    ))
}

/// API tokens on the configured store.
pub fn tokens_on(config: &Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> ApiTokens {
    ApiTokens::new(store, clock, config.roles.clone())
}

/// A bound, not yet running, standalone server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    router: axum::Router,
    service: InvitationService,
    mailer: Arc<dyn Mailer>,
    sms: Arc<dyn SmsSender>,
    webhooks: Arc<dyn WebhookTransport>,
    /// Without SMTP or an SMS gateway: the outbox folder and how long its files stay.
    outbox_pruning: Option<(PathBuf, Duration)>,
    sweep_interval: Duration,
    limits: ConnectionLimits,
    bootstrap: Option<IssuedToken>,
}

impl Server {
    /// Opens the configured store and binds `config.http.listen`.
    pub async fn bind(config: &Config) -> Result<Self, StartupError> {
        // A missing key is found before the store is reached.
        let config = message_key::with_message_key(config)?;
        let store = open_store(&config).await?;
        Self::bind_on(&config, store, Arc::new(SystemClock)).await
    }

    /// Binds `config.http.listen` (port 0 picks a free port) serving `store`. On an empty token
    /// table, makes the bootstrap admin token and keeps a copy in `data_dir` (mode 0600).
    pub async fn bind_on(
        config: &Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let data_dir = &config.store.data_dir;
        crate::fs::private_dir(data_dir).map_err(|source| StartupError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let service = service_on(config, store.clone(), clock.clone())?;
        // The stored templates are in force from the first request (the watcher keeps them so).
        if let Err(err) = service.refresh_templates().await {
            tracing::warn!(error = %err, "could not read the stored email templates; retrying in the background");
        }
        let tokens = tokens_on(config, store, clock);
        let bootstrap = bootstrap(&tokens, &bootstrap_token_path(data_dir)).await?;
        let mailer = mailer(config)?;
        let sms = sms_sender(config)?;
        let webhooks = webhook_transport(config)?;
        let writes_files = config.email.smtp_url.is_none() || config.sms.sms_api_url.is_none();
        let outbox_pruning = match config.email.outbox_retention {
            Some(retention) if writes_files => {
                Some((data_dir.join(OUTBOX_DIR), std_duration(retention)))
            }
            _ => None,
        };
        let router = server_router(ServerParts {
            service: service.clone(),
            authenticator: Arc::new(tokens),
            public_rate_limit: config.http.public_rate_limit,
            max_body_bytes: config.http.max_body_bytes,
            persisted_query_cache_bytes: config.http.persisted_query_cache_bytes,
            cors_origins: config.http.cors_origins.clone(),
            trusted_proxies: if config.http.trust_forwarded_for {
                config.http.trusted_proxies
            } else {
                0
            },
            request_timeout: std_duration(config.http.request_timeout),
            introspection: config.http.introspection,
            metrics_token: config.http.metrics_token.clone(),
            webhook_transport: webhooks.clone(),
            max_subscription_connections: config.http.max_connections,
        });
        let listener = TcpListener::bind(config.http.listen)
            .await
            .map_err(|source| StartupError::Bind {
                address: config.http.listen,
                source,
            })?;
        Ok(Self {
            listener,
            router,
            service,
            mailer,
            sms,
            webhooks,
            outbox_pruning,
            sweep_interval: std_duration(config.store.sweep_interval),
            limits: ConnectionLimits {
                header_read_timeout: std_duration(config.http.header_read_timeout),
                max_connections: config.http.max_connections,
                shutdown_grace: std_duration(config.http.shutdown_grace),
            },
            bootstrap,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The token made on first start, if this start made one. Show it once.
    pub fn take_bootstrap_token(&mut self) -> Option<IssuedToken> {
        self.bootstrap.take()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight (for at most
    /// `shutdown_grace`). The expiry sweeper and the email sender run alongside.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let service = self.service.clone();
        let interval = self.sweep_interval;
        let mut sweeper_stop = stop_rx.clone();
        let sweeper = tokio::spawn(async move {
            service
                .run_sweeper(interval, async move {
                    let _ = sweeper_stop.wait_for(|stop| *stop).await;
                })
                .await;
        });
        let service = self.service.clone();
        let (mailer, sms) = (self.mailer.clone(), self.sms.clone());
        let mut sender_stop = stop_rx.clone();
        let sender = tokio::spawn(async move {
            service
                .run_sender(
                    Couriers::new(mailer.as_ref(), sms.as_ref()),
                    SENDER_POLL,
                    async move {
                        let _ = sender_stop.wait_for(|stop| *stop).await;
                    },
                )
                .await;
        });
        let mut background = Vec::new();
        let service = self.service.clone();
        let mut stop = stop_rx.clone();
        background.push(tokio::spawn(async move {
            service
                .run_dispatcher(TAKEOVER_POLL, async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await;
        }));
        let service = self.service.clone();
        let webhooks = self.webhooks.clone();
        let mut stop = stop_rx.clone();
        background.push(tokio::spawn(async move {
            service
                .run_webhook_sender(webhooks.as_ref(), SENDER_POLL, async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await;
        }));
        let service = self.service.clone();
        let mut stop = stop_rx.clone();
        background.push(tokio::spawn(async move {
            service
                .run_shared_feed(async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await;
        }));
        let service = self.service.clone();
        let mut stop = stop_rx.clone();
        background.push(tokio::spawn(async move {
            service
                .run_template_watcher(async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await;
        }));
        let pruner = self.outbox_pruning.map(|(outbox, retention)| {
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                loop {
                    let folder = outbox.clone();
                    match tokio::task::spawn_blocking(move || prune_outbox(&folder, retention))
                        .await
                    {
                        Ok(Ok(0)) => {}
                        Ok(Ok(pruned)) => {
                            tracing::info!(
                                pruned,
                                "old .eml and .sms files removed from the outbox"
                            );
                        }
                        Ok(Err(err)) => tracing::warn!(error = %err, "cannot prune the outbox"),
                        Err(err) => tracing::warn!(error = %err, "the outbox pruner stopped"),
                    }
                    tokio::select! {
                        () = tokio::time::sleep(interval) => {}
                        _ = stop.wait_for(|stop| *stop) => break,
                    }
                }
            })
        });
        let stopping = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        crate::http::serve(self.listener, self.router, self.limits, stopping).await;
        let _ = sweeper.await;
        let _ = sender.await;
        for task in background {
            let _ = task.await;
        }
        if let Some(pruner) = pruner {
            let _ = pruner.await;
        }
    }
}

/// A configured duration for the timers (they are bounded by the parsers, never negative).
fn std_duration(duration: IsoDuration) -> Duration {
    duration.as_time_delta().to_std().unwrap_or_default()
}

pub fn bootstrap_token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(BOOTSTRAP_TOKEN_FILE)
}

/// On an empty token table, makes the first admin token. Its copy is written (privately, and
/// synced) before the token is stored, so a stored token always has its file: a file of its
/// own first, renamed into place once the token is stored, removed if another server stored
/// one first.
async fn bootstrap(tokens: &ApiTokens, path: &Path) -> Result<Option<IssuedToken>, StartupError> {
    let Some(issued) = tokens
        .mint_bootstrap()
        .await
        .map_err(StartupError::Bootstrap)?
    else {
        return Ok(None);
    };
    let file_error = |path: &Path| {
        let path = path.to_owned();
        move |source| StartupError::BootstrapFile { path, source }
    };
    let pending = path.with_extension(format!("{}.new", uuid::Uuid::now_v7()));
    write_private(&pending, issued.expose()).map_err(file_error(&pending))?;
    match tokens.store_bootstrap(&issued).await {
        Ok(true) => {
            std::fs::rename(&pending, path).map_err(file_error(path))?;
            Ok(Some(issued))
        }
        Ok(false) => {
            let _ = std::fs::remove_file(&pending);
            Ok(None)
        }
        Err(err) => {
            let _ = std::fs::remove_file(&pending);
            Err(StartupError::Bootstrap(err))
        }
    }
}

/// Writes `content` to a new file only its owner can read, in a folder only its owner can.
fn write_private(path: &Path, content: &str) -> io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        crate::fs::private_dir(dir)?;
    }
    let mut file = crate::fs::private_file(path)?;
    file.write_all(content.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}
