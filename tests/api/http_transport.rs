//! The HTTP side of the standalone server: operational endpoints, request bounds, content
//! types, CORS, token handling and the bootstrap token. Bad requests change nothing.

use std::sync::Arc;

use cms_invitations::standalone::Server;
use serde_json::{Value, json};

use crate::helpers::{Backend, Location};
use crate::server::{ServerOptions, TestServer, data, error_code, spawn_server, spawn_server_with};

async fn total(server: &TestServer) -> Value {
    let list = server
        .gql("Invitations", json!({}), Some(&server.tokens.admin))
        .await;
    data(&list, "invitations")["totalCount"].clone()
}

#[tokio::test]
async fn health_readiness_metrics_and_graphiql_are_served() {
    let server = spawn_server(Backend::Sqlite).await;
    let get = |path: &str| server.http().get(server.url(path)).send();
    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);

    server.gql("Invitations", json!({}), None).await;
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(
            "invitations_http_requests_total{route=\"/graphql\",method=\"POST\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("invitations_graphql_errors_total{code=\"UNAUTHENTICATED\"} 1"));
    assert!(
        metrics.contains("invitations_http_request_duration_seconds_count{route=\"/graphql\"} 1")
    );

    let graphiql = get("/graphiql").await.unwrap();
    assert_eq!(graphiql.status(), 200);
    let csp = graphiql.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let page = graphiql.text().await.unwrap();
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "the page loads nothing from elsewhere"
    );
    // The explorer asks the endpoint beside it, wherever a host mounts the routes.
    let script = get("/graphiql.js").await.unwrap().text().await.unwrap();
    assert!(script.contains("fetch(\"graphql\""));
    server.cleanup().await;
}

