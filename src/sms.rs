//! Text messages out: an HTTP gateway speaking the Twilio Messages API (Twilio itself, or any
//! gateway that copies its shape), or `.sms` files in a folder when none is configured.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use crate::domain::{DeliveryFailure, OutgoingSms};
use crate::ports::SmsSender;

const USER_AGENT: &str = concat!("cms-invitations-sms/", env!("CARGO_PKG_VERSION"));
/// The most of a gateway's answer read: enough for any error it explains itself with.
const MAX_ANSWER: usize = 64 * 1024;
/// The most of a gateway's explanation kept in a delivery's last error.
const MAX_REASON: usize = 300;
/// Twilio's error codes that mean this number will not take a text message from this sender,
/// whatever the wait: not a valid number, not a mobile, opted out, region not enabled, not
/// routable. A 4xx answer is permanent anyway; these are named in the docs.
pub const PERMANENT_CODES: [u32; 5] = [21211, 21614, 21610, 21408, 21612];

/// Where and as whom the gateway is reached.
#[derive(Clone)]
pub struct GatewaySettings {
    /// The base URL; messages go to `<base>/2010-04-01/Accounts/<account>/Messages.json`.
    pub api_url: Url,
    pub account: String,
    pub token: String,
    pub from: String,
    pub timeout: Duration,
    pub concurrency: usize,
}

impl std::fmt::Debug for GatewaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewaySettings")
            .field("api_url", &self.api_url.as_str())
            .field("account", &self.account)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// A gateway with the Twilio Messages API's shape: a form-encoded POST of `To`, `From` and
/// `Body` with HTTP basic auth, answered by JSON with the message's `sid` (or an error's
/// `code` and `message`).
#[derive(Debug, Clone)]
pub struct MessagesApiGateway {
    client: reqwest::Client,
    endpoint: Url,
    settings: GatewaySettings,
}

impl MessagesApiGateway {
    pub fn new(settings: GatewaySettings) -> Result<Self, String> {
        let mut endpoint = settings.api_url.clone();
        endpoint
            .path_segments_mut()
            .map_err(|()| "the SMS gateway URL cannot take a path".to_owned())?
            .pop_if_empty()
            .extend(["2010-04-01", "Accounts", &settings.account, "Messages.json"]);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .pool_max_idle_per_host(settings.concurrency)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|err| format!("cannot build the SMS gateway's HTTP client: {err}"))?;
        Ok(Self {
            client,
            endpoint,
            settings,
        })
    }

    /// Where messages are posted.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }
}

#[async_trait]
impl SmsSender for MessagesApiGateway {
    async fn send(&self, sms: &OutgoingSms) -> Result<(), DeliveryFailure> {
        let sent = self
            .client
            .post(self.endpoint.clone())
            .basic_auth(&self.settings.account, Some(&self.settings.token))
            .form(&[
                ("To", sms.to.as_str()),
                ("From", self.settings.from.as_str()),
                ("Body", sms.text.as_str()),
            ])
            .send()
            .await;
        let response = sent.map_err(|err| {
            DeliveryFailure::transient(format!("SMS gateway: {}", crate::net::describe(&err)))
        })?;
        let status = response.status().as_u16();
        let answer = read_answer(response).await;
        let outcome = Answer::parse(status, &answer);
        match outcome.verdict() {
            Verdict::Accepted => {
                tracing::debug!(message_id = %sms.id, gateway_id = outcome.sid.as_deref().unwrap_or("-"), "text message accepted by the gateway");
                Ok(())
            }
            Verdict::Retry(reason) => Err(DeliveryFailure::transient(reason)),
            Verdict::Refused(reason) => Err(DeliveryFailure::permanent(reason)),
        }
    }

    fn concurrency(&self) -> usize {
        self.settings.concurrency
    }
}

/// At most [`MAX_ANSWER`] bytes of the answer's body; what could not be read is left out.
async fn read_answer(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ANSWER.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ANSWER {
            break;
        }
    }
    body
}

/// What a gateway answered, as far as the Messages API's shape tells.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    sid: Option<String>,
    code: Option<u32>,
    message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Retry(String),
    Refused(String),
}

impl Answer {
    fn parse(status: u16, body: &[u8]) -> Self {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let text = |key: &str| json.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        Self {
            status,
            sid: text("sid"),
            code: json
                .get("code")
                .or_else(|| json.get("error_code"))
                .and_then(serde_json::Value::as_u64)
                .and_then(|c| u32::try_from(c).ok()),
            message: text("message").or_else(|| text("error_message")),
        }
    }

