//! Configuration: defaults, then the TOML file named by `INVITATIONS_CONFIG`, then
//! `INVITATIONS_*` environment variables. Validated at once, with every problem listed.

mod roles;
mod settings;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

pub use roles::{RolePermissions, RolePolicy};
pub use settings::{SETTINGS, Setting};

use crate::domain::{AllowedRedirect, IsoDuration, Locale, ValidityPolicy};

/// A configuration value that may hold a password (a MongoDB or SMTP URL): never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What accepting an invitation does when an account with the invited email already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingAccountPolicy {
    /// Add the invitation's role and groups to the existing account.
    Attach,
    /// Refuse the acceptance with a validation error on `email`.
    Refuse,
}

#[derive(Debug, Clone)]
pub struct MongoConfig {
    pub uri: Sensitive,
    pub database: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: the embedded SQLite store under `data_dir`.
    pub mongodb: Option<MongoConfig>,
    /// `None`: messages are written as `.eml` files to `data_dir/outbox`.
    pub smtp_url: Option<Sensitive>,
    pub email_from: String,
    pub smtp_pool_size: u32,
    /// Limit for each SMTP command.
    pub email_send_timeout: IsoDuration,
    pub email_retry_initial: IsoDuration,
    pub email_retry_max: IsoDuration,
    pub email_max_attempts: u32,
    /// `None`: the server's own `/accept` page.
    pub accept_url: Option<Url>,
    pub validity: ValidityPolicy,
    pub default_locale: Locale,
    pub redirect_allow_list: Vec<AllowedRedirect>,
    /// How long finished invitations are kept; `None` keeps them forever.
    pub retention: Option<IsoDuration>,
    /// Public operations per minute per client address; 0 turns the limit off.
    pub public_rate_limit: u32,
    pub metadata_max_bytes: usize,
    pub existing_accounts: ExistingAccountPolicy,
    pub sweep_interval: IsoDuration,
    /// How long a listing's `totalCount` may be reused; zero counts every time.
    pub count_max_age: IsoDuration,
    pub roles: RolePolicy,
    /// Largest accepted HTTP request body.
    pub max_body_bytes: usize,
    /// Browser origins allowed to call `/graphql` (CORS); empty: same origin only.
    pub cors_origins: Vec<String>,
    /// Take the client address for rate limiting from the last `X-Forwarded-For` hop (only
    /// behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `cms_invitations=debug,info`.
    pub log_filter: String,
    /// Template files here replace the built-in ones by name.
    pub email_templates_dir: Option<PathBuf>,
    /// Read the template folder again before every render (for template authors).
    pub email_templates_reload: bool,
    /// The CMS's name, as emails show it.
    pub email_product_name: String,
}

/// How the standalone server writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event, with `key=value` fields.
    Text,
    /// One JSON object per event.
    Json,
}

/// Every problem found in the configuration, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigErrors(pub Vec<String>);

impl Config {
    /// Loads from the process environment (and the file `INVITATIONS_CONFIG` names).
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::load(|name| std::env::var(name).ok())
    }

    /// Loads with `env` standing in for the environment; used by tests and hosts.
    pub fn load(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        settings::load(&env)
    }

    /// The defaults alone, as a fresh checkout runs with no configuration.
    pub fn defaults() -> Result<Self, ConfigErrors> {
        Self::load(|_| None)
    }
}
