//! Where queued messages go: an SMTP server through one pooled lettre transport, or `.eml`
//! files in an outbox folder when no SMTP server is configured.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

use crate::domain::{DeliveryFailure, OutgoingEmail};
use crate::ports::Mailer;

/// The sender's address and the domain of every `Message-ID`.
#[derive(Debug, Clone)]
pub struct Sender {
    from: Mailbox,
    id_domain: String,
}

impl Sender {
    /// `from` as `Name <address>` or a bare address.
    pub fn parse(from: &str) -> Result<Self, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|err| format!("email_from {from:?} is not an address: {err}"))?;
        let id_domain = from.email.domain().to_owned();
        Ok(Self { from, id_domain })
    }

    /// `email` as a multipart/alternative MIME message (text first, HTML preferred) whose
    /// `Message-ID` is derived from the queued message's id, so every retry carries the same
    /// one. An address the mail library refuses is a permanent failure.
    pub fn build(&self, email: &OutgoingEmail) -> Result<Message, DeliveryFailure> {
        let address =
            email.to.as_str().parse().map_err(|_| {
                DeliveryFailure::permanent("the recipient address cannot be encoded")
            })?;
        let to = Mailbox::new(email.to_name.clone(), address);
        let mut builder = Message::builder()
            .from(self.from.clone())
            // RFC 3834: auto-responders (vacation notices) do not answer.
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".to_owned(),
            ));
        // Only valid addresses are stored; one that no longer parses is left out.
        if let Some(reply_to) = email.body.reply_to.as_deref().and_then(|r| r.parse().ok()) {
            builder = builder.reply_to(Mailbox::new(None, reply_to));
        }
        builder
            .to(to)
            .subject(email.body.subject.clone())
            .date(SystemTime::now())
            .message_id(Some(self.message_id(email)))
            .multipart(MultiPart::alternative_plain_html(
                email.body.text.clone(),
                email.body.html.clone(),
            ))
            .map_err(|err| {
                DeliveryFailure::permanent(format!("the message cannot be built: {err}"))
            })
    }

    /// `<id@domain-of-from>`.
    pub fn message_id(&self, email: &OutgoingEmail) -> String {
        format!("<{}@{}>", email.id, self.id_domain)
    }
}

/// Delivery through an SMTP server: one transport with a connection pool, shared by every
/// send. `smtp://host:port` speaks plain SMTP, `smtp://…?tls=required` upgrades with
/// STARTTLS, `smtps://` connects with TLS; `user:password@` authenticates.
///
/// Every attempt, from connecting to the server's answer to the message, is bounded by the
/// send timeout (lettre bounds only the connect). An attempt cut off mid-conversation leaves
/// its connection out of step with the server, so the whole pool is replaced: no later
/// message is ever sent on it.
pub struct SmtpMailer {
    builder: AsyncSmtpTransportBuilder,
    transport: RwLock<Arc<AsyncSmtpTransport<Tokio1Executor>>>,
    attempt_limit: Duration,
    sender: Sender,
    concurrency: usize,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: leave it out.
        f.debug_struct("SmtpMailer")
            .field("sender", &self.sender)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A pooled transport to `url` with at most `pool_size` connections, each attempt
    /// bounded by `timeout`. `extra_roots` (PEM) are trusted for the server's TLS certificate
    /// besides the built-in roots: a mail server with a private CA.
    pub fn new(
        url: &str,
        sender: Sender,
        pool_size: u32,
        timeout: Duration,
        extra_roots: Option<&[u8]>,
    ) -> Result<Self, String> {
        let pool = PoolConfig::new()
            .max_size(pool_size.max(1))
            .idle_timeout(Duration::from_secs(60));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|err| format!("smtp_url is not usable: {err}"))?
            .timeout(Some(timeout))
            .pool_config(pool);
        if let Some(pem) = extra_roots
            && let Some(tls) = tls_trusting(url, pem)?
        {
            builder = builder.tls(tls);
        }
        Ok(Self {
            transport: RwLock::new(Arc::new(builder.clone().build())),
            builder,
            attempt_limit: timeout,
            sender,
            concurrency: usize::try_from(pool_size.max(1)).unwrap_or(1),
        })
    }
}

