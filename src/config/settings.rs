//! The table of settings (the documented defaults come from here) and the loader.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use super::{
    Config, ConfigErrors, ExistingAccountPolicy, LogFormat, MongoConfig, RolePermissions,
    RolePolicy, Sensitive,
};
use crate::domain::{AllowedRedirect, IsoDuration, Locale, ValidityPolicy};

/// One scalar setting: its key in the TOML file, its environment variable and its default
/// (an empty default means "unset"). `docs/configuration.md` shows this table; a test keeps
/// the two in step.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub key: &'static str,
    pub env: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

const fn setting(
    key: &'static str,
    env: &'static str,
    default: &'static str,
    meaning: &'static str,
) -> Setting {
    Setting {
        key,
        env,
        default,
        meaning,
    }
}

pub const SETTINGS: &[Setting] = &[
    setting(
        "listen",
        "INVITATIONS_LISTEN",
        "127.0.0.1:8080",
        "address the server listens on",
    ),
    setting(
        "data_dir",
        "INVITATIONS_DATA_DIR",
        "./data",
        "embedded store, `.eml` outbox and bootstrap token file",
    ),
    setting(
        "mongodb_uri",
        "INVITATIONS_MONGODB_URI",
        "",
        "MongoDB connection string (a replica set); unset: embedded SQLite",
    ),
    setting(
        "mongodb_database",
        "INVITATIONS_MONGODB_DATABASE",
        "cms_invitations",
        "MongoDB database name",
    ),
    setting(
        "smtp_url",
        "INVITATIONS_SMTP_URL",
        "",
        "SMTP server, e.g. `smtp://127.0.0.1:1025`; unset: `.eml` files in `data_dir/outbox`",
    ),
    setting(
        "email_from",
        "INVITATIONS_EMAIL_FROM",
        "Invitations <invitations@localhost>",
        "sender of every email",
    ),
    setting(
        "smtp_pool_size",
        "INVITATIONS_SMTP_POOL_SIZE",
        "4",
        "SMTP connections kept open and messages sent at once",
    ),
    setting(
        "email_send_timeout",
        "INVITATIONS_EMAIL_SEND_TIMEOUT",
        "PT30S",
        "limit for each SMTP command (connect, greeting, data)",
    ),
    setting(
        "email_retry_initial",
        "INVITATIONS_EMAIL_RETRY_INITIAL",
        "PT30S",
        "wait after the first failed attempt; doubled after each further one, with jitter",
    ),
    setting(
        "email_retry_max",
        "INVITATIONS_EMAIL_RETRY_MAX",
        "PT1H",
        "longest wait between two attempts",
    ),
    setting(
        "email_max_attempts",
        "INVITATIONS_EMAIL_MAX_ATTEMPTS",
        "8",
        "attempts per message before its delivery is FAILED (permanent refusals fail at once)",
    ),
    setting(
        "accept_url",
        "INVITATIONS_ACCEPT_URL",
        "",
        "page the invitation link opens; unset: the server's own `/accept`",
    ),
    setting(
        "default_validity",
        "INVITATIONS_DEFAULT_VALIDITY",
        "P7D",
        "validity of a new invitation (ISO 8601 duration)",
    ),
    setting(
        "min_validity",
        "INVITATIONS_MIN_VALIDITY",
        "PT1H",
        "shortest `validFor` accepted",
    ),
    setting(
        "max_validity",
        "INVITATIONS_MAX_VALIDITY",
        "P30D",
        "longest `validFor` accepted",
    ),
    setting(
        "default_locale",
        "INVITATIONS_DEFAULT_LOCALE",
        "en",
        "email locale when the invitation has none",
    ),
    setting(
        "redirect_allow_list",
        "INVITATIONS_REDIRECT_ALLOW_LIST",
        "",
        "comma-separated URL prefixes a `redirectUrl` must start with; empty: none allowed",
    ),
    setting(
        "retention",
        "INVITATIONS_RETENTION",
        "P180D",
        "how long finished invitations are kept; `off` keeps them forever",
    ),
    setting(
        "public_rate_limit",
        "INVITATIONS_PUBLIC_RATE_LIMIT",
        "30",
        "public operations per minute per client address; `0` turns the limit off",
    ),
    setting(
        "metadata_max_bytes",
        "INVITATIONS_METADATA_MAX_BYTES",
        "8192",
        "largest `metadata` object, in bytes of JSON",
    ),
    setting(
        "existing_account_policy",
        "INVITATIONS_EXISTING_ACCOUNT_POLICY",
        "attach",
        "`attach` role and groups to an existing account with the invited email, or `refuse`",
    ),
    setting(
        "sweep_interval",
        "INVITATIONS_SWEEP_INTERVAL",
        "PT30S",
        "how often the sweeper persists expiry and purges finished invitations",
    ),
    setting(
        "count_max_age",
        "INVITATIONS_COUNT_MAX_AGE",
        "PT1S",
        "how long a listing's `totalCount` may be reused (this process's own changes show at once); `PT0S` counts every time",
    ),
    setting(
        "email_templates_dir",
        "INVITATIONS_EMAIL_TEMPLATES_DIR",
        "",
        "folder of `<locale>/<kind>.<part>.hbs` files that replace the built-in templates by name",
    ),
    setting(
        "email_templates_reload",
        "INVITATIONS_EMAIL_TEMPLATES_RELOAD",
        "false",
        "read the template folder again before every render (while editing templates)",
    ),
    setting(
        "email_product_name",
        "INVITATIONS_EMAIL_PRODUCT_NAME",
        "CMS",
        "the name emails give the CMS (\"… invited you to join {name}\")",
    ),
    setting(
        "max_body_bytes",
        "INVITATIONS_MAX_BODY_BYTES",
        "2097152",
        "largest accepted request body, in bytes",
    ),
    setting(
        "cors_origins",
        "INVITATIONS_CORS_ORIGINS",
        "",
        "comma-separated browser origins (`https://app.example.org`) allowed to call `/graphql`",
    ),
    setting(
        "trust_forwarded_for",
        "INVITATIONS_TRUST_FORWARDED_FOR",
        "false",
        "rate-limit by the last `X-Forwarded-For` address (set only behind a proxy that writes it)",
    ),
    setting(
        "log_format",
        "INVITATIONS_LOG_FORMAT",
        "text",
        "`text` or `json` (one object per line)",
    ),
    setting(
        "log",
        "INVITATIONS_LOG",
        "info",
        "log filter, e.g. `info` or `cms_invitations=debug,warn`",
    ),
];

