//! Queued email bodies are sealed with the configured message key and opened by whichever
//! process sends them. Rotating the key as `docs/security.md` describes loses no message: a
//! process that seals with the new key still opens what was sealed with the old one, and a
//! process without the old key leaves the message queued for one that has it.

use chrono::TimeDelta;
use cms_invitations::domain::{DeliveryStatus, MessageKey};
use cms_invitations::email::{FileMailer, Sender};

use crate::helpers::{Backend, TEST_MESSAGE_KEY, spawn_app, temp_dir};

/// 32 bytes of 0x07: the key rotated to.
const NEW_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

crate::on_both_backends!(a_message_sealed_before_a_key_rotation_is_delivered_after_it);

async fn a_message_sealed_before_a_key_rotation_is_delivered_after_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let minted = app.invite("rotate@example.org").await;
    let outbox = temp_dir();
    let mailer = FileMailer::new(&outbox, Sender::parse("Test <test@example.org>").unwrap());

    // An instance already on the new key, without the old one: it cannot open the message and
    // leaves it for another attempt (by itself later, or by an instance that has the key).
    let new_only = app.another_process_with(&[("INVITATIONS_MESSAGE_KEY", NEW_KEY)]);
    let report = new_only.deliver_due(&mailer).await.unwrap();
    assert_eq!((report.sent, report.retrying), (0, 1));
    let stored = app.store.get(minted.invitation.id).await.unwrap().unwrap();
    assert_eq!(stored.delivery.status, DeliveryStatus::Queued);
    let old_id = MessageKey::parse(TEST_MESSAGE_KEY)
        .unwrap()
        .id()
        .to_string();
    let reason = stored.delivery.last_error.unwrap();
    assert!(
        reason.contains(&old_id) && reason.contains("does not have"),
        "{reason}"
    );

    // The rotated configuration: seal with the new key, still open with the old one.
    app.advance(TimeDelta::hours(2));
    let rotated = app.another_process_with(&[
        ("INVITATIONS_MESSAGE_KEY", NEW_KEY),
        ("INVITATIONS_PREVIOUS_MESSAGE_KEYS", TEST_MESSAGE_KEY),
    ]);
    let report = rotated.deliver_due(&mailer).await.unwrap();
    assert_eq!(report.sent, 1);
    let written: String = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert!(written.contains(minted.secret.expose()), "the link arrived");

    // What the rotated instance queues now is sealed with the new key only.
    let resent = rotated
        .resend(Some(&crate::helpers::admin()), minted.invitation.id, None)
        .await
        .unwrap();
    let stored = app.store.get(resent.invitation.id).await.unwrap().unwrap();
    let sealed = format!("{:?}", stored.outbox[0].body);
    let new_id = MessageKey::parse(NEW_KEY).unwrap().id().to_string();
    assert!(sealed.contains(&new_id), "{sealed}");
    let _ = std::fs::remove_dir_all(outbox);
    app.cleanup().await;
}
