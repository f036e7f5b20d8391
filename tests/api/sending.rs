//! The sender's batched claims and records (`src/service/sender.rs`) on both stores: several
//! senders on one store never send a message twice, and the claims of a sender that dies
//! mid-batch are taken over once their lease ends, not before.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::TimeDelta;
use cms_invitations::domain::{DeliveryFailure, DeliveryStatus, OutgoingEmail};
use cms_invitations::ports::Mailer;
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, spawn_app};

crate::on_both_backends!(
    three_senders_on_one_store_send_each_message_once,
    a_dead_senders_claims_are_taken_over_when_their_lease_ends,
);

/// Keeps the id of every message handed to it, after a pause that lets other senders run.
#[derive(Debug, Default, Clone)]
struct Recording {
    sent: Arc<Mutex<Vec<Uuid>>>,
}

#[async_trait]
impl Mailer for Recording {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryFailure> {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        self.sent.lock().unwrap().push(email.id);
        Ok(())
    }

    fn concurrency(&self) -> usize {
        4
    }
}

impl Recording {
    fn ids(&self) -> Vec<Uuid> {
        self.sent.lock().unwrap().clone()
    }
}

/// Takes a message and never answers: a process that died mid-send. Says when it got one.
#[derive(Debug, Default)]
struct Hanging {
    called: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl Mailer for Hanging {
    async fn send(&self, _: &OutgoingEmail) -> Result<(), DeliveryFailure> {
        self.called.notify_one();
        std::future::pending().await
    }
}

async fn invite_many(app: &TestApp, prefix: &str, count: usize) {
    for i in 0..count {
        app.invite(&format!("{prefix}{i:03}@example.org")).await;
    }
}

async fn three_senders_on_one_store_send_each_message_once(backend: Backend) {
    const COUNT: usize = 300;
    let app = spawn_app(backend).await;
    invite_many(&app, "three", COUNT).await;
    let senders = [
        app.another_process(),
        app.another_process(),
        app.another_process(),
    ];
    let mailers = [
        Recording::default(),
        Recording::default(),
        Recording::default(),
    ];
    let reports = futures_util::future::join_all(
        senders
            .iter()
            .zip(&mailers)
            .map(|(sender, mailer)| sender.deliver_due(mailer)),
    )
    .await;
    let per_sender: Vec<usize> = mailers.iter().map(|m| m.ids().len()).collect();
    let mut all: Vec<Uuid> = mailers.iter().flat_map(Recording::ids).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), COUNT, "sent per sender: {per_sender:?}");
    assert_eq!(
        per_sender.iter().sum::<usize>(),
        COUNT,
        "a message went out twice"
    );
    for report in reports {
        let report = report.unwrap();
        assert_eq!((report.retrying, report.failed), (0, 0));
    }
    assert!(
        per_sender.iter().filter(|n| **n > 0).count() >= 2,
        "the senders did not share the queue: {per_sender:?}"
    );
    let listed = app.count_all().await;
    assert_eq!(listed, COUNT as u64);
    app.cleanup().await;
}

