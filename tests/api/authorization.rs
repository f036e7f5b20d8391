//! The authorization matrix: every operation as anonymous, viewer, author, editor and admin,
//! each unlimited and (for editors and admins) limited to a scope, on an invitation inside and
//! outside that scope; and editors trying to grant (or manage) roles above their own.

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
    /// An editor limited to `team-a`.
    TeamAEditor,
    /// An admin limited to `team-a` and `team-c`.
    TeamAAdmin,
}

const EVERYONE: [Who; 7] = [
    Who::Anonymous,
    Who::Viewer,
    Who::Author,
    Who::Editor,
    Who::Admin,
    Who::TeamAEditor,
    Who::TeamAAdmin,
];

/// Where the invitation an operation targets lives, seen from `team-a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Inside,
    Outside,
    Unscoped,
}

impl Target {
    fn scope(self) -> Option<&'static str> {
        match self {
            Self::Inside => Some("team-a"),
            Self::Outside => Some("team-b"),
            Self::Unscoped => None,
        }
    }
}

fn token(server: &TestServer, who: Who) -> Option<&str> {
    match who {
        Who::Anonymous => None,
        Who::Viewer => Some(&server.tokens.viewer),
        Who::Author => Some(&server.tokens.author),
        Who::Editor => Some(&server.tokens.editor),
        Who::Admin => Some(&server.tokens.admin),
        Who::TeamAEditor => Some(&server.tokens.team_a_editor),
        Who::TeamAAdmin => Some(&server.tokens.team_a_admin),
    }
}

/// `Ok(())` for a response with data and no error, else the error code it carries (an error
/// without a code is a failure of its own, never a success).
fn outcome(response: &Value) -> Result<(), String> {
    match response.get("errors") {
        None if response["data"].is_object() => Ok(()),
        None => Err(format!("neither data nor errors: {response}")),
        Some(errors) => Err(errors[0]["extensions"]["code"].as_str().map_or_else(
            || format!("an error without a code: {errors}"),
            str::to_owned,
        )),
    }
}

async fn fresh_invitation(server: &TestServer, email: &str, scope: Option<&str>) -> Value {
    let response = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": email, "role": "author", "sendEmail": false, "scope": scope } }),
            Some(&server.tokens.admin),
        )
        .await;
    data(&response, "createInvitation").clone()
}

