//! The authorization matrix: every operation as anonymous, viewer, author, editor and admin,
//! and editors trying to grant (or manage) roles above their own.

use serde_json::{Value, json};

use crate::helpers::Backend;
use crate::server::{TestServer, data, spawn_server};

crate::on_both_backends!(
    every_operation_answers_each_principal_as_the_default_roles_say,
    an_editor_cannot_grant_or_manage_a_role_above_its_own,
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Viewer,
    Author,
    Editor,
    Admin,
}

const EVERYONE: [Who; 5] = [
    Who::Anonymous,
    Who::Viewer,
    Who::Author,
    Who::Editor,
    Who::Admin,
];

fn token(server: &TestServer, who: Who) -> Option<&str> {
    match who {
        Who::Anonymous => None,
        Who::Viewer => Some(&server.tokens.viewer),
        Who::Author => Some(&server.tokens.author),
        Who::Editor => Some(&server.tokens.editor),
        Who::Admin => Some(&server.tokens.admin),
    }
}

/// `Ok(())` or the error code the response carries.
fn outcome(response: &Value) -> Result<(), String> {
    match response["errors"][0]["extensions"]["code"].as_str() {
        None => Ok(()),
        Some(code) => Err(code.to_owned()),
    }
}

async fn fresh_invitation(server: &TestServer, email: &str) -> Value {
    let response = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": email, "role": "author", "sendEmail": false } }),
            Some(&server.tokens.admin),
        )
        .await;
    data(&response, "createInvitation").clone()
}

async fn every_operation_answers_each_principal_as_the_default_roles_say(backend: Backend) {
    let server = spawn_server(backend).await;
    let read = |who| match who {
        Who::Anonymous => Err("UNAUTHENTICATED".to_owned()),
        _ => Ok(()),
    };
    let manage = |who| match who {
        Who::Anonymous => Err("UNAUTHENTICATED".to_owned()),
        Who::Viewer | Who::Author => Err("FORBIDDEN".to_owned()),
        Who::Editor | Who::Admin => Ok(()),
    };
    for (n, who) in EVERYONE.into_iter().enumerate() {
        let as_who = token(&server, who);
        let target = fresh_invitation(&server, &format!("target{n}@example.org")).await;
        let id = json!({ "id": target["id"] });
        let secret = json!({ "secret": target["secret"] });

        let invitation = server.gql("Invitation", id.clone(), as_who).await;
        assert_eq!(outcome(&invitation), read(who), "invitation as {who:?}");
        let invitations = server.gql("Invitations", json!({}), as_who).await;
        assert_eq!(outcome(&invitations), read(who), "invitations as {who:?}");
        let lookup = server
            .gql("InvitationBySecret", secret.clone(), as_who)
            .await;
        assert_eq!(outcome(&lookup), Ok(()), "invitationBySecret as {who:?}");

        let create = server
            .gql(
                "CreateInvitation",
                json!({ "input": { "email": format!("new{n}@example.org"), "role": "viewer" } }),
                as_who,
            )
            .await;
        assert_eq!(outcome(&create), manage(who), "createInvitation as {who:?}");
        let bulk = server
            .gql(
                "CreateInvitations",
                json!({ "inputs": [{ "email": format!("bulk{n}@example.org"), "role": "viewer" }] }),
                as_who,
            )
            .await;
        assert_eq!(outcome(&bulk), manage(who), "createInvitations as {who:?}");
        let resend = server.gql("ResendInvitation", id.clone(), as_who).await;
        assert_eq!(outcome(&resend), manage(who), "resendInvitation as {who:?}");
        let revoke = server.gql("RevokeInvitation", id.clone(), as_who).await;
        assert_eq!(outcome(&revoke), manage(who), "revokeInvitation as {who:?}");

        // The holder of a secret may accept or decline whoever they are signed in as.
        let to_accept = fresh_invitation(&server, &format!("accept{n}@example.org")).await;
        let accept = server
            .gql(
                "AcceptInvitation",
                json!({ "secret": to_accept["secret"] }),
                as_who,
            )
            .await;
        assert_eq!(outcome(&accept), Ok(()), "acceptInvitation as {who:?}");
        let to_decline = fresh_invitation(&server, &format!("decline{n}@example.org")).await;
        let decline = server
            .gql(
                "DeclineInvitation",
                json!({ "secret": to_decline["secret"] }),
                as_who,
            )
            .await;
        assert_eq!(outcome(&decline), Ok(()), "declineInvitation as {who:?}");
    }
    server.cleanup().await;
}

async fn an_editor_cannot_grant_or_manage_a_role_above_its_own(backend: Backend) {
    let server = spawn_server(backend).await;
    for role in ["admin", "editor"] {
        let as_editor = server
            .gql(
                "CreateInvitation",
                json!({ "input": { "email": format!("{role}@example.org"), "role": role } }),
                Some(&server.tokens.editor),
            )
            .await;
        assert_eq!(outcome(&as_editor), Err("VALIDATION_FAILED".to_owned()));
        assert_eq!(as_editor["errors"][0]["extensions"]["field"], "role");
        let as_admin = server
            .gql(
                "CreateInvitation",
                json!({ "input": { "email": format!("{role}@example.org"), "role": role } }),
                Some(&server.tokens.admin),
            )
            .await;
        let created = data(&as_admin, "createInvitation");
        assert_eq!(created["role"], role);

        // Nor may the editor resend or revoke what it could not have granted.
        for operation in ["ResendInvitation", "RevokeInvitation"] {
            let response = server
                .gql(
                    operation,
                    json!({ "id": created["id"] }),
                    Some(&server.tokens.editor),
                )
                .await;
            assert_eq!(
                outcome(&response),
                Err("FORBIDDEN".to_owned()),
                "{operation} of an {role} invitation"
            );
        }
    }
    let still_pending = server
        .gql(
            "Invitations",
            json!({ "filter": { "states": ["PENDING"] } }),
            Some(&server.tokens.editor),
        )
        .await;
    assert_eq!(data(&still_pending, "invitations")["totalCount"], 2);
    server.cleanup().await;
}

#[tokio::test]
async fn the_viewer_query_tells_each_caller_what_it_may_do() {
    let server = spawn_server(Backend::Sqlite).await;
    let query = "{ invitationViewer { name canRead grantableRoles emailLocales defaultLocale defaultValidity minValidity maxValidity } }";
    let anonymous = server.query(query, json!({}), None).await;
    assert_eq!(data(&anonymous, "invitationViewer"), &Value::Null);
    let ask = |token: String| {
        let server = &server;
        async move {
            data(
                &server.query(query, json!({}), Some(&token)).await,
                "invitationViewer",
            )
            .clone()
        }
    };
    let viewer = ask(server.tokens.viewer.clone()).await;
    assert_eq!(viewer["name"], "Test viewer");
    assert_eq!(viewer["canRead"], true);
    assert_eq!(viewer["grantableRoles"], json!([]));
    let editor = ask(server.tokens.editor.clone()).await;
    assert_eq!(editor["grantableRoles"], json!(["author", "viewer"]));
    let admin = ask(server.tokens.admin.clone()).await;
    assert_eq!(
        admin["grantableRoles"],
        json!(["admin", "author", "editor", "viewer"])
    );
    assert_eq!(admin["emailLocales"], json!(["de", "en", "fr"]));
    assert_eq!(admin["defaultLocale"], "en");
    assert_eq!(
        (
            &admin["defaultValidity"],
            &admin["minValidity"],
            &admin["maxValidity"]
        ),
        (&json!("P7D"), &json!("PT1H"), &json!("P30D"))
    );
    server.cleanup().await;
}
