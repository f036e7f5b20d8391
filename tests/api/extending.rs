//! `extendInvitation`: more time with the same link, where `resendInvitation` mints a new one.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use cms_invitations::ports::Clock as _;
use serde_json::{Value, json};

use crate::helpers::Backend;
use crate::server::{TestServer, data, error_code, spawn_server};

async fn extend(server: &TestServer, id: &Value, variables: Value, token: &str) -> Value {
    let mut variables = variables;
    variables["id"] = id.clone();
    server.gql("ExtendInvitation", variables, Some(token)).await
}

async fn look_up(server: &TestServer, secret: &str) -> Value {
    let found = server
        .gql("InvitationBySecret", json!({ "secret": secret }), None)
        .await;
    data(&found, "invitationBySecret").clone()
}

async fn extending_keeps_the_link_and_moves_the_expiry(backend: Backend) {
    let server = spawn_server(backend).await;
    let editor = server.tokens.editor.clone();
    let created = server
        .create_invitation(
            &editor,
            json!({ "email": "patient@example.org", "role": "viewer", "validFor": "PT2H" }),
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    // Its time runs out; the link reads as expired.
    server.advance(TimeDelta::hours(3));
    assert_eq!(look_up(&server, &secret).await["state"], "EXPIRED");

    let extended = extend(
        &server,
        &created["id"],
        json!({ "validFor": "P3D" }),
        &editor,
    )
    .await;
    let extended = data(&extended, "extendInvitation").clone();
    assert_eq!(extended["state"], "PENDING");
    assert_eq!(extended["sendCount"], 1, "nothing was sent");
    let kinds: Vec<&str> = extended["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.last(), Some(&"EXTENDED"), "{kinds:?}");
    let expires =
        chrono::DateTime::parse_from_rfc3339(extended["expiresAt"].as_str().unwrap()).unwrap();
    let wanted = server.clock.now() + TimeDelta::days(3);
    let off = (expires.with_timezone(&chrono::Utc) - wanted)
        .num_milliseconds()
        .abs();
    assert!(off <= 1, "expires {expires}, wanted {wanted}");
    // The link from the first email works again, and accepts.
    let public = look_up(&server, &secret).await;
    assert_eq!(public["state"], "PENDING");
    let accepted = server
        .gql(
            "AcceptInvitation",
            json!({ "secret": secret, "input": { "password": "a long passphrase" } }),
            None,
        )
        .await;
    assert_eq!(
        data(&accepted, "acceptInvitation")["invitation"]["state"],
        "ACCEPTED"
    );

    // Finished invitations are refused with their state's code, and stay as they were.
    let refused = extend(&server, &created["id"], json!({}), &editor).await;
    assert_eq!(error_code(&refused), "INVITATION_ACCEPTED", "{refused:#}");
    let revoked = server
        .create_invitation(
            &editor,
            json!({ "email": "gone@example.org", "role": "viewer" }),
        )
        .await;
    server
        .gql(
            "RevokeInvitation",
            json!({ "id": revoked["id"] }),
            Some(&editor),
        )
        .await;
    let refused = extend(&server, &revoked["id"], json!({}), &editor).await;
    assert_eq!(error_code(&refused), "INVITATION_REVOKED", "{refused:#}");

    // Shortening is not extending; the bounds are the create's.
    let pending = server
        .create_invitation(
            &editor,
            json!({ "email": "later@example.org", "role": "viewer", "validFor": "P7D" }),
        )
        .await;
    for (valid_for, what) in [
        ("PT2H", "shorter"),
        ("P365D", "beyond the longest validity"),
    ] {
        let refused = extend(
            &server,
            &pending["id"],
            json!({ "validFor": valid_for }),
            &editor,
        )
        .await;
        assert_eq!(
            error_code(&refused),
            "VALIDATION_FAILED",
            "{what}: {refused:#}"
        );
        assert_eq!(
            refused["errors"][0]["extensions"]["field"], "validFor",
            "{what}"
        );
    }
    // A viewer may not; an editor limited to another scope finds nothing.
    let refused = extend(&server, &pending["id"], json!({}), &server.tokens.viewer).await;
    assert_eq!(error_code(&refused), "FORBIDDEN");
    let refused = extend(
        &server,
        &pending["id"],
        json!({}),
        &server.tokens.team_a_editor,
    )
    .await;
    assert_eq!(error_code(&refused), "NOT_FOUND");
    server.cleanup().await;
}

async fn notify_sends_a_notice_without_a_link_through_the_invitations_channel(backend: Backend) {
    let server = spawn_server(backend).await;
    let editor = server.tokens.editor.clone();
    let created = server
        .create_invitation(
            &editor,
            json!({ "email": "told@example.org", "role": "viewer", "locale": "de", "name": "Tilda" }),
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let extended = extend(
        &server,
        &created["id"],
        json!({ "validFor": "P14D", "notify": true }),
        &editor,
    )
    .await;
    assert_eq!(
        data(&extended, "extendInvitation")["state"],
        "PENDING",
        "{extended:#}"
    );
    let outbox = server.data_dir.join("outbox");
    let deadline = Instant::now() + Duration::from_secs(30);
    let notice = loop {
        let found = std::fs::read_dir(&outbox).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
                .find(|text| text.contains("verl=C3=A4ngert") || text.contains("verlängert"))
        });
        if let Some(notice) = found {
            break notice;
        }
        assert!(
            Instant::now() < deadline,
            "no notice in {}",
            outbox.display()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(notice.contains("told@example.org"), "to the invitee");
    assert!(
        !notice.contains(&secret) && !notice.contains("#secret"),
        "no link: {notice}"
    );
    server.cleanup().await;
}

crate::on_both_backends!(
    extending_keeps_the_link_and_moves_the_expiry,
    notify_sends_a_notice_without_a_link_through_the_invitations_channel,
);
