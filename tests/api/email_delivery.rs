//! Email delivery end to end: GraphQL mutations on the real server, messages received by a
//! real SMTP server (`mail::SmtpSink`), links taken from the delivered mail and used.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::Backend;
use crate::mail::{GateMode, Mail, SinkOptions, SinkTls, SmtpGate, SmtpSink, secret_in};
use crate::process::ServerProcess;
use crate::server::{ServerOptions, TestServer, data, error_code, spawn_server, spawn_server_with};

crate::on_both_backends!(
    an_emailed_link_accepts_the_invitation_and_the_inviter_is_told,
    a_resend_mails_a_new_link_and_the_old_one_stops_working,
    while_smtp_is_down_creates_succeed_and_every_message_arrives_once_when_it_is_back,
    two_server_processes_on_one_store_share_the_queue_and_send_each_message_once,
);

async fn smtp_server(backend: Backend, sink: &SmtpSink) -> TestServer {
    spawn_server_with(
        backend,
        ServerOptions {
            smtp_url: Some(sink.url()),
            ..ServerOptions::default()
        },
    )
    .await
}

async fn invitation(server: &TestServer, id: &Value) -> Value {
    let response = server
        .gql(
            "Invitation",
            json!({ "id": id }),
            Some(&server.tokens.viewer),
        )
        .await;
    data(&response, "invitation").clone()
}

/// `resendInvitation` as the editor; the resent invitation (asserts no errors).
async fn resend(server: &TestServer, id: &Value) -> Value {
    let response = server
        .gql(
            "ResendInvitation",
            json!({ "id": id }),
            Some(&server.tokens.editor),
        )
        .await;
    data(&response, "resendInvitation").clone()
}

/// Polls (at most 30 s) until the invitation's delivery is as `done` wants; returns it.
async fn delivery_until(
    server: &TestServer,
    id: &Value,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delivery = invitation(server, id).await["delivery"].clone();
        if done(&delivery) {
            return delivery;
        }
        assert!(
            Instant::now() < deadline,
            "delivery never {what}: {delivery:#}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls until the invitation's delivery status is `status`.
async fn delivery_becomes(server: &TestServer, id: &Value, status: &str) -> Value {
    let what = format!("became {status}");
    delivery_until(server, id, &what, |delivery| delivery["status"] == status).await
}

fn to<'a>(messages: &'a [Mail], address: &str) -> Vec<&'a Mail> {
    messages
        .iter()
        .filter(|m| m.rcpt_to.iter().any(|r| r == address))
        .collect()
}

async fn an_emailed_link_accepts_the_invitation_and_the_inviter_is_told(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = smtp_server(backend, &sink).await;
    let created = server.create_invitation(&server.tokens.editor,
        json!({ "email": "ada@example.org", "name": "Ada", "role": "author", "locale": "de-AT", "scope": "Acme" }),
    )
    .await;
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.rcpt_to, ["ada@example.org"]);
    assert_eq!(mail.from, "Invitations <invitations@localhost>");
    assert_eq!(mail.to, "Ada <ada@example.org>");
    assert_eq!(mail.content_type, "multipart/alternative");
    assert_eq!(
        mail.auto_submitted.as_deref(),
        Some("auto-generated"),
        "auto-responders do not answer (RFC 3834)"
    );
    assert_eq!(mail.reply_to, None, "Reply-To only when configured");
    assert!(
        mail.message_id.starts_with('<') && mail.message_id.ends_with("@localhost>"),
        "{}",
        mail.message_id
    );
    assert_eq!(
        mail.subject, "Test editor hat Sie zu Acme auf CMS eingeladen",
        "German, the language of de-AT"
    );
    let from_html = secret_in(mail.html());
    let from_text = secret_in(mail.text());
    assert_eq!(from_html, from_text);
    assert_eq!(from_html, created["secret"].as_str().unwrap());

    let delivery = delivery_becomes(&server, &created["id"], "SENT").await;
    assert_eq!(delivery["attempts"], 1);
    assert_eq!(delivery["locale"], "de");
    assert_eq!(delivery["lastError"], Value::Null);

    let found = server
        .gql("InvitationBySecret", json!({ "secret": from_text }), None)
        .await;
    assert_eq!(data(&found, "invitationBySecret")["state"], "PENDING");
    let accepted = server
        .gql(
            "AcceptInvitation",
            json!({ "secret": from_html, "input": { "name": "Ada L.", "password": "correct horse battery" } }),
            None,
        )
        .await;
    assert_eq!(
        data(&accepted, "acceptInvitation")["invitation"]["state"],
        "ACCEPTED"
    );

    let messages = sink.wait_for(2).await;
    let notice = to(&messages, "editor@example.org");
    assert_eq!(notice.len(), 1, "{messages:#?}");
    assert_eq!(notice[0].subject, "Ada accepted your invitation");
    assert!(notice[0].text().contains("ada@example.org"));
    assert_eq!(
        secret_in_or_none(notice[0].text()),
        None,
        "the notice carries no link"
    );
    server.cleanup().await;
}

