//! The binary as operators run it: `schema`, `token create`, `seed`, `serve`.

use std::process::{Command, Output};

use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_cms-invitations");

fn run(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("INVITATIONS_DATA_DIR", data_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn schema_prints_the_committed_sdl() {
    let dir = crate::helpers::temp_dir();
    let output = run(&dir, &["schema"]);
    assert!(output.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/invitations.graphql"
    ))
    .unwrap();
    assert_eq!(stdout(&output), committed);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_created_token_is_the_last_line_and_signs_in_with_its_role() {
    let dir = crate::helpers::temp_dir();
    let output = run(
        &dir,
        &["token", "create", "--role", "editor", "--name", "CI bot"],
    );
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let token = text.lines().last().unwrap().to_owned();
    assert!(token.starts_with("cmsi_"), "{text}");

    let unknown = run(&dir, &["token", "create", "--role", "overlord"]);
    assert_eq!(unknown.status.code(), Some(2));
    let problem = String::from_utf8(unknown.stderr).unwrap();
    assert!(
        problem.contains("VALIDATION_FAILED") && problem.contains("editor"),
        "{problem}"
    );

    // The token works against a server on the same data directory.
    let config = crate::helpers::config_with(
        &crate::helpers::Options::default(),
        &[
            ("INVITATIONS_LISTEN", "127.0.0.1:0"),
            ("INVITATIONS_DATA_DIR", dir.to_str().unwrap()),
        ],
    );
    let server = cms_invitations::standalone::Server::bind(&config)
        .await
        .unwrap();
    let address = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let create = |role: &'static str| {
        let request = json!({
            "query": "mutation($role: String!) { createInvitation(input: { email: \"a@example.org\", role: $role }) { invitedBy { name } } }",
            "variables": { "role": role },
        });
        reqwest::Client::new()
            .post(format!("http://{address}/graphql"))
            .bearer_auth(&token)
            .json(&request)
            .send()
    };
    let response: serde_json::Value = create("editor").await.unwrap().json().await.unwrap();
    assert_eq!(
        response["errors"][0]["extensions"]["field"], "role",
        "an editor may not grant editor"
    );
    let response: serde_json::Value = create("author").await.unwrap().json().await.unwrap();
    assert_eq!(
        response["data"]["createInvitation"]["invitedBy"]["name"],
        "CI bot"
    );
    let _ = stop.send(());
    task.await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn seeding_twice_creates_the_fixtures_once() {
    let dir = crate::helpers::temp_dir();
    let first = run(&dir, &["seed", "fixtures/seed.json"]);
    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        stdout(&first).trim(),
        "created 6 invitation(s); 0 already pending; 0 failed"
    );
    let second = run(&dir, &["seed", "fixtures/seed.json"]);
    assert_eq!(
        stdout(&second).trim(),
        "created 0 invitation(s); 6 already pending; 0 failed"
    );
    let missing = run(&dir, &["seed", "fixtures/nope.json"]);
    assert_eq!(missing.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_mongodb_server_without_a_message_key_refuses_to_start_before_reaching_the_store() {
    let dir = crate::helpers::temp_dir();
    let output = Command::new(BINARY)
        .arg("serve")
        .env_clear()
        .env("INVITATIONS_DATA_DIR", &dir)
        .env("INVITATIONS_LISTEN", "127.0.0.1:0")
        // Nothing listens there: reaching for the store would hang until its timeout.
        .env(
            "INVITATIONS_MONGODB_URI",
            "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=60000",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("INVITATIONS_MESSAGE_KEY") && said.contains("same on every instance"),
        "{said}"
    );
    assert!(
        !dir.join("message.key").exists(),
        "no key is made for MongoDB"
    );
    let _ = std::fs::remove_dir_all(dir);
}
