//! Behaviour particular to one backend.

use cms_invitations::domain::IsoDuration;
use cms_invitations::store::mongo::MongoStore;
use futures_util::TryStreamExt;
use serde_json::json;

use crate::helpers::{Backend, mongodb_uri};
use crate::process::ServerProcess;

crate::on_both_backends!(an_acknowledged_invitation_survives_a_killed_server_process,);

/// The server process is killed (SIGKILL: no shutdown, no flush) right after it acknowledged
/// a create; a new process on the same store finds the invitation, and its link works.
async fn an_acknowledged_invitation_survives_a_killed_server_process(backend: Backend) {
    let (env, cleanup) = crate::helpers::process_store(backend).await;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = crate::helpers::temp_dir();
    let first = ServerProcess::start(&dir, &env).await;
    let token = first.bootstrap_token();
    let created = first
        .gql(
            "mutation { createInvitation(input: {email: \"durable@example.org\", role: \"viewer\", sendEmail: false}) { id secret } }",
            json!({}),
            Some(&token),
        )
        .await;
    let id = created["data"]["createInvitation"]["id"].clone();
    let secret = created["data"]["createInvitation"]["secret"].clone();
    assert!(id.is_string(), "{created:#}");
    first.kill().await;

    let second = ServerProcess::start(&dir, &env).await;
    let found = second
        .gql(
            "query($id: ID!) { invitation(id: $id) { email state } }",
            json!({ "id": id }),
            Some(&token),
        )
        .await;
    assert_eq!(
        found["data"]["invitation"]["email"], "durable@example.org",
        "{found:#}"
    );
    assert_eq!(found["data"]["invitation"]["state"], "PENDING");
    let accepted = second
        .gql(
            "mutation($s: String!) { acceptInvitation(secret: $s, input: {password: \"correct horse battery\"}) { invitation { state } } }",
            json!({ "s": secret }),
            None,
        )
        .await;
    assert_eq!(
        accepted["data"]["acceptInvitation"]["invitation"]["state"], "ACCEPTED",
        "{accepted:#}"
    );
    second.stop().await;
    cleanup.await;
    let _ = std::fs::remove_dir_all(dir);
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

/// Invitations stored before the email search index existed (no `emailGrams`) are given
/// their trigrams when a server starts on the database, and are found by a search.
#[tokio::test]
async fn mongodb_gives_earlier_invitations_their_search_trigrams_at_start() {
    use cms_invitations::ports::InvitationStore as _;

    let app = crate::helpers::spawn_app(Backend::Mongo).await;
    let crate::helpers::Location::Mongo(store) = &app.location else {
        unreachable!()
    };
    let database = store.database().name().to_owned();
    app.invite("grace.hopper@example.org").await;
    let invitations = store.database().collection::<bson::Document>("invitations");
    invitations
        .update_many(bson::doc! {}, bson::doc! { "$unset": { "emailGrams": "" } })
        .await
        .unwrap();
    let search = cms_invitations::ports::InvitationFilter {
        email_contains: Some("hopper".into()),
        ..Default::default()
    };
    assert_eq!(store.count(&search, chrono::Utc::now()).await.unwrap(), 0);

    let restarted = MongoStore::connect(&mongodb_uri(), &database, None)
        .await
        .unwrap();
    assert_eq!(
        restarted.count(&search, chrono::Utc::now()).await.unwrap(),
        1
    );
    let stored = invitations.find_one(bson::doc! {}).await.unwrap().unwrap();
    let mut grams: Vec<&str> = stored
        .get_array("emailGrams")
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    grams.sort_unstable();
    assert_eq!(grams.first(), Some(&".ho"));
    assert!(grams.contains(&"hop") && grams.contains(&"org"));
    app.cleanup().await;
}
