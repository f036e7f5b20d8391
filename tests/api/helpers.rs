//! Test harness: a fresh, isolated store per test on either backend, a manual clock, and the
//! service wired as the standalone server wires it.

use std::sync::Arc;

use chrono::TimeDelta;
use cms_invitations::config::{Config, ExistingAccountPolicy};
use cms_invitations::domain::{Actor, MessageKey, MessageKeys};
use cms_invitations::ports::{AccountProvisioner, Store};
use cms_invitations::ports::{Clock, ManualClock};
use cms_invitations::service::{
    CreateInvitation, InvitationService, Listing, Minted, Principal, Settings, Total,
};
use cms_invitations::service::{InvitationFilter, ListRequest};
use cms_invitations::standalone::StoreProvisioner;
use cms_invitations::store::mongo::MongoStore;
use cms_invitations::store::sqlite::SqliteStore;

/// The MongoDB the tests use; `scripts/test.sh` starts one and sets this.
pub const MONGODB_URI_VAR: &str = "INVITATIONS_TEST_MONGODB_URI";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Mongo,
}

/// What a test may want to tune before the app starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub existing_accounts: ExistingAccountPolicy,
    pub retention: Option<&'static str>,
    pub redirect_allow_list: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            existing_accounts: ExistingAccountPolicy::Attach,
            retention: Some("P30D"),
            redirect_allow_list: "https://app.example.org/join",
        }
    }
}

pub struct TestApp {
    pub service: InvitationService,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    /// The SQLite file, or the MongoDB database, this test owns.
    pub location: Location,
}

pub enum Location {
    Sqlite(std::path::PathBuf),
    Mongo(MongoStore),
}

pub fn mongodb_uri() -> String {
    std::env::var(MONGODB_URI_VAR).unwrap_or_else(|_| {
        panic!(
            "{MONGODB_URI_VAR} is not set: the MongoDB half of the contract suite needs a real mongod. \
             Run the tests with scripts/test.sh, which installs and starts one."
        )
    })
}

pub fn config(options: &Options) -> Config {
    config_with(options, &[])
}

/// The key every in-process test app seals queued emails with (32 bytes of 0x2a).
pub const TEST_MESSAGE_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// The keys that open what the in-process test apps queue.
pub fn message_keys() -> MessageKeys {
    MessageKeys::new(MessageKey::parse(TEST_MESSAGE_KEY).unwrap(), Vec::new())
}

