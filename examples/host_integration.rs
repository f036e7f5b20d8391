//! A small host CMS that embeds the Invitations module next to its own GraphQL types and its
//! own authentication.
//!
//! The host has articles and users of its own. It merges the module's query and mutation
//! objects into its schema, maps its users onto the module's permissions, mounts the module's
//! GraphQL route under `/cms`, and runs its own onboarding whenever someone accepts (an
//! [`InvitationListener`]). Run it with:
//!
//! ```sh
//! cargo run --example host_integration
//! curl -s http://127.0.0.1:3000/cms/graphql -H 'x-host-user: root' \
//!   -H 'content-type: application/json' \
//!   -d '{"query":"{ articles { title } invitations { totalCount } }"}'
//! ```

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{EmptySubscription, MergedObject, Object, Schema, SimpleObject};
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use cms_invitations::config::Config;
use cms_invitations::domain::EventType;
use cms_invitations::domain::{Actor, EmailAddress};
use cms_invitations::graphql::{InvitationsModule, InvitationsMutation, InvitationsQuery};
use cms_invitations::http::{GraphqlOptions, graphql_routes};
use cms_invitations::ports::{
    Authenticator, InvitationListener, LoggedEvent, Principal, Store, SystemClock,
};
use cms_invitations::service::Couriers;
use cms_invitations::store::sqlite::SqliteStore;

/// The host's own content type.
#[derive(SimpleObject, Debug, Clone)]
struct Article {
    title: String,
}

#[derive(Debug, Default)]
struct HostQuery;

#[Object]
impl HostQuery {
    async fn articles(&self) -> Vec<Article> {
        vec![Article {
            title: "Hello from the host".to_owned(),
        }]
    }
}

#[derive(Debug, Default)]
struct HostMutation;

#[Object]
impl HostMutation {
    async fn publish(&self, title: String) -> Article {
        Article { title }
    }
}

#[derive(MergedObject, Debug, Default)]
struct Query(HostQuery, InvitationsQuery);

#[derive(MergedObject, Debug, Default)]
struct Mutation(HostMutation, InvitationsMutation);

type HostSchema = Schema<Query, Mutation, EmptySubscription>;

/// The host's own authentication: a session header naming one of its users. Its users' CMS
/// permissions become the module's principal: `root` may grant every role, `moderator` may
/// invite authors, `reader` may only read invitations.
#[derive(Debug)]
struct HostAuth;

#[async_trait::async_trait]
impl Authenticator for HostAuth {
    async fn authenticate(
        &self,
        headers: &HeaderMap,
    ) -> cms_invitations::Result<Option<Principal>> {
        let Some(user) = headers.get("x-host-user").and_then(|v| v.to_str().ok()) else {
            return Ok(None);
        };
        let actor = Actor {
            id: format!("host-user:{user}"),
            name: user.to_owned(),
        };
        let grants: &[&str] = match user {
            "root" => &["admin", "editor", "author", "viewer"],
            "moderator" => &["author"],
            "reader" => &[],
            _ => return Err(cms_invitations::Error::Unauthenticated),
        };
        // The host knows its users' addresses: "invitation accepted" notices go there.
        let email = EmailAddress::parse(&format!("{user}@host.example.org")).ok();
        Ok(Some(
            Principal::new(actor, true, grants.iter().map(|role| (*role).to_owned()))
                .with_email(email),
        ))
    }
}

/// The host's onboarding: when someone accepts, it prepares their workspace (here: a line in
/// `onboarding.log`). It runs after the event is stored, at least once per event; an error
/// would have the module offer the event again later.
#[derive(Debug)]
struct Onboarding {
    log: std::path::PathBuf,
}

#[async_trait::async_trait]
impl InvitationListener for Onboarding {
    async fn on_event(&self, event: &LoggedEvent) -> Result<(), cms_invitations::error::BoxError> {
        if event.event_type != EventType::Accepted {
            return Ok(());
        }
        let body: serde_json::Value = serde_json::from_str(&event.body)?;
        let email = body["data"]["invitation"]["email"]
            .as_str()
            .unwrap_or_default();
        let line = format!("workspace for {email} (event {})\n", event.id);
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?
            .write_all(line.as_bytes())?;
        Ok(())
    }
}

/// The host's application: its own routes plus the module's GraphQL endpoint under `/cms`,
/// and the module's email sender in the background.
pub async fn app(data_dir: &std::path::Path) -> Result<Router, Box<dyn std::error::Error>> {
    let config = Config::load(|name| match name {
        "INVITATIONS_ACCEPT_URL" => Some("https://host.example.org/join".to_owned()),
        // No INVITATIONS_SMTP_URL here: emails land as .eml files in `data_dir/outbox`.
        "INVITATIONS_DATA_DIR" => Some(data_dir.display().to_string()),
        // No INVITATIONS_MESSAGE_KEY either: on SQLite, `service_on` keeps one in
        // `data_dir/message.key`. A host on MongoDB gives every instance the same key.
        _ => None,
    })?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(data_dir.join("invitations.sqlite3")).await?);
    // The host could pass its own `AccountProvisioner` here to create users in its own tables;
    // this one keeps accounts in the module's store.
    let service = cms_invitations::standalone::service_on(&config, store, Arc::new(SystemClock))?;
    // Emails and text messages (SMS invitations): the configured SMTP server and SMS gateway,
    // else `.eml` and `.sms` files in the outbox folder.
    let mailer = cms_invitations::standalone::mailer(&config)?;
    let sms = cms_invitations::standalone::sms_sender(&config)?;
    let sender = service.clone();
    tokio::spawn(async move {
        sender
            .run_sender(
                Couriers::new(mailer.as_ref(), sms.as_ref()),
                Duration::from_secs(1),
                std::future::pending(),
            )
            .await;
    });
    // Events: the host's listener runs on each one; the dispatcher publishes them (and would
    // send webhooks to endpoints an admin made, with a sender like the email one).
    service.add_listener(Arc::new(Onboarding {
        log: data_dir.join("onboarding.log"),
    }));
    let dispatcher = service.clone();
    tokio::spawn(async move {
        dispatcher
            .run_dispatcher(Duration::from_secs(5), std::future::pending())
            .await;
    });
    // Email templates saved by template authors (`saveEmailTemplate`): every instance follows
    // the store within a poll.
    let templates = service.clone();
    tokio::spawn(async move {
        templates.run_template_watcher(std::future::pending()).await;
    });
    let module = InvitationsModule::new(service, config.http.public_rate_limit);
    let schema: HostSchema = module
        .register(Schema::build(
            Query::default(),
            Mutation::default(),
            EmptySubscription,
        ))
        .finish();
    let invitations = graphql_routes(schema, Arc::new(HostAuth), GraphqlOptions::default());
    Ok(Router::new()
        .route("/", get(|| async { "host CMS home" }))
        .nest("/cms", invitations))
}

#[allow(dead_code, clippy::print_stdout)] // Tests include this file and use `app` only.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let router = app(std::path::Path::new("./data/host-example")).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("host CMS on http://127.0.0.1:3000 (GraphQL at /cms/graphql)");
    // With connect info, the module rate-limits public operations per client address;
    // without it, all anonymous callers share one allowance.
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