#[tokio::test]
async fn oversized_mistyped_and_malformed_requests_are_refused_and_change_nothing() {
    let server = spawn_server(Backend::Sqlite).await;
    let post = || server.http().post(server.url("/graphql"));
    let create = json!({
        "query": "mutation($i: CreateInvitationInput!) { createInvitation(input: $i) { id } }",
        "variables": { "i": { "email": "x@example.org", "role": "viewer", "name": "n".repeat(70_000) } },
    });
    let too_big = post()
        .bearer_auth(&server.tokens.admin)
        .json(&create)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
    assert_eq!(
        error_code(&too_big.json().await.unwrap()),
        "VALIDATION_FAILED"
    );

    let form = post()
        .bearer_auth(&server.tokens.admin)
        .header("content-type", "text/plain")
        .body(r#"{"query":"{ invitations { totalCount } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);

    let not_json = post()
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(
        error_code(&not_json.json().await.unwrap()),
        "VALIDATION_FAILED"
    );

    let mutation_over_get = server
        .http()
        .get(server.url("/graphql"))
        .bearer_auth(&server.tokens.admin)
        .query(&[(
            "query",
            "mutation { revokeInvitation(id: \"00000000-0000-7000-8000-000000000000\") { id } }",
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(mutation_over_get.status(), 405);

    let query_over_get: Value = server
        .http()
        .get(server.url("/graphql"))
        .bearer_auth(&server.tokens.viewer)
        .query(&[("query", "{ invitations { totalCount } }")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(data(&query_over_get, "invitations")["totalCount"], 0);

    let bad_token = post()
        .bearer_auth("cmsi_not-a-real-token")
        .json(&json!({ "query": "{ invitationBySecret(secret: \"x\") { state } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_token.status(), 401);
    assert_eq!(bad_token.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        error_code(&bad_token.json().await.unwrap()),
        "UNAUTHENTICATED"
    );

    let syntax = server
        .query(
            "{ invitations { totalCount ",
            json!({}),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(error_code(&syntax), "VALIDATION_FAILED");
    let unknown_field = server
        .query(
            "{ invitations { secretDigest } }",
            json!({}),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(error_code(&unknown_field), "VALIDATION_FAILED");
    let bad_duration = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "d@example.org", "role": "viewer", "validFor": "a week" } }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(error_code(&bad_duration), "VALIDATION_FAILED");
    assert_eq!(bad_duration["errors"][0]["extensions"]["field"], "validFor");
    let bad_date = server
        .gql(
            "Invitations",
            json!({ "filter": { "createdAfter": "yesterday" } }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(
        bad_date["errors"][0]["extensions"]["field"],
        "filter.createdAfter"
    );
    let bad_metadata = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "m@example.org", "role": "viewer", "metadata": [1, 2] } }),
            Some(&server.tokens.admin),
        )
        .await;
    assert_eq!(bad_metadata["errors"][0]["extensions"]["field"], "metadata");

    assert_eq!(
        total(&server).await,
        0,
        "no refused request stored anything"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn queries_beyond_the_depth_or_complexity_bound_are_refused() {
    let server = spawn_server(Backend::Sqlite).await;
    let admin = Some(server.tokens.admin.as_str());
    let fields =
        "id email role state expiresAt events { kind at actor { id name } } delivery { status }";
    let aliases: String = (0..4)
        .map(|i| format!("p{i}: invitations(first: 500) {{ nodes {{ {fields} }} }} "))
        .collect();
    let costly = server
        .query(&format!("{{ {aliases} }}"), json!({}), admin)
        .await;
    assert_eq!(error_code(&costly), "VALIDATION_FAILED");
    assert!(
        costly["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex")
    );

    let one_page = server
        .query(
            &format!("{{ invitations(first: 500) {{ nodes {{ {fields} }} }} }}"),
            json!({}),
            admin,
        )
        .await;
    assert!(one_page.get("errors").is_none(), "{one_page:#}");

    // A query of the API nested past 12 levels.
    let too_deep = format!(
        "{{ {} name {} }}",
        "invitations { nodes { invitedBy { ".repeat(5),
        "} } }".repeat(5)
    );
    let refused = server.query(&too_deep, json!({}), admin).await;
    assert_eq!(error_code(&refused), "VALIDATION_FAILED", "{refused:#}");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("at most 12"), "{message}");

    // Introspection may nest deeper (the standard queries do), up to its own bound.
    let too_deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(20),
        "} ".repeat(20)
    );
    let refused = server.query(&too_deep, json!({}), admin).await;
    assert_eq!(error_code(&refused), "VALIDATION_FAILED", "{refused:#}");
    server.cleanup().await;
}

/// What code generators and client libraries send to read the schema: the standard query of
/// graphql-js 16.8+ with every option on, 15 levels deep.
#[tokio::test]
async fn the_standard_introspection_query_of_client_tools_reads_the_whole_schema() {
    let server = spawn_server(Backend::Sqlite).await;
    let query = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/graphql/introspection-full.graphql"
    ))
    .unwrap();
    for token in [None, Some(server.tokens.admin.as_str())] {
        let answer = server.query(&query, json!({}), token).await;
        assert!(answer.get("errors").is_none(), "{answer:#}");
        let types = answer["data"]["__schema"]["types"].as_array().unwrap();
        let date_time = types.iter().find(|t| t["name"] == "DateTime").unwrap();
        let url = date_time["specifiedByURL"].as_str().unwrap();
        let sdl = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schema/invitations.graphql"
        ))
        .unwrap();
        assert!(
            sdl.contains(&format!("scalar DateTime @specifiedBy(url: \"{url}\")")),
            "the committed SDL says what introspection reports"
        );
        assert!(types.iter().any(|t| t["name"] == "Invitation"));
        assert_eq!(
            answer["data"]["__schema"]["description"],
            cms_invitations::graphql::STANDALONE_DESCRIPTION,
            "the schema's own description, not the library's sentence about schemas"
        );
    }
    server.cleanup().await;
}

#[tokio::test]
async fn browsers_on_allowed_origins_get_cors_headers_and_others_do_not() {
    let server = spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            cors_origins: "https://app.example.org",
            ..ServerOptions::default()
        },
    )
    .await;
    let preflight = |origin: &'static str| {
        server
            .http()
            .request(reqwest::Method::OPTIONS, server.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed = preflight("https://app.example.org").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.org"
    );
    assert!(
        allowed.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let other = preflight("https://evil.example.com").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let actual = server
        .http()
        .post(server.url("/graphql"))
        .header("origin", "https://app.example.org")
        .json(&json!({ "query": "{ invitationBySecret(secret: \"x\") { state } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        actual.headers()["access-control-allow-origin"],
        "https://app.example.org"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn the_first_start_makes_one_admin_token_kept_in_a_private_file() {
    let server = spawn_server(Backend::Sqlite).await;
    let token = server
        .bootstrap_token
        .clone()
        .expect("a bootstrap token on first start");
    let file = cms_invitations::standalone::bootstrap_token_path(&server.data_dir);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let created = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "boot@example.org", "role": "admin" } }),
            Some(&token),
        )
        .await;
    assert_eq!(
        data(&created, "createInvitation")["invitedBy"]["name"],
        "bootstrap admin"
    );

    // A restart on the same store makes no second token.
    let mut again = Server::bind_on(
        &server.config,
        server.store.clone(),
        Arc::new(cms_invitations::ports::SystemClock),
    )
    .await
    .unwrap();
    assert!(again.take_bootstrap_token().is_none());
    drop(again);
    server.cleanup().await;
}

#[tokio::test]
async fn the_email_preview_page_renders_each_kind_and_locale_with_sample_data() {
    let server = spawn_server(Backend::Sqlite).await;
    let default = preview(&server, "").await;
    assert!(default.contains("<option value=\"invitation\" selected>"));
    assert!(
        default.contains("invited you to join"),
        "English comes first: {default}"
    );
    let french = preview(&server, "?kind=invitation_accepted&locale=fr").await;
    assert!(french.contains("Ada Lovelace a accepté votre invitation"));
    assert!(french.contains("<iframe title=\"HTML part\" sandbox srcdoc=\"&lt;!doctype html&gt;"));
    let unknown = preview(&server, "?kind=nope&locale=xx").await;
    assert!(unknown.contains("<option value=\"invitation\" selected>"));
    server.cleanup().await;
}

async fn preview(server: &TestServer, query: &str) -> String {
    let response = server
        .http()
        .get(format!("{}{query}", server.url("/email-preview")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

crate::on_both_backends!(readiness_follows_the_store_and_health_does_not);

/// `/readyz` says 503 while the store cannot serve this server and 200 again once it can;
/// `/healthz` says 200 throughout. SQLite: another process holds the write lock. MongoDB: the
/// server drops every connection of this server's client (a `failCommand` fail point).
async fn readiness_follows_the_store_and_health_does_not(backend: Backend) {
    let app_name = format!("ready-{}", uuid::Uuid::now_v7().simple());
    let server = spawn_server_with(
        backend,
        ServerOptions {
            mongo_app_name: Some(app_name.clone()),
            ..ServerOptions::default()
        },
    )
    .await;
    let status = |path: &'static str| {
        let request = server.http().get(server.url(path)).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/readyz").await, 200);
    // SQLite: another connection holds the write lock. MongoDB: this server's pings fail.
    enum Outage {
        Lock(rusqlite::Connection),
        FailPoint(crate::helpers::FailPoint),
    }
    let outage = match server.location.as_ref().unwrap() {
        Location::Sqlite(dir) => {
            let conn = rusqlite::Connection::open(dir.join("invitations.sqlite3")).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            Outage::Lock(conn)
        }
        Location::Mongo(_) => Outage::FailPoint(
            crate::helpers::FailPoint::set(
                "alwaysOn",
                bson::doc! { "failCommands": ["ping"], "closeConnection": true, "appName": &app_name },
            )
            .await,
        ),
    };
    assert_eq!(status("/readyz").await, 503);
    assert_eq!(status("/healthz").await, 200);
    match outage {
        Outage::Lock(conn) => conn.execute_batch("ROLLBACK").unwrap(),
        Outage::FailPoint(fail_point) => {
            fail_point.off().await;
        }
    }
    assert_eq!(status("/readyz").await, 200);
    server.cleanup().await;
}

/// GraphQL over HTTP: the response media type a client accepts, request errors without
/// `data` (400 with the GraphQL media type), `Allow` on a refused GET mutation, GET choosing by
/// the selected operation, and bodies that are not one request object refused by name.
#[tokio::test]
async fn answers_follow_graphql_over_http_for_the_media_type_the_client_accepts() {
    let server = spawn_server(Backend::Sqlite).await;
    let admin = server.tokens.admin.clone();
    const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
    let post = |accept: &'static str, body: Value| {
        server
            .http()
            .post(server.url("/graphql"))
            .header("accept", accept)
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let read = |answer: reqwest::Response| async move {
        let status = answer.status().as_u16();
        let media = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = answer.json().await.unwrap();
        (status, media, body)
    };

    // An execution result: 200 either way, with `data`.
    for accept in [GRAPHQL_RESPONSE, "application/json", "*/*"] {
        let (status, media, body) = read(
            post(accept, json!({ "query": "{ __typename }" }))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        let expected = if accept == GRAPHQL_RESPONSE {
            GRAPHQL_RESPONSE
        } else {
            "application/json"
        };
        assert_eq!(media, expected);
        assert_eq!(body["data"]["__typename"], "Query");
    }
    // A field error during execution is still an execution result: 200 and `data`.
    let (status, _, body) = read(
        post(
            GRAPHQL_RESPONSE,
            json!({ "query": "{ invitation(id: \"not-an-id\") { id } }" }),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert!(body.get("data").is_some(), "{body:#}");

    // A request error (does not validate): no `data`; 400 with the GraphQL media type.
    for (accept, expected) in [(GRAPHQL_RESPONSE, 400), ("application/json", 200)] {
        let (status, _, body) = read(
            post(accept, json!({ "query": "{ noSuchField }" }))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, expected, "{accept}: {body:#}");
        assert!(body.get("data").is_none(), "{accept}: {body:#}");
        assert_eq!(error_code(&body), "VALIDATION_FAILED");
    }
    // A refused credential: 401, the media type asked for, no `data`, the code in the body.
    let answer = server
        .http()
        .post(server.url("/graphql"))
        .header("accept", GRAPHQL_RESPONSE)
        .bearer_auth("cmsi_not-a-token")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    let (status, media, body) = read(answer).await;
    assert_eq!((status, media.as_str()), (401, GRAPHQL_RESPONSE));
    assert!(body.get("data").is_none());
    assert_eq!(error_code(&body), "UNAUTHENTICATED");

    // GET: the selected operation decides; a mutation gets 405 with `Allow: POST`.
    let document = "query Q { __typename } mutation M { revokeInvitation(id: \"x\") { id } }";
    let get = |operation: &str| {
        server
            .http()
            .get(server.url("/graphql"))
            .query(&[("query", document), ("operationName", operation)])
            .bearer_auth(&admin)
            .send()
    };
    let query = get("Q").await.unwrap();
    assert_eq!(query.status(), 200);
    let mutation = get("M").await.unwrap();
    assert_eq!(mutation.status(), 405);
    assert_eq!(mutation.headers()["allow"], "POST");

    // Bodies that are not one request object.
    for (body, says) in [
        (
            json!([{ "query": "{ __typename }" }]),
            "batching is not supported",
        ),
        (json!(["{ __typename }"]), "batching is not supported"),
        (json!("{ __typename }"), "must be a JSON object"),
    ] {
        let (status, _, answer) = read(post(GRAPHQL_RESPONSE, body).await.unwrap()).await;
        assert_eq!(status, 400);
        let message = answer["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
        assert!(answer.get("data").is_none());
    }
    server.cleanup().await;
}

/// Apollo's automatic persisted queries: an unknown hash is PERSISTED_QUERY_NOT_FOUND, the query
/// sent with its hash registers it, and then the hash alone runs it, over GET too. A persisted
/// query goes through the same checks as a written-out one: one taking a secret is refused over
/// GET.
#[tokio::test]
async fn persisted_queries_register_once_and_then_run_by_hash_over_post_and_get() {
    let server = spawn_server(Backend::Sqlite).await;
    let admin = server.tokens.admin.clone();
    let query = "query Types { __typename invitationViewer { name } }";
    let persisted = persisted_query(query);
    let post = |body: Value| {
        server
            .http()
            .post(server.url("/graphql"))
            .bearer_auth(&admin)
            .json(&body)
    };
    let missed = json_of(post(json!({ "extensions": persisted }))).await;
    assert_eq!(error_code(&missed), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(missed["errors"][0]["message"], "PersistedQueryNotFound");

    let registered = json_of(post(json!({ "query": query, "extensions": persisted }))).await;
    assert_eq!(registered["data"]["__typename"], "Query", "{registered:#}");

    let by_hash = json_of(
        server
            .http()
            .get(server.url("/graphql"))
            .query(&[("extensions", persisted.to_string())])
            .bearer_auth(&admin),
    )
    .await;
    assert_eq!(by_hash["data"]["__typename"], "Query", "{by_hash:#}");

    let lying = json_of(post(
        json!({ "query": "{ __typename }", "extensions": persisted }),
    ))
    .await;
    assert_eq!(error_code(&lying), "VALIDATION_FAILED");

    // A persisted look-up by secret still never runs from a URL.
    let look_up = "query($s: String!) { invitationBySecret(secret: $s) { state } }";
    let look_up_ext = persisted_query(look_up);
    let secret = "A".repeat(43);
    let _ = json_of(post(
        json!({ "query": look_up, "variables": { "s": secret }, "extensions": look_up_ext }),
    ))
    .await;
    let over_get = server
        .http()
        .get(server.url("/graphql"))
        .query(&[
            ("extensions", look_up_ext.to_string()),
            ("variables", json!({ "s": secret }).to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(over_get.status(), 400);
    server.cleanup().await;
}

/// The `extensions` of a request naming `query` by its SHA-256, as Apollo's clients send it.
fn persisted_query(query: &str) -> Value {
    use sha2::Digest as _;
    let hash: String = sha2::Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