fn secret_in_or_none(body: &str) -> Option<String> {
    body.contains("#secret=").then(|| secret_in(body))
}

async fn a_resend_mails_a_new_link_and_the_old_one_stops_working(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = smtp_server(backend, &sink).await;
    let created = server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "bob@example.org", "role": "viewer" }),
        )
        .await;
    let old = secret_in(sink.wait_for(1).await[0].text());
    delivery_becomes(&server, &created["id"], "SENT").await;

    let resent = resend(&server, &created["id"]).await;
    assert_eq!(resent["delivery"]["status"], "QUEUED");
    let messages = sink.wait_for(2).await;
    assert_eq!(messages.len(), 2);
    assert_ne!(messages[0].message_id, messages[1].message_id);
    let new = secret_in(messages[1].html());
    assert_eq!(new, secret_in(messages[1].text()));
    assert_ne!(new, old);
    assert_eq!(new, resent["secret"]);

    let with_old = server
        .gql("AcceptInvitation", json!({ "secret": old }), None)
        .await;
    assert_eq!(error_code(&with_old), "INVALID_SECRET");
    let with_new = server
        .gql(
            "AcceptInvitation",
            json!({ "secret": new, "input": { "password": "correct horse battery" } }),
            None,
        )
        .await;
    assert_eq!(
        data(&with_new, "acceptInvitation")["invitation"]["state"],
        "ACCEPTED"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn markup_in_names_arrives_escaped_in_html_and_intact_in_text() {
    let sink = SmtpSink::start().await;
    let server = smtp_server(Backend::Sqlite, &sink).await;
    let hostile = "<script>alert(1)</script> & Co";
    let token = server.token("editor", hostile, None).await;
    server.create_invitation(&token,
        json!({ "email": "eve@example.org", "name": hostile, "role": "viewer", "locale": "en" }),
    )
    .await;
    let mail = sink.wait_for(1).await.remove(0);
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co";
    assert!(mail.html().contains(escaped), "{}", mail.html());
    assert!(!mail.html().contains("<script"), "{}", mail.html());
    assert!(!mail.html().contains("& Co"), "a bare ampersand in HTML");
    assert_eq!(
        mail.text().matches(hostile).count(),
        2,
        "the inviter and the invitee, verbatim: {}",
        mail.text()
    );
    assert!(mail.subject.starts_with(hostile), "{}", mail.subject);
    server.cleanup().await;
}

#[tokio::test]
async fn an_international_address_is_delivered_and_is_one_person_however_it_is_written() {
    let sink = SmtpSink::start().await;
    let server = smtp_server(Backend::Sqlite, &sink).await;
    let created = invite(&server, "Jürgen@Bücher.example").await;
    let delivery = delivery_becomes(&server, &created["id"], "SENT").await;
    assert_eq!(delivery["attempts"], 1);
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(mail.rcpt_to.len(), 1);
    let recipient = mail.rcpt_to[0].to_lowercase();
    assert!(
        recipient == "jürgen@bücher.example" || recipient == "jürgen@xn--bcher-kva.example",
        "{recipient}"
    );
    assert!(
        mail.to.contains("Bücher.example") || mail.to.contains("xn--bcher-kva"),
        "{}",
        mail.to
    );
    // The same person typed another way (case, the domain's ASCII form) is a duplicate.
    let again = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "JÜRGEN@xn--bcher-kva.example", "role": "viewer" } }),
            Some(&server.tokens.editor),
        )
        .await;
    assert_eq!(
        error_code(&again),
        "DUPLICATE_PENDING_INVITATION",
        "{again:#}"
    );
    assert_eq!(
        again["errors"][0]["extensions"]["invitationId"],
        created["id"]
    );
    server.cleanup().await;
}

