//! Every error code of the contract, reached through the HTTP API, with faults injected into the
//! real stores for UNAVAILABLE and INTERNAL. No message shows a driver error or a secret.

use std::collections::BTreeSet;

use chrono::TimeDelta;
use cms_invitations::ErrorCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, Location};
use crate::server::{ServerOptions, TestServer, data, spawn_server_with};

crate::on_both_backends!(every_error_code_is_reachable_through_the_api);

const UNKNOWN_SECRET: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

struct Seen {
    codes: BTreeSet<String>,
}

impl Seen {
    /// Records the response's code after checking it is `expected` and safe to show.
    fn expect(&mut self, response: &Value, expected: ErrorCode) {
        let error = &response["errors"][0];
        assert_eq!(
            error["extensions"]["code"],
            expected.as_str(),
            "expected {expected}, got {response:#}"
        );
        let message = error["message"].as_str().unwrap();
        for leak in [
            "mongo",
            "sqlite",
            "Kind",
            "panicked",
            "Error {",
            UNKNOWN_SECRET,
        ] {
            assert!(
                !message.contains(leak),
                "{expected} message leaks {leak:?}: {message}"
            );
        }
        self.codes.insert(expected.as_str().to_owned());
    }
}

/// Without an email: the sender's writes would race the faults this test injects behind the
/// module's back.
async fn create(server: &TestServer, email: &str, valid_for: &str) -> Value {
    server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": email, "role": "viewer", "validFor": valid_for, "sendEmail": false }),
        )
        .await
}

async fn accept(server: &TestServer, secret: &Value) -> Value {
    server
        .gql("AcceptInvitation", json!({ "secret": secret }), None)
        .await
}

async fn every_error_code_is_reachable_through_the_api(backend: Backend) {
    let mut seen = Seen {
        codes: BTreeSet::new(),
    };
    let app_name = format!("faults-{}", uuid::Uuid::now_v7().simple());
    let server = spawn_server_with(
        backend,
        ServerOptions {
            public_rate_limit: 0,
            mongo_app_name: Some(app_name.clone()),
            ..ServerOptions::default()
        },
    )
    .await;
    let editor = Some(server.tokens.editor.as_str());

    let anonymous_list = server.gql("Invitations", json!({}), None).await;
    seen.expect(&anonymous_list, ErrorCode::Unauthenticated);
    let viewer_create = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "x@example.org", "role": "viewer" } }),
            Some(&server.tokens.viewer),
        )
        .await;
    seen.expect(&viewer_create, ErrorCode::Forbidden);
    let unknown = server
        .gql(
            "RevokeInvitation",
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
            editor,
        )
        .await;
    seen.expect(&unknown, ErrorCode::NotFound);
    let bad_email = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "nobody", "role": "viewer" } }),
            editor,
        )
        .await;
    seen.expect(&bad_email, ErrorCode::ValidationFailed);
    assert_eq!(bad_email["errors"][0]["extensions"]["field"], "email");

    let pending = create(&server, "pending@example.org", "P7D").await;
    let duplicate = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "pending@example.org", "role": "viewer" } }),
            editor,
        )
        .await;
    seen.expect(&duplicate, ErrorCode::DuplicatePendingInvitation);
    assert_eq!(
        duplicate["errors"][0]["extensions"]["invitationId"],
        pending["id"]
    );

    seen.expect(
        &accept(&server, &json!(UNKNOWN_SECRET)).await,
        ErrorCode::InvalidSecret,
    );
    let accepted = create(&server, "accepted@example.org", "P7D").await;
    let declined = create(&server, "declined@example.org", "P7D").await;
    let revoked = create(&server, "revoked@example.org", "P7D").await;
    let expired = create(&server, "expired@example.org", "PT1H").await;
    assert!(
        accept(&server, &accepted["secret"])
            .await
            .get("errors")
            .is_none()
    );
    server
        .gql(
            "DeclineInvitation",
            json!({ "secret": declined["secret"] }),
            None,
        )
        .await;
    server
        .gql("RevokeInvitation", json!({ "id": revoked["id"] }), editor)
        .await;
    server.advance(TimeDelta::hours(2));
    seen.expect(
        &accept(&server, &accepted["secret"]).await,
        ErrorCode::InvitationAccepted,
    );
    seen.expect(
        &accept(&server, &declined["secret"]).await,
        ErrorCode::InvitationDeclined,
    );
    seen.expect(
        &accept(&server, &revoked["secret"]).await,
        ErrorCode::InvitationRevoked,
    );
    seen.expect(
        &accept(&server, &expired["secret"]).await,
        ErrorCode::InvitationExpired,
    );

    let corrupt = create(&server, "corrupt@example.org", "P7D").await;
    corrupt_state(&server, corrupt["id"].as_str().unwrap()).await;
    let internal = server
        .gql("Invitation", json!({ "id": corrupt["id"] }), editor)
        .await;
    seen.expect(&internal, ErrorCode::Internal);

    let unavailable = make_store_unavailable_and_call(&server, &app_name).await;
    seen.expect(&unavailable, ErrorCode::Unavailable);

    seen.expect(&rate_limited().await, ErrorCode::RateLimited);

    let unknown_hash = json!({
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "0".repeat(64) } }
    });
    let post = |server: &TestServer, body: Value| {
        let request = server
            .http()
            .post(server.url("/graphql"))
            .json(&body)
            .send();
        async move { request.await.unwrap().json::<Value>().await.unwrap() }
    };
    seen.expect(
        &post(&server, unknown_hash.clone()).await,
        ErrorCode::PersistedQueryNotFound,
    );
    let without_persisted_queries = spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            persisted_query_cache_bytes: Some("0"),
            ..ServerOptions::default()
        },
    )
    .await;
    seen.expect(
        &post(&without_persisted_queries, unknown_hash).await,
        ErrorCode::PersistedQueryNotSupported,
    );
    without_persisted_queries.cleanup().await;

    let all: BTreeSet<String> = ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(seen.codes, all);
    server.cleanup().await;
}

