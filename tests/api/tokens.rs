//! The lifecycle of API tokens: expiry, revocation, last use, the CLI that lists and revokes
//! them, and the bootstrap token that is never printed into a pipe.

use chrono::TimeDelta;
use cms_invitations::domain::IsoDuration;
use cms_invitations::standalone;
use serde_json::json;

use crate::helpers::Backend;
use crate::process::ServerProcess;
use crate::server::{TestServer, spawn_server};

crate::on_both_backends!(an_expired_or_revoked_token_is_refused_at_once_and_use_is_recorded);

/// `{ invitations { totalCount } }` as `token`: the HTTP status and the error code, if any.
async fn list_as(server: &TestServer, token: &str) -> (u16, Option<String>) {
    let response = server
        .http()
        .post(server.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ invitations { totalCount } }" }))
        .send()
        .await
        .unwrap();
    crate::server::status_and_code(response).await
}

async fn an_expired_or_revoked_token_is_refused_at_once_and_use_is_recorded(backend: Backend) {
    let server = spawn_server(backend).await;
    let tokens = standalone::tokens_on(&server.config, server.store.clone(), server.clock.clone());
    let lifetime = IsoDuration::parse("PT1H").unwrap();
    let short = tokens
        .create(standalone::NewToken {
            role: "viewer",
            name: Some("Short-lived"),
            expires_in: Some(lifetime),
            ..standalone::NewToken::default()
        })
        .await
        .unwrap();
    let kept = tokens
        .create(standalone::NewToken {
            role: "viewer",
            name: Some("Kept"),
            ..standalone::NewToken::default()
        })
        .await
        .unwrap();
    assert_eq!(list_as(&server, short.expose()).await, (200, None));
    assert_eq!(list_as(&server, kept.expose()).await, (200, None));
    let listed = tokens.list().await.unwrap();
    let used = listed.iter().find(|t| t.id == kept.record.id).unwrap();
    assert_eq!(used.last_used_at, Some(server.clock_now()));

    server.advance(TimeDelta::hours(1));
    let refused = (401, Some("UNAUTHENTICATED".to_owned()));
    assert_eq!(list_as(&server, short.expose()).await, refused, "expired");
    assert_eq!(list_as(&server, kept.expose()).await, (200, None));

    tokens.revoke(&kept.record.id).await.unwrap();
    assert_eq!(list_as(&server, kept.expose()).await, refused, "revoked");
    let again = tokens.revoke(&kept.record.id).await.unwrap_err();
    assert_eq!(again.code(), cms_invitations::ErrorCode::NotFound);
    let revoked = tokens.list().await.unwrap();
    let revoked = revoked.iter().find(|t| t.id == kept.record.id).unwrap();
    assert_eq!(revoked.revoked_at, Some(server.clock_now()));
    server.cleanup().await;
}

