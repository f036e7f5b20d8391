//! Email templates edited as content (`saveEmailTemplate` and the rest, DESIGN section 11), on
//! both stores: a save is checked as `templates check` checks files and refused with line and
//! column; each save is a version that can be reverted to; deleting falls back to the file;
//! the next email uses the saved text, on this server and on another process within two
//! seconds; a message queued before a save is sent as it was rendered; only template authors
//! and admins edit, and a designer invites nobody.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Backend, admin, designer, spawn_app};
use crate::process::{ServerProcess, append_to_suite_file};
use crate::server::{TestServer, data, error_code, spawn_server};

crate::on_both_backends!(
    a_broken_save_is_refused_with_its_line_and_column_and_changes_nothing,
    saves_are_versions_that_revert_and_delete_back_to_the_file,
    the_next_email_uses_the_saved_text,
    designers_edit_templates_and_invite_nobody,
    authors_saving_at_once_get_one_number_each,
    a_message_queued_before_a_save_is_sent_as_it_was_rendered,
    a_saved_subject_reaches_the_other_instance_within_two_seconds,
);

const TEMPLATE: &str = "kind part source version body";

const SAVE: &str = "mutation($input: SaveEmailTemplateInput!) {
  saveEmailTemplate(input: $input) { kind part source version body }
}";

const VERSIONS: &str =
    "query($kind: EmailTemplateKind!, $locale: String!, $part: EmailTemplatePart!) {
  emailTemplateVersions(kind: $kind, locale: $locale, part: $part) {
    id version body deleted comment savedBy savedAt
  }
}";

fn the_subject() -> Value {
    json!({ "kind": "INVITATION", "locale": "en", "part": "SUBJECT" })
}

fn save_input(source: &str, comment: &str) -> Value {
    let mut input = the_subject();
    input["source"] = source.into();
    input["comment"] = comment.into();
    input
}

async fn template(server: &TestServer, token: &str) -> Value {
    let response = server
        .query(
            &format!(
                "query {{ emailTemplate(kind: INVITATION, locale: \"en\", part: SUBJECT) {{ {TEMPLATE} }} }}"
            ),
            json!({}),
            Some(token),
        )
        .await;
    data(&response, "emailTemplate").clone()
}

async fn versions(server: &TestServer, token: &str) -> Vec<Value> {
    let response = server.query(VERSIONS, the_subject(), Some(token)).await;
    data(&response, "emailTemplateVersions")
        .as_array()
        .unwrap()
        .clone()
}

async fn save(server: &TestServer, token: &str, source: &str, comment: &str) -> Value {
    let response = server
        .query(
            SAVE,
            json!({ "input": save_input(source, comment) }),
            Some(token),
        )
        .await;
    data(&response, "saveEmailTemplate").clone()
}

/// The `Subject:` header of an email's text.
fn subject_of(mail: &str) -> &str {
    mail.lines()
        .find_map(|line| line.strip_prefix("Subject: "))
        .unwrap_or_else(|| panic!("no subject in {mail}"))
}

