//! Webhooks as Standard Webhooks 1.0 defines them: endpoints, their `whsec_` secrets, the
//! signature, and the rules of one delivery (when it is due, what an answer means, when to
//! give up). No I/O: the sender in the service layer applies these with the store's checks.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;
use uuid::Uuid;

use super::outbox::backoff;
use super::vocabulary::string_enum;
use super::{EventType, InvitationId, MessageKeys, SealError, SealedBody, ValidationError};

/// The prefix Standard Webhooks gives secrets.
const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the standard asks for at least 24).
const SECRET_BYTES: usize = 32;
const MIN_SECRET_BYTES: usize = 24;
const MAX_SECRET_BYTES: usize = 64;

/// An endpoint's signing secret. `Debug` shows none of it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(super::REDACTED)
    }
}

impl WebhookSecret {
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// `whsec_` and base64 of 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let bad = || {
            ValidationError::new(
                "secret",
                "a webhook secret is whsec_ followed by base64 of 24 to 64 bytes",
            )
        };
        let encoded = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(bad)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| bad())?;
        Self::from_bytes(bytes).ok_or_else(bad)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (MIN_SECRET_BYTES..=MAX_SECRET_BYTES)
            .contains(&bytes.len())
            .then_some(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text shown once to whoever created or rotated the endpoint.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes keys of any length.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(message_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret that still signs, space-separated.
pub fn signature_header<'a>(
    secrets: impl IntoIterator<Item = &'a WebhookSecret>,
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .into_iter()
        .map(|secret| secret.sign(message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where an endpoint receives events: an absolute `http` or `https` URL without credentials.
/// Whether its host may be private is decided where names are resolved (see
/// [`is_public_address`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    pub const MAX_LENGTH: usize = 2048;

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| ValidationError::new("url", why);
        let input = input.trim();
        if input.len() > Self::MAX_LENGTH {
            return Err(bad("the URL must be at most 2048 characters"));
        }
        let url = Url::parse(input).map_err(|_| bad("the URL is not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the URL must use http or https"));
        }
        if url.host().is_none() {
            return Err(bad("the URL must name a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("the URL must not carry a user name or password"));
        }
        if url.fragment().is_some() {
            return Err(bad("the URL must not have a fragment"));
        }
        Ok(Self(url))
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (CGNAT), unique-local, documentation, multicast, broadcast or unspecified. Webhooks go
/// only to public addresses unless an operator allows private ones.
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || (first == 0x0064 && v6.segments()[1] == 0xff9b))
        }
    }
}

/// What a sealed secret is bound to: its endpoint and its own id.
fn sealing_context(endpoint: Uuid, secret: Uuid) -> Vec<u8> {
    [
        b"webhook-secret".as_slice(),
        endpoint.as_bytes(),
        secret.as_bytes(),
    ]
    .concat()
}

/// One signing secret of an endpoint, sealed at rest. A rotated-out secret keeps signing
/// until `retires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub id: Uuid,
    pub sealed: SealedBody,
    pub created_at: DateTime<Utc>,
    pub retires_at: Option<DateTime<Utc>>,
}

impl StoredSecret {
    /// `secret` of `endpoint`, sealed with `keys`' current key under a new secret id.
    pub fn seal(
        keys: &MessageKeys,
        endpoint: Uuid,
        secret: &WebhookSecret,
        now: DateTime<Utc>,
    ) -> Result<Self, SealError> {
        let id = Uuid::now_v7();
        Ok(Self {
            id,
            sealed: keys.seal_bytes(secret.as_bytes(), &sealing_context(endpoint, id))?,
            created_at: now,
            retires_at: None,
        })
    }

    /// The secret, opened; `None` when none of `keys` opens it (or it was changed in the
    /// store, or copied to another endpoint).
    pub fn open(&self, keys: &MessageKeys, endpoint: Uuid) -> Option<WebhookSecret> {
        keys.open_bytes(&self.sealed, &sealing_context(endpoint, self.id))
            .ok()
            .and_then(WebhookSecret::from_bytes)
    }

    pub fn signs_at(&self, now: DateTime<Utc>) -> bool {
        self.retires_at.is_none_or(|at| at > now)
    }
}