/// Settings that may hold credentials can also be read from a file (`<ENV>_FILE`).
const FILE_SETTINGS: &[&str] = &["mongodb_uri", "smtp_url"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    invitee: Option<Vec<String>>,
    principals: Option<BTreeMap<String, RolePermissions>>,
}

pub(super) fn load(env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    let mut problems = Vec::new();
    let mut raw: BTreeMap<&'static str, String> = SETTINGS
        .iter()
        .map(|s| (s.key, s.default.to_owned()))
        .collect();
    let mut roles_file = RolesFile::default();

    if let Some(path) = env("INVITATIONS_CONFIG").filter(|p| !p.is_empty()) {
        match read_file(&path, &mut raw, &mut roles_file) {
            Ok(()) => {}
            Err(mut file_problems) => problems.append(&mut file_problems),
        }
    }
    for s in SETTINGS {
        if let Some(value) = env(s.env) {
            raw.insert(s.key, value);
        }
        if FILE_SETTINGS.contains(&s.key)
            && let Some(path) = env(&format!("{}_FILE", s.env)).filter(|p| !p.is_empty())
        {
            match std::fs::read_to_string(&path) {
                Ok(content) => {
                    raw.insert(s.key, content.trim().to_owned());
                }
                Err(err) => problems.push(format!("{}_FILE: cannot read {path}: {err}", s.env)),
            }
        }
    }

    let mut p = Parser {
        raw: &raw,
        problems,
    };
    let listen = p.parse("listen", |v| {
        v.parse::<SocketAddr>()
            .map_err(|_| "must be an address like 127.0.0.1:8080".to_owned())
    });
    let data_dir = PathBuf::from(p.get("data_dir"));
    let mongodb_uri = p.optional("mongodb_uri", |v| {
        if v.starts_with("mongodb://") || v.starts_with("mongodb+srv://") {
            Ok(Sensitive::new(v))
        } else {
            Err("must start with mongodb:// or mongodb+srv://".to_owned())
        }
    });
    let database = p.get("mongodb_database").to_owned();
    if database.is_empty() || database.contains(['/', '\\', '.', ' ', '"', '$']) {
        p.problems
            .push("mongodb_database: must be a MongoDB database name".to_owned());
    }
    let smtp_url = p.optional("smtp_url", |v| match Url::parse(v) {
        Ok(url) if matches!(url.scheme(), "smtp" | "smtps") && url.host().is_some() => {
            Ok(Sensitive::new(v))
        }
        _ => Err("must be an smtp:// or smtps:// URL with a host".to_owned()),
    });
    let email_from = p.get("email_from").to_owned();
    if email_from.parse::<lettre::message::Mailbox>().is_err() {
        p.problems.push(
            "email_from: must be an address, optionally with a name: `Name <address@host>`"
                .to_owned(),
        );
    }
    let smtp_pool_size = p.parse("smtp_pool_size", |v| match v.parse::<u32>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1 to 64".to_owned()),
    });
    let at_least_a_second = |v: &str| match duration(v) {
        Ok(d) if d.as_seconds() >= 1 => Ok(d),
        Ok(_) => Err("must be at least PT1S".to_owned()),
        Err(e) => Err(e),
    };
    let email_send_timeout = p.parse("email_send_timeout", at_least_a_second);
    let email_retry_initial = p.parse("email_retry_initial", at_least_a_second);
    let email_retry_max = p.parse("email_retry_max", at_least_a_second);
    let email_max_attempts = p.parse("email_max_attempts", |v| match v.parse::<u32>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1 to 100".to_owned()),
    });
    let accept_url = p.optional("accept_url", |v| match Url::parse(v) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.fragment().is_none() => Ok(url),
        _ => Err("must be an http(s) URL without a #fragment".to_owned()),
    });
    let default_validity = p.parse("default_validity", duration);
    let min_validity = p.parse("min_validity", duration);
    let max_validity = p.parse("max_validity", duration);
    let default_locale = p.parse("default_locale", |v| {
        Locale::parse(v).map_err(|e| e.message().to_owned())
    });
    let redirect_allow_list = p.parse("redirect_allow_list", |v| {
        v.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| AllowedRedirect::parse(entry).map_err(|e| e.message().to_owned()))
            .collect::<Result<Vec<_>, _>>()
    });
    let retention = p.parse("retention", |v| match v {
        "off" => Ok(None),
        other => duration(other).map(Some),
    });
    let public_rate_limit = p.parse("public_rate_limit", |v| {
        v.parse::<u32>()
            .map_err(|_| "must be a whole number (0 turns the limit off)".to_owned())
    });
    let metadata_max_bytes = p.parse("metadata_max_bytes", |v| match v.parse::<usize>() {
        Ok(n) if (2..=1_048_576).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 2 to 1048576".to_owned()),
    });
    let existing_accounts = p.parse("existing_account_policy", |v| match v {
        "attach" => Ok(ExistingAccountPolicy::Attach),
        "refuse" => Ok(ExistingAccountPolicy::Refuse),
        _ => Err("must be attach or refuse".to_owned()),
    });
    let sweep_interval = p.parse("sweep_interval", |v| match duration(v) {
        Ok(d) if d.as_seconds() >= 1 => Ok(d),
        Ok(_) => Err("must be at least PT1S".to_owned()),
        Err(e) => Err(e),
    });
    let count_max_age = p.parse("count_max_age", |v| match duration(v) {
        Ok(d) if d.as_seconds() <= 3600 => Ok(d),
        Ok(_) => Err("must be at most PT1H".to_owned()),
        Err(e) => Err(e),
    });
    let max_body_bytes = p.parse("max_body_bytes", |v| match v.parse::<usize>() {
        Ok(n) if (1024..=67_108_864).contains(&n) => Ok(n),
        _ => Err("must be a whole number from 1024 to 67108864".to_owned()),
    });
    let cors_origins = p.parse("cors_origins", |v| {
        v.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| match Url::parse(entry) {
                Ok(url)
                    if matches!(url.scheme(), "http" | "https")
                        && url.path() == "/"
                        && !entry.ends_with('/') =>
                {
                    Ok(entry.to_owned())
                }
                _ => Err(format!(
                    "{entry:?} is not an origin like https://app.example.org"
                )),
            })
            .collect::<Result<Vec<_>, _>>()
    });
    let trust_forwarded_for = p.parse("trust_forwarded_for", |v| match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".to_owned()),
    });
    let log_format = p.parse("log_format", |v| match v {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("must be text or json".to_owned()),
    });
    let log_filter = p.get("log").to_owned();
    let email_templates_dir = Some(p.get("email_templates_dir"))
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    let email_templates_reload = p.parse("email_templates_reload", |v| match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".to_owned()),
    });
    let email_product_name = p.get("email_product_name").trim().to_owned();
    if email_product_name.is_empty() || email_product_name.chars().any(char::is_control) {
        p.problems
            .push("email_product_name: must be a non-empty name on one line".to_owned());
    }
    let mut problems = p.problems;

    let validity = match (default_validity, min_validity, max_validity) {
        (Some(default), Some(min), Some(max)) => ValidityPolicy::new(default, min, max)
            .map_err(|e| problems.push(format!("{}: {}", snake(e.field()), e.message())))
            .ok(),
        _ => None,
    };
    let defaults = RolePolicy::default();
    let roles = RolePolicy::new(
        roles_file
            .invitee
            .unwrap_or_else(|| defaults.invitee_roles().to_vec()),
        roles_file.principals.unwrap_or_else(|| {
            defaults
                .principal_roles()
                .filter_map(|r| defaults.permissions(r).map(|p| (r.to_owned(), p.clone())))
                .collect()
        }),
    )
    .map_err(|mut role_problems| problems.append(&mut role_problems))
    .ok();

    if !problems.is_empty() {
        return Err(ConfigErrors(problems));
    }
    // Every parser above records a problem when it returns `None`, so none is left here.
    let unreported = || {
        ConfigErrors(vec![
            "a setting failed without a reported problem".to_owned(),
        ])
    };
    Ok(Config {
        listen: listen.ok_or_else(unreported)?,
        data_dir,
        mongodb: mongodb_uri
            .flatten()
            .map(|uri| MongoConfig { uri, database }),
        smtp_url: smtp_url.flatten(),
        email_from,
        smtp_pool_size: smtp_pool_size.ok_or_else(unreported)?,
        email_send_timeout: email_send_timeout.ok_or_else(unreported)?,
        email_retry_initial: email_retry_initial.ok_or_else(unreported)?,
        email_retry_max: email_retry_max.ok_or_else(unreported)?,
        email_max_attempts: email_max_attempts.ok_or_else(unreported)?,
        accept_url: accept_url.flatten(),
        validity: validity.ok_or_else(unreported)?,
        default_locale: default_locale.ok_or_else(unreported)?,
        redirect_allow_list: redirect_allow_list.ok_or_else(unreported)?,
        retention: retention.ok_or_else(unreported)?,
        public_rate_limit: public_rate_limit.ok_or_else(unreported)?,
        metadata_max_bytes: metadata_max_bytes.ok_or_else(unreported)?,
        existing_accounts: existing_accounts.ok_or_else(unreported)?,
        sweep_interval: sweep_interval.ok_or_else(unreported)?,
        count_max_age: count_max_age.ok_or_else(unreported)?,
        roles: roles.ok_or_else(unreported)?,
        max_body_bytes: max_body_bytes.ok_or_else(unreported)?,
        cors_origins: cors_origins.ok_or_else(unreported)?,
        trust_forwarded_for: trust_forwarded_for.ok_or_else(unreported)?,
        log_format: log_format.ok_or_else(unreported)?,
        log_filter,
        email_templates_dir,
        email_templates_reload: email_templates_reload.ok_or_else(unreported)?,
        email_product_name,
    })
}