async fn a_broken_save_is_refused_with_its_line_and_column_and_changes_nothing(backend: Backend) {
    let server = spawn_server(backend).await;
    let designer = server.token("designer", "Dana Designer", None).await;
    let before = template(&server, &designer).await;
    assert_eq!(before["source"], "BUILT_IN");
    assert_eq!(before["version"], Value::Null);
    for (source, line_column, mentions) in [
        // An unknown variable: strict mode, at the `{{` of the expression.
        (
            "Hello\n  {{inviter_nam}} invites you",
            "2:3: ",
            "inviter_nam",
        ),
        // An unclosed block: where the text ends.
        (
            "{{#if scope}}Join {{scope}}",
            "1:28: ",
            "invalid handlebars syntax",
        ),
    ] {
        let response = server
            .query(
                SAVE,
                json!({ "input": save_input(source, "broken") }),
                Some(&designer),
            )
            .await;
        assert_eq!(error_code(&response), "VALIDATION_FAILED", "{response:#}");
        let error = &response["errors"][0];
        assert_eq!(error["extensions"]["field"], "source");
        let problems = error["extensions"]["problems"].as_array().unwrap();
        assert!(!problems.is_empty(), "{response:#}");
        let first = problems[0].as_str().unwrap();
        assert!(first.starts_with(line_column), "{first}");
        assert!(
            problems
                .iter()
                .any(|p| p.as_str().unwrap().contains(mentions)),
            "{problems:?}"
        );
    }
    let missing_partial = server
        .query(
            SAVE,
            json!({ "input": {
                "kind": "INVITATION", "locale": "de", "part": "HTML",
                "source": "{{> no_such_partial}}", "comment": "",
            } }),
            Some(&designer),
        )
        .await;
    assert_eq!(error_code(&missing_partial), "VALIDATION_FAILED");
    assert!(
        missing_partial["errors"][0]["extensions"]["problems"][0]
            .as_str()
            .unwrap()
            .contains("no_such_partial"),
        "{missing_partial:#}"
    );
    // Text that would render without end is refused before it renders, for a save and for
    // any reader's preview, and the server answers on.
    let endless = "{{#*inline \"a\"}}{{> b}}{{/inline}}{{#*inline \"b\"}}{{> a}}{{/inline}}{{> a}}";
    let response = server
        .query(
            SAVE,
            json!({ "input": save_input(endless, "") }),
            Some(&designer),
        )
        .await;
    assert_eq!(error_code(&response), "VALIDATION_FAILED");
    assert!(
        response["errors"][0]["extensions"]["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("1:17: an inline partial may not call a partial"),
        "{response:#}"
    );
    let mut input = save_input(endless, "");
    input.as_object_mut().unwrap().remove("comment");
    let preview = server
        .query(
            "query($input: PreviewEmailTemplateInput!) { previewEmailTemplate(input: $input) { subject problems { text } } }",
            json!({ "input": input }),
            Some(&server.tokens.viewer),
        )
        .await;
    let preview = data(&preview, "previewEmailTemplate");
    assert_eq!(preview["subject"], Value::Null);
    assert_eq!(
        preview["problems"].as_array().unwrap().len(),
        1,
        "{preview:#}"
    );
    // Nothing was stored: the template and its history are as before.
    assert_eq!(template(&server, &designer).await, before);
    assert!(versions(&server, &designer).await.is_empty());
    // A template the files do not have, a part the kind does not have: refused by name.
    let unknown = server
        .query(
            SAVE,
            json!({ "input": {
                "kind": "INVITATION_ACCEPTED", "locale": "en", "part": "SMS",
                "source": "Hi", "comment": "",
            } }),
            Some(&designer),
        )
        .await;
    assert_eq!(error_code(&unknown), "VALIDATION_FAILED");
    assert_eq!(unknown["errors"][0]["extensions"]["field"], "part");
    let spanish = server
        .query(
            SAVE,
            json!({ "input": { "kind": "INVITATION", "locale": "es", "part": "SUBJECT", "source": "Hola", "comment": "" } }),
            Some(&designer),
        )
        .await;
    assert_eq!(error_code(&spanish), "NOT_FOUND", "{spanish:#}");
    server.cleanup().await;
}

async fn saves_are_versions_that_revert_and_delete_back_to_the_file(backend: Backend) {
    let server = spawn_server(backend).await;
    let designer = server.token("designer", "Dana Designer", None).await;
    let shipped = template(&server, &designer).await["body"].clone();
    let first = save(&server, &designer, "First: {{inviter_name}}", "first try").await;
    assert_eq!(first["source"], "STORED");
    assert_eq!(first["version"], 1);
    let second = save(&server, &designer, "Second: {{inviter_name}}", "friendlier").await;
    assert_eq!(second["version"], 2);
    let history = versions(&server, &designer).await;
    assert_eq!(
        history
            .iter()
            .map(|v| v["version"].clone())
            .collect::<Vec<_>>(),
        [json!(2), json!(1)],
        "the newest first"
    );
    assert_eq!(history[0]["comment"], "friendlier");
    assert_eq!(history[0]["savedBy"], "Dana Designer");
    assert_eq!(history[1]["body"], "First: {{inviter_name}}");

    // Revert to version 1: its text again, as version 3.
    let reverted = server
        .query(
            &format!("mutation($id: ID!) {{ revertEmailTemplate(id: $id) {{ {TEMPLATE} }} }}"),
            json!({ "id": history[1]["id"] }),
            Some(&designer),
        )
        .await;
    let reverted = data(&reverted, "revertEmailTemplate");
    assert_eq!(reverted["version"], 3);
    assert_eq!(reverted["body"], "First: {{inviter_name}}");
    assert_eq!(
        versions(&server, &designer).await[0]["comment"],
        "Reverted to version 1"
    );

    // An edit from a stale version is refused, not lost.
    let mut stale = save_input("Third: {{inviter_name}}", "from an old tab");
    stale["baseVersion"] = 2.into();
    let refused = server
        .query(SAVE, json!({ "input": stale }), Some(&designer))
        .await;
    assert_eq!(error_code(&refused), "VALIDATION_FAILED");
    assert_eq!(refused["errors"][0]["extensions"]["field"], "baseVersion");

    // Delete: the built-in text applies again; the history keeps it all.
    let deleted = server
        .query(
            &format!(
                "mutation {{ deleteEmailTemplate(kind: INVITATION, locale: \"en\", part: SUBJECT) {{ {TEMPLATE} }} }}"
            ),
            json!({}),
            Some(&designer),
        )
        .await;
    let deleted = data(&deleted, "deleteEmailTemplate");
    assert_eq!(deleted["source"], "BUILT_IN");
    assert_eq!(deleted["body"], shipped);
    let history = versions(&server, &designer).await;
    assert_eq!(history.len(), 4);
    assert_eq!(history[0]["deleted"], true);
    assert_eq!(history[0]["body"], Value::Null);

    // The list says where each text comes from.
    let listed = server
        .query(
            "{ emailTemplates(locale: \"en\") { kind locale part source variables { name sample } } }",
            json!({}),
            Some(&designer),
        )
        .await;
    let listed = data(&listed, "emailTemplates").as_array().unwrap();
    assert!(listed.iter().all(|t| t["locale"] == "en"));
    // Three kinds: 4 + 3 + 4 parts, and the variant `partner`'s 4.
    assert_eq!(listed.len(), 15, "{listed:#?}");
    let invitation = listed
        .iter()
        .find(|t| t["kind"] == "INVITATION" && t["part"] == "SUBJECT")
        .unwrap();
    assert!(
        invitation["variables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "inviter_name" && v["sample"] == "Grace Hopper"),
        "{invitation:#}"
    );
    server.cleanup().await;
}

async fn the_next_email_uses_the_saved_text(backend: Backend) {
    let server = spawn_server(backend).await;
    let designer = server.token("designer", "Dana Designer", None).await;
    save(
        &server,
        &designer,
        "Saved subject from {{inviter_name}}",
        "",
    )
    .await;
    let admin = server.tokens.admin.clone();
    server
        .create_invitation(
            &admin,
            json!({ "email": "stored@example.org", "role": "viewer" }),
        )
        .await;
    let mail = server.mail_with("stored@example.org").await;
    assert!(
        subject_of(&mail).starts_with("Saved subject from "),
        "{mail}"
    );
    server.cleanup().await;
}

async fn designers_edit_templates_and_invite_nobody(backend: Backend) {
    let server = spawn_server(backend).await;
    let designer = server.token("designer", "Dana Designer", None).await;
    let tokens = server.tokens.clone();
    // A designer invites nobody and reads no invitation.
    let create = server
        .gql(
            "CreateInvitation",
            json!({ "input": { "email": "x@example.org", "role": "viewer" } }),
            Some(&designer),
        )
        .await;
    assert_eq!(error_code(&create), "FORBIDDEN");
    let list = server
        .query("{ invitations { totalCount } }", json!({}), Some(&designer))
        .await;
    assert_eq!(error_code(&list), "FORBIDDEN");
    // Editors read and preview templates but do not save them; nor does a scoped admin
    // (every scope's messages use them); nor does anyone anonymous.
    for (token, code) in [
        (Some(tokens.editor.as_str()), "FORBIDDEN"),
        (Some(tokens.team_a_admin.as_str()), "FORBIDDEN"),
        (None, "UNAUTHENTICATED"),
    ] {
        let response = server
            .query(SAVE, json!({ "input": save_input("Hi", "") }), token)
            .await;
        assert_eq!(error_code(&response), code, "{response:#}");
    }
    assert_eq!(
        template(&server, &tokens.editor).await["source"],
        "BUILT_IN"
    );
    assert!(
        save(
            &server,
            &tokens.admin,
            "Admins may too: {{inviter_name}}",
            ""
        )
        .await["version"]
            == 1
    );

    // Preview: unsaved text with the sample, or with a real invitation's data for those who
    // may read it; never stored, never sent.
    let preview = "query($input: PreviewEmailTemplateInput!) {
      previewEmailTemplate(input: $input) {
        subject html text sms problems { line column message text } warnings { text }
      }
    }";
    let mut input = save_input("Preview for {{invitee_email}}", "");
    input.as_object_mut().unwrap().remove("comment");
    let sample = server
        .query(preview, json!({ "input": input.clone() }), Some(&designer))
        .await;
    let sample = data(&sample, "previewEmailTemplate");
    assert_eq!(sample["subject"], "Preview for ada@example.org");
    assert!(sample["html"].as_str().unwrap().contains("Grace Hopper"));
    assert!(sample["problems"].as_array().unwrap().is_empty());
    let created = server
        .create_invitation(
            &tokens.editor,
            json!({ "email": "real@example.org", "role": "viewer", "name": "Real Person" }),
        )
        .await;
    input["invitationId"] = created["id"].clone();
    let real = server
        .query(
            preview,
            json!({ "input": input.clone() }),
            Some(&tokens.editor),
        )
        .await;
    let real = data(&real, "previewEmailTemplate");
    assert_eq!(real["subject"], "Preview for real@example.org");
    let html = real["html"].as_str().unwrap();
    assert!(html.contains("Real Person"));
    assert!(
        html.contains("#secret=PREVIEW-NOT-A-REAL-LINK"),
        "no link is shown"
    );
    let without_read = server
        .query(preview, json!({ "input": input.clone() }), Some(&designer))
        .await;
    assert_eq!(error_code(&without_read), "FORBIDDEN");
    input["source"] = "Broken {{#each".into();
    input.as_object_mut().unwrap().remove("invitationId");
    let broken = server
        .query(preview, json!({ "input": input }), Some(&designer))
        .await;
    let broken = data(&broken, "previewEmailTemplate");
    assert_eq!(broken["subject"], Value::Null);
    let problem = &broken["problems"][0];
    assert_eq!(problem["line"], 1);
    assert!(
        problem["text"].as_str().unwrap().starts_with("1:"),
        "{problem:#}"
    );
    // The preview stored nothing: the admin's save is still the one in force.
    assert_eq!(template(&server, &designer).await["version"], 1);
    server.cleanup().await;
}

async fn authors_saving_at_once_get_one_number_each(backend: Backend) {
    const AUTHORS: usize = 6;
    let server = spawn_server(backend).await;
    let designer = server.token("designer", "Dana Designer", None).await;
    let saves = (0..AUTHORS).map(|n| {
        let (server, designer) = (&server, designer.clone());
        async move {
            save(
                server,
                &designer,
                &format!("Take {n}: {{{{inviter_name}}}}"),
                "",
            )
            .await
        }
    });
    let saved = futures_util::future::join_all(saves).await;
    let mut numbers: Vec<u64> = saved
        .iter()
        .map(|s| {
            s["version"]
                .as_u64()
                .unwrap_or_else(|| panic!("{saved:#?}"))
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=AUTHORS as u64).collect::<Vec<_>>());
    let history = versions(&server, &designer).await;
    assert_eq!(history.len(), AUTHORS);
    // What is in force is the newest version's text.
    assert_eq!(
        template(&server, &designer).await["body"],
        history[0]["body"]
    );
    server.cleanup().await;
}

async fn a_message_queued_before_a_save_is_sent_as_it_was_rendered(backend: Backend) {
    use cms_invitations::domain::{EmailPart, MessageKind};
    use cms_invitations::email::{FileMailer, Sender};
    use cms_invitations::service::{CreateInvitation, SaveTemplate, TemplateRef};

    let app = spawn_app(backend).await;
    app.service
        .create(
            Some(&admin()),
            CreateInvitation::new("before@example.org".to_owned(), "viewer"),
        )
        .await
        .unwrap();
    app.service
        .save_email_template(
            Some(&designer()),
            SaveTemplate {
                template: TemplateRef {
                    kind: MessageKind::Invitation,
                    locale: "en".to_owned(),
                    variant: None,
                    part: EmailPart::Subject,
                },
                body: "AFTER THE SAVE {{inviter_name}}".to_owned(),
                comment: String::new(),
                base_version: None,
            },
        )
        .await
        .unwrap();
    app.service
        .create(
            Some(&admin()),
            CreateInvitation::new("after@example.org".to_owned(), "viewer"),
        )
        .await
        .unwrap();
    let outbox = crate::helpers::temp_dir();
    let mailer = FileMailer::new(&outbox, Sender::parse("Test <test@example.org>").unwrap());
    let report = app.service.deliver_due(&mailer).await.unwrap();
    assert_eq!(report.sent, 2);
    let mails: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    let to = |address: &str| mails.iter().find(|m| m.contains(address)).unwrap();
    assert!(
        !subject_of(to("before@example.org")).starts_with("AFTER THE SAVE"),
        "queued before the save: sent as rendered"
    );
    assert!(subject_of(to("after@example.org")).starts_with("AFTER THE SAVE"));
    let _ = std::fs::remove_dir_all(outbox);
    app.cleanup().await;
}

/// Two server processes on one store: a designer saves on the first; invitations created on
/// the second (which renders their emails as it queues them) carry the new subject within two
/// seconds, and never the old one after it first shows.
async fn a_saved_subject_reaches_the_other_instance_within_two_seconds(backend: Backend) {
    const NEW: &str = "Fresh subject from another instance";
    let (store_env, cleanup) = crate::helpers::process_store(backend).await;
    let env: Vec<(&str, &str)> = store_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shared_dir = crate::helpers::temp_dir();
    let first = ServerProcess::start(&shared_dir, &env).await;
    let second = ServerProcess::start(&shared_dir, &env).await;
    let token = first.bootstrap_token();
    let saved = first
        .gql(
            SAVE,
            json!({ "input": save_input(&format!("{NEW} {{{{inviter_name}}}}"), "live") }),
            Some(&token),
        )
        .await;
    assert_eq!(
        saved["data"]["saveEmailTemplate"]["version"], 1,
        "{saved:#}"
    );
    let saved_at = Instant::now();
    // Invitations on the second process every 50 ms for 2.5 s.
    let mut created = Vec::new();
    let mut n = 0;
    while saved_at.elapsed() < Duration::from_millis(2500) {
        let email = format!("live{n}@example.org");
        let started = saved_at.elapsed();
        let response = second
            .gql(
                "mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { id } }",
                json!({ "input": { "email": email, "role": "viewer" } }),
                Some(&token),
            )
            .await;
        assert!(response.get("errors").is_none(), "{response:#}");
        created.push((started, email));
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let outbox = shared_dir.join("outbox");
    let mail_to = |email: &str| {
        std::fs::read_dir(&outbox).ok()?.flatten().find_map(|f| {
            let text = std::fs::read_to_string(f.path()).ok()?;
            text.contains(email).then_some(text)
        })
    };
    let mut first_new = None;
    for (started, email) in &created {
        let mail = crate::helpers::wait_until(&format!("the email to {email}"), || async {
            mail_to(email)
        })
        .await;
        let is_new = subject_of(&mail).starts_with(NEW);
        match (is_new, first_new) {
            (true, None) => first_new = Some(*started),
            (false, Some(at)) => {
                panic!("{email} (created at {started:?}) has the old subject after {at:?}")
            }
            _ => {}
        }
        if *started >= Duration::from_secs(2) {
            assert!(
                is_new,
                "{email}, created {started:?} after the save, has the old subject"
            );
        }
    }
    let first_new = first_new.expect("the new subject never showed");
    append_to_suite_file(
        "stored-templates-summary.txt",
        &format!(
            "{backend:?}: a saved subject was in the first email the other instance created {:.0} ms after the save ({} invitations over 2.5 s)\n",
            first_new.as_secs_f64() * 1000.0,
            created.len()
        ),
    );
    first.stop().await;
    second.stop().await;
    cleanup.await;
}
