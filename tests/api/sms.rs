//! Invitations by SMS through a real HTTP gateway (`sms_gateway`, the Twilio Messages API's
//! shape on 127.0.0.1): the text arrives in the invitation's language with a working link;
//! a 5xx or a hung gateway is retried; a refused number fails the delivery with the gateway's
//! reason; two processes send each text once; an outage of 200 invitations loses nothing.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::Backend;
use crate::process::ServerProcess;
use crate::server::{ServerOptions, TestServer, data, error_code, spawn_server_with};
use crate::sms_gateway::{self, Gateway, Mode};

async fn sms_server(backend: Backend, gateway: &Gateway) -> TestServer {
    sms_server_with(backend, gateway, None).await
}

async fn sms_server_with(
    backend: Backend,
    gateway: &Gateway,
    send_timeout: Option<&'static str>,
) -> TestServer {
    spawn_server_with(
        backend,
        ServerOptions {
            sms_api_url: Some(gateway.url.clone()),
            sms_send_timeout: send_timeout,
            ..ServerOptions::default()
        },
    )
    .await
}

/// A German mobile number, different for each `n`.
fn number(n: usize) -> String {
    format!("+4915112{n:06}")
}

async fn invite_by_sms(server: &TestServer, phone: &str, extra: Value) -> Value {
    let mut input = json!({ "phone": phone, "channel": "SMS", "role": "viewer" });
    input
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    server.create_invitation(&server.tokens.editor, input).await
}

async fn delivery(server: &TestServer, id: &Value) -> Value {
    let response = server
        .gql(
            "Invitation",
            json!({ "id": id }),
            Some(&server.tokens.viewer),
        )
        .await;
    data(&response, "invitation")["delivery"].clone()
}

