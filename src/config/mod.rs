//! Configuration: defaults, then the TOML file named by `INVITATIONS_CONFIG`, then
//! `INVITATIONS_*` environment variables. Validated at once, with every problem listed.
//!
//! Each setting is declared once, in [`sections`]; the sections are typed structs grouped by
//! concern (`http`, `store`, `email`, `rules`, `webhooks`, `log`). In the file a setting is written by its
//! key at the top level or inside its section's table (`[email]` `smtp_url = "..."`), with
//! TOML's own types: strings, integers, booleans and lists.

mod parse;
mod roles;
mod sections;
mod source;

use std::fmt;

pub use roles::{RolePermissions, RolePolicy};
pub use sections::{
    EmailConfig, HttpConfig, LogConfig, RulesConfig, SmsConfig, StoreConfig, WebhooksConfig,
    settings,
};
pub use source::Setting;

use crate::domain::ValidityPolicy;
use source::Source;

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

/// How the standalone server writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event, with `key=value` fields.
    Text,
    /// One JSON object per event.
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpConfig,
    pub store: StoreConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    pub rules: RulesConfig,
    pub webhooks: WebhooksConfig,
    pub log: LogConfig,
    /// `rules`' default, shortest and longest validity, checked against each other.
    pub validity: ValidityPolicy,
    /// Who may invite whom: the `[roles]` table of the file, else the defaults.
    pub roles: RolePolicy,
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
        let all: Vec<&'static Setting> = settings().collect();
        let mut source = Source::gather(&all, &env);
        let http = HttpConfig::load(&mut source);
        let store = StoreConfig::load(&mut source);
        let email = EmailConfig::load(&mut source);
        let sms = SmsConfig::load(&mut source);
        let rules = RulesConfig::load(&mut source);
        let webhooks = WebhooksConfig::load(&mut source);
        let log = LogConfig::load(&mut source);
        let validity = rules.as_ref().and_then(|rules| {
            ValidityPolicy::new(
                rules.default_validity,
                rules.min_validity,
                rules.max_validity,
            )
            .map_err(|e| {
                let key = snake_case(e.field());
                source.problems.push(format!("{key}: {}", e.message()));
            })
            .ok()
        });
        let roles = roles_from(&mut source);
        if let Some(webhooks) = &webhooks
            && webhooks.event_retention.as_seconds() < webhooks.webhook_retry_horizon.as_seconds()
        {
            source.problems.push(
                "event_retention: must be at least webhook_retry_horizon, or deliveries still \
                 being retried would be purged"
                    .to_owned(),
            );
        }
        if let Some(sms) = &sms
            && sms.sms_api_url.is_some()
        {
            for (key, missing) in [
                ("sms_account", sms.sms_account.is_empty()),
                ("sms_token", sms.sms_token.is_none()),
                ("sms_from", sms.sms_from.is_empty()),
            ] {
                if missing {
                    source
                        .problems
                        .push(format!("{key}: required when sms_api_url is set"));
                }
            }
        }
        match (
            http, store, email, sms, rules, webhooks, log, validity, roles,
        ) {
            (
                Some(http),
                Some(store),
                Some(email),
                Some(sms),
                Some(rules),
                Some(webhooks),
                Some(log),
                Some(validity),
                Some(roles),
            ) if source.problems.is_empty() => Ok(Self {
                http,
                store,
                email,
                sms,
                rules,
                webhooks,
                log,
                validity,
                roles,
            }),
            _ => Err(ConfigErrors(source.problems)),
        }
    }

    /// The defaults alone, as a fresh checkout runs with no configuration.
    pub fn defaults() -> Result<Self, ConfigErrors> {
        Self::load(|_| None)
    }

    /// Settings that are valid but probably not what the operator wants, one sentence each,
    /// with the fix. The server logs them at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let listen = self.http.listen;
        if self.rules.accept_url.is_none() && listen.ip().is_unspecified() {
            warnings.push(format!(
                "accept_url is unset and listen ({listen}) is a wildcard address, so invitation \
                 links would point to http://{listen}/accept, which no invitee can open: set \
                 INVITATIONS_ACCEPT_URL to the public address of /accept"
            ));
        }
        warnings
    }
}

/// The file's `[roles]` table over the default roles.
fn roles_from(source: &mut Source) -> Option<RolePolicy> {
    let defaults = RolePolicy::default();
    let table = std::mem::take(&mut source.roles);
    let invitee = table
        .invitee
        .unwrap_or_else(|| defaults.invitee_roles().to_vec());
    let principals = table.principals.unwrap_or_else(|| {
        defaults
            .principal_roles()
            .filter_map(|r| defaults.permissions(r).map(|p| (r.to_owned(), p.clone())))
            .collect()
    });
    RolePolicy::new(invitee, principals)
        .and_then(|policy| policy.with_names(table.names.unwrap_or_default()))
        .map_err(|mut problems| source.problems.append(&mut problems))
        .ok()
}

/// `defaultValidity` -> `default_validity`, so problems name the setting as it is written.
fn snake_case(field: &str) -> String {
    field.chars().fold(String::new(), |mut out, c| {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
        out
    })
}

#[cfg(test)]
mod tests;
