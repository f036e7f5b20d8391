//! A copy of the database holds no usable link: secrets are stored only as digests, and the
//! one place a link is kept, a queued email's body, is dropped once the email is delivered.

use cms_invitations::email::{FileMailer, Sender};
use cms_invitations::service::CreateInvitation;
use futures_util::TryStreamExt;

use crate::helpers::{Backend, Location, admin, spawn_app};

crate::on_both_backends!(a_database_dump_contains_no_secret_and_no_link_once_emails_are_delivered);

async fn a_database_dump_contains_no_secret_and_no_link_once_emails_are_delivered(
    backend: Backend,
) {
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
    let outbox = crate::helpers::temp_dir();
    let mailer = FileMailer::new(&outbox, Sender::parse("Test <test@example.org>").unwrap());
    let report = app.service.deliver_due(&mailer).await.unwrap();
    assert_eq!(
        report.sent, 5,
        "the first email was superseded by the resend"
    );

    let dump = dump(&app).await;

    assert!(
        dump.contains("dump3@example.org"),
        "the dump is readable and holds the invitations"
    );
    for m in &minted {
        assert!(
            !dump.contains(m.secret.expose()),
            "a secret was found in the dump"
        );
        assert!(
            !dump.contains(m.invite_url.as_str()),
            "a link was found in the dump"
        );
    }
    let _ = std::fs::remove_dir_all(outbox);
    app.cleanup().await;
}

/// Every byte the store keeps, as text: the SQLite files, or every document of every collection.
async fn dump(app: &crate::helpers::TestApp) -> String {
    match &app.location {
        Location::Sqlite(dir) => {
            // What a backup after a checkpoint copies. (Until then, the write-ahead log may
            // still hold the page a delivered body was on.)
            let db = rusqlite::Connection::open(dir.join("invitations.sqlite3")).unwrap();
            db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .unwrap();
            drop(db);
            let mut text = String::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
            text
        }
        Location::Mongo(store) => {
            let db = store.database();
            let mut text = String::new();
            for name in db.list_collection_names().await.unwrap() {
                let docs: Vec<bson::Document> = db
                    .collection::<bson::Document>(&name)
                    .find(bson::doc! {})
                    .await
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
                for doc in docs {
                    text.push_str(&bson::Bson::Document(doc).into_relaxed_extjson().to_string());
                }
            }
            text
        }
    }
}
