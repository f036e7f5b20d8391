//! The HTTP edge against the binary: bounded metrics labels, header and body read timeouts,
//! the connection cap and a bounded shutdown. Raw TCP where a client misbehaves.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::process::ServerProcess;

async fn server(env: &[(&str, &str)]) -> (ServerProcess, std::path::PathBuf) {
    let dir = crate::helpers::temp_dir();
    (ServerProcess::start(&dir, env).await, dir)
}

/// Reads until the server closes the connection (at most `limit`); what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut received)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_thousand_made_up_methods_leave_the_metrics_small() {
    let (server, dir) = server(&[]).await;
    let http = reqwest::Client::new();
    for i in 0..1000 {
        let method = format!("M{i:04}{}", "X".repeat(2000));
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = http.request(method, server.url("/graphql")).send().await;
        assert!(response.unwrap().status().is_client_error());
    }
    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.len() < 20_000, "{} bytes of metrics", metrics.len());
    assert!(
        metrics.contains("method=\"OTHER\""),
        "made-up methods are counted as OTHER: {metrics}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_connection_that_stalls_in_its_header_or_idles_is_closed_after_the_timeout() {
    let (server, dir) = server(&[("INVITATIONS_HEADER_READ_TIMEOUT", "PT1S")]).await;
    // Half a request header, then nothing.
    let mut stalled = TcpStream::connect(server.address).await.unwrap();
    stalled
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Ty")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = read_until_closed(&mut stalled, Duration::from_secs(15)).await;
    assert!(
        closed.is_some(),
        "a stalled header kept its connection for 15 s"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    // A whole request, then an idle kept-alive connection.
    let mut idle = TcpStream::connect(server.address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answered = read_until_closed(&mut idle, Duration::from_secs(15)).await;
    let answered = answered.expect("an idle kept-alive connection was kept for 15 s");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_client_that_closes_its_sending_side_after_its_request_still_gets_the_answer() {
    let (server, dir) = server(&[]).await;
    let body = r#"{"query":"{ __typename }"}"#;
    for _ in 0..20 {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        let request = format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(15)).await;
        let answer = answer.expect("the connection was kept open");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert!(answer.contains("\"__typename\":\"Query\""), "{answer}");
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn every_request_has_an_id_in_its_answer_and_log_line_and_odd_ones_are_replaced() {
    let (server, dir) = server(&[]).await;
    let http = reqwest::Client::new();
    let id_of = |answer: &reqwest::Response| {
        answer.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let made = id_of(&http.get(server.url("/healthz")).send().await.unwrap());
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");
    let kept = http
        .get(server.url("/healthz"))
        .header("x-request-id", "proxy-7f3a.19")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&kept), "proxy-7f3a.19");
    for odd in [
        "<script>".to_owned(),
        "a".repeat(65),
        "with space".to_owned(),
    ] {
        let answer = http
            .get(server.url("/healthz"))
            .header("x-request-id", &odd)
            .send()
            .await
            .unwrap();
        let replaced = id_of(&answer);
        assert!(
            uuid::Uuid::parse_str(&replaced).is_ok(),
            "{odd} gave {replaced}"
        );
    }
    let ids: Vec<String> = server
        .logged("request")
        .iter()
        .filter_map(|line| line["request_id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        ids.contains(&made) && ids.contains(&"proxy-7f3a.19".to_owned()),
        "{ids:?}"
    );
    assert!(!ids.iter().any(|id| id.contains("script")), "{ids:?}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408() {
    let (server, dir) = server(&[("INVITATIONS_REQUEST_TIMEOUT", "PT1S")]).await;
    let mut slow = TcpStream::connect(server.address).await.unwrap();
    slow.write_all(
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"query\":",
    )
    .await
    .unwrap();
    let mut answer = vec![0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(15), slow.read(&mut answer)).await;
    let n = read.expect("no answer within 15 s").unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_served_again_once_one_is_free() {
    let (server, dir) = server(&[("INVITATIONS_MAX_CONNECTIONS", "2")]).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    // Both slots are taken once the server has accepted both; a third is closed unanswered.
    let mut third = TcpStream::connect(server.address).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let refused = read_until_closed(&mut third, Duration::from_secs(15)).await;
    assert_eq!(
        refused.as_deref(),
        Some(""),
        "the third connection got an answer"
    );
    drop(held);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(response) = http.get(server.url("/healthz")).send().await {
            assert_eq!(response.status(), 200);
            break;
        }
        assert!(Instant::now() < deadline, "no slot came free");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_stopping_server_waits_for_a_stalled_request_only_as_long_as_the_grace() {
    let (server, dir) = server(&[
        ("INVITATIONS_SHUTDOWN_GRACE", "PT1S"),
        ("INVITATIONS_REQUEST_TIMEOUT", "PT300S"),
    ])
    .await;
    let mut stalled = TcpStream::connect(server.address).await.unwrap();
    stalled
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    // The request is in flight once the server has read its header: a second request on
    // another connection is answered, so the first was accepted before it.
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let started = Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopping took {:?} with a stalled request",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(dir);
}

mod operation_limits {
    use serde_json::{Value, json};

    use crate::helpers::Backend;
    use crate::server::{ServerOptions, TestServer, error_code, spawn_server_with};

    /// A server that takes bodies as large as the default (2 MiB), as these requests are.
    async fn spawn_server(backend: Backend) -> TestServer {
        let options = ServerOptions {
            max_body_bytes: Some("2097152"),
            ..ServerOptions::default()
        };
        spawn_server_with(backend, options).await
    }

    async fn query(server: &TestServer, document: &str, variables: Value) -> Value {
        server
            .query(document, variables, Some(&server.tokens.editor))
            .await
    }

    #[tokio::test]
    async fn a_thousand_aliased_counts_are_refused_before_anything_runs() {
        let server = spawn_server(Backend::Sqlite).await;
        let aliases: String = (0..1200)
            .map(|i| format!("c{i}: invitations(first: 1, filter: {{emailContains: \"x\"}}) {{ totalCount }}\n"))
            .collect();
        let refused = query(&server, &format!("{{ {aliases} }}"), json!({})).await;
        assert_eq!(error_code(&refused), "VALIDATION_FAILED", "{refused:#}");
        assert!(
            refused.get("data").is_none_or(Value::is_null),
            "{refused:#}"
        );
        // Through a fragment too.
        let fragment = "fragment N on InvitationConnection { totalCount }";
        let spread: String = (0..4)
            .map(|i| format!("l{i}: invitations(first: 1) {{ ...N }}\n"))
            .collect();
        let refused = query(&server, &format!("{{ {spread} }} {fragment}"), json!({})).await;
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("totalCount at most 3"), "{message}");
        // Within the limits, it runs.
        let allowed: String = (0..3)
            .map(|i| format!("l{i}: invitations(first: 1) {{ totalCount }}\n"))
            .collect();
        let ran = query(&server, &format!("{{ {allowed} }}"), json!({})).await;
        assert_eq!(ran["data"]["l2"]["totalCount"], 0, "{ran:#}");
        server.cleanup().await;
    }

    #[tokio::test]
    async fn bulk_items_are_counted_across_aliases_and_nothing_is_created_past_the_cap() {
        let server = spawn_server(Backend::Sqlite).await;
        let inputs = |prefix: &str| -> Vec<Value> {
            (0..600)
                .map(|i| json!({ "email": format!("{prefix}{i}@example.org"), "role": "viewer", "sendEmail": false }))
                .collect()
        };
        let document = "mutation($a: [CreateInvitationInput!]!, $b: [CreateInvitationInput!]!) { \
                        a: createInvitations(inputs: $a) { created } \
                        b: createInvitations(inputs: $b) { created } }";
        let refused = query(
            &server,
            document,
            json!({ "a": inputs("a"), "b": inputs("b") }),
        )
        .await;
        assert_eq!(error_code(&refused), "VALIDATION_FAILED", "{refused:#}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("at most 1000 invitations"), "{message}");
        let count = query(&server, "{ invitations { totalCount } }", json!({})).await;
        assert_eq!(
            count["data"]["invitations"]["totalCount"], 0,
            "nothing was created"
        );

        // Aliases of the single mutation add up the same way.
        let singles: String = (0..1001)
            .map(|i| format!("c{i}: createInvitation(input: {{email: \"s{i}@example.org\", role: \"viewer\", sendEmail: false}}) {{ id }} "))
            .collect();
        let refused = query(&server, &format!("mutation {{ {singles} }}"), json!({})).await;
        assert_eq!(error_code(&refused), "VALIDATION_FAILED", "{refused:#}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("create or resend at most 1000"),
            "{message}"
        );
        let count = query(&server, "{ invitations { totalCount } }", json!({})).await;
        assert_eq!(count["data"]["invitations"]["totalCount"], 0);
        server.cleanup().await;
    }

    #[tokio::test]
    async fn a_document_past_its_size_or_nesting_is_refused_before_it_is_parsed() {
        let server = spawn_server(Backend::Sqlite).await;
        let send = |document: String| {
            server
                .http()
                .post(server.url("/graphql"))
                .bearer_auth(&server.tokens.editor)
                .json(&json!({ "query": document }))
                .send()
        };
        let large = format!("{{ __typename # {}\n }}", "x".repeat(100 * 1024));
        let deep = format!(
            "{{ invitations(filter: {{states: {}PENDING{}}}) {{ totalCount }} }}",
            "[".repeat(49),
            "]".repeat(49)
        );
        for (document, says) in [
            (large, "larger than 102400 bytes"),
            (deep, "deeper than 48 levels"),
        ] {
            let answer = send(document).await.unwrap();
            assert_eq!(answer.status(), 400);
            let body: Value = answer.json().await.unwrap();
            assert_eq!(error_code(&body), "VALIDATION_FAILED", "{body:#}");
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(says), "{message}");
        }
        server.cleanup().await;
    }

    /// A host that executes the schema itself, without the module's HTTP routes, gets the same
    /// limits from the schema's extension.
    #[tokio::test]
    async fn a_host_executing_the_schema_itself_gets_the_same_limits() {
        let app = crate::helpers::spawn_app(Backend::Sqlite).await;
        let module = cms_invitations::graphql::InvitationsModule::new(app.service.clone(), 0);
        let schema = cms_invitations::graphql::schema(module, true);
        let fan_out = crate::helpers::fragment_fan_out(30, 4, "__typename");
        let deep = format!("{{ {}PENDING{} }}", "[".repeat(49), "]".repeat(49));
        let counts: String = (0..4)
            .map(|i| format!("c{i}: invitations(first: 1) {{ totalCount }} "))
            .collect();
        for (document, says) in [
            (fan_out, "selections"),
            (deep, "nests brackets"),
            (format!("{{ {counts} }}"), "totalCount at most 3"),
        ] {
            let answer = schema.execute(async_graphql::Request::new(document)).await;
            let message = answer
                .errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            assert!(message.contains(says), "{message}");
        }
        app.cleanup().await;
    }

    #[tokio::test]
    async fn an_overlong_email_part_is_refused_naming_its_field() {
        let server = spawn_server(Backend::Sqlite).await;
        let part = "a".repeat(101);
        let refused = query(
            &server,
            "query($p: String!) { invitations(filter: {emailContains: $p}) { totalCount } }",
            json!({ "p": part }),
        )
        .await;
        assert_eq!(error_code(&refused), "VALIDATION_FAILED", "{refused:#}");
        assert_eq!(
            refused["errors"][0]["extensions"]["field"],
            "filter.emailContains"
        );
        server.cleanup().await;
    }
}

mod secrets_at_the_edge {
    use chrono::TimeDelta;
    use serde_json::json;

    use crate::helpers::Backend;
    use crate::server::{data, error_code, spawn_server};

    #[tokio::test]
    async fn a_secret_in_a_get_request_is_refused_before_it_is_looked_up() {
        let server = spawn_server(Backend::Sqlite).await;
        let created = server
            .create_invitation(
                &server.tokens.editor,
                json!({ "email": "get@example.org", "role": "viewer", "sendEmail": false }),
            )
            .await;
        let secret = created["secret"].as_str().unwrap();
        let inline = format!("{{ invitationBySecret(secret: \"{secret}\") {{ state }} }}");
        let by_variable = "query($s: String!) { invitationBySecret(secret: $s) { state } }";
        let variables = json!({ "s": secret }).to_string();
        for query in [
            vec![("query", inline.as_str())],
            vec![("query", by_variable), ("variables", variables.as_str())],
        ] {
            let response = server
                .http()
                .get(server.url("/graphql"))
                .query(&query)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400);
            let body = response.json().await.unwrap();
            assert_eq!(error_code(&body), "VALIDATION_FAILED");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("POST")
            );
        }
        server.cleanup().await;
    }

    #[tokio::test]
    async fn an_old_link_shows_only_the_state_once_the_invitation_is_final() {
        let server = spawn_server(Backend::Sqlite).await;
        let lookup = "query($s: String!) { invitationBySecret(secret: $s) { email name role scope inviterName state expiresAt locale } }";
        let mut shown = Vec::new();
        for (email, finish) in [
            ("open@example.org", None),
            ("revoked@example.org", Some("RevokeInvitation")),
            ("expired@example.org", None),
        ] {
            let created = server
                .create_invitation(
                    &server.tokens.editor,
                    json!({ "email": email, "role": "viewer", "sendEmail": false, "scope": "team-a" }),
                )
                .await;
            if let Some(operation) = finish {
                let done = server
                    .gql(
                        operation,
                        json!({ "id": created["id"] }),
                        Some(&server.tokens.editor),
                    )
                    .await;
                assert!(done.get("errors").is_none(), "{done:#}");
            }
            shown.push(created["secret"].clone());
        }
        let declined = server
            .create_invitation(
                &server.tokens.editor,
                json!({ "email": "declined@example.org", "role": "viewer", "sendEmail": false }),
            )
            .await;
        let decline = "mutation($s: String!) { declineInvitation(secret: $s) { state email } }";
        let answer = server
            .query(decline, json!({ "s": declined["secret"] }), None)
            .await;
        assert_eq!(
            data(&answer, "declineInvitation"),
            &json!({ "state": "DECLINED", "email": null })
        );

        let look = |secret: serde_json::Value| {
            let server = &server;
            async move {
                let answer = server.query(lookup, json!({ "s": secret }), None).await;
                data(&answer, "invitationBySecret").clone()
            }
        };
        let open = look(shown[0].clone()).await;
        assert_eq!(open["email"], "open@example.org");
        assert_eq!(open["scope"], "team-a");
        let revoked = look(shown[1].clone()).await;
        assert_eq!(revoked["state"], "REVOKED");
        for field in [
            "email",
            "name",
            "role",
            "scope",
            "inviterName",
            "expiresAt",
            "locale",
        ] {
            assert!(
                revoked[field].is_null(),
                "{field} of a revoked invitation: {revoked:#}"
            );
        }
        // Expired can still be resent, so the invitee may see what to ask for.
        server.advance(TimeDelta::days(8));
        let expired = look(shown[2].clone()).await;
        assert_eq!(
            (expired["state"].as_str(), expired["email"].as_str()),
            (Some("EXPIRED"), Some("expired@example.org"))
        );
        server.cleanup().await;
    }
}

mod headers_and_switches {
    use serde_json::json;

    use crate::helpers::Backend;
    use crate::process::ServerProcess;
    use crate::server::spawn_server;

    #[tokio::test]
    async fn every_answer_carries_the_security_headers_and_no_page_runs_inline_script() {
        let server = spawn_server(Backend::Sqlite).await;
        let paths = [
            "/admin",
            "/accept",
            "/graphiql",
            "/graphiql.js",
            "/graphiql.css",
            "/email-preview",
            "/email-preview/html",
            "/healthz",
            "/metrics",
            "/graphql?query=%7B__typename%7D",
            "/no-such-page",
        ];
        for path in paths {
            let response = server.http().get(server.url(path)).send().await.unwrap();
            let headers = response.headers().clone();
            assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
            let html = headers
                .get("content-type")
                .is_some_and(|t| t.to_str().unwrap().starts_with("text/html"));
            if html {
                let csp = headers["content-security-policy"].to_str().unwrap();
                let script_src = csp.split(';').find(|d| d.trim().starts_with("script-src"));
                assert!(
                    script_src.is_none_or(|d| !d.contains("unsafe-inline")),
                    "{path}: {csp}"
                );
                let body = response.text().await.unwrap();
                assert!(!body.contains("<script>"), "{path} has an inline script");
            }
        }
        let graphiql = server
            .http()
            .get(server.url("/graphiql"))
            .send()
            .await
            .unwrap();
        let page = graphiql.text().await.unwrap();
        assert!(page.contains(r#"<script src="graphiql.js">"#), "{page}");
        assert!(!page.contains("<style"), "GraphiQL has an inline style");
        server.cleanup().await;
    }

    #[tokio::test]
    async fn introspection_and_metrics_each_have_a_switch() {
        let dir = crate::helpers::temp_dir();
        let token = "metrics-token-0123456789";
        let closed = ServerProcess::start(
            &dir,
            &[
                ("INVITATIONS_INTROSPECTION", "false"),
                ("INVITATIONS_METRICS_TOKEN", token),
            ],
        )
        .await;
        let schema = closed
            .gql("{ __schema { queryType { name } } }", json!({}), None)
            .await;
        let named = closed
            .gql("{ __type(name: \"Invitation\") { name } }", json!({}), None)
            .await;
        assert!(named["data"]["__type"].is_null(), "{named:#}");
        assert!(
            schema["data"]["__schema"].is_null(),
            "introspection answered: {schema:#}"
        );
        let http = reqwest::Client::new();
        let anonymous = http.get(closed.url("/metrics")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        let wrong = http
            .get(closed.url("/metrics"))
            .bearer_auth("metrics-token-0123456780");
        assert_eq!(wrong.send().await.unwrap().status(), 401);
        let allowed = http
            .get(closed.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200);
        assert!(
            allowed
                .text()
                .await
                .unwrap()
                .contains("invitations_http_requests_total")
        );
        closed.stop().await;

        let open = ServerProcess::start(&crate::helpers::temp_dir(), &[]).await;
        let schema = open
            .gql("{ __schema { queryType { name } } }", json!({}), None)
            .await;
        assert_eq!(
            schema["data"]["__schema"]["queryType"]["name"], "Query",
            "{schema:#}"
        );
        open.stop().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}

mod rate_limit_in_a_host {
    use std::sync::Arc;

    use async_graphql::{EmptySubscription, Schema};
    use cms_invitations::graphql::{InvitationsModule, InvitationsMutation, InvitationsQuery};
    use cms_invitations::http::{GraphqlOptions, graphql_routes};
    use cms_invitations::ports::{Anonymous, SystemClock};
    use cms_invitations::store::sqlite::SqliteStore;
    use serde_json::{Value, json};

    use crate::helpers::{Options, config_with};

    /// A host that serves the module's routes without connect info, as `axum::serve(listener,
    /// router)` does: the module cannot see client addresses.
    #[tokio::test]
    async fn callers_without_a_known_address_share_one_allowance_instead_of_none() {
        let dir = crate::helpers::temp_dir();
        let config = config_with(
            &Options::default(),
            &[("INVITATIONS_PUBLIC_RATE_LIMIT", "2")],
        );
        let store = Arc::new(SqliteStore::open(dir.join("i.sqlite3")).await.unwrap());
        let service =
            cms_invitations::standalone::service_on(&config, store, Arc::new(SystemClock)).unwrap();
        let schema = InvitationsModule::new(service, 2)
            .register(Schema::build(
                InvitationsQuery,
                InvitationsMutation,
                EmptySubscription,
            ))
            .finish();
        let router = graphql_routes(schema, Arc::new(Anonymous), GraphqlOptions::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await });
        let http = reqwest::Client::new();
        let mut codes = Vec::new();
        // Malformed secrets: there is no invitation to key on either.
        for attempt in 0..3 {
            let body = json!({ "query": format!("{{ invitationBySecret(secret: \"guess-{attempt}\") {{ state }} }}") });
            let response = http
                .post(format!("http://{address}/graphql"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let answer: Value = response.json().await.unwrap();
            codes.push(
                answer["errors"][0]["extensions"]["code"]
                    .as_str()
                    .map(str::to_owned),
            );
        }
        assert_eq!(codes[..2], [None, None], "{codes:?}");
        assert_eq!(codes[2].as_deref(), Some("RATE_LIMITED"), "{codes:?}");
        server.abort();
        let _ = std::fs::remove_dir_all(dir);
    }
}

mod private_files {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use serde_json::json;

    use crate::process::ServerProcess;

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Waits (at most 30 s) until `dir` holds an `.eml` file, or none.
    async fn wait_for_eml(dir: &Path, present: bool) -> Vec<std::path::PathBuf> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let files: Vec<_> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                        .collect()
                })
                .unwrap_or_default();
            if files.is_empty() != present {
                return files;
            }
            assert!(
                Instant::now() < deadline,
                "outbox never became {present}: {files:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn invite(server: &ServerProcess, email: &str) {
        let token = server.bootstrap_token();
        let created = server
            .gql(
                "mutation($e: String!) { createInvitation(input: {email: $e, role: \"viewer\"}) { id } }",
                json!({ "e": email }),
                Some(&token),
            )
            .await;
        assert!(
            created["data"]["createInvitation"]["id"].is_string(),
            "{created:#}"
        );
    }

    #[tokio::test]
    async fn the_data_folder_database_outbox_key_and_token_file_are_the_owners_alone() {
        let root = crate::helpers::temp_dir();
        let data = root.join("fresh").join("data");
        let server = ServerProcess::start(&data, &[("INVITATIONS_OUTBOX_RETENTION", "off")]).await;
        invite(&server, "private@example.org").await;
        let outbox = data.join("outbox");
        let emails = wait_for_eml(&outbox, true).await;
        assert_eq!(mode(&data), 0o700, "data folder");
        assert_eq!(mode(&outbox), 0o700, "outbox folder");
        assert_eq!(mode(&emails[0]), 0o600, "{}", emails[0].display());
        assert_eq!(mode(&data.join("bootstrap-admin-token")), 0o600);
        assert_eq!(mode(&data.join("message.key")), 0o600, "message key");
        for name in ["invitations.sqlite3", "invitations.sqlite3-wal"] {
            assert_eq!(mode(&data.join(name)), 0o600, "{name}");
        }
        server.stop().await;
        let _ = std::fs::remove_dir_all(root);
    }

    #[tokio::test]
    async fn written_emails_leave_the_outbox_after_its_retention() {
        let data = crate::helpers::temp_dir();
        let server = ServerProcess::start(
            &data,
            &[
                ("INVITATIONS_OUTBOX_RETENTION", "PT1S"),
                ("INVITATIONS_SWEEP_INTERVAL", "PT1S"),
            ],
        )
        .await;
        invite(&server, "fleeting@example.org").await;
        let outbox = data.join("outbox");
        let written = wait_for_eml(&outbox, true).await;
        assert_eq!(written.len(), 1);
        wait_for_eml(&outbox, false).await;
        server.stop().await;
        let _ = std::fs::remove_dir_all(data);
    }
}

mod sending_limits {
    use chrono::TimeDelta;
    use serde_json::{Value, json};

    use crate::helpers::Backend;
    use crate::process::ServerProcess;
    use crate::server::{ServerOptions, data, spawn_server_with};

    #[tokio::test]
    async fn a_resend_within_the_cooldown_is_rate_limited_with_the_wait() {
        let options = ServerOptions {
            resend_cooldown: Some("PT1M"),
            ..ServerOptions::default()
        };
        let server = spawn_server_with(Backend::Sqlite, options).await;
        let created = server
            .create_invitation(
                &server.tokens.editor,
                json!({ "email": "cool@example.org", "role": "viewer" }),
            )
            .await;
        let resend = || {
            server.gql(
                "ResendInvitation",
                json!({ "id": created["id"] }),
                Some(&server.tokens.editor),
            )
        };
        let early = resend().await;
        assert_eq!(
            early["errors"][0]["extensions"]["code"], "RATE_LIMITED",
            "{early:#}"
        );
        let wait = early["errors"][0]["extensions"]["retryAfterSeconds"]
            .as_u64()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        server.advance(TimeDelta::seconds(61));
        let later = resend().await;
        assert_eq!(
            data(&later, "resendInvitation")["sendCount"],
            2,
            "{later:#}"
        );
        server.cleanup().await;
    }

    #[tokio::test]
    async fn a_principal_queues_at_most_its_hourly_quota_of_emails() {
        let dir = crate::helpers::temp_dir();
        let server = ServerProcess::start(&dir, &[("INVITATIONS_EMAIL_QUOTA_PER_HOUR", "3")]).await;
        let token = server.bootstrap_token();
        let create = "mutation($e: String!, $s: Boolean!) { createInvitation(input: {email: $e, role: \"viewer\", sendEmail: $s}) { id } }";
        let code = |answer: &Value| {
            answer["errors"][0]["extensions"]["code"]
                .as_str()
                .map(str::to_owned)
        };
        // A text message counts like an email: one of the three is an SMS invitation.
        let by_sms = "mutation { createInvitation(input: {channel: SMS, phone: \"+4915112000001\", role: \"viewer\"}) { id } }";
        let sent = server.gql(by_sms, json!({}), Some(&token)).await;
        assert_eq!(code(&sent), None, "{sent:#}");
        for i in 1..3 {
            let ok = server
                .gql(
                    create,
                    json!({ "e": format!("q{i}@example.org"), "s": true }),
                    Some(&token),
                )
                .await;
            assert_eq!(code(&ok), None, "{ok:#}");
        }
        let over = server
            .gql(
                create,
                json!({ "e": "q3@example.org", "s": true }),
                Some(&token),
            )
            .await;
        assert_eq!(code(&over).as_deref(), Some("RATE_LIMITED"), "{over:#}");
        assert!(
            over["errors"][0]["extensions"]["retryAfterSeconds"]
                .as_u64()
                .unwrap()
                > 3000
        );
        // Copy-link invitations send nothing and are not counted.
        let silent = server
            .gql(
                create,
                json!({ "e": "q4@example.org", "s": false }),
                Some(&token),
            )
            .await;
        assert_eq!(code(&silent), None, "{silent:#}");
        let bulk = "mutation { createInvitations(inputs: [{email: \"b1@example.org\", role: \"viewer\"}]) { created } }";
        let over = server.gql(bulk, json!({}), Some(&token)).await;
        assert_eq!(code(&over).as_deref(), Some("RATE_LIMITED"), "{over:#}");
        let count = server
            .gql("{ invitations { totalCount } }", json!({}), Some(&token))
            .await;
        assert_eq!(
            count["data"]["invitations"]["totalCount"], 4,
            "nothing over the quota was stored"
        );
        server.stop().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