/// The test configuration, with `extra` settings on top (`(ENV_NAME, value)`).
pub fn config_with(options: &Options, extra: &[(&str, &str)]) -> Config {
    let retention = options.retention.unwrap_or("off");
    let vars = [
        ("INVITATIONS_RETENTION", retention),
        // Tests resend at once; `tests/api/edge.rs` tests the cooldown itself.
        ("INVITATIONS_RESEND_COOLDOWN", "PT0S"),
        (
            "INVITATIONS_REDIRECT_ALLOW_LIST",
            options.redirect_allow_list,
        ),
        ("INVITATIONS_ACCEPT_URL", "https://cms.example.org/accept"),
        ("INVITATIONS_MESSAGE_KEY", TEST_MESSAGE_KEY),
        ("INVITATIONS_METADATA_MAX_BYTES", "1024"),
        (
            "INVITATIONS_EXISTING_ACCOUNT_POLICY",
            match options.existing_accounts {
                ExistingAccountPolicy::Attach => "attach",
                ExistingAccountPolicy::Refuse => "refuse",
            },
        ),
    ];
    Config::load(|name| {
        extra
            .iter()
            .chain(vars.iter())
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap()
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Options) -> TestApp {
    let policy = options.existing_accounts;
    spawn_app_provisioned_by(backend, options, |store, clock| {
        Arc::new(StoreProvisioner::new(store, clock, policy))
    })
    .await
}

/// An app with `extra` settings (`(ENV_NAME, value)`) over the test configuration.
pub async fn spawn_app_with_extra(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let config = config_with(&Options::default(), extra);
    spawn_app_on(backend, &config, |store, clock| {
        Arc::new(StoreProvisioner::new(
            store,
            clock,
            ExistingAccountPolicy::Attach,
        ))
    })
    .await
}

/// An app whose accounts are provisioned by what `provisioner` makes of the store and clock.
pub async fn spawn_app_provisioned_by(
    backend: Backend,
    options: Options,
    provisioner: impl FnOnce(Arc<dyn Store>, Arc<dyn Clock>) -> Arc<dyn AccountProvisioner>,
) -> TestApp {
    spawn_app_on(backend, &config(&options), provisioner).await
}

async fn spawn_app_on(
    backend: Backend,
    config: &Config,
    provisioner: impl FnOnce(Arc<dyn Store>, Arc<dyn Clock>) -> Arc<dyn AccountProvisioner>,
) -> TestApp {
    capture_logs();
    let (store, location) = open_store(backend, config, None).await;
    let clock = Arc::new(ManualClock::starting_now());
    let provisioner = provisioner(store.clone(), clock.clone());
    let settings = Settings::from_config(config).unwrap();
    let service = InvitationService::new(store.clone(), clock.clone(), provisioner, settings);
    TestApp {
        service,
        store,
        clock,
        location,
    }
}

/// A fresh store of its own for one test: a new SQLite file in a new directory, or a new
/// MongoDB database. `app_name` tags the MongoDB connection (fault injection targets it).
pub async fn open_store(
    backend: Backend,
    config: &Config,
    app_name: Option<&str>,
) -> (Arc<dyn Store>, Location) {
    match backend {
        Backend::Sqlite => {
            let dir = temp_dir();
            let path = dir.join("invitations.sqlite3");
            let store = SqliteStore::open(&path).await.unwrap();
            (Arc::new(store), Location::Sqlite(dir))
        }
        Backend::Mongo => {
            let database = format!("test_{}", uuid::Uuid::now_v7().simple());
            let uri = match app_name {
                Some(name) => {
                    let uri = mongodb_uri();
                    let joiner = if uri.contains('?') { '&' } else { '?' };
                    format!("{uri}{joiner}appName={name}")
                }
                None => mongodb_uri(),
            };
            let store = MongoStore::connect(&uri, &database, config.store.retention)
                .await
                .unwrap_or_else(|err| {
                    panic!(
                        "cannot reach the test MongoDB at {}: {err:?}",
                        mongodb_uri()
                    )
                });
            (Arc::new(store.clone()), Location::Mongo(store))
        }
    }
}

/// A new, empty directory under the system's temporary directory.
pub fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cms-invitations-test-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl TestApp {
    /// Removes what the test stored. Tests call it at the end; a failed test leaves its data
    /// for inspection.
    pub async fn cleanup(self) {
        match self.location {
            Location::Sqlite(dir) => {
                drop(self.service);
                drop(self.store);
                let _ = std::fs::remove_dir_all(dir);
            }
            Location::Mongo(store) => store.database().drop().await.unwrap(),
        }
    }

    pub fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Creates an invitation as `admin` with only the required fields.
    pub async fn invite(&self, email: &str) -> Minted {
        self.service
            .create(Some(&admin()), CreateInvitation::new(email, "viewer"))
            .await
            .unwrap()
    }

    pub async fn list(&self, filter: InvitationFilter) -> Listing {
        let request = ListRequest::first_page(filter, ListRequest::MAX_FIRST);
        let admin = admin();
        let listing = self.service.list(Some(&admin), request, Total::Count);
        listing.await.unwrap()
    }

    pub async fn count_all(&self) -> u64 {
        self.count(InvitationFilter::default()).await
    }

    /// The `totalCount` a listing with this filter reports.
    pub async fn count(&self, filter: InvitationFilter) -> u64 {
        let listing = self.list(filter).await;
        listing.total_count.expect("counted")
    }

    /// A second server process on the same store and clock, as in a scaled-out deployment.
    pub fn another_process(&self) -> InvitationService {
        self.another_process_with(&[])
    }

    /// The same, configured with `extra` settings (`(ENV_NAME, value)`) on top.
    pub fn another_process_with(&self, extra: &[(&str, &str)]) -> InvitationService {
        let config = config_with(&Options::default(), extra);
        let provisioner = Arc::new(StoreProvisioner::new(
            self.store.clone(),
            self.clock.clone(),
            config.rules.existing_account_policy,
        ));
        let settings = Settings::from_config(&config).unwrap();
        InvitationService::new(
            self.store.clone(),
            self.clock.clone(),
            provisioner,
            settings,
        )
    }
}

fn principal(role: &str) -> Principal {
    let policy = cms_invitations::config::RolePolicy::default();
    let actor = Actor {
        id: format!("{role}-1"),
        name: format!("Test {role}"),
    };
    Principal::with_role(&policy, actor, role).unwrap()
}

pub fn admin() -> Principal {
    principal("admin")
}

pub fn editor() -> Principal {
    principal("editor")
}

pub fn author() -> Principal {
    principal("author")
}

pub fn viewer() -> Principal {
    principal("viewer")
}

pub fn designer() -> Principal {
    principal("designer")
}

/// Generates, for each named `async fn NAME(backend: Backend)`, one test per backend:
/// `sqlite::NAME` and `mongo::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Mongo).await;
                }
            )*
        }
    };
}