impl SmtpMailer {
    fn current_transport(&self) -> Arc<AsyncSmtpTransport<Tokio1Executor>> {
        let guard = self.transport.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&guard)
    }

    /// Swaps in a new pool unless another timed-out send already did. The old pool closes
    /// its connections once the last send holding it is done.
    fn replace_pool(&self, stale: &Arc<AsyncSmtpTransport<Tokio1Executor>>) {
        let mut guard = self.transport.write().unwrap_or_else(|p| p.into_inner());
        if Arc::ptr_eq(&guard, stale) {
            *guard = Arc::new(self.builder.clone().build());
        }
    }
}

/// The TLS mode `url` asks for (as lettre reads it: `smtps://` wraps, `?tls=required` or
/// `?tls=opportunistic` upgrade with STARTTLS), trusting `pem` besides the built-in roots;
/// `None` for plain SMTP.
fn tls_trusting(url: &str, pem: &[u8]) -> Result<Option<Tls>, String> {
    let url = url::Url::parse(url).map_err(|err| format!("smtp_url is not usable: {err}"))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let mode = url
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    let certificate = Certificate::from_pem(pem)
        .map_err(|err| format!("smtp_ca_file holds no usable certificate: {err}"))?;
    let parameters = || {
        TlsParameters::builder(host.clone())
            .add_root_certificate(certificate.clone())
            .build_rustls()
            .map_err(|err| format!("smtp_ca_file cannot be used: {err}"))
    };
    Ok(match (url.scheme(), mode.as_deref()) {
        ("smtps", _) => Some(Tls::Wrapper(parameters()?)),
        (_, Some("required")) => Some(Tls::Required(parameters()?)),
        (_, Some("opportunistic")) => Some(Tls::Opportunistic(parameters()?)),
        _ => None,
    })
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryFailure> {
        let message = self.sender.build(email)?;
        let transport = self.current_transport();
        match tokio::time::timeout(self.attempt_limit, transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) if err.is_permanent() => {
                Err(DeliveryFailure::permanent(smtp_reason(&err)))
            }
            Ok(Err(err)) => Err(DeliveryFailure::transient(smtp_reason(&err))),
            Err(_) => {
                self.replace_pool(&transport);
                Err(DeliveryFailure::transient(format!(
                    "timed out: no answer within {} s",
                    self.attempt_limit.as_secs_f32()
                )))
            }
        }
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }
}

/// What the server said, or what went wrong on the way, on one line.
fn smtp_reason(err: &lettre::transport::smtp::Error) -> String {
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        reason.push_str(": ");
        reason.push_str(&inner.to_string());
        source = inner.source();
    }
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(500)
        .collect();
    if err.is_timeout() {
        format!("timed out: {reason}")
    } else {
        reason
    }
}

/// Delivery into a folder: each message becomes `<id>.eml`, written whole (to a temporary
/// name first) so a reader never sees half a message.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    sender: Sender,
}

impl FileMailer {
    pub fn new(dir: impl Into<PathBuf>, sender: Sender) -> Self {
        Self {
            dir: dir.into(),
            sender,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Deletes the `.eml` and `.sms` files in `dir` written more than `max_age` ago (each holds a
/// live link until its invitation ends); returns how many went. A missing folder has nothing
/// to prune.
pub fn prune_outbox(dir: &Path, max_age: Duration) -> std::io::Result<usize> {
    let Some(cutoff) = SystemTime::now().checked_sub(max_age) else {
        return Ok(0);
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut pruned = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let old = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .is_ok_and(|modified| modified < cutoff);
        if old && path.extension().is_some_and(|e| e == "eml" || e == "sms") {
            std::fs::remove_file(&path)?;
            pruned += 1;
        }
    }
    Ok(pruned)
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryFailure> {
        let bytes = self.sender.build(email)?.formatted();
        crate::fs::write_whole(self.dir.clone(), format!("{}.eml", email.id), bytes)
            .await
            .map_err(|err| {
                DeliveryFailure::transient(format!("cannot write to the outbox folder: {err}"))
            })
    }
}