/// `createInvitation` for `email` with this `Accept-Language`; the created invitation.
async fn create_speaking(server: &TestServer, email: &str, accept_language: &str) -> Value {
    let response: Value = server
        .http()
        .post(server.url("/graphql"))
        .bearer_auth(&server.tokens.editor)
        .header("Accept-Language", accept_language)
        .json(&json!({
            "query": crate::server::operation("CreateInvitation"),
            "variables": { "input": { "email": email, "role": "viewer" } },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data(&response, "createInvitation").clone()
}

#[tokio::test]
async fn the_request_language_picks_the_locale_when_the_invitation_has_none() {
    let sink = SmtpSink::start().await;
    let server = smtp_server(Backend::Sqlite, &sink).await;
    let created = create_speaking(&server, "zoe@example.org", "pt-BR, fr-CA;q=0.8, en;q=0.5").await;
    assert_eq!(created["locale"], Value::Null);
    assert_eq!(created["delivery"]["locale"], "fr");
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.subject, "Test editor vous invite à rejoindre CMS");

    // `q=0` means "not this one", however early it stands; weights order the rest.
    let refused = create_speaking(&server, "uma@example.org", "fr;q=0, en;q=0.2, de;q=0.9").await;
    assert_eq!(refused["delivery"]["locale"], "de");

    // Without a header or a locale: the configured default.
    let plain = server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "yan@example.org", "role": "viewer" }),
        )
        .await;
    assert_eq!(plain["delivery"]["locale"], "en");
    server.cleanup().await;
}

/// The server behind an [`SmtpGate`]: the test decides when the mail server is reachable.
async fn gated_server(gate: &SmtpGate, send_timeout: Option<&'static str>) -> TestServer {
    spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            smtp_url: Some(gate.url()),
            email_send_timeout: send_timeout,
            ..ServerOptions::default()
        },
    )
    .await
}

/// Polls until the invitation's delivery shows `attempts` attempts, the last of which failed
/// (its error recorded).
async fn attempts_become(server: &TestServer, id: &Value, attempts: u32) -> Value {
    let what = format!("reached {attempts} failed attempts");
    delivery_until(server, id, &what, |delivery| {
        delivery["attempts"] == attempts && delivery["lastError"].is_string()
    })
    .await
}

#[tokio::test]
async fn a_permanent_refusal_fails_the_delivery_at_once_and_is_never_tried_again() {
    let sink = SmtpSink::start_with(SinkOptions {
        refuse: vec!["nobody@example.org".into()],
        ..SinkOptions::default()
    })
    .await;
    let server = smtp_server(Backend::Sqlite, &sink).await;
    let refused = server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "nobody@example.org", "role": "viewer" }),
        )
        .await;
    let delivery = delivery_becomes(&server, &refused["id"], "FAILED").await;
    assert_eq!(delivery["attempts"], 1);
    let error = delivery["lastError"].as_str().unwrap();
    assert!(error.contains("550"), "{error}");
    // A day later the sender has run again: a later email goes out, and the refused one is
    // still at its single attempt.
    server.advance(TimeDelta::days(1));
    let later = server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "somebody@example.org", "role": "viewer" }),
        )
        .await;
    delivery_becomes(&server, &later["id"], "SENT").await;
    let delivery = invitation(&server, &refused["id"]).await["delivery"].clone();
    assert_eq!(delivery["status"], "FAILED");
    assert_eq!(delivery["attempts"], 1, "a FAILED message was tried again");
    server.cleanup().await;
}

