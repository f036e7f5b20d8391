//! The loader: defaults, file, environment, `_FILE` variables and every problem at once.

use std::collections::HashMap;
use std::path::PathBuf;

use super::*;

fn load_with(vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::load(|name| vars.get(name).cloned())
}

/// A scratch folder with one file in it, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn with_file(name: &str, content: &str) -> (Self, String) {
        let dir = std::env::temp_dir().join(format!("cms-inv-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        std::fs::write(&file, content).unwrap();
        (Self(dir), file.to_str().unwrap().to_owned())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load_file(toml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let (_scratch, file) = Scratch::with_file("invitations.toml", toml);
    let mut vars = vars.to_vec();
    vars.push(("INVITATIONS_CONFIG", &file));
    load_with(&vars)
}

#[test]
fn the_defaults_need_no_services() {
    let config = load_with(&[]).unwrap();
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
    assert!(config.store.mongodb_uri.is_none());
    assert!(config.email.smtp_url.is_none());
    assert_eq!(config.validity.default_validity().to_string(), "P7D");
    assert_eq!(config.http.public_rate_limit, 30);
}

#[test]
fn every_setting_has_a_unique_key_and_variable_and_its_default_loads() {
    let all: Vec<&Setting> = settings().collect();
    for (i, s) in all.iter().enumerate() {
        assert!(s.env.starts_with("INVITATIONS_"), "{}", s.env);
        assert!(
            all[..i].iter().all(|e| e.key != s.key && e.env != s.env),
            "{} twice",
            s.key
        );
    }
    // Each default, given explicitly through the environment, is accepted as it stands.
    let explicit: Vec<(&str, &str)> = all.iter().map(|s| (s.env, s.default)).collect();
    load_with(&explicit).unwrap();
}

#[test]
fn every_problem_is_listed_at_once() {
    let errors = load_with(&[
        ("INVITATIONS_LISTEN", "nowhere"),
        ("INVITATIONS_DEFAULT_VALIDITY", "P1M"),
        ("INVITATIONS_PUBLIC_RATE_LIMIT", "-3"),
        ("INVITATIONS_SMTP_URL", "http://mail"),
        ("INVITATIONS_LOG_FORMAT", "xml"),
    ])
    .unwrap_err();
    let text = errors.to_string();
    for key in [
        "listen",
        "default_validity",
        "public_rate_limit",
        "smtp_url",
        "log_format",
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
    let config = load_file(
        "default_validity = \"P3D\"\npublic_rate_limit = 5\nredirect_allow_list = [\"https://app.example.org/join\"]\n\
         [roles]\ninvitee = [\"member\"]\n[roles.principals.owner]\nread = true\ngrants = [\"member\"]\n\
         groups = [\"engineering\", \"design\"]\n",
        &[("INVITATIONS_PUBLIC_RATE_LIMIT", "0")],
    )
    .unwrap();
    assert_eq!(config.validity.default_validity().to_string(), "P3D");
    assert_eq!(config.http.public_rate_limit, 0);
    assert_eq!(config.rules.redirect_allow_list.len(), 1);
    assert_eq!(config.roles.invitee_roles(), ["member"]);
    let owner = config.roles.permissions("owner").unwrap();
    assert_eq!(
        owner.groups,
        Some(["design".to_owned(), "engineering".to_owned()].into())
    );
}

#[test]
fn a_group_limit_with_an_unusable_group_name_is_refused() {
    let errors = load_file(
        "[roles]\ninvitee = [\"member\"]\n[roles.principals.owner]\nread = true\n\
         grants = [\"member\"]\ngroups = [\"  \"]\n",
        &[],
    )
    .unwrap_err();
    assert!(
        errors
            .0
            .iter()
            .any(|p| p.starts_with("roles.principals.owner.groups")),
        "{errors}"
    );
}

#[test]
fn the_file_takes_toml_types_and_section_tables() {
    let config = load_file(
        "trust_forwarded_for = true\nsmtp_pool_size = 8\n\
         cors_origins = [\"https://a.example.org\", \"https://b.example.org\"]\n\
         [email]\nemail_templates_reload = true\nemail_retry_max = \"PT2H\"\n\
         [http]\nlisten = \"127.0.0.1:9000\"\n",
        &[],
    )
    .unwrap();
    assert!(config.http.trust_forwarded_for);
    assert_eq!(config.email.smtp_pool_size, 8);
    assert_eq!(config.http.cors_origins.len(), 2);
    assert!(config.email.email_templates_reload);
    assert_eq!(config.email.email_retry_max.to_string(), "PT2H");
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:9000");
}

#[test]
fn unknown_keys_and_values_of_the_wrong_shape_in_the_file_are_reported() {
    let errors = load_file(
        "defualt_validity = \"P3D\"\nsmtp_pool_size = 1.5\n[email]\nlisten = \"127.0.0.1:1\"\n",
        &[],
    )
    .unwrap_err();
    let text = errors.to_string();
    assert!(
        text.contains("unknown setting \"defualt_validity\""),
        "{text}"
    );
    assert!(
        text.contains("smtp_pool_size must be a string, a number"),
        "{text}"
    );
    // A setting is known only in its own section's table.
    assert!(text.contains("unknown setting \"email.listen\""), "{text}");
}

#[test]
fn credentials_can_come_from_files_and_never_show_in_debug_output() {
    let (_scratch, file) = Scratch::with_file("uri", "mongodb://user:hunter2@db/?replicaSet=rs0\n");
    let config = load_with(&[("INVITATIONS_MONGODB_URI_FILE", &file)]).unwrap();
    let uri = config.store.mongodb_uri.as_ref().unwrap();
    assert_eq!(uri.expose(), "mongodb://user:hunter2@db/?replicaSet=rs0");
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn message_keys_come_from_text_or_files_one_per_line_and_show_only_their_ids() {
    let current = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";
    let (old_a, old_b) = (
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
    );
    let (_scratch, file) = Scratch::with_file("previous", &format!("{old_a}\n{old_b}\n"));
    let config = load_with(&[
        ("INVITATIONS_MESSAGE_KEY", current),
        ("INVITATIONS_PREVIOUS_MESSAGE_KEYS_FILE", &file),
    ])
    .unwrap();
    assert!(config.email.message_key.is_some());
    assert_eq!(config.email.previous_message_keys.len(), 2);
    let printed = format!("{config:?}");
    for key in [current, old_a, old_b] {
        assert!(!printed.contains(key), "{printed}");
    }
    let id = crate::domain::MessageKey::parse(current)
        .unwrap()
        .id()
        .to_string();
    assert!(printed.contains(&id), "the key's id is shown: {printed}");

    let errors = load_with(&[
        ("INVITATIONS_MESSAGE_KEY", "c2hvcnQ="),
        ("INVITATIONS_PREVIOUS_MESSAGE_KEYS", "not-a-key"),
    ])
    .unwrap_err();
    let text = errors.to_string();
    assert!(
        text.contains("message_key: must be the base64 of 32 random bytes"),
        "{text}"
    );
    assert!(text.contains("previous_message_keys: must be"), "{text}");
    assert!(
        !text.contains("c2hvcnQ="),
        "the refused text is not repeated: {text}"
    );
}

#[test]
fn an_unreadable_credentials_file_is_a_problem_naming_its_variable() {
    let errors = load_with(&[("INVITATIONS_SMTP_URL_FILE", "/nonexistent/smtp-url")]).unwrap_err();
    assert!(
        errors
            .0
            .iter()
            .any(|p| p.starts_with("INVITATIONS_SMTP_URL_FILE: cannot read")),
        "{errors}"
    );
}

#[test]
fn only_credentials_are_read_from_files() {
    let (_scratch, file) = Scratch::with_file("listen", "127.0.0.1:1\n");
    let config = load_with(&[("INVITATIONS_LISTEN_FILE", &file)]).unwrap();
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
}

#[test]
fn a_wildcard_listen_address_without_an_accept_url_is_warned_about() {
    let wildcard = load_with(&[("INVITATIONS_LISTEN", "0.0.0.0:8080")]).unwrap();
    let warnings = wildcard.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("INVITATIONS_ACCEPT_URL"),
        "{warnings:?}"
    );
    let v6 = load_with(&[("INVITATIONS_LISTEN", "[::]:8080")]).unwrap();
    assert_eq!(v6.warnings().len(), 1);
    let explicit = load_with(&[
        ("INVITATIONS_LISTEN", "0.0.0.0:8080"),
        ("INVITATIONS_ACCEPT_URL", "https://app.example.org/join"),
    ])
    .unwrap();
    assert!(explicit.warnings().is_empty());
    assert!(load_with(&[]).unwrap().warnings().is_empty());
}

#[test]
fn an_sms_gateway_needs_its_account_token_and_sender_and_a_safe_url() {
    let problems = load_with(&[("INVITATIONS_SMS_API_URL", "https://sms.example.org")])
        .unwrap_err()
        .0;
    for key in ["sms_account", "sms_token", "sms_from"] {
        assert!(
            problems
                .iter()
                .any(|p| p == &format!("{key}: required when sms_api_url is set")),
            "{problems:?}"
        );
    }
    for refused in [
        "http://sms.example.org",
        "https://user:pw@sms.example.org",
        "https://sms.example.org/#x",
        "ftp://sms.example.org",
    ] {
        let problems = load_with(&[
            ("INVITATIONS_SMS_API_URL", refused),
            ("INVITATIONS_SMS_ACCOUNT", "AC1"),
            ("INVITATIONS_SMS_TOKEN", "token"),
            ("INVITATIONS_SMS_FROM", "+15005550006"),
        ])
        .unwrap_err()
        .0;
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("sms_api_url: must be an https:// URL")),
            "{refused}: {problems:?}"
        );
    }
    let config = load_with(&[
        ("INVITATIONS_SMS_API_URL", "http://127.0.0.1:4010"),
        ("INVITATIONS_SMS_ACCOUNT", "AC1"),
        ("INVITATIONS_SMS_TOKEN", "token"),
        ("INVITATIONS_SMS_FROM", "+15005550006"),
    ])
    .unwrap();
    assert_eq!(
        config.sms.sms_api_url.map(String::from),
        Some("http://127.0.0.1:4010/".to_owned())
    );
    assert!(!format!("{:?}", config.sms.sms_token).contains("token\""));
}
