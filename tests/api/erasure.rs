//! Erasure on both stores: `eraseInvitee` and `deleteInvitation` leave no trace of the person
//! in any table or collection (records, queued messages, logged events, webhook payloads), only
//! an audit entry without personal data and `invitation.deleted` events that carry the id.

use futures_util::TryStreamExt as _;
use serde_json::{Value, json};

use crate::helpers::{Backend, Location};
use crate::server::{TestServer, data, spawn_server};

crate::on_both_backends!(
    erasing_an_invitee_leaves_no_trace_of_them_in_any_table_or_collection,
    deleting_one_invitation_is_for_erasers_within_their_scopes,
);

/// Every stored text that mentions `needle` (case-insensitive), as `table: row`.
async fn traces_of(server: &TestServer, needle: &str) -> Vec<String> {
    let needle = needle.to_lowercase();
    let mut found = Vec::new();
    match server.location.as_ref().unwrap() {
        Location::Sqlite(dir) => {
            let path = dir.join(cms_invitations::standalone::SQLITE_FILE);
            let conn = rusqlite::Connection::open(path).unwrap();
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                .unwrap()
                .query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for table in tables {
                let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
                let columns = stmt.column_count();
                let rows = stmt
                    .query_map([], |row| {
                        let mut text = String::new();
                        for i in 0..columns {
                            match row.get_ref(i)? {
                                rusqlite::types::ValueRef::Text(t)
                                | rusqlite::types::ValueRef::Blob(t) => {
                                    text.push_str(&String::from_utf8_lossy(t));
                                    text.push('|');
                                }
                                _ => {}
                            }
                        }
                        Ok(text)
                    })
                    .unwrap();
                for row in rows {
                    let row = row.unwrap();
                    if row.to_lowercase().contains(&needle) {
                        found.push(format!("{table}: {row}"));
                    }
                }
            }
        }
        Location::Mongo(store) => {
            let database = store.database();
            for name in database.list_collection_names().await.unwrap() {
                let documents: Vec<bson::Document> = database
                    .collection::<bson::Document>(&name)
                    .find(bson::doc! {})
                    .await
                    .unwrap()
                    .try_collect()
                    .await
                    .unwrap();
                for document in documents {
                    let text = document.to_string();
                    if text.to_lowercase().contains(&needle) {
                        found.push(format!("{name}: {text}"));
                    }
                }
            }
        }
    }
    found
}

async fn invite(server: &TestServer, email: &str, name: &str, scope: Option<&str>) -> Value {
    server
        .create_invitation(
            &server.tokens.admin,
            json!({ "email": email, "role": "author", "scope": scope, "name": name }),
        )
        .await
}

