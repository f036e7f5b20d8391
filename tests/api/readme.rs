//! The README's quickstart, run as a new user would: the binary's `serve` in a fresh folder
//! (on a port it picks and reports), then the quickstart's shell block verbatim (only the port
//! is changed, so the test never collides with a server on 8080).

use std::process::Command;

use crate::process::ServerProcess;

const README: &str = include_str!("../../README.md");

fn quickstart_script() -> String {
    shell_block("quickstart")
}

/// The shell block between `<!-- NAME:start -->` and `<!-- NAME:end -->`.
fn shell_block(name: &str) -> String {
    let (_, rest) = README
        .split_once(&format!("<!-- {name}:start -->"))
        .unwrap();
    let (block, _) = rest.split_once(&format!("<!-- {name}:end -->")).unwrap();
    let script = block
        .trim()
        .strip_prefix("```sh")
        .unwrap()
        .strip_suffix("```")
        .unwrap();
    script.to_owned()
}

/// Runs `script` with bash (`-euo pipefail`) in `dir`; what it printed, once it succeeded.
fn run_script(script: &str, dir: &std::path::Path) -> String {
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed
}

#[tokio::test]
async fn the_readme_quickstart_works_verbatim_against_a_fresh_server() {
    let dir = crate::helpers::temp_dir();
    let server = ServerProcess::start_in(&dir, &[]).await;
    let listen = server.address.to_string();
    let http = reqwest::Client::new();
    let graphiql = http
        .get(format!("http://{listen}/graphiql"))
        .send()
        .await
        .unwrap();
    assert_eq!(graphiql.status(), 200);

    let script = quickstart_script().replace("127.0.0.1:8080", &listen);
    let printed = run_script(&script, &dir);
    let banner = server.printed();
    server.stop().await;
    assert!(
        banner.contains("data/bootstrap-admin-token") && !banner.contains("cmsi_"),
        "the first start named the token's file and kept the token out of the pipe: {banner}"
    );
    assert!(printed.contains(r#""state":"PENDING""#), "{printed}");
    assert!(
        printed.contains(r#""delivery":{"status":"QUEUED","locale":"en"}"#),
        "{printed}"
    );
    assert!(
        printed.contains("Subject: bootstrap admin invited you to join CMS"),
        "the email is in the outbox: {printed}"
    );
    assert!(
        printed.contains(r#""inviterName":"bootstrap admin""#),
        "{printed}"
    );
    assert!(
        printed.contains(r#""existingUser":false,"invitation":{"state":"ACCEPTED"}"#),
        "{printed}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_readme_webhook_step_receives_a_signed_event() {
    let dir = crate::helpers::temp_dir();
    let server =
        ServerProcess::start_in(&dir, &[("INVITATIONS_WEBHOOK_ALLOW_PRIVATE", "true")]).await;
    let listen = server.address.to_string();
    let receiver_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = shell_block("webhook-quickstart")
        .replace("127.0.0.1:8080", &listen)
        .replace("9000", &receiver_port.to_string());
    let printed = run_script(&script, &dir);
    server.stop().await;
    assert!(printed.contains(r#""secret":"whsec_"#), "{printed}");
    // The curl answers carry no line break: the receiver's line starts at its `msg_` id.
    let (_, received) = printed
        .split_once("msg_")
        .unwrap_or_else(|| panic!("the receiver logged the webhook: {printed}"));
    assert!(
        received.contains(r#""type":"invitation.created""#),
        "{received}"
    );
    assert!(received.contains("grace@example.org"), "{received}");
    let _ = std::fs::remove_dir_all(dir);
}
