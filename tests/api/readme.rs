//! The README's quickstart, run as a new user would: the binary's `serve` on a fresh data
//! directory, then the quickstart's shell block verbatim (only the port is changed, so the test
//! never collides with a server on 8080).

use std::process::{Command, Stdio};
use std::time::Duration;

const README: &str = include_str!("../../README.md");

fn quickstart_script() -> String {
    let (_, rest) = README.split_once("<!-- quickstart:start -->").unwrap();
    let (block, _) = rest.split_once("<!-- quickstart:end -->").unwrap();
    let script = block
        .trim()
        .strip_prefix("```sh")
        .unwrap()
        .strip_suffix("```")
        .unwrap();
    script.to_owned()
}

#[tokio::test]
async fn the_readme_quickstart_works_verbatim_against_a_fresh_server() {
    let dir = crate::helpers::temp_dir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_cms-invitations"))
        .arg("serve")
        .env("INVITATIONS_LISTEN", &listen)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http
            .get(format!("http://{listen}/healthz"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not come up on {listen}");
    let graphiql = http
        .get(format!("http://{listen}/graphiql"))
        .send()
        .await
        .unwrap();
    assert_eq!(graphiql.status(), 200);

    let script = quickstart_script().replace("127.0.0.1:8080", &listen);
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .output()
        .unwrap();
    server.kill().unwrap();
    let banner = {
        use std::io::Read as _;
        let mut text = String::new();
        server
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let _ = server.wait();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        banner.contains("cmsi_"),
        "the first start printed the token: {banner}"
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