/// Runs the binary's `token …` on the data folder `data`; (status, stdout).
async fn cli(data: &std::path::Path, args: &[&str]) -> (i32, String) {
    let output = crate::process::command()
        .arg("token")
        .args(args)
        .env("INVITATIONS_DATA_DIR", data)
        .output()
        .await
        .unwrap();
    // What the person at the terminal reads: the output, then any error.
    let text = String::from_utf8(output.stdout).unwrap() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn the_cli_lists_and_revokes_tokens_and_the_bootstrap_token_stays_out_of_pipes() {
    let data = crate::helpers::temp_dir();
    let server = ServerProcess::start(&data, &[]).await;
    // The bootstrap token went to its file only: this process's stdout is a pipe.
    let banner = server.printed();
    assert!(banner.contains("bootstrap-admin-token"), "{banner}");
    assert!(
        !banner.contains("cmsi_"),
        "the token was printed into a pipe: {banner}"
    );
    let bootstrap = server.bootstrap_token();
    assert!(bootstrap.starts_with("cmsi_"));
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".new"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let (status, created) = cli(
        &data,
        &[
            "create",
            "--role",
            "editor",
            "--name",
            "Ops",
            "--expires-in",
            "P90D",
        ],
    )
    .await;
    assert_eq!(status, 0, "{created}");
    let token = created.lines().last().unwrap().trim().to_owned();
    let id = created
        .split("(id ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let used = server
        .gql("{ invitations { totalCount } }", json!({}), Some(&token))
        .await;
    assert_eq!(used["data"]["invitations"]["totalCount"], 0, "{used:#}");

    let (status, listed) = cli(&data, &["list"]).await;
    assert_eq!(status, 0);
    let row = listed.lines().find(|line| line.starts_with(&id)).unwrap();
    let columns: Vec<&str> = row.split('\t').collect();
    assert_eq!(columns[1..4], ["Ops", "editor", "all"], "{row}");
    assert_ne!(columns[5], "-", "last used: {row}");
    assert_ne!(columns[6], "-", "expires: {row}");
    assert_eq!(columns[7], "-", "not revoked: {row}");
    assert!(
        listed.contains("bootstrap-admin\tbootstrap admin\tadmin\tall"),
        "{listed}"
    );
    assert!(
        !listed.contains("cmsi_"),
        "a listing shows no token: {listed}"
    );

    let (status, _) = cli(&data, &["revoke", &id]).await;
    assert_eq!(status, 0);
    let refused = server
        .gql("{ invitations { totalCount } }", json!({}), Some(&token))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused:#}"
    );
    let (status, _) = cli(&data, &["revoke", &id]).await;
    assert_eq!(status, 2, "revoking twice is NOT_FOUND");
    let (status, bad) = cli(
        &data,
        &["create", "--role", "viewer", "--expires-in", "soon"],
    )
    .await;
    assert_eq!(status, 2, "a malformed --expires-in is refused");
    assert!(!bad.contains("cmsi_"));

    // A token limited to scopes: listed with them, and it works inside them only.
    let (status, created) = cli(
        &data,
        &[
            "create",
            "--role",
            "editor",
            "--name",
            "Team lead",
            "--scope",
            "team-b",
            "--scope",
            "team-a",
            "--scope",
            "team-a",
        ],
    )
    .await;
    assert_eq!(status, 0, "{created}");
    assert!(created.contains("scopes team-a,team-b"), "{created}");
    let team_token = created.lines().last().unwrap().trim().to_owned();
    let (_, listed) = cli(&data, &["list"]).await;
    assert!(
        listed.contains("Team lead\teditor\tteam-a,team-b\t"),
        "{listed}"
    );
    let viewer = server
        .gql(
            "{ invitationViewer { scopes } }",
            json!({}),
            Some(&team_token),
        )
        .await;
    assert_eq!(
        viewer["data"]["invitationViewer"]["scopes"],
        json!(["team-a", "team-b"])
    );
    let (status, bad) = cli(&data, &["create", "--role", "editor", "--scope", " "]).await;
    assert_eq!(status, 2, "an empty scope is refused: {bad}");
    assert!(
        bad.contains("scope") && bad.contains("VALIDATION_FAILED"),
        "{bad}"
    );
    assert!(!bad.contains("cmsi_"));

    // `erasures` lists who erased how many, and nothing about whom.
    let created = server
        .gql(
            "mutation { createInvitation(input: { email: \"gone@example.org\", role: \"viewer\", sendEmail: false }) { id } }",
            json!({}),
            Some(&bootstrap),
        )
        .await;
    assert!(
        created["data"]["createInvitation"]["id"].is_string(),
        "{created}"
    );
    let erased = server
        .gql(
            "mutation { eraseInvitee(email: \"gone@example.org\") }",
            json!({}),
            Some(&bootstrap),
        )
        .await;
    assert_eq!(erased["data"]["eraseInvitee"], 1, "{erased}");
    let output = crate::process::command()
        .args(["erasures", "--limit", "5"])
        .env("INVITATIONS_DATA_DIR", &data)
        .output()
        .await
        .unwrap();
    let listed = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{listed}");
    assert!(
        listed.contains("\teraseInvitee\t1\tbootstrap-admin\tbootstrap admin"),
        "{listed}"
    );
    assert!(!listed.contains("gone@"), "{listed}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(data);
}
