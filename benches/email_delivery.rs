//! Messages per second delivered to a local SMTP server: invitations are queued through the
//! service (on the embedded store), then one sender round hands them all to the SMTP server
//! started here (`scripts/smtp_sink.py`, which writes each message to disk), through the same
//! pooled lettre transport the server uses, at several pool sizes. Then text messages of SMS
//! invitations, the same way, to the local SMS gateway the tests use (the Twilio Messages API's
//! shape over HTTP), through the server's own gateway client, at several concurrencies.
//!
//! Run: `cargo bench --bench email_delivery` (needs `python3`; `scripts/smtp.sh` installs the
//! SMTP server on first use).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cms_invitations::config::Config;
use cms_invitations::domain::{Actor, Channel, DeliveryFailure, OutgoingEmail};
use cms_invitations::email::{Sender, SmtpMailer};
use cms_invitations::ports::Mailer;
use cms_invitations::ports::SystemClock;
use cms_invitations::service::{Couriers, CreateInvitation, InvitationService, Principal};
use cms_invitations::sms::{GatewaySettings, MessagesApiGateway};
use cms_invitations::standalone;
use cms_invitations::store::sqlite::SqliteStore;

#[allow(dead_code)] // The tests' SMTP harness; this benchmark uses part of it.
#[path = "../tests/api/mail.rs"]
mod mail;

#[allow(dead_code)] // The tests' SMS gateway; this benchmark uses part of it.
#[path = "../tests/api/sms_gateway.rs"]
mod sms_gateway;

use mail::SmtpSink;

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cmsi-bench-{what}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Accepts every message at once: what the sender costs without a mail server.
#[derive(Debug)]
struct Discard(usize);

#[async_trait::async_trait]
impl Mailer for Discard {
    async fn send(&self, _: &OutgoingEmail) -> Result<(), DeliveryFailure> {
        Ok(())
    }

    fn concurrency(&self) -> usize {
        self.0
    }
}

/// A service on a fresh embedded store with `inputs` queued; its data folder.
async fn queued(inputs: Vec<CreateInvitation>) -> (InvitationService, Config, PathBuf) {
    let data_dir = temp_dir("data");
    let config = Config::load(|name| match name {
        "INVITATIONS_DATA_DIR" => Some(data_dir.display().to_string()),
        "INVITATIONS_ACCEPT_URL" => Some("https://cms.example.org/accept".to_owned()),
        // One principal queues thousands here; the sending quota is not what is measured.
        "INVITATIONS_EMAIL_QUOTA_PER_HOUR" => Some("0".to_owned()),
        _ => None,
    })
    .unwrap();
    let store = Arc::new(
        SqliteStore::open(data_dir.join(standalone::SQLITE_FILE))
            .await
            .unwrap(),
    );
    let service = standalone::service_on(&config, store, Arc::new(SystemClock)).unwrap();
    let admin = Principal::with_role(
        &config.roles,
        Actor {
            id: "bench".to_owned(),
            name: "Bench Admin".to_owned(),
        },
        "admin",
    )
    .unwrap();
    for chunk in inputs.chunks(1000) {
        for outcome in service
            .create_many(Some(&admin), chunk.to_vec())
            .await
            .unwrap()
        {
            outcome.unwrap();
        }
    }
    (service, config, data_dir)
}

/// Queues `count` invitations, delivers them with a pool of `pool` connections (or discards
/// them, without `smtp`) and returns the messages per second of the delivery round.
async fn run(smtp: bool, count: usize, pool: u32) -> f64 {
    let sink = if smtp {
        Some(SmtpSink::start().await)
    } else {
        None
    };
    let inputs: Vec<CreateInvitation> = (0..count)
        .map(|i| CreateInvitation::new(format!("bench{i:05}@example.org"), "viewer"))
        .collect();
    let (service, config, data_dir) = queued(inputs).await;
    let mailer: Box<dyn Mailer> = match &sink {
        Some(sink) => Box::new(
            SmtpMailer::new(
                &sink.url(),
                Sender::parse(&config.email.email_from).unwrap(),
                pool,
                Duration::from_secs(30),
                None,
            )
            .unwrap(),
        ),
        None => Box::new(Discard(usize::try_from(pool).unwrap())),
    };
    let started = Instant::now();
    let report = service.deliver_due(mailer.as_ref()).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(report.sent, count as u64);
    if let Some(sink) = &sink {
        assert_eq!(sink.messages().len(), count, "every message arrived once");
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    if let Some(sink) = sink {
        let _ = std::fs::remove_dir_all(&sink.dir);
    }
    count as f64 / seconds
}

/// Queues `count` SMS invitations, delivers their texts to the local gateway `concurrency` at
/// a time and returns the texts per second of the delivery round.
async fn run_sms(count: usize, concurrency: usize) -> f64 {
    let gateway = sms_gateway::Gateway::start().await;
    let inputs: Vec<CreateInvitation> = (0..count)
        .map(|i| CreateInvitation {
            email: None,
            phone: Some(format!("+4915112{i:06}")),
            channel: Channel::Sms,
            ..CreateInvitation::new("", "viewer")
        })
        .collect();
    let (service, _, data_dir) = queued(inputs).await;
    let sender = MessagesApiGateway::new(GatewaySettings {
        api_url: gateway.url.parse().unwrap(),
        account: sms_gateway::ACCOUNT.to_owned(),
        token: sms_gateway::TOKEN.to_owned(),
        from: sms_gateway::FROM.to_owned(),
        timeout: Duration::from_secs(10),
        concurrency,
    })
    .unwrap();
    let started = Instant::now();
    let report = service
        .deliver_due(Couriers::new(&Discard(1), &sender))
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(report.sent, count as u64);
    assert_eq!(gateway.received().len(), count, "every text arrived once");
    let _ = std::fs::remove_dir_all(&data_dir);
    count as f64 / seconds
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // `cargo test --all-targets` runs bench binaries without `--bench`: deliver a few only.
    if !std::env::args().any(|arg| arg == "--bench") {
        runtime.block_on(run(true, 10, 2));
        runtime.block_on(run_sms(10, 2));
        return;
    }
    let count = 2000;
    println!("messages  pool  delivered/s  to");
    for pool in [1, 4, 8] {
        let rate = runtime.block_on(run(true, count, pool));
        println!("{count:>8}  {pool:>4}  {rate:>11.0}  the local SMTP server");
    }
    for pool in [1, 8] {
        let rate = runtime.block_on(run(false, count, pool));
        println!(
            "{count:>8}  {pool:>4}  {rate:>11.0}  nowhere (the sender's own cost: claim and record)"
        );
    }
    println!("\n   texts  concurrency  delivered/s  to");
    for concurrency in [1, 4, 16] {
        let rate = runtime.block_on(run_sms(count, concurrency));
        println!(
            "{count:>8}  {concurrency:>11}  {rate:>11.0}  the local SMS gateway (HTTP, Messages API shape)"
        );
    }
}