/// The store settings for a server *process* of its own: nothing for SQLite (the file and its
/// message key live in the process's data folder), a new database and the shared message key
/// for MongoDB. The future drops that database.
pub async fn process_store(
    backend: Backend,
) -> (Vec<(&'static str, String)>, impl Future<Output = ()>) {
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Mongo => Some(format!("test_{}", uuid::Uuid::now_v7().simple())),
    };
    let env = match &database {
        None => Vec::new(),
        Some(name) => vec![
            ("INVITATIONS_MONGODB_URI", mongodb_uri()),
            ("INVITATIONS_MONGODB_DATABASE", name.clone()),
            // Shared by every process on the database, as a deployment's instances share it.
            ("INVITATIONS_MESSAGE_KEY", TEST_MESSAGE_KEY.to_owned()),
        ],
    };
    let cleanup = async move {
        if let Some(name) = database {
            let client = mongodb::Client::with_uri_str(mongodb_uri()).await.unwrap();
            client.database(&name).drop().await.unwrap();
        }
    };
    (env, cleanup)
}

/// Sends the logs of everything that runs inside this test binary (services, in-process
/// servers) to a file in the suite's log folder, at debug level, so that `scripts/test.sh`
/// can scan them for secrets once the suite has run. Installs once; later calls do nothing.
pub fn capture_logs() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let path =
            crate::process::suite_log_dir().join(format!("in-process-{}.log", std::process::id()));
        let file = std::fs::File::create(path).unwrap();
        let _ = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "cms_invitations=debug,info",
            ))
            .with_writer(std::sync::Mutex::new(file))
            .try_init();
    });
}

/// A document whose fragments spread the next one `spreads` times over `levels` levels, ending
/// in `leaf`: `spreads^levels` selections once expanded.
pub fn fragment_fan_out(levels: usize, spreads: usize, leaf: &str) -> String {
    let mut text = String::from("query { ...F0 }");
    for i in 0..levels {
        let spread = format!("...F{} ", i + 1).repeat(spreads);
        text.push_str(&format!(" fragment F{i} on Query {{ {spread}}}"));
    }
    text.push_str(&format!(" fragment F{levels} on Query {{ {leaf} }}"));
    text
}

/// MongoDB's `failCommand` fail point, set for one test. The server has one for all its
/// clients, so a test holds it (tests running at once take turns) until it turns it off. It is
/// set and turned off through a client of its own, not tagged with any server's app name: a
/// fail point that closes the tagged connections must not fail these commands.
#[derive(Debug)]
pub struct FailPoint {
    admin: mongodb::Database,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl FailPoint {
    /// Sets it with `mode` (e.g. `"alwaysOn"` or `{ "times": 1 }`) and `data` (which commands,
    /// what failure, which `appName`).
    pub async fn set(mode: impl Into<bson::Bson>, data: bson::Document) -> Self {
        static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let turn = TURN.lock().await;
        let admin = mongodb::Client::with_uri_str(mongodb_uri())
            .await
            .unwrap()
            .database("admin");
        admin
            .run_command(bson::doc! { "configureFailPoint": "failCommand", "mode": mode.into(), "data": data })
            .await
            .unwrap();
        Self { admin, _turn: turn }
    }

    /// Turns it off; the server's answer (with the fail point's `count`).
    pub async fn off(self) -> bson::Document {
        self.admin
            .run_command(bson::doc! { "configureFailPoint": "failCommand", "mode": "off" })
            .await
            .unwrap()
    }
}

/// Polls `check` (every 20 ms) until it gives a value; fails the test after 60 s, naming
/// `what` it waited for.
pub async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited 60 s for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