/// A server allowing one public operation per minute, asked twice.
async fn rate_limited() -> Value {
    let server = spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            public_rate_limit: 1,
            ..ServerOptions::default()
        },
    )
    .await;
    let lookup = || {
        server
            .http()
            .post(server.url("/graphql"))
            .json(&json!({
                "query": crate::server::operation("InvitationBySecret"),
                "variables": { "secret": UNKNOWN_SECRET },
            }))
            .send()
    };
    let first: Value = lookup().await.unwrap().json().await.unwrap();
    assert_eq!(data(&first, "invitationBySecret"), &Value::Null);
    let limited = lookup().await.unwrap();
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let limited: Value = limited.json().await.unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(
        limited["errors"][0]["extensions"]["retryAfterSeconds"],
        retry_after
    );
    server.cleanup().await;
    limited
}

/// Writes a state no version of the module writes, behind the module's back.
async fn corrupt_state(server: &TestServer, id: &str) {
    match server_location(server) {
        Location::Sqlite(dir) => {
            let conn = rusqlite::Connection::open(dir.join("invitations.sqlite3")).unwrap();
            conn.execute(
                // As a writer would: with the revision moved on, so that no copy read before
                // (the event dispatcher's, say) writes over it.
                "UPDATE invitations SET state = 'HALF-ACCEPTED', revision = revision + 1 WHERE id = ?1",
                [id],
            )
            .unwrap();
        }
        Location::Mongo(store) => {
            let uuid = uuid::Uuid::parse_str(id).unwrap();
            store
                .database()
                .collection::<bson::Document>("invitations")
                .update_one(
                    bson::doc! { "_id": bson::Uuid::from(uuid) },
                    bson::doc! { "$set": { "state": "HALF-ACCEPTED" }, "$inc": { "revision": 1 } },
                )
                .await
                .unwrap();
        }
    }
}

/// SQLite: another process holds the write lock past the busy timeout. MongoDB: the server
/// drops every connection of this server's client (a `failCommand` fail point).
async fn make_store_unavailable_and_call(server: &TestServer, app_name: &str) -> Value {
    match server_location(server) {
        Location::Sqlite(dir) => {
            let conn = rusqlite::Connection::open(dir.join("invitations.sqlite3")).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            let response = server
                .gql(
                    "CreateInvitation",
                    json!({ "input": { "email": "blocked@example.org", "role": "viewer" } }),
                    Some(&server.tokens.editor),
                )
                .await;
            conn.execute_batch("ROLLBACK").unwrap();
            response
        }
        Location::Mongo(_) => {
            let fail_point = crate::helpers::FailPoint::set(
                "alwaysOn",
                bson::doc! { "failCommands": ["find"], "closeConnection": true, "appName": app_name },
            )
            .await;
            let response = server
                .gql(
                    "InvitationBySecret",
                    json!({ "secret": UNKNOWN_SECRET }),
                    None,
                )
                .await;
            fail_point.off().await;
            response
        }
    }
}

fn server_location(server: &TestServer) -> &Location {
    server.location.as_ref().unwrap()
}

/// A replica set between primaries: every write is refused with NotWritablePrimary (10107),
/// also the driver's one retry. The client gets UNAVAILABLE with a retry hint, in the error's
/// extensions and as `Retry-After`, and nothing from the driver's message.
#[tokio::test]
async fn a_replica_set_without_a_primary_is_unavailable_with_a_retry_hint() {
    let (server, app_name) = crate::server::spawn_mongo_server_named("no-primary").await;
    let fail_point = crate::helpers::FailPoint::set(
        "alwaysOn",
        bson::doc! { "failCommands": ["insert"], "errorCode": 10107, "appName": app_name },
    )
    .await;
    let response = server
        .http()
        .post(server.url("/graphql"))
        .bearer_auth(&server.tokens.editor)
        .json(&json!({
            "query": "mutation { createInvitation(input: {email: \"between@example.org\", role: \"viewer\"}) { id } }"
        }))
        .send()
        .await
        .unwrap();
    fail_point.off().await;
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    let mut seen = Seen {
        codes: BTreeSet::new(),
    };
    seen.expect(&body, ErrorCode::Unavailable);
    assert_eq!(
        body["errors"][0]["extensions"]["retryAfterSeconds"], 1,
        "{body:#}"
    );
}