async fn a_dead_senders_claims_are_taken_over_when_their_lease_ends(backend: Backend) {
    const COUNT: usize = 40;
    let app = spawn_app(backend).await;
    invite_many(&app, "lease", COUNT).await;

    // A sender claims a batch, hands the first message over and never hears back: its
    // process dies there, with its claims written and nothing recorded.
    let doomed = app.another_process();
    let hanging = Hanging::default();
    let handed_over = hanging.called.clone();
    let dying = tokio::spawn(async move { doomed.deliver_due(&hanging).await });
    handed_over.notified().await;
    dying.abort();
    let page = app.list(Default::default()).await;
    let claimed = page
        .items
        .iter()
        .filter(|i| i.delivery.attempts == 1)
        .count();
    assert!(claimed > 0);
    assert!(claimed < COUNT, "one batch claimed everything: {claimed}");

    // Another sender sends the rest at once, and leaves the dead sender's claims alone.
    let survivor = app.another_process();
    let mailer = Recording::default();
    let report = survivor.deliver_due(&mailer).await.unwrap();
    assert_eq!(report.sent as usize, COUNT - claimed);

    // Once the lease has run out, it takes them over: each sent once, on its second attempt.
    app.advance(TimeDelta::minutes(4));
    assert_eq!(survivor.deliver_due(&mailer).await.unwrap().sent, 0);
    app.advance(TimeDelta::minutes(2));
    let report = survivor.deliver_due(&mailer).await.unwrap();
    assert_eq!(report.sent as usize, claimed);
    let mut ids = mailer.ids();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), COUNT);
    let page = app.list(Default::default()).await;
    assert!(
        page.items
            .iter()
            .all(|i| i.delivery.status == DeliveryStatus::Sent),
        "{:?}",
        page.items.iter().map(|i| &i.delivery).collect::<Vec<_>>()
    );
    let taken_over = page
        .items
        .iter()
        .filter(|i| i.delivery.attempts == 2)
        .count();
    assert_eq!(taken_over, claimed);
    app.cleanup().await;
}

/// Takes every message, and as it takes the first, makes the store refuse the next three
/// `update` commands of this app's connection as a member that is no longer primary would:
/// the record of the send meets a replica set electing a new primary.
#[derive(Debug)]
struct ElectionAfterSend {
    app_name: String,
    sent: Arc<Mutex<Vec<Uuid>>>,
    fail_point: tokio::sync::Mutex<Option<crate::helpers::FailPoint>>,
}

#[async_trait]
impl Mailer for ElectionAfterSend {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryFailure> {
        let mut fail_point = self.fail_point.lock().await;
        if fail_point.is_none() {
            *fail_point = Some(
                crate::helpers::FailPoint::set(
                    bson::doc! { "times": 3 },
                    bson::doc! { "failCommands": ["update"], "errorCode": 10107, "appName": &self.app_name },
                )
                .await,
            );
        }
        self.sent.lock().unwrap().push(email.id);
        Ok(())
    }
}

/// A sent message whose record the store refuses for a while (NotWritablePrimary, more times
/// than the driver's one retry) is recorded once the store takes writes again: it is SENT, and
/// no later round sends it again.
#[tokio::test]
async fn a_record_refused_during_an_election_is_written_when_the_store_is_back() {
    use cms_invitations::ports::ManualClock;
    use cms_invitations::service::CreateInvitation;

    let app_name = format!("record-retry-{}", Uuid::now_v7().simple());
    let config = crate::helpers::config(&crate::helpers::Options::default());
    let (store, location) =
        crate::helpers::open_store(Backend::Mongo, &config, Some(&app_name)).await;
    let clock = Arc::new(ManualClock::starting_now());
    let service =
        cms_invitations::standalone::service_on(&config, store.clone(), clock.clone()).unwrap();
    let minted = service
        .create(
            Some(&crate::helpers::admin()),
            CreateInvitation::new("election@example.org".to_owned(), "viewer"),
        )
        .await
        .unwrap();
    let mailer = ElectionAfterSend {
        app_name,
        sent: Arc::default(),
        fail_point: tokio::sync::Mutex::new(None),
    };
    let report = service.deliver_due(&mailer).await.unwrap();
    assert_eq!(report.sent, 1);
    let fail_point = mailer.fail_point.lock().await.take().unwrap();
    fail_point.off().await;
    // The driver retries a refused write once; the record needed more than that.
    let stored = store.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(stored.delivery.status, DeliveryStatus::Sent);
    // Long after the claim's lease, nothing is due: the message is not sent again.
    clock.advance(TimeDelta::hours(2));
    let again = service.deliver_due(&mailer).await.unwrap();
    assert_eq!(again.sent, 0);
    assert_eq!(mailer.sent.lock().unwrap().len(), 1);
    drop(service);
    drop(store);
    if let crate::helpers::Location::Mongo(store) = location {
        store.database().drop().await.unwrap();
    }
}
