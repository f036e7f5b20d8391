//! A copy of the data holds no usable link: secrets are stored only as digests, and a queued
//! email's body (the one place a link is kept until delivery) only sealed, under a key that is
//! never stored. "A copy" is every byte the store writes: the SQLite file with its write-ahead
//! log as they are, not checkpointed; every MongoDB collection, and the replica set's
//! operation log, which keeps each insert after the document has changed.

use cms_invitations::email::{FileMailer, Sender};
use cms_invitations::service::{CreateInvitation, Minted};
use futures_util::TryStreamExt;

use crate::helpers::{Backend, Location, TestApp, admin, spawn_app};

crate::on_both_backends!(no_copy_of_the_data_holds_a_secret_or_a_link_before_or_after_delivery);

async fn no_copy_of_the_data_holds_a_secret_or_a_link_before_or_after_delivery(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut minted = Vec::new();
    for i in 0..5 {
        minted.push(
            app.service
                .create(
                    Some(&admin()),
                    CreateInvitation::new(format!("dump{i}@example.org"), "viewer"),
                )
                .await
                .unwrap(),
        );
    }
    let resent = app
        .service
        .resend(Some(&admin()), minted[0].invitation.id, None)
        .await
        .unwrap();
    minted.push(resent);

    let queued = dump(&app).await;
    assert_holds_none_of(&queued, &minted, "while the emails are queued");

    let outbox = crate::helpers::temp_dir();
    let mailer = FileMailer::new(&outbox, Sender::parse("Test <test@example.org>").unwrap());
    let report = app.service.deliver_due(&mailer).await.unwrap();
    assert_eq!(
        report.sent, 5,
        "the first email was superseded by the resend"
    );
    let delivered: String = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert!(
        minted[1..]
            .iter()
            .all(|m| delivered.contains(m.secret.expose())),
        "the sealed bodies opened: every delivered email holds its link"
    );

    let after = dump(&app).await;
    assert_holds_none_of(&after, &minted, "after delivery");
    let _ = std::fs::remove_dir_all(outbox);
    app.cleanup().await;
}

fn assert_holds_none_of(dump: &str, minted: &[Minted], when: &str) {
    assert!(
        dump.contains("dump3@example.org"),
        "the dump is readable and holds the invitations ({when})"
    );
    for m in minted {
        assert!(
            !dump.contains(m.secret.expose()),
            "a secret was found in the dump ({when})"
        );
        assert!(
            !dump.contains(m.invite_url.as_str()),
            "a link was found in the dump ({when})"
        );
    }
}

/// Every byte the store keeps, as text: the SQLite files as they lie (database, write-ahead
/// log, shared memory), or every document of every collection plus this database's entries
/// in the operation log.
async fn dump(app: &TestApp) -> String {
    match &app.location {
        Location::Sqlite(dir) => {
            let mut text = String::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
            assert!(
                std::fs::read_dir(dir).unwrap().any(|e| e
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with("-wal")),
                "the write-ahead log is part of the copy"
            );
            text
        }
        Location::Mongo(store) => {
            let db = store.database();
            let mut text = String::new();
            for name in db.list_collection_names().await.unwrap() {
                text.push_str(&documents(&db.collection(&name), bson::doc! {}).await);
            }
            let oplog = db.client().database("local").collection("oplog.rs");
            let ours = bson::doc! { "ns": { "$regex": format!("^{}\\.", db.name()) } };
            let entries = documents(&oplog, ours).await;
            assert!(
                entries.contains("dump3@example.org"),
                "the operation log holds the inserts"
            );
            text.push_str(&entries);
            text
        }
    }
}

async fn documents(
    collection: &mongodb::Collection<bson::Document>,
    filter: bson::Document,
) -> String {
    let docs: Vec<bson::Document> = collection
        .find(filter)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    docs.into_iter()
        .map(|doc| bson::Bson::Document(doc).into_relaxed_extjson().to_string())
        .collect()
}
