//! Nothing that holds a secret, a link or a message body prints it through `Debug`, so a
//! `{:?}` in a log line or an error cannot leak a usable invitation.

use cms_invitations::domain::{MessageKind, Outgoing};
use cms_invitations::email::{EmailContext, EmailTemplates};

use crate::helpers::{Backend, message_keys, spawn_app};

#[tokio::test]
async fn debug_output_of_minted_invitations_and_queued_emails_holds_no_secret_or_link() {
    let app = spawn_app(Backend::Sqlite).await;
    let minted = app.invite("redact@example.org").await;
    let secret = minted.secret.expose().to_owned();
    let link = minted.invite_url.to_string();
    let stored = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(
        stored.outbox.len(),
        1,
        "the invitation email is queued with the link"
    );
    let Outgoing::Email(opened) = stored.outbox[0].open(&message_keys()).unwrap() else {
        panic!("an email invitation's message opens as an email");
    };
    assert!(
        opened.body.text.contains(&secret),
        "the queued body does hold the link"
    );

    let printed = [
        format!("{minted:?}"),
        format!("{:#?}", minted),
        format!("{opened:?}"),
        format!("{:?}", opened.body),
    ];
    // Stored, the body is ciphertext: nothing to redact, and nothing readable either.
    let stored = format!("{stored:?}");
    assert!(
        !stored.contains(&secret) && !stored.contains(&link) && stored.contains("SealedBody"),
        "{stored}"
    );
    for text in &printed {
        assert!(!text.contains(&secret), "secret leaked: {text}");
        assert!(!text.contains(&link), "link leaked: {text}");
        assert!(
            text.contains("<redacted>"),
            "nothing marked redacted: {text}"
        );
    }
    app.cleanup().await;
}

#[test]
fn debug_output_of_rendered_emails_and_their_context_holds_no_link() {
    let templates = EmailTemplates::load(None, false).unwrap();
    let context = EmailContext::sample(MessageKind::Invitation, "en", true);
    let rendered = templates.render("en", &context).unwrap();
    assert!(
        rendered.text.contains("SAMPLE-SECRET"),
        "the sample link is rendered"
    );
    for text in [format!("{context:?}"), format!("{rendered:?}")] {
        assert!(!text.contains("SAMPLE-SECRET"), "link leaked: {text}");
    }
}
