//! The admin UI and the accept page in a real browser: `tests/browser/ui.test.mjs` drives
//! Debian's chromium with playwright-core (both installed by `scripts/browser.sh`) against this
//! server, with a real SMTP server behind it. Screenshots go to `target/browser-screenshots/`.

use std::time::Duration;

use chrono::TimeDelta;
use serde_json::json;

use crate::events::Receiver;
use crate::helpers::Backend;
use crate::mail::SmtpSink;
use crate::process::run_node;
use crate::server::{ServerOptions, spawn_server_with};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[tokio::test]
async fn editors_and_invitees_use_the_pages_in_chromium() {
    let browser_dir = format!("{ROOT}/tests/browser");
    assert!(
        std::path::Path::new(&format!("{browser_dir}/node_modules/playwright-core")).exists()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser tests need chromium and playwright-core: run `bash scripts/browser.sh install` \
         (scripts/test.sh does)"
    );
    let sink = SmtpSink::start().await;
    let server = spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            smtp_url: Some(sink.url()),
            ..ServerOptions::default()
        },
    )
    .await;
    // An invitation whose time runs out before the browser opens its link.
    let expired = server
        .create_invitation(
            &server.tokens.admin,
            json!({ "email": "late@example.org", "role": "viewer", "validFor": "PT1H", "sendEmail": false }),
        )
        .await;
    server.advance(TimeDelta::hours(2));

    // The webhook receiver the admin UI's Webhooks section points an endpoint at.
    let receiver = Receiver::start(0).await;
    // A template author: edits the email templates, reads and invites nobody.
    let designer = server.token("designer", "Dana Designer", None).await;
    let screenshots = format!("{ROOT}/target/browser-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    let output = run_node(
        &browser_dir,
        "ui.test.mjs",
        &[],
        &[
            ("BASE_URL", &server.url("")),
            ("ADMIN_TOKEN", &server.tokens.admin),
            ("TEAM_TOKEN", &server.tokens.team_a_editor),
            ("DESIGNER_TOKEN", &designer),
            ("SMTP_DIR", &sink.dir.display().to_string()),
            ("EXPIRED_SECRET", expired["secret"].as_str().unwrap()),
            ("SCREENSHOT_DIR", &screenshots),
            ("RECEIVER_URL", &receiver.url("")),
            // No SMS gateway: text messages are written there as `.sms` files.
            (
                "SMS_OUTBOX",
                &server.data_dir.join("outbox").display().to_string(),
            ),
        ],
        Duration::from_secs(180),
    )
    .await;
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!printed.contains("not ok"), "{printed}");
    assert!(printed.contains("# axe-core checked"), "{printed}");
    for shot in [
        "list",
        "create-form",
        "detail",
        "accept",
        "list-phone",
        "webhooks",
        "webhook-deliveries",
        "list-team",
        "accept-de",
        "accepted-de",
        "accept-unknown-fr",
        "templates",
        "templates-error",
        "templates-history",
    ] {
        assert!(
            std::path::Path::new(&format!("{screenshots}/{shot}.png")).exists(),
            "{shot}.png was saved"
        );
    }
    receiver.stop().await;
    server.cleanup().await;
}