#[tokio::test]
async fn a_transient_refusal_is_retried_with_the_same_message_id_until_it_is_accepted() {
    let sink = SmtpSink::start_with(SinkOptions {
        defer: vec![("busy@example.org".into(), 2)],
        ..SinkOptions::default()
    })
    .await;
    let server = smtp_server(Backend::Sqlite, &sink).await;
    let created = server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "busy@example.org", "role": "viewer" }),
        )
        .await;
    let delivery = attempts_become(&server, &created["id"], 1).await;
    assert_eq!(delivery["status"], "QUEUED", "{delivery:#}");
    let error = delivery["lastError"].as_str().unwrap();
    assert!(error.contains("451"), "{error}");
    // Move the clock past each backoff (initial PT30S, doubled, with jitter) until the
    // server accepts the third attempt.
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivery = loop {
        server.advance(TimeDelta::hours(1));
        let delivery = invitation(&server, &created["id"]).await["delivery"].clone();
        if delivery["status"] != "QUEUED" {
            break delivery;
        }
        assert!(Instant::now() < deadline, "never delivered: {delivery:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(delivery["status"], "SENT", "{delivery:#}");
    assert_eq!(delivery["attempts"], 3);
    let delivered = sink.wait_for(1).await;
    assert_eq!(delivered.len(), 1);
    let deferred = sink.deferred_message_ids();
    assert_eq!(deferred.len(), 2);
    assert!(
        deferred.iter().all(|id| *id == delivered[0].message_id),
        "every attempt carries one Message-ID: {deferred:?} vs {}",
        delivered[0].message_id
    );
    server.cleanup().await;
}

#[tokio::test]
async fn a_hung_mail_server_times_the_attempt_out_and_the_retry_goes_through() {
    let sink = SmtpSink::start().await;
    let gate = SmtpGate::open(GateMode::Hung).await;
    let server = gated_server(&gate, Some("PT1S")).await;
    let created = server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "patient@example.org", "role": "viewer" }),
        )
        .await;
    let delivery = attempts_become(&server, &created["id"], 1).await;
    assert_eq!(delivery["status"], "QUEUED", "{delivery:#}");
    let error = delivery["lastError"].as_str().unwrap();
    assert!(error.contains("timed out"), "{error}");
    gate.set(GateMode::Forward(sink.port));
    server.advance(TimeDelta::hours(1));
    let delivery = delivery_becomes(&server, &created["id"], "SENT").await;
    assert_eq!(delivery["attempts"], 2);
    assert_eq!(sink.wait_for(1).await[0].rcpt_to, ["patient@example.org"]);
    server.cleanup().await;
}

/// A server sending through `url`, trusting the test certificate when `trust` says so.
async fn tls_server(url: String, trust: bool) -> TestServer {
    let (certificate, _) = crate::mail::test_certificate();
    spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            smtp_url: Some(url),
            smtp_ca_file: trust.then(|| certificate.display().to_string()),
            email_send_timeout: Some("PT2S"),
            ..ServerOptions::default()
        },
    )
    .await
}

async fn invite(server: &TestServer, email: &str) -> Value {
    server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": email, "role": "viewer" }),
        )
        .await
}

#[tokio::test]
async fn starttls_with_login_delivers_over_tls_to_a_server_with_a_private_ca() {
    let sink = SmtpSink::start_with(SinkOptions {
        tls: Some(SinkTls::StartTls),
        login: Some(("mailer".into(), "s3cret pass".into())),
        ..SinkOptions::default()
    })
    .await;
    let url = format!(
        "smtp://mailer:s3cret%20pass@127.0.0.1:{}?tls=required",
        sink.port
    );
    let server = tls_server(url, true).await;
    let created = invite(&server, "tls@example.org").await;
    delivery_becomes(&server, &created["id"], "SENT").await;
    let mail = &sink.wait_for(1).await[0];
    assert!(mail.tls && mail.login, "{mail:#?}");
    server.cleanup().await;
}