    /// 2xx: taken. 408, 429 and 5xx: the gateway may take it later. 401 and 403: the
    /// account or token is wrong, which an operator can fix before the attempts run out.
    /// Any other 4xx: this message will not be taken (a bad number, an opted-out one).
    fn verdict(&self) -> Verdict {
        let explained = match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!("{code} {}", clean(message)),
            (Some(code), None) => code.to_string(),
            (None, Some(message)) => clean(message),
            (None, None) => "no explanation".to_owned(),
        };
        let reason = format!("SMS gateway answered {}: {explained}", self.status);
        match self.status {
            200..=299 => Verdict::Accepted,
            408 | 429 | 500..=599 => Verdict::Retry(reason),
            401 | 403 => Verdict::Retry(format!(
                "{reason} (check INVITATIONS_SMS_ACCOUNT and INVITATIONS_SMS_TOKEN)"
            )),
            _ => Verdict::Refused(reason),
        }
    }
}

/// A gateway's words on one line, without control characters, cut to [`MAX_REASON`].
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Delivery into a folder: each message becomes `<id>.sms` (its number, then a blank line,
/// then the text), written whole (to a temporary name first) so a reader never sees half.
/// For development, tests and servers that send no text messages yet: `prune_outbox` deletes
/// old ones with the `.eml` files.
#[derive(Debug, Clone)]
pub struct FileSmsSender {
    dir: PathBuf,
}

impl FileSmsSender {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl SmsSender for FileSmsSender {
    async fn send(&self, sms: &OutgoingSms) -> Result<(), DeliveryFailure> {
        let content = format!("To: {}\n\n{}\n", sms.to.as_str(), sms.text);
        crate::fs::write_whole(
            self.dir.clone(),
            format!("{}.sms", sms.id),
            content.into_bytes(),
        )
        .await
        .map_err(|err| {
            DeliveryFailure::transient(format!("cannot write to the outbox folder: {err}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(status: u16, body: &str) -> Verdict {
        Answer::parse(status, body.as_bytes()).verdict()
    }

    #[test]
    fn answers_are_taken_retried_or_refused_by_status() {
        assert_eq!(
            verdict(201, r#"{"sid":"SM123","status":"queued"}"#),
            Verdict::Accepted
        );
        let Verdict::Refused(reason) = verdict(
            400,
            r#"{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}"#,
        ) else {
            panic!("a bad number is refused for good");
        };
        assert_eq!(
            reason,
            "SMS gateway answered 400: 21211 The 'To' number is not a valid phone number."
        );
        assert!(
            matches!(verdict(503, "<html>busy</html>"), Verdict::Retry(r) if r == "SMS gateway answered 503: no explanation")
        );
        assert!(matches!(
            verdict(429, r#"{"code":20429,"message":"Too Many Requests"}"#),
            Verdict::Retry(_)
        ));
        assert!(
            matches!(verdict(401, r#"{"code":20003,"message":"Authenticate"}"#), Verdict::Retry(r) if r.contains("INVITATIONS_SMS_TOKEN"))
        );
        assert!(matches!(verdict(404, ""), Verdict::Refused(_)));
    }

    #[test]
    fn a_gateways_words_stay_on_one_short_line() {
        let long = format!(r#"{{"message":"line one\nline two {}"}}"#, "x".repeat(1000));
        let Verdict::Refused(reason) = verdict(400, &long) else {
            panic!("refused");
        };
        assert!(!reason.contains('\n') && reason.len() < 400, "{reason}");
    }

    #[test]
    fn the_endpoint_follows_the_base_url_and_account() {
        let gateway = |base: &str| {
            MessagesApiGateway::new(GatewaySettings {
                api_url: Url::parse(base).unwrap(),
                account: "AC123".into(),
                token: "secret-token".into(),
                from: "+15005550006".into(),
                timeout: Duration::from_secs(5),
                concurrency: 2,
            })
            .unwrap()
        };
        assert_eq!(
            gateway("https://sms.example.org").endpoint().as_str(),
            "https://sms.example.org/2010-04-01/Accounts/AC123/Messages.json"
        );
        assert_eq!(
            gateway("https://relay.example.org/api/laml/")
                .endpoint()
                .as_str(),
            "https://relay.example.org/api/laml/2010-04-01/Accounts/AC123/Messages.json"
        );
        assert!(!format!("{:?}", gateway("https://sms.example.org")).contains("secret-token"));
    }
}