fn duration(value: &str) -> Result<IsoDuration, String> {
    IsoDuration::parse(value).map_err(|e| format!("{} (got {value:?})", e.message()))
}

/// `defaultValidity` -> `default_validity`, so problems name the setting as it is written.
fn snake(field: &str) -> String {
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

struct Parser<'a> {
    raw: &'a BTreeMap<&'static str, String>,
    problems: Vec<String>,
}

impl Parser<'_> {
    fn get(&self, key: &str) -> &str {
        self.raw.get(key).map(|v| v.trim()).unwrap_or_default()
    }

    fn parse<T>(&mut self, key: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        match parse(self.get(key)) {
            Ok(value) => Some(value),
            Err(why) => {
                self.problems.push(format!("{key}: {why}"));
                None
            }
        }
    }

    /// An empty value means unset. `Some(None)`: unset; `None`: a problem was recorded.
    fn optional<T>(
        &mut self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        if self.get(key).is_empty() {
            Some(None)
        } else {
            self.parse(key, parse).map(Some)
        }
    }
}

fn read_file(
    path: &str,
    raw: &mut BTreeMap<&'static str, String>,
    roles: &mut RolesFile,
) -> Result<(), Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| vec![format!("INVITATIONS_CONFIG: cannot read {path}: {err}")])?;
    let table: toml::Table = text.parse().map_err(|err| vec![format!("{path}: {err}")])?;
    let mut problems = Vec::new();
    for (key, value) in table {
        if key == "roles" {
            match value.try_into::<RolesFile>() {
                Ok(parsed) => *roles = parsed,
                Err(err) => problems.push(format!("{path}: roles: {err}")),
            }
            continue;
        }
        let Some(setting) = SETTINGS.iter().find(|s| s.key == key) else {
            problems.push(format!("{path}: unknown setting {key:?}"));
            continue;
        };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Array(items) if items.iter().all(toml::Value::is_str) => items
                .iter()
                .filter_map(toml::Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => {
                problems.push(format!(
                    "{path}: {key} must be a string, a number or a list of strings"
                ));
                continue;
            }
        };
        raw.insert(setting.key, text);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load_with(vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        load(&|name| vars.get(name).cloned())
    }

    #[test]
    fn the_defaults_need_no_services() {
        let config = load_with(&[]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(config.mongodb.is_none());
        assert!(config.smtp_url.is_none());
        assert_eq!(config.validity.default_validity().to_string(), "P7D");
        assert_eq!(config.public_rate_limit, 30);
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let errors = load_with(&[
            ("INVITATIONS_LISTEN", "nowhere"),
            ("INVITATIONS_DEFAULT_VALIDITY", "P1M"),
            ("INVITATIONS_PUBLIC_RATE_LIMIT", "-3"),
            ("INVITATIONS_SMTP_URL", "http://mail"),
        ])
        .unwrap_err();
        let text = errors.to_string();
        for key in [
            "listen",
            "default_validity",
            "public_rate_limit",
            "smtp_url",
        ] {
            assert!(
                text.contains(&format!("{key}:")),
                "{key} missing from {text}"
            );
        }
    }

    #[test]
    fn a_default_validity_outside_the_bounds_is_reported() {
        let errors = load_with(&[("INVITATIONS_DEFAULT_VALIDITY", "P60D")]).unwrap_err();
        assert!(
            errors.0.iter().any(|p| p.starts_with("default_validity:")),
            "{errors}"
        );
    }

    #[test]
    fn the_file_is_read_and_the_environment_wins_over_it() {
        let dir = std::env::temp_dir().join(format!("cms-inv-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("invitations.toml");
        std::fs::write(
            &file,
            "default_validity = \"P3D\"\npublic_rate_limit = 5\nredirect_allow_list = [\"https://app.example.org/join\"]\n\
             [roles]\ninvitee = [\"member\"]\n[roles.principals.owner]\nread = true\ngrants = [\"member\"]\n",
        )
        .unwrap();
        let config = load_with(&[
            ("INVITATIONS_CONFIG", file.to_str().unwrap()),
            ("INVITATIONS_PUBLIC_RATE_LIMIT", "0"),
        ])
        .unwrap();
        assert_eq!(config.validity.default_validity().to_string(), "P3D");
        assert_eq!(config.public_rate_limit, 0);
        assert_eq!(config.redirect_allow_list.len(), 1);
        assert_eq!(config.roles.invitee_roles(), ["member"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unknown_keys_in_the_file_are_reported() {
        let dir = std::env::temp_dir().join(format!("cms-inv-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("invitations.toml");
        std::fs::write(&file, "defualt_validity = \"P3D\"\n").unwrap();
        let errors = load_with(&[("INVITATIONS_CONFIG", file.to_str().unwrap())]).unwrap_err();
        assert!(errors.to_string().contains("defualt_validity"), "{errors}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn credentials_never_show_in_debug_output() {
        let config = load_with(&[(
            "INVITATIONS_MONGODB_URI",
            "mongodb://user:hunter2@db/?replicaSet=rs0",
        )])
        .unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