#[tokio::test]
async fn smtps_delivers_over_tls_from_the_first_byte() {
    let sink = SmtpSink::start_with(SinkOptions {
        tls: Some(SinkTls::Implicit),
        ..SinkOptions::default()
    })
    .await;
    let server = tls_server(format!("smtps://127.0.0.1:{}", sink.port), true).await;
    let created = invite(&server, "wrapped@example.org").await;
    delivery_becomes(&server, &created["id"], "SENT").await;
    assert!(sink.wait_for(1).await[0].tls);
    server.cleanup().await;
}

#[tokio::test]
async fn an_untrusted_certificate_or_a_wrong_password_delivers_nothing() {
    let sink = SmtpSink::start_with(SinkOptions {
        tls: Some(SinkTls::StartTls),
        login: Some(("mailer".into(), "right".into())),
        ..SinkOptions::default()
    })
    .await;
    // Without the CA file the self-signed certificate is refused: a transient failure.
    let untrusted = tls_server(
        format!("smtp://mailer:right@127.0.0.1:{}?tls=required", sink.port),
        false,
    )
    .await;
    let created = invite(&untrusted, "untrusted@example.org").await;
    let delivery = attempts_become(&untrusted, &created["id"], 1).await;
    assert_eq!(delivery["status"], "QUEUED", "{delivery:#}");
    assert!(
        delivery["lastError"]
            .as_str()
            .unwrap()
            .contains("certificate"),
        "{delivery:#}"
    );
    untrusted.cleanup().await;
    // With it, but with the wrong password: the server's 535 is final.
    let refused = tls_server(
        format!("smtp://mailer:wrong@127.0.0.1:{}?tls=required", sink.port),
        true,
    )
    .await;
    let created = invite(&refused, "refused@example.org").await;
    let delivery = delivery_becomes(&refused, &created["id"], "FAILED").await;
    assert!(
        delivery["lastError"].as_str().unwrap().contains("535"),
        "{delivery:#}"
    );
    assert!(sink.messages().is_empty());
    refused.cleanup().await;
}

#[tokio::test]
async fn without_smtp_each_message_is_written_to_the_outbox_folder() {
    let server = spawn_server(Backend::Sqlite).await;
    let created = server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "otto@example.org", "role": "viewer" }),
        )
        .await;
    delivery_becomes(&server, &created["id"], "SENT").await;
    let outbox = server.data_dir.join("outbox");
    let files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("Content-Type: multipart/alternative"));
    assert!(eml.contains("Message-ID: <"));
    assert!(eml.contains("To: otto@example.org"));
    server.cleanup().await;
}

#[tokio::test]
async fn an_email_queued_for_an_invitation_revoked_meanwhile_is_not_sent() {
    // SMTP down: the email waits; the editor revokes; SMTP comes back; nothing goes out.
    let gate = SmtpGate::open(GateMode::Closed).await;
    let server = gated_server(&gate, None).await;
    let created = server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "rita@example.org", "role": "viewer" }),
        )
        .await;
    wait_until_attempted(&server, 1).await;
    let revoked = server
        .gql(
            "RevokeInvitation",
            json!({ "id": created["id"] }),
            Some(&server.tokens.editor),
        )
        .await;
    assert!(revoked.get("errors").is_none(), "{revoked:#}");
    let sink = SmtpSink::start().await;
    gate.set(GateMode::Forward(sink.port));
    server.advance(TimeDelta::hours(2));
    delivery_becomes(&server, &created["id"], "CANCELLED").await;
    assert!(sink.messages().is_empty());
    server.cleanup().await;
}