async fn every_operation_answers_each_principal_as_the_default_roles_say(backend: Backend) {
    let server = spawn_server(backend).await;
    let limited = |who| matches!(who, Who::TeamAEditor | Who::TeamAAdmin);
    let read = |who| match who {
        Who::Anonymous => Err("UNAUTHENTICATED".to_owned()),
        _ => Ok(()),
    };
    let manage = |who| match who {
        Who::Anonymous => Err("UNAUTHENTICATED".to_owned()),
        Who::Viewer | Who::Author => Err("FORBIDDEN".to_owned()),
        Who::Editor | Who::Admin | Who::TeamAEditor | Who::TeamAAdmin => Ok(()),
    };
    // On an invitation outside a limited principal's scopes: exactly as if it did not exist.
    let manage_target = |who, target: Target| match manage(who) {
        Ok(()) if limited(who) && target != Target::Inside => Err("NOT_FOUND".to_owned()),
        other => other,
    };
    let create_in = |who, target: Target| match manage(who) {
        Ok(()) if limited(who) && target != Target::Inside => Err("FORBIDDEN".to_owned()),
        other => other,
    };
    let mut n = 0;
    for who in EVERYONE {
        for target_in in [Target::Inside, Target::Outside, Target::Unscoped] {
            n += 1;
            let as_who = token(&server, who);
            let case = format!("as {who:?} on an invitation {target_in:?}");
            let scope = target_in.scope();
            let target = fresh_invitation(&server, &format!("target{n}@example.org"), scope).await;
            let id = json!({ "id": target["id"] });
            let secret = json!({ "secret": target["secret"] });

            let invitation = server.gql("Invitation", id.clone(), as_who).await;
            assert_eq!(outcome(&invitation), read(who), "invitation {case}");
            let visible = !limited(who) || target_in == Target::Inside;
            if read(who).is_ok() {
                assert_eq!(
                    invitation["data"]["invitation"].is_object(),
                    visible,
                    "invitation {case}"
                );
            }
            let invitations = server
                .gql(
                    "Invitations",
                    json!({ "filter": { "email": format!("target{n}@example.org") } }),
                    as_who,
                )
                .await;
            assert_eq!(outcome(&invitations), read(who), "invitations {case}");
            if read(who).is_ok() {
                assert_eq!(
                    invitations["data"]["invitations"]["totalCount"],
                    u64::from(visible),
                    "invitations {case}"
                );
            }
            let lookup = server
                .gql("InvitationBySecret", secret.clone(), as_who)
                .await;
            assert_eq!(outcome(&lookup), Ok(()), "invitationBySecret {case}");

            let create = server
                .gql(
                    "CreateInvitation",
                    json!({ "input": { "email": format!("new{n}@example.org"), "role": "viewer", "scope": scope } }),
                    as_who,
                )
                .await;
            assert_eq!(
                outcome(&create),
                create_in(who, target_in),
                "createInvitation {case}"
            );
            let bulk = server
                .gql(
                    "CreateInvitations",
                    json!({ "inputs": [{ "email": format!("bulk{n}@example.org"), "role": "viewer", "scope": scope }] }),
                    as_who,
                )
                .await;
            // A bulk call fails item by item: the call succeeds, the item says why.
            let bulk_item = outcome(&bulk).and_then(|()| {
                match bulk["data"]["createInvitations"]["items"][0]["error"]["code"].as_str() {
                    None => Ok(()),
                    Some(code) => Err(code.to_owned()),
                }
            });
            assert_eq!(
                bulk_item,
                create_in(who, target_in),
                "createInvitations {case}"
            );
            let resend = server.gql("ResendInvitation", id.clone(), as_who).await;
            assert_eq!(
                outcome(&resend),
                manage_target(who, target_in),
                "resendInvitation {case}"
            );
            let revoke = server.gql("RevokeInvitation", id.clone(), as_who).await;
            assert_eq!(
                outcome(&revoke),
                manage_target(who, target_in),
                "revokeInvitation {case}"
            );

            // The holder of a secret may accept or decline whoever they are signed in as.
            let to_accept =
                fresh_invitation(&server, &format!("accept{n}@example.org"), scope).await;
            let accept = server
                .gql(
                    "AcceptInvitation",
                    json!({ "secret": to_accept["secret"] }),
                    as_who,
                )
                .await;
            assert_eq!(outcome(&accept), Ok(()), "acceptInvitation {case}");
            let to_decline =
                fresh_invitation(&server, &format!("decline{n}@example.org"), scope).await;
            let decline = server
                .gql(
                    "DeclineInvitation",
                    json!({ "secret": to_decline["secret"] }),
                    as_who,
                )
                .await;
            assert_eq!(outcome(&decline), Ok(()), "declineInvitation {case}");
        }
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
    let query = "{ invitationViewer { name canRead canEditTemplates grantableRoles emailLocales defaultLocale defaultValidity minValidity maxValidity } }";
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
        json!(["admin", "author", "designer", "editor", "viewer"])
    );
    assert_eq!(admin["canEditTemplates"], true);
    assert_eq!(editor["canEditTemplates"], false);
    let designer = ask(server.token("designer", "Dana Designer", None).await).await;
    assert_eq!(designer["canRead"], false);
    assert_eq!(designer["canEditTemplates"], true);
    assert_eq!(designer["grantableRoles"], json!([]));
    let scoped_admin = ask(server.tokens.team_a_admin.clone()).await;
    assert_eq!(scoped_admin["canEditTemplates"], false);
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

#[tokio::test]
async fn the_viewer_names_roles_in_the_language_asked_for() {
    let server = spawn_server(Backend::Sqlite).await;
    let query =
        "query($locale: String) { invitationViewer(locale: $locale) { roleNames { role name } } }";
    let names = |locale: Value| {
        let server = &server;
        async move {
            let response = server
                .query(
                    query,
                    json!({ "locale": locale }),
                    Some(&server.tokens.admin),
                )
                .await;
            data(&response, "invitationViewer")["roleNames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| {
                    (
                        n["role"].as_str().unwrap().to_owned(),
                        n["name"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let name_of = |names: &[(String, String)], role: &str| {
        names.iter().find(|(r, _)| r == role).unwrap().1.clone()
    };
    let english = names(Value::Null).await;
    assert_eq!(name_of(&english, "author"), "Author");
    // The tag, then its language, then English.
    assert_eq!(name_of(&names(json!("de-AT")).await, "author"), "Autor");
    let french = name_of(&names(json!("fr")).await, "viewer");
    assert_ne!(
        french,
        name_of(&english, "viewer"),
        "French has its own name"
    );
    assert_eq!(name_of(&names(json!("fr-CA")).await, "viewer"), french);
    assert_eq!(names(json!("pt-BR")).await, english);
    let too_long = server
        .query(
            query,
            json!({ "locale": "x".repeat(36) }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(
        too_long["errors"][0]["extensions"]["code"], "VALIDATION_FAILED",
        "{too_long}"
    );
    server.cleanup().await;
}

/// A request to `/graphql` with this `Authorization` header; the status and the error code.
async fn with_authorization(server: &TestServer, header: &str) -> (u16, Option<String>) {
    let response = server
        .http()
        .post(server.url("/graphql"))
        .header("authorization", header)
        .json(&json!({ "query": "{ invitationBySecret(secret: \"x\") { state } }" }))
        .send()
        .await
        .unwrap();
    crate::server::status_and_code(response).await
}

#[tokio::test]
async fn credentials_that_are_not_a_live_token_are_refused_as_a_whole() {
    let server = spawn_server(Backend::Sqlite).await;
    let well_formed_unknown = format!("Bearer cmsi_{}", "A".repeat(43));
    for header in [
        well_formed_unknown.as_str(),
        "Bearer ",
        "Bearer",
        "Basic YWRtaW46YWRtaW4=",
        "cmsi_no_scheme",
    ] {
        assert_eq!(
            with_authorization(&server, header).await,
            (401, Some("UNAUTHENTICATED".to_owned())),
            "{header:?}: the request is refused, not run anonymously"
        );
    }
    let lower_case_scheme = format!("bearer {}", server.tokens.viewer);
    let (status, _) = with_authorization(&server, &lower_case_scheme).await;
    assert_eq!(status, 200, "the scheme is case-insensitive");
    server.cleanup().await;
}

#[tokio::test]
async fn a_token_whose_role_was_removed_from_the_configuration_may_do_nothing() {
    let dir = crate::helpers::temp_dir();
    let data = dir.join("data");
    let created = crate::process::command()
        .args([
            "token",
            "create",
            "--role",
            "editor",
            "--name",
            "Old editor",
        ])
        .env("INVITATIONS_DATA_DIR", &data)
        .output()
        .await
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let printed = String::from_utf8(created.stdout).unwrap();
    let token = printed.lines().last().unwrap().trim().to_owned();
    let config = dir.join("invitations.toml");
    std::fs::write(
        &config,
        "[roles]\ninvitee = [\"viewer\"]\n[roles.principals.admin]\nread = true\ngrants = [\"viewer\"]\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let server =
        crate::process::ServerProcess::start(&data, &[("INVITATIONS_CONFIG", &config)]).await;
    let listed = server
        .gql("{ invitations { totalCount } }", json!({}), Some(&token))
        .await;
    assert_eq!(
        listed["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{listed:#}"
    );
    let message = listed["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("no longer configured"), "{message}");
    let created = server
        .gql(
            "mutation { createInvitation(input: {email: \"x@example.org\", role: \"viewer\"}) { id } }",
            json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(
        created["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{created:#}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