/// A receiver of events, managed by admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub url: WebhookUrl,
    pub description: Option<String>,
    /// The types it receives; empty: every type.
    pub event_types: Vec<EventType>,
    pub enabled: bool,
    /// Since when it receives events: when it was made or last enabled. Events that happened
    /// earlier never reach it, however late they are published.
    pub enabled_at: DateTime<Utc>,
    /// Why it was disabled, when the module disabled it (410, or failing for the horizon).
    pub disabled_reason: Option<String>,
    /// The current secret first, then rotated-out ones still in their grace period.
    pub secrets: Vec<StoredSecret>,
    /// Since when every attempt has failed; `None` after a success.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub revision: u64,
}

impl WebhookEndpoint {
    pub const MAX_DESCRIPTION_CHARS: usize = 500;

    /// Whether an event of `event_type` that happened `at` goes to this endpoint: it is
    /// enabled, asked for the type, and was enabled when the event happened (an event
    /// published late, by a busy dispatcher or after a stopped process, does not reach an
    /// endpoint made or enabled again since).
    pub fn wants(&self, event_type: EventType, at: DateTime<Utc>) -> bool {
        self.enabled
            && self.enabled_at <= at
            && (self.event_types.is_empty() || self.event_types.contains(&event_type))
    }

    /// Puts `secret` first; the old current one keeps signing for `grace`. Secrets past their
    /// grace are dropped.
    pub fn rotate(&mut self, secret: StoredSecret, now: DateTime<Utc>, grace: TimeDelta) {
        self.secrets.retain(|s| s.signs_at(now));
        for old in &mut self.secrets {
            let until = now + grace;
            old.retires_at = Some(old.retires_at.map_or(until, |at| at.min(until)));
        }
        self.secrets.insert(0, secret);
        self.updated_at = now;
    }

    /// The secrets that sign at `now`, current first.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &StoredSecret> {
        self.secrets.iter().filter(move |s| s.signs_at(now))
    }

    /// A 2xx: the endpoint works.
    pub fn succeeded(&mut self) -> bool {
        self.failing_since.take().is_some()
    }

    /// A failed attempt at `now`. Returns true when it disables the endpoint: a 410, or
    /// failing for all of `horizon`.
    pub fn failed(&mut self, now: DateTime<Utc>, gone: bool, horizon: TimeDelta) -> bool {
        let since = *self.failing_since.get_or_insert(now);
        let reason = if gone {
            "the endpoint answered 410 Gone".to_owned()
        } else if now - since >= horizon {
            format!(
                "every delivery failed for {} hours",
                horizon.num_hours().max(1)
            )
        } else {
            return false;
        };
        self.disable(reason, now);
        true
    }

    pub fn disable(&mut self, reason: String, now: DateTime<Utc>) {
        self.enabled = false;
        self.disabled_reason = Some(reason);
        self.updated_at = now;
    }

    pub fn enable(&mut self, now: DateTime<Utc>) {
        self.enabled = true;
        self.enabled_at = now;
        self.disabled_reason = None;
        self.failing_since = None;
        self.updated_at = now;
    }
}

string_enum! {
    pub enum WebhookDeliveryState ("webhook delivery state") {
        /// Waiting for its next attempt.
        Pending = "PENDING",
        /// A 2xx answer was received.
        Delivered = "DELIVERED",
        /// Given up: 410, the retry horizon passed, or the endpoint is gone or disabled.
        Failed = "FAILED",
    }
}

/// How the sender retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookRetryPolicy {
    /// Wait after the first failure; doubled after each further one.
    pub initial: TimeDelta,
    /// Longest wait between two attempts.
    pub max: TimeDelta,
    /// No attempt is made later than this after the event.
    pub horizon: TimeDelta,
}

/// One attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// What went wrong, when it did.
    pub error: Option<String>,
    /// The start of the answer's body, for the delivery log.
    pub response: Option<String>,
}

impl WebhookAttempt {
    /// Attempts kept per delivery (the count is kept in full).
    pub const KEPT: usize = 25;
    /// Characters of a response body kept.
    pub const RESPONSE_CHARS: usize = 500;
}

/// One event on its way to one endpoint. Its id is the `webhook-id`: the same on every
/// attempt and on a manual redelivery, so that receivers can drop repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: EventType,
    /// `None` for a test event.
    pub invitation_id: Option<InvitationId>,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub state: WebhookDeliveryState,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub attempt_count: u32,
    /// The latest attempts, oldest first.
    pub attempts: Vec<WebhookAttempt>,
    /// Until when attempts may be made (the event's time plus the horizon, or later after a
    /// manual redelivery).
    pub deadline: DateTime<Utc>,
    pub revision: u64,
}