#[tokio::test]
async fn a_template_that_breaks_while_the_server_runs_fails_the_delivery_not_the_mutation() {
    let templates = crate::helpers::temp_dir();
    std::fs::create_dir_all(templates.join("en")).unwrap();
    let subject = templates.join("en/invitation.subject.hbs");
    std::fs::write(&subject, "You are invited, {{invitee_email}}").unwrap();
    let server = spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            email_templates_dir: Some(templates.display().to_string()),
            ..ServerOptions::default()
        },
    )
    .await;
    // A template author saves a misspelt variable; strict mode refuses to render it.
    // (A different length too, so the change shows even where file times are coarse.)
    std::fs::write(&subject, "You are invited, {{invitee_emial}} !").unwrap();
    let created = server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "tess@example.org", "role": "viewer" }),
        )
        .await;
    assert_eq!(created["state"], "PENDING");
    assert_eq!(created["delivery"]["status"], "FAILED");
    assert!(
        created["delivery"]["lastError"]
            .as_str()
            .unwrap()
            .contains("template"),
        "{created:#}"
    );
    // Fixed: a resend sends it.
    std::fs::write(&subject, "You are invited, {{invitee_email}}").unwrap();
    let resent = resend(&server, &created["id"]).await;
    assert_eq!(resent["delivery"]["status"], "QUEUED");
    delivery_becomes(&server, &created["id"], "SENT").await;
    let _ = std::fs::remove_dir_all(templates);
    server.cleanup().await;
}

/// Runs a GraphQL operation on a process and returns its `data.<field>`, failing on errors.
async fn process_data(
    server: &ServerProcess,
    query: &str,
    variables: Value,
    token: Option<&str>,
    field: &str,
) -> Value {
    let response = server.gql(query, variables, token).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    response["data"][field].clone()
}

