//! Every setting, declared once: its section, TOML key (the field's name), environment
//! variable, default, meaning and parser. The [`section!`] macro makes each section's struct,
//! its entries in the documented table and its loader from the same lines.

use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

use super::parse;
use super::source::{Setting, Source};
use super::{ExistingAccountPolicy, LogFormat, Sensitive};
use crate::domain::{AllowedRedirect, IsoDuration, Locale, MessageKey};

/// `section! { "name" => pub struct Name { field: Type { env, default, meaning, parse } } }`:
/// the struct (each field documented by its meaning), `Name::SETTINGS` and `Name::load`,
/// which parses every field and records each refusal (so every problem is listed at once).
macro_rules! section {
    (
        $(#[$meta:meta])*
        $section:literal => pub struct $name:ident {
            $(
                $field:ident: $ty:ty {
                    env: $env:literal,
                    default: $default:literal,
                    meaning: $meaning:literal,
                    parse: $parse:expr
                    $(, from_file: $from_file:literal)? $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name {
            $( #[doc = $meaning] pub $field: $ty, )*
        }

        impl $name {
            pub const SETTINGS: &'static [Setting] = &[$(
                Setting {
                    section: $section,
                    key: stringify!($field),
                    env: $env,
                    default: $default,
                    meaning: $meaning,
                    from_file: false $(|| $from_file)?,
                },
            )*];

            pub(super) fn load(source: &mut Source) -> Option<Self> {
                $( let $field = source.take(stringify!($field), $parse); )*
                Some(Self { $( $field: $field?, )* })
            }
        }
    };
}

section! {
    /// The HTTP edge of the standalone server.
    "http" => pub struct HttpConfig {
        listen: SocketAddr {
            env: "INVITATIONS_LISTEN",
            default: "127.0.0.1:8080",
            meaning: "address the server listens on",
            parse: parse::socket_addr,
        },
        max_body_bytes: usize {
            env: "INVITATIONS_MAX_BODY_BYTES",
            default: "2097152",
            meaning: "largest accepted request body, in bytes",
            parse: parse::number(1024..=67_108_864),
        },
        cors_origins: Vec<String> {
            env: "INVITATIONS_CORS_ORIGINS",
            default: "",
            meaning: "comma-separated browser origins (`https://app.example.org`) allowed to call `/graphql`",
            parse: parse::list(parse::origin),
        },
        trust_forwarded_for: bool {
            env: "INVITATIONS_TRUST_FORWARDED_FOR",
            default: "false",
            meaning: "rate-limit by the last `X-Forwarded-For` address (set only behind a proxy that writes it)",
            parse: parse::boolean,
        },
        trusted_proxies: u8 {
            env: "INVITATIONS_TRUSTED_PROXIES",
            default: "1",
            meaning: "with `trust_forwarded_for`: how many proxies in front of the server append to `X-Forwarded-For`; the client is the address that many places from its end",
            parse: parse::number(1..=10),
        },
        public_rate_limit: u32 {
            env: "INVITATIONS_PUBLIC_RATE_LIMIT",
            default: "30",
            meaning: "public operations per minute per client address; `0` turns the limit off",
            parse: parse::number(0..=u32::MAX),
        },
        header_read_timeout: IsoDuration {
            env: "INVITATIONS_HEADER_READ_TIMEOUT",
            default: "PT10S",
            meaning: "a connection that has not sent a whole request header by then (also an idle kept-alive one) is closed",
            parse: parse::duration_within(1, 300),
        },
        request_timeout: IsoDuration {
            env: "INVITATIONS_REQUEST_TIMEOUT",
            default: "PT30S",
            meaning: "a request whose body has not arrived and been answered by then gets 408",
            parse: parse::duration_within(1, 600),
        },
        max_connections: usize {
            env: "INVITATIONS_MAX_CONNECTIONS",
            default: "1024",
            meaning: "connections served at once; further ones are closed as they arrive",
            parse: parse::number(1..=1_000_000),
        },
        persisted_query_cache_bytes: usize {
            env: "INVITATIONS_PERSISTED_QUERY_CACHE_BYTES",
            default: "8388608",
            meaning: "bytes of query text kept for automatic persisted queries (per instance, oldest dropped first); `0` turns them off",
            parse: parse::number(0..=1_073_741_824),
        },
        introspection: bool {
            env: "INVITATIONS_INTROSPECTION",
            default: "true",
            meaning: "answer GraphQL introspection (`__schema`, `__type`), which tools use to read the schema; `false` hides it",
            parse: parse::boolean,
        },
        metrics_token: Option<Sensitive> {
            env: "INVITATIONS_METRICS_TOKEN",
            default: "",
            meaning: "bearer token `/metrics` requires; unset: `/metrics` answers anyone who reaches the port",
            parse: parse::optional(parse::secret),
            from_file: true,
        },
        shutdown_grace: IsoDuration {
            env: "INVITATIONS_SHUTDOWN_GRACE",
            default: "PT10S",
            meaning: "how long a stopping server waits for requests in flight before it closes their connections",
            parse: parse::duration_within(0, 600),
        },
    }
}

section! {
    /// Where invitations, accounts and tokens are kept, and for how long.
    "store" => pub struct StoreConfig {
        data_dir: PathBuf {
            env: "INVITATIONS_DATA_DIR",
            default: "./data",
            meaning: "embedded store, `.eml` outbox and bootstrap token file",
            parse: parse::path,
        },
        mongodb_uri: Option<Sensitive> {
            env: "INVITATIONS_MONGODB_URI",
            default: "",
            meaning: "MongoDB connection string (a replica set); unset: embedded SQLite",
            parse: parse::optional(parse::mongodb_uri),
            from_file: true,
        },
        mongodb_database: String {
            env: "INVITATIONS_MONGODB_DATABASE",
            default: "cms_invitations",
            meaning: "MongoDB database name",
            parse: parse::database_name,
        },
        retention: Option<IsoDuration> {
            env: "INVITATIONS_RETENTION",
            default: "P180D",
            meaning: "how long finished invitations are kept; `off` keeps them forever",
            parse: parse::duration_or_off,
        },
        sweep_interval: IsoDuration {
            env: "INVITATIONS_SWEEP_INTERVAL",
            default: "PT30S",
            meaning: "how often the sweeper persists expiry and purges finished invitations",
            parse: parse::duration_within(1, i64::MAX),
        },
        count_max_age: IsoDuration {
            env: "INVITATIONS_COUNT_MAX_AGE",
            default: "PT1S",
            meaning: "how long a listing's `totalCount` may be reused (this process's own changes show at once); `PT0S` counts every time",
            parse: parse::duration_within(0, 3600),
        },
    }
}

section! {
    /// Email content and delivery.
    "email" => pub struct EmailConfig {
        smtp_url: Option<Sensitive> {
            env: "INVITATIONS_SMTP_URL",
            default: "",
            meaning: "SMTP server, e.g. `smtp://127.0.0.1:1025`; unset: `.eml` files in `data_dir/outbox`",
            parse: parse::optional(parse::smtp_url),
            from_file: true,
        },
        smtp_ca_file: Option<PathBuf> {
            env: "INVITATIONS_SMTP_CA_FILE",
            default: "",
            meaning: "PEM file of certificates to trust for the SMTP server's TLS besides the built-in roots (a private CA); unset: built-in roots only",
            parse: parse::optional(parse::path),
        },
        outbox_retention: Option<IsoDuration> {
            env: "INVITATIONS_OUTBOX_RETENTION",
            default: "P7D",
            meaning: "without SMTP: how long written `.eml` files (each holds a live link) stay in `data_dir/outbox`; `off` keeps them",
            parse: parse::duration_or_off,
        },
        message_key: Option<MessageKey> {
            env: "INVITATIONS_MESSAGE_KEY",
            default: "",
            meaning: "base64 of 32 random bytes that seal queued email bodies at rest (XChaCha20-Poly1305), never stored with them; the same on every instance. Required with MongoDB; unset with SQLite: made once in `data_dir/message.key`",
            parse: parse::optional(parse::message_key),
            from_file: true,
        },
        previous_message_keys: Vec<MessageKey> {
            env: "INVITATIONS_PREVIOUS_MESSAGE_KEYS",
            default: "",
            meaning: "keys replaced by `message_key` that still open bodies sealed before a rotation (comma- or line-separated); drop one once no message sealed with it is queued",
            parse: parse::message_keys,
            from_file: true,
        },
        email_from: String {
            env: "INVITATIONS_EMAIL_FROM",
            default: "Invitations <invitations@localhost>",
            meaning: "sender of every email",
            parse: parse::mailbox,
        },
        smtp_pool_size: u32 {
            env: "INVITATIONS_SMTP_POOL_SIZE",
            default: "4",
            meaning: "SMTP connections kept open and messages sent at once",
            parse: parse::number(1..=64),
        },
        email_send_timeout: IsoDuration {
            env: "INVITATIONS_EMAIL_SEND_TIMEOUT",
            default: "PT30S",
            meaning: "limit for one delivery attempt, from connecting to the server's answer to the message",
            parse: parse::duration_within(1, i64::MAX),
        },
        email_retry_initial: IsoDuration {
            env: "INVITATIONS_EMAIL_RETRY_INITIAL",
            default: "PT30S",
            meaning: "wait after the first failed attempt; doubled after each further one, with jitter",
            parse: parse::duration_within(1, i64::MAX),
        },
        email_retry_max: IsoDuration {
            env: "INVITATIONS_EMAIL_RETRY_MAX",
            default: "PT1H",
            meaning: "longest wait between two attempts",
            parse: parse::duration_within(1, i64::MAX),
        },
        email_max_attempts: u32 {
            env: "INVITATIONS_EMAIL_MAX_ATTEMPTS",
            default: "8",
            meaning: "attempts per message before its delivery is FAILED (permanent refusals fail at once)",
            parse: parse::number(1..=100),
        },
        default_locale: Locale {
            env: "INVITATIONS_DEFAULT_LOCALE",
            default: "en",
            meaning: "email locale when the invitation has none",
            parse: parse::locale,
        },
        email_templates_dir: Option<PathBuf> {
            env: "INVITATIONS_EMAIL_TEMPLATES_DIR",
            default: "",
            meaning: "folder of `<locale>/<kind>.<part>.hbs` files that replace the built-in templates by name",
            parse: parse::optional(parse::path),
        },
        email_templates_reload: bool {
            env: "INVITATIONS_EMAIL_TEMPLATES_RELOAD",
            default: "false",
            meaning: "read the template folder again before every render (while editing templates)",
            parse: parse::boolean,
        },
        email_reply_to_inviter: bool {
            env: "INVITATIONS_EMAIL_REPLY_TO_INVITER",
            default: "false",
            meaning: "invitation emails carry `Reply-To:` the inviter's address (when the inviter has one), so a reply reaches a person",
            parse: parse::boolean,
        },
        email_product_name: String {
            env: "INVITATIONS_EMAIL_PRODUCT_NAME",
            default: "CMS",
            meaning: "the name emails give the CMS (\"… invited you to join {name}\")",
            parse: parse::display_name,
        },
    }
}

section! {
    /// The rules invitations follow: links, validity, what an invitation may carry, accounts.
    "rules" => pub struct RulesConfig {
        accept_url: Option<Url> {
            env: "INVITATIONS_ACCEPT_URL",
            default: "",
            meaning: "page the invitation link opens; unset: the server's own `/accept`",
            parse: parse::optional(parse::accept_url),
        },
        default_validity: IsoDuration {
            env: "INVITATIONS_DEFAULT_VALIDITY",
            default: "P7D",
            meaning: "validity of a new invitation (ISO 8601 duration)",
            parse: parse::duration,
        },
        min_validity: IsoDuration {
            env: "INVITATIONS_MIN_VALIDITY",
            default: "PT1H",
            meaning: "shortest `validFor` accepted",
            parse: parse::duration,
        },
        max_validity: IsoDuration {
            env: "INVITATIONS_MAX_VALIDITY",
            default: "P30D",
            meaning: "longest `validFor` accepted",
            parse: parse::duration,
        },
        redirect_allow_list: Vec<AllowedRedirect> {
            env: "INVITATIONS_REDIRECT_ALLOW_LIST",
            default: "",
            meaning: "comma-separated URL prefixes a `redirectUrl` must start with; empty: none allowed",
            parse: parse::list(parse::allowed_redirect),
        },
        metadata_max_bytes: usize {
            env: "INVITATIONS_METADATA_MAX_BYTES",
            default: "8192",
            meaning: "largest `metadata` object, in bytes of JSON",
            parse: parse::number(2..=1_048_576),
        },
        email_quota_per_hour: u32 {
            env: "INVITATIONS_EMAIL_QUOTA_PER_HOUR",
            default: "1000",
            meaning: "invitation messages (emails and text messages) one principal may queue per hour (creates and resends, counted per server instance); `0` turns the quota off",
            parse: parse::number(0..=1_000_000),
        },
        resend_cooldown: IsoDuration {
            env: "INVITATIONS_RESEND_COOLDOWN",
            default: "PT1M",
            meaning: "shortest time between two emails of one invitation; an earlier resend is RATE_LIMITED",
            parse: parse::duration_within(0, 86_400),
        },
        existing_account_policy: ExistingAccountPolicy {
            env: "INVITATIONS_EXISTING_ACCOUNT_POLICY",
            default: "attach",
            meaning: "`attach` role and groups to an existing account with the invited email, or `refuse`",
            parse: parse::existing_account_policy,
        },
    }
}

section! {
    /// Text messages for SMS invitations.
    "sms" => pub struct SmsConfig {
        sms_api_url: Option<Url> {
            env: "INVITATIONS_SMS_API_URL",
            default: "",
            meaning: "base URL of an SMS gateway speaking the Twilio Messages API (messages are posted to `<url>/2010-04-01/Accounts/<sms_account>/Messages.json`); unset: `.sms` files in `data_dir/outbox`",
            parse: parse::optional(parse::gateway_url),
        },
        sms_account: String {
            env: "INVITATIONS_SMS_ACCOUNT",
            default: "",
            meaning: "the gateway account (Twilio: the Account SID): part of the path and the user name of HTTP basic auth; required with `sms_api_url`",
            parse: parse::text,
        },
        sms_token: Option<Sensitive> {
            env: "INVITATIONS_SMS_TOKEN",
            default: "",
            meaning: "the gateway's secret (Twilio: the Auth Token), the password of HTTP basic auth; required with `sms_api_url`",
            parse: parse::optional(parse::sensitive_text),
            from_file: true,
        },
        sms_from: String {
            env: "INVITATIONS_SMS_FROM",
            default: "",
            meaning: "the sender: an E.164 number, an alphanumeric sender ID or a messaging service ID the account may send from; required with `sms_api_url`",
            parse: parse::text,
        },
        sms_send_timeout: IsoDuration {
            env: "INVITATIONS_SMS_SEND_TIMEOUT",
            default: "PT10S",
            meaning: "limit for one request to the gateway, from connecting to the end of its answer",
            parse: parse::duration_within(1, 300),
        },
        sms_concurrency: u32 {
            env: "INVITATIONS_SMS_CONCURRENCY",
            default: "4",
            meaning: "requests to the gateway in flight at once, per server instance",
            parse: parse::number(1..=64),
        },
    }
}

section! {
    /// Events leaving the module: webhooks and the subscription.
    "webhooks" => pub struct WebhooksConfig {
        webhook_allow_private: bool {
            env: "INVITATIONS_WEBHOOK_ALLOW_PRIVATE",
            default: "false",
            meaning: "allow webhook endpoints on loopback, private and link-local addresses (checked again after every DNS lookup); for local development and tests",
            parse: parse::boolean,
        },
        webhook_timeout: IsoDuration {
            env: "INVITATIONS_WEBHOOK_TIMEOUT",
            default: "PT10S",
            meaning: "limit for one delivery attempt, from connecting to the end of the answer",
            parse: parse::duration_within(1, 300),
        },
        webhook_retry_initial: IsoDuration {
            env: "INVITATIONS_WEBHOOK_RETRY_INITIAL",
            default: "PT5S",
            meaning: "wait after the first failed attempt; doubled after each further one, with jitter",
            parse: parse::duration_within(1, i64::MAX),
        },
        webhook_retry_max: IsoDuration {
            env: "INVITATIONS_WEBHOOK_RETRY_MAX",
            default: "PT2H",
            meaning: "longest wait between two attempts",
            parse: parse::duration_within(1, i64::MAX),
        },
        webhook_retry_horizon: IsoDuration {
            env: "INVITATIONS_WEBHOOK_RETRY_HORIZON",
            default: "P3D",
            meaning: "how long after an event attempts go on; an endpoint that failed for all of it is disabled",
            parse: parse::duration_within(1, i64::MAX),
        },
        webhook_concurrency: u32 {
            env: "INVITATIONS_WEBHOOK_CONCURRENCY",
            default: "16",
            meaning: "webhook requests in flight at once, per server instance",
            parse: parse::number(1..=256),
        },
        webhook_secret_grace: IsoDuration {
            env: "INVITATIONS_WEBHOOK_SECRET_GRACE",
            default: "PT24H",
            meaning: "after a rotation, how long the old secret keeps signing beside the new one",
            parse: parse::duration_within(0, i64::MAX),
        },
        event_retention: IsoDuration {
            env: "INVITATIONS_EVENT_RETENTION",
            default: "P30D",
            meaning: "how long logged events and finished webhook deliveries are kept (at least the retry horizon)",
            parse: parse::duration_within(1, i64::MAX),
        },
        subscription_buffer: u32 {
            env: "INVITATIONS_SUBSCRIPTION_BUFFER",
            default: "256",
            meaning: "events one subscription may fall behind by before it is closed (a slow subscriber never slows the server)",
            parse: parse::number(8..=65536),
        },
    }
}

section! {
    /// The standalone server's logs.
    "log" => pub struct LogConfig {
        log_format: LogFormat {
            env: "INVITATIONS_LOG_FORMAT",
            default: "text",
            meaning: "`text` or `json` (one object per line)",
            parse: parse::log_format,
        },
        log: String {
            env: "INVITATIONS_LOG",
            default: "info",
            meaning: "log filter, e.g. `info` or `cms_invitations=debug,warn`",
            parse: parse::text,
        },
    }
}

/// Every setting of every section, in the order the documentation lists them.
pub fn settings() -> impl Iterator<Item = &'static Setting> {
    [
        HttpConfig::SETTINGS,
        StoreConfig::SETTINGS,
        EmailConfig::SETTINGS,
        SmsConfig::SETTINGS,
        RulesConfig::SETTINGS,
        WebhooksConfig::SETTINGS,
        LogConfig::SETTINGS,
    ]
    .into_iter()
    .flatten()
}
