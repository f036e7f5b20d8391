//! Variants of the invitation message (`template`): chosen at create, written in the
//! invitee's locale or the nearest that has the variant, kept by a resend; an unknown one is
//! refused at create, never a failed delivery later.

use serde_json::{Value, json};

use crate::helpers::Backend;
use crate::server::{ServerOptions, TestServer, data, error_code, spawn_server_with};

/// A server whose template folder adds the variant `campaign`, in English only.
async fn server_with_campaign(backend: Backend) -> TestServer {
    let dir = crate::helpers::temp_dir();
    let campaign = dir.join("en/campaign");
    std::fs::create_dir_all(&campaign).unwrap();
    for (part, text) in [
        ("subject", "Spring campaign: {{inviter_name}} invites you"),
        (
            "html",
            "{{#> layout_html title=\"Spring\"}}{{#*inline \"preheader\"}}Spring campaign{{/inline~}}<p>SPRING-CAMPAIGN {{accept_url}}</p>{{/layout_html}}",
        ),
        ("txt", "SPRING-CAMPAIGN {{accept_url}}"),
        ("sms", "SPRING-CAMPAIGN {{accept_url}}"),
    ] {
        std::fs::write(campaign.join(format!("invitation.{part}.hbs")), text).unwrap();
    }
    spawn_server_with(
        backend,
        ServerOptions {
            email_templates_dir: Some(dir.display().to_string()),
            ..ServerOptions::default()
        },
    )
    .await
}

async fn a_variant_is_written_in_the_invitees_locale_or_the_nearest_that_has_it(backend: Backend) {
    let server = server_with_campaign(backend).await;
    let editor = server.tokens.editor.clone();
    let viewer = server
        .query(
            "{ invitationViewer { templateVariants } }",
            json!({}),
            Some(&editor),
        )
        .await;
    assert_eq!(
        data(&viewer, "invitationViewer")["templateVariants"],
        json!(["campaign", "partner"])
    );
    // The shipped partner variant in the invitation's language (de-AT -> de).
    let partner = server
        .create_invitation(
            &editor,
            json!({ "email": "partner@example.org", "role": "viewer", "locale": "de-AT", "template": "partner" }),
        )
        .await;
    assert_eq!(partner["template"], "partner");
    let mail = server.mail_with("partner@example.org").await;
    assert!(
        mail.contains("Partnerbereich"),
        "the German partner text: {mail}"
    );
    // campaign exists in English only: a German invitation gets the English campaign.
    let campaign = server
        .create_invitation(
            &editor,
            json!({ "email": "spring@example.org", "role": "viewer", "locale": "de", "template": "campaign" }),
        )
        .await;
    let mail = server.mail_with("spring@example.org").await;
    assert!(mail.contains("SPRING-CAMPAIGN"), "{mail}");
    let delivery = server
        .gql("Invitation", json!({ "id": campaign["id"] }), Some(&editor))
        .await;
    assert_eq!(data(&delivery, "invitation")["delivery"]["locale"], "en");
    // A resend writes the same variant again, with the new link.
    let resent = server
        .gql(
            "ResendInvitation",
            json!({ "id": partner["id"] }),
            Some(&editor),
        )
        .await;
    let resent = data(&resent, "resendInvitation");
    let new_secret = resent["secret"].as_str().unwrap();
    let mail = server.mail_with(new_secret).await;
    assert!(mail.contains("Partnerbereich"), "{mail}");
    server.cleanup().await;
}

async fn an_unknown_variant_fails_the_create_and_one_bulk_item_alone(backend: Backend) {
    let server = server_with_campaign(backend).await;
    let editor = server.tokens.editor.clone();
    for template in ["nope", "../partner", "Partner"] {
        let refused = server
            .gql(
                "CreateInvitation",
                json!({ "input": { "email": "x@example.org", "role": "viewer", "template": template } }),
                Some(&editor),
            )
            .await;
        assert_eq!(
            error_code(&refused),
            "VALIDATION_FAILED",
            "{template}: {refused:#}"
        );
        assert_eq!(refused["errors"][0]["extensions"]["field"], "template");
    }
    let refused = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "x@example.org", "role": "viewer", "template": "nope" } }),
            Some(&editor),
        )
        .await;
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("campaign, partner"),
        "names the known ones: {message}"
    );
    let inputs: Vec<Value> = [Some("partner"), Some("nope"), None]
        .iter()
        .enumerate()
        .map(|(i, template)| {
            json!({ "email": format!("bulk{i}@example.org"), "role": "viewer", "template": template })
        })
        .collect();
    let bulk = server
        .gql(
            "CreateInvitations",
            json!({ "inputs": inputs }),
            Some(&editor),
        )
        .await;
    let bulk = data(&bulk, "createInvitations");
    assert_eq!(
        (bulk["created"].as_u64(), bulk["failed"].as_u64()),
        (Some(2), Some(1)),
        "{bulk:#}"
    );
    assert_eq!(bulk["items"][1]["error"]["field"], "template");
    assert!(bulk["items"][0]["invitation"]["id"].is_string());
    server.cleanup().await;
}

crate::on_both_backends!(
    a_variant_is_written_in_the_invitees_locale_or_the_nearest_that_has_it,
    an_unknown_variant_fails_the_create_and_one_bulk_item_alone,
);