#[tokio::test]
async fn templates_broken_or_deleted_at_runtime_never_fail_a_change_and_are_reported() {
    let dir = crate::helpers::temp_dir();
    let (data_dir, templates) = (dir.join("data"), dir.join("templates"));
    std::fs::create_dir_all(templates.join("en")).unwrap();
    let subject = templates.join("en/invitation.subject.hbs");
    let notice_subject = templates.join("en/invitation_accepted.subject.hbs");
    std::fs::write(&subject, "Custom: you are invited, {{invitee_email}}").unwrap();
    std::fs::write(&notice_subject, "Accepted: {{invitee_email}}").unwrap();
    // An editor token with an address, so that an accept queues the notice to it.
    let token = crate::process::command()
        .args([
            "token",
            "create",
            "--role",
            "editor",
            "--email",
            "ed@example.org",
        ])
        .env("INVITATIONS_DATA_DIR", &data_dir)
        .output()
        .await
        .unwrap();
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8(token.stdout).unwrap();
    let token = token.lines().last().unwrap().trim().to_owned();
    let templates_text = templates.display().to_string();
    let server = ServerProcess::start(
        &data_dir,
        &[
            ("INVITATIONS_EMAIL_TEMPLATES_DIR", &templates_text),
            ("INVITATIONS_EMAIL_TEMPLATES_RELOAD", "true"),
        ],
    )
    .await;
    let create = "mutation($e: String!) { createInvitation(input: {email: $e, role: \"viewer\"}) { id secret delivery { status lastError } } }";
    let delivery = "query($id: ID!) { invitation(id: $id) { delivery { status } } }";

    // A syntax error (an unclosed block) saved while the server runs.
    std::fs::write(&subject, "Custom: {{#if invitee_email}} unclosed").unwrap();
    let created = process_data(
        &server,
        create,
        json!({ "e": "tess@example.org" }),
        Some(&token),
        "createInvitation",
    )
    .await;
    assert_eq!(created["delivery"]["status"], "FAILED", "{created:#}");
    assert!(
        created["delivery"]["lastError"]
            .as_str()
            .unwrap()
            .contains("template")
    );

    // The override deleted: the built-in template takes its place again.
    std::fs::remove_file(&subject).unwrap();
    let resend = "mutation($id: ID!) { resendInvitation(id: $id) { secret delivery { status } } }";
    let resent = process_data(
        &server,
        resend,
        json!({ "id": created["id"] }),
        Some(&token),
        "resendInvitation",
    )
    .await;
    assert_eq!(resent["delivery"]["status"], "QUEUED", "{resent:#}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while process_data(
        &server,
        delivery,
        json!({ "id": created["id"] }),
        Some(&token),
        "invitation",
    )
    .await["delivery"]["status"]
        != "SENT"
    {
        assert!(
            Instant::now() < deadline,
            "the resent email was never written"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let outbox: Vec<String> = std::fs::read_dir(data_dir.join("outbox"))
        .unwrap()
        .flatten()
        .map(|entry| std::fs::read_to_string(entry.path()).unwrap())
        .collect();
    assert_eq!(outbox.len(), 1);
    assert!(
        outbox[0].contains("Subject: editor token invited you to join CMS"),
        "the built-in subject: {}",
        outbox[0]
    );

    // The inviter's notice breaks: the accept still succeeds, and the failure is logged.
    std::fs::write(&notice_subject, "Accepted: {{#each}}").unwrap();
    let accept = "mutation($s: String!) { acceptInvitation(secret: $s, input: {password: \"correct horse battery\"}) { invitation { state } } }";
    let accepted = process_data(
        &server,
        accept,
        json!({ "s": resent["secret"] }),
        None,
        "acceptInvitation",
    )
    .await;
    assert_eq!(accepted["invitation"]["state"], "ACCEPTED");
    let reported = server.logged("the accepted notice could not be rendered; not sent");
    assert_eq!(reported.len(), 1, "the notice's failure is reported once");
    assert_eq!(reported[0]["level"], "ERROR");
    assert_eq!(reported[0]["invitation"], created["id"]);
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The listed invitations, all of them (at most 500).
async fn all_invitations(server: &TestServer) -> Vec<Value> {
    let response = server
        .gql(
            "Invitations",
            json!({ "first": 500 }),
            Some(&server.tokens.viewer),
        )
        .await;
    data(&response, "invitations")["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (at most 30 s) until `count` invitations each had a failed attempt.
async fn wait_until_attempted(server: &TestServer, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let nodes = all_invitations(server).await;
        let attempted = nodes
            .iter()
            .filter(|n| n["delivery"]["attempts"] == 1 && n["delivery"]["lastError"].is_string())
            .count();
        if attempted == count {
            return nodes;
        }
        assert!(
            Instant::now() < deadline,
            "{attempted} of {count} attempted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (at most 60 s) until all `count` invitations report their email SENT.
async fn wait_until_all_sent(server: &TestServer, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let nodes = all_invitations(server).await;
        let sent = nodes
            .iter()
            .filter(|n| n["delivery"]["status"] == "SENT")
            .count();
        if nodes.len() == count && sent == count {
            return nodes;
        }
        assert!(Instant::now() < deadline, "{sent} of {count} sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn while_smtp_is_down_creates_succeed_and_every_message_arrives_once_when_it_is_back(
    backend: Backend,
) {
    const COUNT: usize = 200;
    let gate = SmtpGate::open(GateMode::Closed).await;
    let server = spawn_server_with(
        backend,
        ServerOptions {
            smtp_url: Some(gate.url()),
            ..ServerOptions::default()
        },
    )
    .await;
    let emails: Vec<String> = (0..COUNT)
        .map(|i| format!("down{i:03}@example.org"))
        .collect();
    for chunk in emails.chunks(10) {
        let created = futures_util::future::join_all(chunk.iter().map(|email| {
            server.gql(
                "CreateInvitation",
                json!({ "input": { "email": email, "role": "viewer" } }),
                Some(&server.tokens.editor),
            )
        }))
        .await;
        for response in &created {
            assert_eq!(data(response, "createInvitation")["state"], "PENDING");
        }
    }
    let nodes = wait_until_attempted(&server, COUNT).await;
    for node in &nodes {
        assert_eq!(node["delivery"]["status"], "QUEUED", "{node:#}");
    }

    let sink = SmtpSink::start().await;
    gate.set(GateMode::Forward(sink.port));
    server.advance(TimeDelta::hours(2));
    // Once every delivery is recorded SENT, nothing is queued any more, so what arrived by
    // then is all that will ever arrive.
    wait_until_all_sent(&server, COUNT).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), COUNT, "a message arrived twice");
    let recipients: BTreeSet<&str> = messages
        .iter()
        .flat_map(|m| m.rcpt_to.iter().map(String::as_str))
        .collect();
    assert_eq!(recipients, emails.iter().map(String::as_str).collect());
    let ids: BTreeSet<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), COUNT);
    let nodes = all_invitations(&server).await;
    assert!(
        nodes
            .iter()
            .all(|n| n["delivery"]["status"] == "SENT" && n["delivery"]["attempts"] == 2),
        "{nodes:#?}"
    );
    server.cleanup().await;
}

async fn two_server_processes_on_one_store_share_the_queue_and_send_each_message_once(
    backend: Backend,
) {
    const COUNT: usize = 120;
    let sink = SmtpSink::start().await;
    let (store_env, cleanup) = crate::helpers::process_store(backend).await;
    let smtp = sink.url();
    let mut env: Vec<(&str, &str)> = store_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("INVITATIONS_SMTP_URL", &smtp));
    env.push(("INVITATIONS_SMTP_POOL_SIZE", "2"));
    let shared_dir = crate::helpers::temp_dir();
    let first = ServerProcess::start(&shared_dir, &env).await;
    let second = ServerProcess::start(&shared_dir, &env).await;
    let token = first.bootstrap_token();
    let inputs: Vec<Value> = (0..COUNT)
        .map(|i| json!({ "email": format!("race{i:03}@example.org"), "role": "viewer" }))
        .collect();
    first.create_all(&token, inputs).await;
    sink.wait_for(COUNT).await;
    let (by_first, by_second) = ServerProcess::sends_of_both(&first, &second, COUNT).await;
    assert!(
        !by_first.is_empty() && !by_second.is_empty(),
        "both processes sent: {} and {}",
        by_first.len(),
        by_second.len()
    );
    assert!(
        by_first.is_disjoint(&by_second),
        "a message was sent by both"
    );
    assert_eq!(by_first.len() + by_second.len(), COUNT);
    let messages = sink.messages();
    assert_eq!(messages.len(), COUNT, "a message went out twice");
    let ids: BTreeSet<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), COUNT);
    first.stop().await;
    second.stop().await;
    cleanup.await;
}

/// With `email_reply_to_inviter`, a reply to the invitation reaches the inviter; an inviter
/// without an address adds no `Reply-To`.
#[tokio::test]
async fn replies_go_to_the_inviter_when_configured() {
    let sink = SmtpSink::start().await;
    let server = spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            smtp_url: Some(sink.url()),
            reply_to_inviter: true,
            ..ServerOptions::default()
        },
    )
    .await;
    server
        .create_invitation(
            &server.tokens.editor,
            json!({ "email": "reply@example.org", "role": "author" }),
        )
        .await;
    let nameless = server.token("editor", "No address", None).await;
    server
        .create_invitation(
            &nameless,
            json!({ "email": "noreply@example.org", "role": "author" }),
        )
        .await;
    let mails = sink.wait_for(2).await;
    let to = |address: &str| {
        mails
            .iter()
            .find(|m| m.rcpt_to.iter().any(|r| r == address))
            .unwrap()
            .clone()
    };
    assert_eq!(
        to("reply@example.org").reply_to.as_deref(),
        Some("editor@example.org")
    );
    assert_eq!(to("noreply@example.org").reply_to, None);
    assert_eq!(
        to("reply@example.org").auto_submitted.as_deref(),
        Some("auto-generated")
    );
    server.cleanup().await;
}