/// What an attempt's outcome means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// 410: the receiver asks never to be called again.
    Gone,
    /// Worth another try (timeouts, refused connections, 5xx, 429, other 4xx).
    Failed,
}

impl AttemptOutcome {
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Self::Delivered,
            410 => Self::Gone,
            _ => Self::Failed,
        }
    }
}

impl WebhookDelivery {
    /// A new delivery of `event_id` to `endpoint_id`, due at `now`, attempted until
    /// `deadline`.
    pub fn new(
        event_id: Uuid,
        endpoint_id: Uuid,
        event_type: EventType,
        invitation_id: Option<InvitationId>,
        body: String,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_id,
            endpoint_id,
            event_type,
            invitation_id,
            body,
            created_at: now,
            state: WebhookDeliveryState::Pending,
            next_attempt_at: now,
            lease_until: None,
            attempt_count: 0,
            attempts: Vec::new(),
            deadline,
            revision: 0,
        }
    }

    /// The `webhook-id` header: `msg_` and the delivery id.
    pub fn message_id(&self) -> String {
        format!("msg_{}", self.id.simple())
    }

    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.state == WebhookDeliveryState::Pending
            && self.next_attempt_at <= now
            && self.lease_until.is_none_or(|until| until <= now)
    }

    /// Takes the delivery for one attempt until `now + lease`.
    pub fn claim(&mut self, now: DateTime<Utc>, lease: TimeDelta) -> bool {
        if !self.is_due(now) {
            return false;
        }
        self.lease_until = Some(now + lease);
        true
    }

    /// Records `attempt` and decides what comes next; returns the new state.
    pub fn record(
        &mut self,
        attempt: WebhookAttempt,
        outcome: AttemptOutcome,
        policy: &WebhookRetryPolicy,
        jitter: f64,
    ) -> WebhookDeliveryState {
        let now = attempt.at;
        self.attempt_count = self.attempt_count.saturating_add(1);
        if self.attempts.len() >= WebhookAttempt::KEPT {
            self.attempts.remove(0);
        }
        self.attempts.push(attempt);
        self.lease_until = None;
        self.state = match outcome {
            AttemptOutcome::Delivered => WebhookDeliveryState::Delivered,
            AttemptOutcome::Gone => WebhookDeliveryState::Failed,
            AttemptOutcome::Failed => {
                let next = now + backoff(policy.initial, policy.max, self.attempt_count, jitter);
                if next > self.deadline {
                    WebhookDeliveryState::Failed
                } else {
                    self.next_attempt_at = next;
                    WebhookDeliveryState::Pending
                }
            }
        };
        self.state
    }

    /// Gives up without an attempt (the endpoint was deleted or disabled).
    pub fn abandon(&mut self, reason: &str, now: DateTime<Utc>) {
        self.state = WebhookDeliveryState::Failed;
        self.lease_until = None;
        if self.attempts.len() >= WebhookAttempt::KEPT {
            self.attempts.remove(0);
        }
        self.attempts.push(WebhookAttempt {
            at: now,
            duration_ms: 0,
            status: None,
            error: Some(reason.to_owned()),
            response: None,
        });
    }

    /// An admin asks for it again: due now, with a fresh horizon. Same `webhook-id`.
    pub fn redeliver(&mut self, now: DateTime<Utc>, policy: &WebhookRetryPolicy) {
        self.state = WebhookDeliveryState::Pending;
        self.next_attempt_at = now;
        self.lease_until = None;
        self.deadline = now + policy.horizon;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_matches_the_standard_webhooks_test_vector() {
        // The example in the Standard Webhooks specification.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_whsec_and_show_nothing_in_debug() {
        let secret = WebhookSecret::generate().unwrap();
        let text = secret.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&text).unwrap(), secret);
        assert!(!format!("{secret:?}").contains(&text[6..]));
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public_address(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public_address(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_must_be_http_with_a_host_and_no_credentials() {
        assert!(WebhookUrl::parse("https://hooks.example.com/in?x=1").is_ok());
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "/relative",
            "https://example.com/#frag",
            "javascript:alert(1)",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
    }

    fn delivery(now: DateTime<Utc>, policy: &WebhookRetryPolicy) -> WebhookDelivery {
        WebhookDelivery::new(
            Uuid::now_v7(),
            Uuid::now_v7(),
            EventType::Created,
            None,
            "{}".into(),
            now,
            now + policy.horizon,
        )
    }

    fn attempt(at: DateTime<Utc>) -> WebhookAttempt {
        WebhookAttempt {
            at,
            duration_ms: 1,
            status: Some(500),
            error: None,
            response: None,
        }
    }

    #[test]
    fn failures_back_off_until_the_horizon_then_give_up() {
        let policy = WebhookRetryPolicy {
            initial: TimeDelta::seconds(5),
            max: TimeDelta::hours(2),
            horizon: TimeDelta::days(3),
        };
        let start = Utc::now();
        let mut d = delivery(start, &policy);
        let mut now = start;
        let mut waits = Vec::new();
        loop {
            assert!(d.claim(now, TimeDelta::minutes(1)));
            assert!(!d.claim(now, TimeDelta::minutes(1)), "leased");
            match d.record(attempt(now), AttemptOutcome::Failed, &policy, 1.0) {
                WebhookDeliveryState::Pending => {
                    waits.push(d.next_attempt_at - now);
                    now = d.next_attempt_at;
                }
                WebhookDeliveryState::Failed => break,
                WebhookDeliveryState::Delivered => unreachable!(),
            }
        }
        assert_eq!(waits[0], TimeDelta::seconds(5));
        assert_eq!(waits[1], TimeDelta::seconds(10));
        assert!(waits.iter().all(|w| *w <= TimeDelta::hours(2)));
        assert!(now <= start + policy.horizon);
        assert!(
            now + TimeDelta::hours(2) > start + policy.horizon,
            "tried until the end"
        );
        assert_eq!(d.attempts.len(), WebhookAttempt::KEPT);
        assert_eq!(d.attempt_count as usize, waits.len() + 1);

        let mut gone = delivery(start, &policy);
        assert!(gone.claim(start, TimeDelta::minutes(1)));
        assert_eq!(
            gone.record(attempt(start), AttemptOutcome::of_status(410), &policy, 0.5),
            WebhookDeliveryState::Failed
        );
        gone.redeliver(now, &policy);
        assert!(gone.is_due(now));
    }

    #[test]
    fn a_rotated_secret_signs_beside_the_new_one_until_its_grace_ends() {
        let now = Utc::now();
        let secret = |n: u8| StoredSecret {
            id: Uuid::now_v7(),
            sealed: SealedBody::from_bytes(vec![n]),
            created_at: now,
            retires_at: None,
        };
        let mut endpoint = WebhookEndpoint {
            id: Uuid::now_v7(),
            url: WebhookUrl::parse("https://example.com/hook").unwrap(),
            description: None,
            event_types: vec![EventType::Accepted],
            enabled: true,
            enabled_at: now,
            disabled_reason: None,
            secrets: vec![secret(1)],
            failing_since: None,
            created_at: now,
            updated_at: now,
            revision: 0,
        };
        endpoint.rotate(secret(2), now, TimeDelta::hours(24));
        assert_eq!(endpoint.signing_secrets(now).count(), 2);
        assert_eq!(
            endpoint.signing_secrets(now + TimeDelta::hours(25)).count(),
            1
        );
        assert!(
            endpoint.wants(EventType::Accepted, now) && !endpoint.wants(EventType::Created, now)
        );
        assert!(
            !endpoint.wants(EventType::Accepted, now - TimeDelta::seconds(1)),
            "an event from before the endpoint was made"
        );
        assert!(!endpoint.failed(now, false, TimeDelta::days(3)));
        assert!(endpoint.failed(now + TimeDelta::days(3), false, TimeDelta::days(3)));
        assert!(!endpoint.wants(EventType::Accepted, now));
        let enabled_again = now + TimeDelta::hours(1);
        endpoint.enable(enabled_again);
        assert!(
            !endpoint.wants(EventType::Accepted, enabled_again - TimeDelta::minutes(1)),
            "an event from while it was disabled, published after it was enabled again"
        );
        assert!(endpoint.wants(EventType::Accepted, enabled_again));
        endpoint.enable(now);
        assert!(endpoint.failed(now, true, TimeDelta::days(3)));
        assert_eq!(
            endpoint.disabled_reason.as_deref(),
            Some("the endpoint answered 410 Gone")
        );
    }
}