/// The webhook deliveries queued for `endpoint` so far.
async fn deliveries(server: &TestServer, endpoint: &str) -> Vec<Value> {
    let listed = server
        .gql(
            "WebhookDeliveries",
            json!({ "endpointId": endpoint, "first": 100 }),
            Some(&server.tokens.admin),
        )
        .await;
    data(&listed, "webhookDeliveries")["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

async fn erasing_an_invitee_leaves_no_trace_of_them_in_any_table_or_collection(backend: Backend) {
    let server = spawn_server(backend).await;
    // An endpoint nobody answers on: its deliveries stay queued, with their bodies.
    let created = server
        .gql(
            "CreateWebhookEndpoint",
            json!({ "input": { "url": "http://127.0.0.1:9/hook" } }),
            Some(&server.tokens.admin),
        )
        .await;
    let endpoint = data(&created, "createWebhookEndpoint")["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = invite(
        &server,
        "forget-me@example.org",
        "Forget Me",
        Some("team-a"),
    )
    .await;
    let second = invite(
        &server,
        "Forget-Me@example.org",
        "Forget Me",
        Some("team-b"),
    )
    .await;
    server
        .gql(
            "RevokeInvitation",
            json!({ "id": second["id"] }),
            Some(&server.tokens.admin),
        )
        .await;
    let kept = invite(&server, "keep-me@example.org", "Keep Me", Some("team-a")).await;
    // Everything has reached the event log and the webhook queue.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while deliveries(&server, &endpoint).await.len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the events were never queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = traces_of(&server, "forget-me@").await;
    for place in ["invitations", "invitation_events", "webhook_deliveries"] {
        assert!(
            before.iter().any(|t| t.starts_with(place)),
            "the test must see the person in {place} first: {before:#?}"
        );
    }

    // An editor may not; an admin limited to team-a erases team-a's only.
    let refused = server
        .gql(
            "EraseInvitee",
            json!({ "email": "forget-me@example.org" }),
            Some(&server.tokens.editor),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let limited = server
        .gql(
            "EraseInvitee",
            json!({ "email": "FORGET-ME@example.org" }),
            Some(&server.tokens.team_a_admin),
        )
        .await;
    assert_eq!(data(&limited, "eraseInvitee"), 1);
    let left = traces_of(&server, "forget-me@").await;
    assert!(
        !left.is_empty()
            && left
                .iter()
                .all(|t| !t.contains(first["id"].as_str().unwrap()))
    );

    let erased = server
        .gql(
            "EraseInvitee",
            json!({ "email": "forget-me@example.org" }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(data(&erased, "eraseInvitee"), 1);
    assert_eq!(traces_of(&server, "forget-me@").await, Vec::<String>::new());
    assert_eq!(
        traces_of(&server, "Forget Me").await,
        Vec::<String>::new(),
        "nor their name"
    );

    // The rest stays; receivers learn which invitations went, by id only.
    let still = server
        .gql(
            "Invitation",
            json!({ "id": kept["id"] }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(data(&still, "invitation")["email"], "keep-me@example.org");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let deleted = loop {
        let deleted: Vec<Value> = deliveries(&server, &endpoint)
            .await
            .into_iter()
            .filter(|d| d["eventType"] == "invitation.deleted")
            .collect();
        if deleted.len() == 2 {
            break deleted;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no invitation.deleted deliveries"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let ids: Vec<&str> = deleted
        .iter()
        .map(|d| d["invitationId"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&first["id"].as_str().unwrap())
            && ids.contains(&second["id"].as_str().unwrap())
    );

    // The audit: who erased how many, when; nothing about the person.
    let audit = server.store.erasures(10).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .map(|e| (e.operation.as_str(), e.count, e.actor.name.as_str()))
            .collect::<Vec<_>>(),
        [
            ("eraseInvitee", 1, "Test admin"),
            ("eraseInvitee", 1, "Test admin")
        ]
    );

    // By phone: an SMS invitation and an email one that carries the number, in two scopes.
    let number = "+4915155512345";
    for input in [
        json!({ "channel": "SMS", "phone": "+49 151 5551 2345", "role": "viewer", "scope": "team-a" }),
        json!({ "email": "has-phone@example.org", "phone": number, "role": "viewer", "scope": "team-b" }),
    ] {
        let created = server
            .gql(
                "CreateInvitation",
                json!({ "input": input }),
                Some(&server.tokens.admin),
            )
            .await;
        assert_eq!(
            data(&created, "createInvitation")["phone"],
            number,
            "{created:#}"
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !traces_of(&server, number)
        .await
        .iter()
        .any(|t| t.starts_with("webhook_deliveries"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the events were never queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let by_phone = server
        .gql(
            "EraseInvitee",
            json!({ "phone": "+49 (151) 555-12345" }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(data(&by_phone, "eraseInvitee"), 2, "{by_phone:#}");
    assert_eq!(traces_of(&server, number).await, Vec::<String>::new());
    assert_eq!(traces_of(&server, "has-phone@").await, Vec::<String>::new());

    // Bad input: a clear error, nothing erased.
    for (variables, field) in [
        (json!({}), "email"),
        (json!({ "email": "not an email" }), "email"),
        (json!({ "phone": "0151 123" }), "phone"),
    ] {
        let bad = server
            .gql(
                "EraseInvitee",
                variables.clone(),
                Some(&server.tokens.admin),
            )
            .await;
        assert_eq!(
            bad["errors"][0]["extensions"]["code"], "VALIDATION_FAILED",
            "{variables}"
        );
        assert_eq!(
            bad["errors"][0]["extensions"]["field"], field,
            "{variables}"
        );
    }
    assert_eq!(server.store.erasures(10).await.unwrap().len(), 3);
    server.cleanup().await;
}

async fn deleting_one_invitation_is_for_erasers_within_their_scopes(backend: Backend) {
    let server = spawn_server(backend).await;
    let inside = invite(&server, "inside@example.org", "In Side", Some("team-a")).await;
    let outside = invite(&server, "outside@example.org", "Out Side", Some("team-b")).await;
    let delete = |token: &str, id: &Value| {
        let server = &server;
        let token = token.to_owned();
        let id = id.clone();
        async move {
            server
                .gql("DeleteInvitation", json!({ "id": id }), Some(&token))
                .await
        }
    };
    let editor = delete(&server.tokens.editor, &inside["id"]).await;
    assert_eq!(editor["errors"][0]["extensions"]["code"], "FORBIDDEN");
    // Outside its scopes: exactly what an id that does not exist answers.
    let missing = json!(uuid::Uuid::now_v7().to_string());
    let absent = delete(&server.tokens.team_a_admin, &missing).await;
    let foreign = delete(&server.tokens.team_a_admin, &outside["id"]).await;
    assert_eq!(absent, foreign);
    assert_eq!(data(&foreign, "deleteInvitation"), false);
    let deleted = delete(&server.tokens.team_a_admin, &inside["id"]).await;
    assert_eq!(data(&deleted, "deleteInvitation"), true);
    let gone = server
        .gql(
            "Invitation",
            json!({ "id": inside["id"] }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(data(&gone, "invitation"), &Value::Null);
    assert_eq!(
        traces_of(&server, "inside@example.org").await,
        Vec::<String>::new()
    );
    assert!(
        !traces_of(&server, "outside@example.org").await.is_empty(),
        "the invitation outside its scopes stays"
    );
    let again = delete(&server.tokens.admin, &inside["id"]).await;
    assert_eq!(data(&again, "deleteInvitation"), false);
    let audit = server.store.erasures(10).await.unwrap();
    assert_eq!(audit.len(), 1, "a delete that found nothing is no erasure");
    assert_eq!(
        (audit[0].operation.as_str(), audit[0].count),
        ("deleteInvitation", 1)
    );
    server.cleanup().await;
}
