//! Behaviour particular to one backend.

use cms_invitations::domain::{InvitationState, IsoDuration};
use cms_invitations::ports::InvitationStore;
use cms_invitations::store::mongo::MongoStore;
use cms_invitations::store::sqlite::SqliteStore;
use futures_util::TryStreamExt;

use crate::helpers::{Backend, Location, mongodb_uri, spawn_app};

#[tokio::test]
async fn the_embedded_store_loses_nothing_on_restart() {
    let app = spawn_app(Backend::Sqlite).await;
    let minted = app.invite("durable@example.org").await;
    let Location::Sqlite(dir) = &app.location else {
        unreachable!()
    };
    let path = dir.join("invitations.sqlite3");

    let reopened = SqliteStore::open(&path).await.unwrap();

    let read = reopened.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(read.details.email.as_str(), "durable@example.org");
    assert_eq!(read.stored_state, InvitationState::Pending);
    assert_eq!(read.secret_digest, minted.secret.digest());
    drop(reopened);
    app.cleanup().await;
}

async fn ttl_seconds(store: &MongoStore) -> Option<i64> {
    let indexes: Vec<_> = store
        .database()
        .collection::<bson::Document>("invitations")
        .list_indexes()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    indexes
        .into_iter()
        .find(|index| {
            index.options.as_ref().and_then(|o| o.name.as_deref()) == Some("finished_ttl")
        })
        .and_then(|index| index.options.and_then(|o| o.expire_after))
        .map(|d| d.as_secs() as i64)
}

#[tokio::test]
async fn the_mongodb_ttl_index_follows_the_configured_retention() {
    let database = format!("test_{}", uuid::Uuid::now_v7().simple());
    let days = |n: i64| Some(IsoDuration::from_seconds(n * 86_400));

    let store = MongoStore::connect(&mongodb_uri(), &database, days(30))
        .await
        .unwrap();
    assert_eq!(ttl_seconds(&store).await, Some(30 * 86_400));
    // Starting again with the same setting is a no-op; with another one, the index is changed.
    MongoStore::connect(&mongodb_uri(), &database, days(30))
        .await
        .unwrap();
    MongoStore::connect(&mongodb_uri(), &database, days(90))
        .await
        .unwrap();
    assert_eq!(ttl_seconds(&store).await, Some(90 * 86_400));
    MongoStore::connect(&mongodb_uri(), &database, None)
        .await
        .unwrap();
    assert_eq!(ttl_seconds(&store).await, None);
    MongoStore::connect(&mongodb_uri(), &database, None)
        .await
        .unwrap();

    store.database().drop().await.unwrap();
}