/// Polls (at most 30 s) until the delivery is as `done` wants, moving the clock an hour on
/// each round when `push` says so (past any retry's backoff); returns it.
async fn delivery_until(
    server: &TestServer,
    id: &Value,
    push: bool,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delivery = delivery(server, id).await;
        if done(&delivery) {
            return delivery;
        }
        assert!(Instant::now() < deadline, "never reached: {delivery:#}");
        if push {
            server.advance(TimeDelta::hours(1));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn link_in(text: &str) -> &str {
    let start = text.find("http").expect("a link in the text");
    text[start..].split_whitespace().next().unwrap()
}

fn secret_of(link: &str) -> &str {
    link.split("#secret=")
        .nth(1)
        .expect("the secret in the fragment")
}

async fn an_sms_invitation_arrives_in_its_language_and_its_link_accepts(backend: Backend) {
    let gateway = Gateway::start().await;
    let server = sms_server(backend, &gateway).await;
    let phone = "+49 151 1234 5678";
    let created = invite_by_sms(
        &server,
        phone,
        json!({ "locale": "de", "name": "Greta", "scope": "Acme" }),
    )
    .await;
    assert_eq!(created["channel"], "SMS");
    assert_eq!(created["phone"], "+4915112345678", "kept in E.164");
    assert_eq!(created["email"], Value::Null);
    let received = gateway.wait_for(1).await;
    let sms = &received[0];
    assert_eq!(
        (sms.to.as_str(), sms.from.as_str()),
        ("+4915112345678", sms_gateway::FROM)
    );
    assert!(
        sms.body.contains("hat Sie zu Acme auf") && sms.body.contains("Annehmen bis"),
        "the German text: {}",
        sms.body
    );
    let link = link_in(&sms.body);
    assert_eq!(link, created["inviteUrl"], "the link the editor saw");
    let sent = delivery_until(&server, &created["id"], false, |d| d["status"] == "SENT").await;
    assert_eq!(
        (sent["attempts"].as_u64(), sent["locale"].as_str()),
        (Some(1), Some("de"))
    );

    // The invitee opens it: the page sees the masked number, not the number.
    let looked_up = server
        .gql(
            "InvitationBySecret",
            json!({ "secret": secret_of(link) }),
            None,
        )
        .await;
    let public = data(&looked_up, "invitationBySecret");
    assert_eq!(public["phone"], "+49 •••••••••78");
    assert_eq!(
        (public["channel"].as_str(), public["state"].as_str()),
        (Some("SMS"), Some("PENDING"))
    );
    let accepted = server
        .gql(
            "AcceptInvitation",
            json!({ "secret": secret_of(link), "input": { "password": "correct horse battery" } }),
            None,
        )
        .await;
    assert_eq!(
        data(&accepted, "acceptInvitation")["invitation"]["state"],
        "ACCEPTED",
        "{accepted:#}"
    );
    // The inviter is told by email, naming the invitee by name and number.
    let outbox = server.data_dir.join("outbox");
    let deadline = Instant::now() + Duration::from_secs(30);
    let notice = loop {
        let found = std::fs::read_dir(&outbox).ok().and_then(|entries| {
            entries
                .flatten()
                .filter(|f| f.path().extension().is_some_and(|e| e == "eml"))
                .map(|f| std::fs::read_to_string(f.path()).unwrap())
                .find(|text| text.contains("Greta (+4915112345678) accepted your invitation"))
        });
        if let Some(notice) = found {
            break notice;
        }
        assert!(Instant::now() < deadline, "no notice to the inviter");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(
        notice.contains("To: \"Test editor\" <editor@example.org>"),
        "{notice}"
    );
    // The account is the phone's: a second SMS invitation to the same number, in another
    // scope, links to it.
    let again = invite_by_sms(&server, phone, json!({ "scope": "Other" })).await;
    let link = link_in(&gateway.wait_for(2).await[1].body).to_owned();
    let second = server
        .gql(
            "AcceptInvitation",
            json!({ "secret": secret_of(&link) }),
            None,
        )
        .await;
    assert_eq!(
        data(&second, "acceptInvitation")["existingUser"],
        true,
        "{second:#}"
    );
    assert_eq!(again["channel"], "SMS");
    server.cleanup().await;
}

async fn an_sms_invitation_needs_a_valid_phone_and_one_pending_per_phone_and_scope(
    backend: Backend,
) {
    let gateway = Gateway::start().await;
    let server = sms_server(backend, &gateway).await;
    let create = |input: Value| {
        let server = &server;
        async move {
            server
                .gql(
                    "CreateInvitation",
                    json!({ "input": input }),
                    Some(&server.tokens.editor),
                )
                .await
        }
    };
    for (input, field) in [
        (
            json!({ "channel": "SMS", "role": "viewer", "email": "a@example.org" }),
            "phone",
        ),
        (
            json!({ "channel": "SMS", "role": "viewer", "phone": "0151 12345678" }),
            "phone",
        ),
        (
            json!({ "channel": "SMS", "role": "viewer", "phone": "+49 1" }),
            "phone",
        ),
        (
            json!({ "channel": "SMS", "role": "viewer", "phone": "+49 151 <script>" }),
            "phone",
        ),
        (
            json!({ "role": "viewer", "phone": "+4915112345678" }),
            "email",
        ),
    ] {
        let refused = create(input.clone()).await;
        assert_eq!(
            error_code(&refused),
            "VALIDATION_FAILED",
            "{input}: {refused:#}"
        );
        assert_eq!(
            refused["errors"][0]["extensions"]["field"], field,
            "{input}"
        );
    }
    let first =
        create(json!({ "channel": "SMS", "role": "viewer", "phone": "+49 151 12345678" })).await;
    assert_eq!(data(&first, "createInvitation")["state"], "PENDING");
    // The same number written another way is the same person.
    let twice =
        create(json!({ "channel": "SMS", "role": "viewer", "phone": "+49 (151) 1234-5678" })).await;
    assert_eq!(
        error_code(&twice),
        "DUPLICATE_PENDING_INVITATION",
        "{twice:#}"
    );
    assert_eq!(
        twice["errors"][0]["extensions"]["invitationId"],
        data(&first, "createInvitation")["id"]
    );
    // Many SMS invitations without an email live side by side.
    for n in 1..=3 {
        let other = create(json!({ "channel": "SMS", "role": "viewer", "phone": number(n) })).await;
        assert_eq!(
            data(&other, "createInvitation")["email"],
            Value::Null,
            "{other:#}"
        );
    }
    // Filters: by phone (in any form) and by channel.
    let listed = server
        .gql(
            "Invitations",
            json!({ "filter": { "phone": "+49 151 1234 5678" } }),
            Some(&server.tokens.viewer),
        )
        .await;
    assert_eq!(data(&listed, "invitations")["totalCount"], 1);
    server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "mail@example.org", "role": "viewer" }),
        )
        .await;
    for (channels, count) in [(json!(["SMS"]), 4), (json!(["EMAIL"]), 1), (json!([]), 5)] {
        let listed = server
            .gql(
                "Invitations",
                json!({ "filter": { "channels": channels } }),
                Some(&server.tokens.viewer),
            )
            .await;
        assert_eq!(
            data(&listed, "invitations")["totalCount"],
            count,
            "{channels}"
        );
    }
    // Sorted by email, invitations without one come first and every one is listed once
    // across pages.
    let mut seen = BTreeSet::new();
    let mut after = Value::Null;
    loop {
        let page = server
            .gql(
                "Invitations",
                json!({ "first": 2, "after": after, "sort": [{ "field": "EMAIL", "direction": "DESC" }] }),
                Some(&server.tokens.viewer),
            )
            .await;
        let page = data(&page, "invitations");
        for node in page["nodes"].as_array().unwrap() {
            assert!(
                seen.insert(node["id"].as_str().unwrap().to_owned()),
                "listed twice"
            );
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 5);
    server.cleanup().await;
}

#[tokio::test]
async fn a_5xx_or_a_hung_gateway_is_retried_until_the_text_goes_out() {
    let gateway = Gateway::start().await;
    gateway.then(&[Mode::Fail(503), Mode::Hang, Mode::Fail(429)]);
    let server = sms_server_with(Backend::Sqlite, &gateway, Some("PT1S")).await;
    let created = invite_by_sms(&server, &number(7), json!({})).await;
    let first = delivery_until(&server, &created["id"], false, |d| {
        d["attempts"] == 1 && d["lastError"].is_string()
    })
    .await;
    assert_eq!(first["status"], "QUEUED");
    assert!(
        first["lastError"].as_str().unwrap().contains("503"),
        "{first:#}"
    );
    let second = delivery_until(&server, &created["id"], true, |d| {
        d["attempts"] == 2 && d["lastError"] != first["lastError"]
    })
    .await;
    assert!(
        second["lastError"].as_str().unwrap().contains("timed out"),
        "{second:#}"
    );
    let sent = delivery_until(&server, &created["id"], true, |d| d["status"] == "SENT").await;
    assert_eq!(sent["attempts"], 4, "{sent:#}");
    assert_eq!(gateway.requests(), 4);
    assert_eq!(gateway.received().len(), 1, "taken once");
    server.cleanup().await;
}

#[tokio::test]
async fn a_number_the_gateway_refuses_fails_the_delivery_with_its_reason_and_is_not_retried() {
    let gateway = Gateway::start().await;
    let refused_number = number(9);
    gateway.refuse(&refused_number);
    let server = sms_server(Backend::Sqlite, &gateway).await;
    let created = invite_by_sms(&server, &refused_number, json!({})).await;
    let failed = delivery_until(&server, &created["id"], false, |d| d["status"] == "FAILED").await;
    assert_eq!(failed["attempts"], 1);
    let reason = failed["lastError"].as_str().unwrap();
    assert!(
        reason.contains("21211") && reason.contains("not a valid phone number"),
        "{reason}"
    );
    // A day on, another text goes out and the refused one stayed at its one attempt.
    server.advance(TimeDelta::days(1));
    let later = invite_by_sms(&server, &number(10), json!({})).await;
    delivery_until(&server, &later["id"], false, |d| d["status"] == "SENT").await;
    assert_eq!(delivery(&server, &created["id"]).await["attempts"], 1);
    assert_eq!(gateway.requests(), 2);
    server.cleanup().await;
}

async fn while_the_gateway_is_down_200_sms_invitations_wait_and_each_goes_out_once(
    backend: Backend,
) {
    const COUNT: usize = 200;
    let gateway = Gateway::start().await;
    gateway.set_mode(Mode::Fail(503));
    let server = sms_server(backend, &gateway).await;
    let numbers: Vec<String> = (0..COUNT).map(|n| number(1000 + n)).collect();
    for chunk in numbers.chunks(50) {
        let inputs: Vec<Value> = chunk
            .iter()
            .map(|phone| json!({ "phone": phone, "channel": "SMS", "role": "viewer" }))
            .collect();
        let bulk = server
            .gql(
                "CreateInvitations",
                json!({ "inputs": inputs }),
                Some(&server.tokens.editor),
            )
            .await;
        assert_eq!(
            data(&bulk, "createInvitations")["created"],
            chunk.len(),
            "{bulk:#}"
        );
    }
    // Every text was tried once and is waiting.
    let deadline = Instant::now() + Duration::from_secs(30);
    while gateway.requests() < COUNT {
        assert!(
            Instant::now() < deadline,
            "{} of {COUNT} tried",
            gateway.requests()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    gateway.set_mode(Mode::Accept);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = server
            .gql(
                "Invitations",
                json!({ "first": 500 }),
                Some(&server.tokens.viewer),
            )
            .await;
        let nodes = data(&listed, "invitations")["nodes"]
            .as_array()
            .unwrap()
            .clone();
        if nodes.iter().all(|n| n["delivery"]["status"] == "SENT") {
            assert_eq!(nodes.len(), COUNT);
            break;
        }
        assert!(Instant::now() < deadline, "not every text went out");
        server.advance(TimeDelta::hours(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every delivery is recorded SENT, so nothing is queued: what arrived is all there is.
    let received = gateway.received();
    assert_eq!(received.len(), COUNT, "a text arrived twice or not at all");
    let to: BTreeSet<&str> = received.iter().map(|r| r.to.as_str()).collect();
    assert_eq!(to, numbers.iter().map(String::as_str).collect());
    let links: BTreeSet<&str> = received.iter().map(|r| link_in(&r.body)).collect();
    assert_eq!(links.len(), COUNT, "each text has its own link");
    server.cleanup().await;
}

async fn two_server_processes_send_each_text_once(backend: Backend) {
    const COUNT: usize = 60;
    let gateway = Gateway::start().await;
    let (store_env, cleanup) = crate::helpers::process_store(backend).await;
    let mut env: Vec<(&str, &str)> = store_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([
        ("INVITATIONS_SMS_API_URL", gateway.url.as_str()),
        ("INVITATIONS_SMS_ACCOUNT", sms_gateway::ACCOUNT),
        ("INVITATIONS_SMS_TOKEN", sms_gateway::TOKEN),
        ("INVITATIONS_SMS_FROM", sms_gateway::FROM),
        ("INVITATIONS_SMS_CONCURRENCY", "2"),
    ]);
    let shared_dir = crate::helpers::temp_dir();
    let first = ServerProcess::start(&shared_dir, &env).await;
    let second = ServerProcess::start(&shared_dir, &env).await;
    let token = first.bootstrap_token();
    let inputs: Vec<Value> = (0..COUNT)
        .map(|n| json!({ "phone": number(5000 + n), "channel": "SMS", "role": "viewer" }))
        .collect();
    first.create_all(&token, inputs).await;
    gateway.wait_for(COUNT).await;
    let (by_first, by_second) = ServerProcess::sends_of_both(&first, &second, COUNT).await;
    assert!(by_first.is_disjoint(&by_second), "a text was sent by both");
    assert_eq!(by_first.len() + by_second.len(), COUNT);
    let received = gateway.received();
    assert_eq!(received.len(), COUNT, "a text went out twice");
    let to: BTreeSet<&str> = received.iter().map(|r| r.to.as_str()).collect();
    assert_eq!(to.len(), COUNT);
    first.stop().await;
    second.stop().await;
    cleanup.await;
}

#[tokio::test]
async fn without_a_gateway_each_text_is_written_to_the_outbox_folder() {
    let server = spawn_server_with(Backend::Sqlite, ServerOptions::default()).await;
    let created = invite_by_sms(&server, &number(3), json!({ "locale": "fr" })).await;
    delivery_until(&server, &created["id"], false, |d| d["status"] == "SENT").await;
    let outbox = server.data_dir.join("outbox");
    let files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|e| e == "sms"))
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(
        text.starts_with(&format!("To: {}\n\n", number(3))),
        "{text}"
    );
    assert!(text.contains("vous invite sur"), "{text}");
    assert!(
        text.contains(created["inviteUrl"].as_str().unwrap()),
        "{text}"
    );
    server.cleanup().await;
}

crate::on_both_backends!(
    an_sms_invitation_arrives_in_its_language_and_its_link_accepts,
    an_sms_invitation_needs_a_valid_phone_and_one_pending_per_phone_and_scope,
    while_the_gateway_is_down_200_sms_invitations_wait_and_each_goes_out_once,
    two_server_processes_send_each_text_once,
);

/// A database an earlier version made: its one-pending index took every PENDING invitation
/// (so two without an email in one scope would clash) and its records have no channel.
#[tokio::test]
async fn an_older_mongodb_database_gets_the_new_indexes_and_reads_as_before() {
    use bson::doc;
    use cms_invitations::domain::Channel;
    use cms_invitations::ports::InvitationFilter;
    use cms_invitations::service::CreateInvitation;
    use cms_invitations::store::mongo::MongoStore;
    use mongodb::IndexModel;
    use mongodb::options::IndexOptions;

    let app = crate::helpers::spawn_app(Backend::Mongo).await;
    let old = app.invite("old@example.org").await.invitation;
    let crate::helpers::Location::Mongo(store) = &app.location else {
        unreachable!("a MongoDB app");
    };
    let database = store.database().clone();
    let invitations = database.collection::<bson::Document>("invitations");
    let accounts = database.collection::<bson::Document>("accounts");
    invitations.drop_indexes().await.unwrap();
    accounts.drop_indexes().await.unwrap();
    let unique = |name: &str, filter: Option<bson::Document>| {
        let mut options = IndexOptions::builder()
            .unique(true)
            .name(name.to_owned())
            .build();
        options.partial_filter_expression = filter;
        options
    };
    invitations
        .create_index(
            IndexModel::builder()
                .keys(doc! { "emailNorm": 1, "scope": 1 })
                .options(unique(
                    "one_pending_per_email_scope",
                    Some(doc! { "state": "PENDING" }),
                ))
                .build(),
        )
        .await
        .unwrap();
    accounts
        .create_index(
            IndexModel::builder()
                .keys(doc! { "emailNorm": 1 })
                .options(unique("email_unique", None))
                .build(),
        )
        .await
        .unwrap();
    invitations
        .update_many(doc! {}, doc! { "$unset": { "channel": "" } })
        .await
        .unwrap();

    // The new version starts on it.
    let reopened = MongoStore::connect(&crate::helpers::mongodb_uri(), database.name(), None)
        .await
        .unwrap();
    let names = invitations.list_index_names().await.unwrap();
    assert!(
        !names.contains(&"one_pending_per_email_scope".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"one_pending_phone_scope".to_owned()),
        "{names:?}"
    );
    let names = accounts.list_index_names().await.unwrap();
    assert!(!names.contains(&"email_unique".to_owned()), "{names:?}");
    use cms_invitations::ports::InvitationStore as _;
    let read = reopened.get(old.id).await.unwrap().unwrap();
    assert_eq!(read.details.contact.channel(), Channel::Email);
    let emails = InvitationFilter {
        channels: vec![Channel::Email],
        ..InvitationFilter::default()
    };
    assert_eq!(
        reopened.count(&emails, chrono::Utc::now()).await.unwrap(),
        1
    );
    // Two SMS invitations without an email in one scope, which the old index refused.
    for n in [1, 2] {
        let input = CreateInvitation {
            email: None,
            phone: Some(number(8000 + n)),
            channel: Channel::Sms,
            scope: Some("team-a".into()),
            ..CreateInvitation::new("", "viewer")
        };
        app.service
            .create(Some(&crate::helpers::editor()), input)
            .await
            .unwrap();
    }
    app.cleanup().await;
}
