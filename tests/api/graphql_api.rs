//! The GraphQL API over real HTTP, on both stores, with the operations in `fixtures/graphql/`.

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::Backend;
use crate::server::{TestServer, data, error_code, spawn_server};

crate::on_both_backends!(
    an_invitation_goes_from_create_to_lookup_to_accept,
    the_secret_is_shown_only_in_the_minting_response,
    listing_filters_sorts_and_pages_with_stable_cursors,
    bulk_create_reports_each_item_and_one_bad_row_fails_alone,
    resending_mints_a_new_link_and_the_old_one_stops_working,
    revoked_declined_and_expired_invitations_refuse_acceptance,
    a_duplicate_pending_invitation_names_the_existing_one,
);

async fn create(server: &TestServer, input: Value) -> Value {
    server.create_invitation(&server.tokens.editor, input).await
}

async fn an_invitation_goes_from_create_to_lookup_to_accept(backend: Backend) {
    let server = spawn_server(backend).await;
    let created = create(
        &server,
        json!({
            "email": "Ada@Example.org", "name": "Ada", "role": "author", "groups": ["writers"],
            "metadata": { "team": "docs" }, "locale": "de-AT", "scope": "acme", "validFor": "P3D",
            "sendEmail": false,
        }),
    )
    .await;
    assert_eq!(created["email"], "Ada@Example.org");
    assert_eq!(created["state"], "PENDING");
    assert_eq!(created["role"], "author");
    assert_eq!(created["groups"], json!(["writers"]));
    assert_eq!(created["metadata"], json!({ "team": "docs" }));
    assert_eq!(created["locale"], "de-AT");
    assert_eq!(created["invitedBy"]["name"], "Test editor");
    assert_eq!(created["delivery"]["status"], "SKIPPED");
    assert_eq!(created["isRevocable"], true);
    assert_eq!(created["events"][0]["kind"], "CREATED");
    assert_eq!(created["events"][0]["actorKind"], "EDITOR");
    let secret = created["secret"].as_str().unwrap();
    let invite_url = created["inviteUrl"].as_str().unwrap();
    assert_eq!(
        invite_url,
        format!("https://cms.example.org/accept#secret={secret}")
    );
    let created_at =
        chrono::DateTime::parse_from_rfc3339(created["createdAt"].as_str().unwrap()).unwrap();
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(created["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(expires_at - created_at, TimeDelta::days(3));

    let lookup = server
        .gql("InvitationBySecret", json!({ "secret": secret }), None)
        .await;
    let public = data(&lookup, "invitationBySecret");
    assert_eq!(
        public,
        &json!({
            "email": "Ada@Example.org", "phone": null, "channel": "EMAIL", "name": "Ada",
            "role": "author", "scope": "acme",
            "inviterName": "Test editor", "state": "PENDING", "expiresAt": created["expiresAt"],
            "locale": "de-AT",
        })
    );

    server.advance(TimeDelta::hours(1));
    let accepted = server
        .gql(
            "AcceptInvitation",
            json!({ "secret": secret, "input": { "name": "Ada L.", "password": "a long passphrase" } }),
            None,
        )
        .await;
    let accepted = data(&accepted, "acceptInvitation");
    assert_eq!(accepted["existingUser"], false);
    assert_eq!(accepted["invitation"]["state"], "ACCEPTED");
    let user_id = accepted["userId"].as_str().unwrap();

    let detail = server
        .gql(
            "Invitation",
            json!({ "id": created["id"] }),
            Some(&server.tokens.viewer),
        )
        .await;
    let detail = data(&detail, "invitation");
    assert_eq!(detail["state"], "ACCEPTED");
    assert_eq!(detail["acceptedUserId"], user_id);
    assert!(detail["acceptedAt"].is_string());
    assert_eq!(detail["isResendable"], false);
    assert_eq!(detail["isRevocable"], false);
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["CREATED", "ACCEPTED"]);
    assert_eq!(detail["events"][1]["actorKind"], "INVITEE");

    let again = server
        .gql("AcceptInvitation", json!({ "secret": secret }), None)
        .await;
    assert_eq!(error_code(&again), "INVITATION_ACCEPTED");
    server.cleanup().await;
}

async fn the_secret_is_shown_only_in_the_minting_response(backend: Backend) {
    let server = spawn_server(backend).await;
    let created = create(
        &server,
        json!({ "email": "a@example.org", "role": "viewer" }),
    )
    .await;
    assert!(created["secret"].is_string());

    let detail = server
        .gql(
            "Invitation",
            json!({ "id": created["id"] }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(data(&detail, "invitation")["secret"], Value::Null);
    assert_eq!(data(&detail, "invitation")["inviteUrl"], Value::Null);

    let list = server
        .gql("Invitations", json!({}), Some(&server.tokens.admin))
        .await;
    let node = &data(&list, "invitations")["nodes"][0];
    assert_eq!(node["secret"], Value::Null);
    assert_eq!(node["inviteUrl"], Value::Null);

    let revoked = server
        .gql(
            "RevokeInvitation",
            json!({ "id": created["id"] }),
            Some(&server.tokens.editor),
        )
        .await;
    assert_eq!(data(&revoked, "revokeInvitation")["secret"], Value::Null);
    server.cleanup().await;
}

async fn listing_filters_sorts_and_pages_with_stable_cursors(backend: Backend) {
    let server = spawn_server(backend).await;
    for (i, (email, role)) in [
        ("carol@example.org", "author"),
        ("alice@example.org", "viewer"),
        ("dave@example.org", "author"),
        ("bob@example.org", "viewer"),
        ("erin@example.org", "author"),
    ]
    .into_iter()
    .enumerate()
    {
        server.advance(TimeDelta::seconds(1));
        let groups = if i % 2 == 0 {
            json!(["even"])
        } else {
            json!([])
        };
        create(
            &server,
            json!({ "email": email, "role": role, "groups": groups }),
        )
        .await;
    }
    let admin = Some(server.tokens.admin.as_str());

    // Default order: newest first.
    let page = server
        .gql("Invitations", json!({ "first": 2 }), admin)
        .await;
    let page = data(&page, "invitations");
    assert_eq!(page["totalCount"], 5);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        emails(&page["nodes"]),
        ["erin@example.org", "bob@example.org"]
    );
    assert_eq!(page["edges"][1]["cursor"], page["pageInfo"]["endCursor"]);

    // A new invitation does not shift the next page.
    server.advance(TimeDelta::seconds(1));
    create(
        &server,
        json!({ "email": "zed@example.org", "role": "viewer" }),
    )
    .await;
    let next = server
        .gql(
            "Invitations",
            json!({ "first": 2, "after": page["pageInfo"]["endCursor"] }),
            admin,
        )
        .await;
    let next = data(&next, "invitations");
    assert_eq!(
        emails(&next["nodes"]),
        ["dave@example.org", "alice@example.org"]
    );

    // Filter and sort.
    let authors = server
        .gql(
            "Invitations",
            json!({
                "filter": { "role": "author" },
                "sort": [{ "field": "EMAIL", "direction": "ASC" }],
            }),
            admin,
        )
        .await;
    let authors = data(&authors, "invitations");
    assert_eq!(authors["totalCount"], 3);
    assert_eq!(
        emails(&authors["nodes"]),
        ["carol@example.org", "dave@example.org", "erin@example.org"]
    );
    let part = server
        .gql(
            "Invitations",
            json!({ "filter": { "emailContains": "ROL@EX" } }),
            admin,
        )
        .await;
    assert_eq!(
        emails(&data(&part, "invitations")["nodes"]),
        ["carol@example.org"]
    );
    let exact = server
        .gql(
            "Invitations",
            json!({ "filter": { "email": " Bob@Example.ORG" } }),
            admin,
        )
        .await;
    assert_eq!(
        emails(&data(&exact, "invitations")["nodes"]),
        ["bob@example.org"]
    );

    let grouped = server
        .gql(
            "Invitations",
            json!({ "filter": { "group": "even", "states": ["PENDING"] } }),
            admin,
        )
        .await;
    assert_eq!(data(&grouped, "invitations")["totalCount"], 3);

    // `totalCount` is counted when selected by any route (alias, fragment, inline
    // fragment), and a page without it still works.
    let spelled = server
        .query(
            "query { a: invitations(first: 1) { ...Total } \
                     b: invitations(first: 1) { ... on InvitationConnection { n: totalCount } } \
                     c: invitations(first: 1) { nodes { email } } } \
             fragment Total on InvitationConnection { totalCount }",
            json!({}),
            admin,
        )
        .await;
    assert_eq!(spelled["errors"], Value::Null, "{spelled}");
    assert_eq!(spelled["data"]["a"]["totalCount"], 6);
    assert_eq!(spelled["data"]["b"]["n"], 6);
    assert_eq!(emails(&spelled["data"]["c"]["nodes"]), ["zed@example.org"]);

    // Expiry is applied at read time.
    server.advance(TimeDelta::days(8));
    let expired = server
        .gql(
            "Invitations",
            json!({ "filter": { "states": ["EXPIRED"] } }),
            admin,
        )
        .await;
    assert_eq!(data(&expired, "invitations")["totalCount"], 6);
    assert_eq!(
        data(&expired, "invitations")["nodes"][0]["isResendable"],
        true
    );

    // A cursor from another sort is refused, naming `after`.
    let mismatched = server
        .gql(
            "Invitations",
            json!({ "after": page["pageInfo"]["endCursor"], "sort": [{ "field": "EMAIL" }] }),
            admin,
        )
        .await;
    assert_eq!(error_code(&mismatched), "VALIDATION_FAILED");
    assert_eq!(mismatched["errors"][0]["extensions"]["field"], "after");
    server.cleanup().await;
}

fn emails(nodes: &Value) -> Vec<&str> {
    nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["email"].as_str().unwrap())
        .collect()
}

async fn bulk_create_reports_each_item_and_one_bad_row_fails_alone(backend: Backend) {
    let server = spawn_server(backend).await;
    let existing = create(
        &server,
        json!({ "email": "taken@example.org", "role": "viewer" }),
    )
    .await;
    let response = server
        .gql(
            "CreateInvitations",
            json!({ "inputs": [
                { "email": "one@example.org", "role": "author" },
                { "email": "not an email", "role": "author" },
                { "email": "taken@example.org", "role": "viewer" },
                { "email": "two@example.org", "role": "admin" },
                { "email": "three@example.org", "role": "viewer", "validFor": "P99D" },
                { "email": "four@example.org", "role": "viewer" },
            ]}),
            Some(&server.tokens.editor),
        )
        .await;
    let result = data(&response, "createInvitations");
    assert_eq!(result["created"], 2);
    assert_eq!(result["failed"], 4);
    let items = result["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["index"], i);
    }
    assert_eq!(items[0]["invitation"]["email"], "one@example.org");
    assert!(items[0]["invitation"]["secret"].is_string());
    assert_eq!(items[1]["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(items[1]["error"]["field"], "email");
    assert_eq!(items[2]["error"]["code"], "DUPLICATE_PENDING_INVITATION");
    assert_eq!(items[2]["error"]["invitationId"], existing["id"]);
    assert_eq!(items[3]["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(items[3]["error"]["field"], "role");
    assert_eq!(items[4]["error"]["field"], "validFor");
    assert_eq!(items[5]["invitation"]["state"], "PENDING");

    let all = server
        .gql("Invitations", json!({}), Some(&server.tokens.viewer))
        .await;
    assert_eq!(data(&all, "invitations")["totalCount"], 3);
    server.cleanup().await;
}

async fn resending_mints_a_new_link_and_the_old_one_stops_working(backend: Backend) {
    let server = spawn_server(backend).await;
    let created = create(
        &server,
        json!({ "email": "r@example.org", "role": "author" }),
    )
    .await;
    let old_secret = created["secret"].as_str().unwrap().to_owned();
    server.advance(TimeDelta::days(8));

    let resent = server
        .gql(
            "ResendInvitation",
            json!({ "id": created["id"], "validFor": "PT12H" }),
            Some(&server.tokens.editor),
        )
        .await;
    let resent = data(&resent, "resendInvitation");
    assert_eq!(resent["state"], "PENDING");
    assert_eq!(resent["sendCount"], 2);
    assert_eq!(resent["events"][1]["kind"], "RESENT");
    let new_secret = resent["secret"].as_str().unwrap();
    assert_ne!(new_secret, old_secret);
    assert!(resent["inviteUrl"].as_str().unwrap().ends_with(new_secret));

    let old_lookup = server
        .gql("InvitationBySecret", json!({ "secret": old_secret }), None)
        .await;
    assert_eq!(data(&old_lookup, "invitationBySecret"), &Value::Null);
    let old_accept = server
        .gql("AcceptInvitation", json!({ "secret": old_secret }), None)
        .await;
    assert_eq!(error_code(&old_accept), "INVALID_SECRET");

    let new_accept = server
        .gql("AcceptInvitation", json!({ "secret": new_secret }), None)
        .await;
    assert_eq!(
        data(&new_accept, "acceptInvitation")["invitation"]["state"],
        "ACCEPTED"
    );
    server.cleanup().await;
}

async fn revoked_declined_and_expired_invitations_refuse_acceptance(backend: Backend) {
    let server = spawn_server(backend).await;
    let revoked = create(
        &server,
        json!({ "email": "rev@example.org", "role": "viewer" }),
    )
    .await;
    let declined = create(
        &server,
        json!({ "email": "dec@example.org", "role": "viewer" }),
    )
    .await;
    let expiring = create(
        &server,
        json!({ "email": "exp@example.org", "role": "viewer", "validFor": "PT1H" }),
    )
    .await;

    let revoke = server
        .gql(
            "RevokeInvitation",
            json!({ "id": revoked["id"] }),
            Some(&server.tokens.editor),
        )
        .await;
    let revoke = data(&revoke, "revokeInvitation");
    assert_eq!(revoke["state"], "REVOKED");
    assert_eq!(revoke["isRevocable"], false);
    assert_eq!(revoke["events"][1]["actor"]["name"], "Test editor");

    let decline = server
        .gql(
            "DeclineInvitation",
            json!({ "secret": declined["secret"] }),
            None,
        )
        .await;
    assert_eq!(data(&decline, "declineInvitation")["state"], "DECLINED");

    server.advance(TimeDelta::hours(2));
    for (invitation, code) in [
        (&revoked, "INVITATION_REVOKED"),
        (&declined, "INVITATION_DECLINED"),
        (&expiring, "INVITATION_EXPIRED"),
    ] {
        let accept = server
            .gql(
                "AcceptInvitation",
                json!({ "secret": invitation["secret"] }),
                None,
            )
            .await;
        assert_eq!(error_code(&accept), code);
        assert_eq!(accept["data"], Value::Null);
    }
    let lookup = server
        .gql(
            "InvitationBySecret",
            json!({ "secret": expiring["secret"] }),
            None,
        )
        .await;
    assert_eq!(data(&lookup, "invitationBySecret")["state"], "EXPIRED");
    let revoke_expired = server
        .gql(
            "RevokeInvitation",
            json!({ "id": expiring["id"] }),
            Some(&server.tokens.editor),
        )
        .await;
    assert_eq!(error_code(&revoke_expired), "INVITATION_EXPIRED");
    server.cleanup().await;
}

async fn a_duplicate_pending_invitation_names_the_existing_one(backend: Backend) {
    let server = spawn_server(backend).await;
    let first = create(
        &server,
        json!({ "email": "dup@example.org", "role": "viewer", "scope": "acme" }),
    )
    .await;
    let second = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "DUP@example.org", "role": "viewer", "scope": "acme" } }),
            Some(&server.tokens.editor),
        )
        .await;
    assert_eq!(error_code(&second), "DUPLICATE_PENDING_INVITATION");
    assert_eq!(
        second["errors"][0]["extensions"]["invitationId"],
        first["id"]
    );

    let other_scope = create(
        &server,
        json!({ "email": "dup@example.org", "role": "viewer", "scope": "globex" }),
    )
    .await;
    assert_eq!(other_scope["state"], "PENDING");

    let resent = create(
        &server,
        json!({ "email": "dup@example.org", "role": "viewer", "scope": "acme", "onDuplicate": "RESEND" }),
    )
    .await;
    assert_eq!(resent["id"], first["id"]);
    assert_eq!(resent["sendCount"], 2);
    assert_ne!(resent["secret"], first["secret"]);
    server.cleanup().await;
}
