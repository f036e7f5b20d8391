//! Parsers for setting values: each takes the trimmed text and says in a few words what it
//! must be when it refuses it. An empty text means "unset" to the optional ones.

use std::fmt::Display;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;

use url::Url;

use super::{ExistingAccountPolicy, LogFormat, Sensitive};
use crate::domain::{AllowedRedirect, IsoDuration, Locale, MessageKey};

pub(super) type Parsed<T> = Result<T, String>;

pub(super) fn text(value: &str) -> Parsed<String> {
    Ok(value.to_owned())
}

pub(super) fn path(value: &str) -> Parsed<PathBuf> {
    Ok(PathBuf::from(value))
}

/// Empty: `None`; otherwise what `parse` makes of it.
pub(super) fn optional<T>(parse: impl Fn(&str) -> Parsed<T>) -> impl Fn(&str) -> Parsed<Option<T>> {
    move |value| match value {
        "" => Ok(None),
        value => parse(value).map(Some),
    }
}

pub(super) fn socket_addr(value: &str) -> Parsed<SocketAddr> {
    value
        .parse()
        .map_err(|_| "must be an address like 127.0.0.1:8080".to_owned())
}

pub(super) fn boolean(value: &str) -> Parsed<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false".to_owned()),
    }
}

/// A whole number within `range`.
pub(super) fn number<T>(range: RangeInclusive<T>) -> impl Fn(&str) -> Parsed<T>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    move |value| match value.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

pub(super) fn duration(value: &str) -> Parsed<IsoDuration> {
    IsoDuration::parse(value).map_err(|e| format!("{} (got {value:?})", e.message()))
}

/// An ISO 8601 duration within `min..=max` seconds.
pub(super) fn duration_within(
    min_seconds: i64,
    max_seconds: i64,
) -> impl Fn(&str) -> Parsed<IsoDuration> {
    move |value| {
        let d = duration(value)?;
        if d.as_seconds() < min_seconds {
            Err(format!("must be at least PT{min_seconds}S"))
        } else if d.as_seconds() > max_seconds {
            Err(format!("must be at most PT{max_seconds}S"))
        } else {
            Ok(d)
        }
    }
}

/// A duration, or `off` for "forever".
pub(super) fn duration_or_off(value: &str) -> Parsed<Option<IsoDuration>> {
    match value {
        "off" => Ok(None),
        other => duration(other).map(Some),
    }
}

pub(super) fn mongodb_uri(value: &str) -> Parsed<Sensitive> {
    if value.starts_with("mongodb://") || value.starts_with("mongodb+srv://") {
        Ok(Sensitive::new(value))
    } else {
        Err("must start with mongodb:// or mongodb+srv://".to_owned())
    }
}

/// A secret an operator chose: at least 16 characters, no spaces.
pub(super) fn secret(value: &str) -> Parsed<Sensitive> {
    if value.chars().count() < 16 || value.chars().any(char::is_whitespace) {
        Err("must be at least 16 characters without spaces".to_owned())
    } else {
        Ok(Sensitive::new(value))
    }
}

pub(super) fn database_name(value: &str) -> Parsed<String> {
    if value.is_empty() || value.contains(['/', '\\', '.', ' ', '"', '$']) {
        Err("must be a MongoDB database name".to_owned())
    } else {
        Ok(value.to_owned())
    }
}

pub(super) fn smtp_url(value: &str) -> Parsed<Sensitive> {
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "smtp" | "smtps") && url.host().is_some() => {
            Ok(Sensitive::new(value))
        }
        _ => Err("must be an smtp:// or smtps:// URL with a host".to_owned()),
    }
}

pub(super) fn mailbox(value: &str) -> Parsed<String> {
    match value.parse::<lettre::message::Mailbox>() {
        Ok(_) => Ok(value.to_owned()),
        Err(_) => {
            Err("must be an address, optionally with a name: `Name <address@host>`".to_owned())
        }
    }
}

/// An SMS gateway's base URL: https, or http for a gateway on this machine (tests, a local
/// relay); no credentials or fragment in it.
pub(super) fn gateway_url(value: &str) -> Parsed<Url> {
    let refused = || {
        Err("must be an https:// URL (http:// only for localhost or 127.0.0.1) without user, password or #fragment".to_owned())
    };
    let Ok(url) = Url::parse(value) else {
        return refused();
    };
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && local);
    if !scheme_ok
        || url.host().is_none()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return refused();
    }
    Ok(url)
}

/// A secret that is not empty and has no spaces (a token given in a file may end in a line
/// break, which is trimmed before).
pub(super) fn sensitive_text(value: &str) -> Parsed<Sensitive> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        Err("must not be empty or contain spaces".to_owned())
    } else {
        Ok(Sensitive::new(value))
    }
}

pub(super) fn accept_url(value: &str) -> Parsed<Url> {
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.fragment().is_none() => Ok(url),
        _ => Err("must be an http(s) URL without a #fragment".to_owned()),
    }
}

pub(super) fn locale(value: &str) -> Parsed<Locale> {
    Locale::parse(value).map_err(|e| e.message().to_owned())
}

/// Comma-separated entries, each parsed by `parse`; empty entries are skipped.
pub(super) fn list<T>(parse: impl Fn(&str) -> Parsed<T>) -> impl Fn(&str) -> Parsed<Vec<T>> {
    move |value| {
        value
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(&parse)
            .collect()
    }
}

pub(super) fn message_key(value: &str) -> Parsed<MessageKey> {
    MessageKey::parse(value).map_err(|err| err.to_string())
}

/// Keys separated by commas or white space (one per line in a `_FILE`).
pub(super) fn message_keys(value: &str) -> Parsed<Vec<MessageKey>> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(message_key)
        .collect()
}

pub(super) fn allowed_redirect(value: &str) -> Parsed<AllowedRedirect> {
    AllowedRedirect::parse(value).map_err(|e| e.message().to_owned())
}

pub(super) fn origin(value: &str) -> Parsed<String> {
    match Url::parse(value) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.path() == "/"
                && !value.ends_with('/') =>
        {
            Ok(value.to_owned())
        }
        _ => Err(format!(
            "{value:?} is not an origin like https://app.example.org"
        )),
    }
}

pub(super) fn existing_account_policy(value: &str) -> Parsed<ExistingAccountPolicy> {
    match value {
        "attach" => Ok(ExistingAccountPolicy::Attach),
        "refuse" => Ok(ExistingAccountPolicy::Refuse),
        _ => Err("must be attach or refuse".to_owned()),
    }
}

pub(super) fn log_format(value: &str) -> Parsed<LogFormat> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("must be text or json".to_owned()),
    }
}

/// A name shown to people: not empty, on one line.
pub(super) fn display_name(value: &str) -> Parsed<String> {
    if value.is_empty() || value.chars().any(char::is_control) {
        Err("must be a non-empty name on one line".to_owned())
    } else {
        Ok(value.to_owned())
    }
}
