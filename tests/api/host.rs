//! The example host CMS (`examples/host_integration.rs`) serves a merged schema: its own types
//! next to the module's, with its own authentication mapped onto the module's permissions.

use serde_json::{Value, json};

#[path = "../../examples/host_integration.rs"]
mod host_integration;

async fn post(address: std::net::SocketAddr, user: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/cms/graphql"))
        .json(&body);
    if let Some(user) = user {
        request = request.header("x-host-user", user);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_host_runs_its_own_and_the_modules_operations_through_one_schema() {
    let dir = crate::helpers::temp_dir();
    let router = host_integration::app(&dir).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let create = "mutation($email: String!, $role: String!) { createInvitation(input: { email: $email, role: $role }) { id role inviteUrl invitedBy { name } } }";
    let (status, created) = post(
        address,
        Some("moderator"),
        json!({ "query": create, "variables": { "email": "guest@example.org", "role": "author" } }),
    )
    .await;
    assert_eq!(status, 200);
    let invitation = &created["data"]["createInvitation"];
    assert_eq!(invitation["invitedBy"]["name"], "moderator");
    let url = invitation["inviteUrl"].as_str().unwrap();
    assert!(
        url.starts_with("https://host.example.org/join#secret="),
        "{url}"
    );

    let (_, merged) = post(
        address,
        Some("reader"),
        json!({ "query": "{ articles { title } invitations { totalCount nodes { email } } }" }),
    )
    .await;
    assert_eq!(
        merged["data"]["articles"][0]["title"],
        "Hello from the host"
    );
    assert_eq!(merged["data"]["invitations"]["totalCount"], 1);

    let (_, above) = post(
        address,
        Some("moderator"),
        json!({ "query": create, "variables": { "email": "boss@example.org", "role": "editor" } }),
    )
    .await;
    assert_eq!(
        above["errors"][0]["extensions"]["code"],
        "VALIDATION_FAILED"
    );
    let (_, reader) = post(
        address,
        Some("reader"),
        json!({ "query": create, "variables": { "email": "x@example.org", "role": "author" } }),
    )
    .await;
    assert_eq!(reader["errors"][0]["extensions"]["code"], "FORBIDDEN");

    let secret = url.split_once("#secret=").unwrap().1;
    let (_, public) = post(
        address,
        None,
        json!({ "query": "query($s: String!) { invitationBySecret(secret: $s) { email inviterName } }", "variables": { "s": secret } }),
    )
    .await;
    assert_eq!(
        public["data"]["invitationBySecret"]["inviterName"],
        "moderator"
    );

    let (status, stranger) = post(
        address,
        Some("mallory"),
        json!({ "query": "{ articles { title } }" }),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        stranger["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );

    // The host runs the module's sender: the invitation email reaches its outbox, and
    // accepting queues the notice to the host user's address.
    let (_, accepted) = post(
        address,
        None,
        json!({ "query": "mutation($s: String!) { acceptInvitation(secret: $s, input: { password: \"correct horse battery\" }) { invitation { state } } }", "variables": { "s": secret } }),
    )
    .await;
    assert_eq!(
        accepted["data"]["acceptInvitation"]["invitation"]["state"],
        "ACCEPTED"
    );
    let outbox = dir.join("outbox");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let messages = loop {
        let messages: Vec<String> = std::fs::read_dir(&outbox)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        if messages.len() == 2 || std::time::Instant::now() > deadline {
            break messages;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("To: guest@example.org")));
    assert!(
        messages
            .iter()
            .any(|m| m.contains("To: moderator <moderator@host.example.org>")),
        "{messages:#?}"
    );

    // The host's own listener ran on the accept.
    let onboarding = dir.join("onboarding.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let log = loop {
        let log = std::fs::read_to_string(&onboarding).unwrap_or_default();
        if !log.is_empty() || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert!(
        log.starts_with("workspace for guest@example.org"),
        "{log:?}"
    );
    assert_eq!(log.lines().count(), 1, "{log:?}");

    server.abort();
    let _ = std::fs::remove_dir_all(dir);
}
