//! The email templates as template authors meet them: golden renders per locale, kind and part
//! (`UPDATE_CONTRACTS=1` rewrites them), and `templates check` / `templates preview`.

use std::path::PathBuf;

use cms_invitations::domain::MessageKind;
use cms_invitations::email::{EmailContext, EmailPart, EmailTemplates, template_variables};

fn golden_path(locale: &str, kind: MessageKind, part: EmailPart) -> PathBuf {
    let suffix = match part {
        EmailPart::Subject => "subject.txt",
        EmailPart::Html => "html",
        EmailPart::Text => "txt",
        EmailPart::Sms => "sms.txt",
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "fixtures/emails/{locale}/{}.{suffix}",
        kind.as_str()
    ))
}

/// Compares `rendered` with the golden file at `path` (with `rewrite`, writes it instead);
/// whether it compared.
fn golden(path: &std::path::Path, rendered: &str, rewrite: bool) -> bool {
    if rewrite {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, rendered).unwrap();
        return false;
    }
    let golden =
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    assert!(
        golden == rendered,
        "{} drifted from the templates; rerun with UPDATE_CONTRACTS=1 and review the diff",
        path.display()
    );
    true
}

#[test]
fn every_locale_kind_and_part_renders_as_its_golden_file() {
    let templates = EmailTemplates::builtin().unwrap();
    let rewrite = std::env::var_os("UPDATE_CONTRACTS").is_some();
    let mut compared = 0;
    for locale in templates.locales() {
        for kind in MessageKind::ALL {
            let mut context = EmailContext::sample(kind, &locale, true);
            context.set_product_name("Acme CMS");
            let email = templates.render(&locale, &context).unwrap();
            // The invitation's text message too, as it is sent (one paragraph, folded).
            let sms = EmailPart::of(kind)
                .contains(&EmailPart::Sms)
                .then(|| templates.render_sms(&locale, &context).unwrap().text);
            let parts = [
                (EmailPart::Subject, Some(&email.subject)),
                (EmailPart::Html, Some(&email.html)),
                (EmailPart::Text, Some(&email.text)),
                (EmailPart::Sms, sms.as_ref()),
            ];
            for (part, rendered) in parts {
                let Some(rendered) = rendered else { continue };
                compared +=
                    usize::from(golden(&golden_path(&locale, kind, part), rendered, rewrite));
            }
        }
    }
    // Each variant in each locale that has it, all four parts.
    for variant in templates.variants() {
        for locale in templates.locales() {
            let mut context = EmailContext::sample(MessageKind::Invitation, &locale, true);
            context.set_product_name("Acme CMS");
            let email = templates
                .render_with(&locale, Some(&variant), &context)
                .unwrap();
            let sms = templates
                .render_sms_with(&locale, Some(&variant), &context)
                .unwrap()
                .text;
            for (part, rendered) in [
                ("subject.txt", &email.subject),
                ("html", &email.html),
                ("txt", &email.text),
                ("sms.txt", &sms),
            ] {
                let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
                    "fixtures/emails/{locale}/{variant}/invitation.{part}"
                ));
                compared += usize::from(golden(&path, rendered, rewrite));
            }
        }
    }
    assert!(
        // Three locales: three parts of three kinds, the two text messages to the invitee, and
        // the four parts of the partner variant.
        rewrite || compared == 3 * (3 * 3 + 2 + 4),
        "compared {compared} golden files"
    );
}

/// `templates check` over the override folder `dir`: its exit code and what it reported.
fn check_with(dir: &std::path::Path) -> (Option<i32>, String) {
    let output = crate::process::std_command()
        .args(["templates", "check"])
        .env("INVITATIONS_EMAIL_TEMPLATES_DIR", dir)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), report)
}

#[test]
fn templates_check_names_file_and_line_and_fails_on_a_broken_override() {
    let ok = crate::process::std_command()
        .args(["templates", "check"])
        .output()
        .unwrap();
    assert!(ok.status.success());
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(said.contains("3 locale(s) (de, en, fr)"), "{said}");
    assert!(said.contains("admin UI messages in de, en, fr"), "{said}");

    let dir = crate::helpers::temp_dir();
    std::fs::create_dir_all(dir.join("it")).unwrap();
    std::fs::write(
        dir.join("it/invitation.subject.hbs"),
        "{{inviter_name}} ti ha invitato\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("en")).unwrap();
    std::fs::write(dir.join("en/invitation.txt.hbs"), "Hi,\n\n{{acept_url}}\n").unwrap();
    std::fs::write(
        dir.join("en/invitation.html.hbs"),
        "{{#> layout_html title=\"Hi\"}}<p>{{accept_url}}</p>{{/layout_html}}\n",
    )
    .unwrap();
    let (status, report) = check_with(&dir);
    assert_eq!(status, Some(1));
    assert!(report.contains("en/invitation.txt.hbs:3:"), "{report}");
    assert!(report.contains("acept_url"), "{report}");
    assert!(
        report.contains("it/invitation.html.hbs: missing"),
        "{report}"
    );
    assert!(
        report.contains("it/invitation_accepted.txt.hbs: missing"),
        "{report}"
    );
    assert!(
        report.contains("it/accept.json: missing: locale it has emails but no accept page"),
        "{report}"
    );
    assert!(
        report.contains("en/invitation.html.hbs: no preheader"),
        "{report}"
    );
    // The invitee page's messages are checked against English, key by key.
    std::fs::create_dir_all(dir.join("de")).unwrap();
    std::fs::write(
        dir.join("de/accept.json"),
        r#"{ "invited": "{einladender} hat Sie eingeladen" }"#,
    )
    .unwrap();
    let (_, report) = check_with(&dir);
    assert!(
        report.contains("uses {einladender} where English uses {inviter}"),
        "{report}"
    );
    assert!(
        report.contains("locale de has no message \"button.accept\""),
        "{report}"
    );
    // So are the admin UI's.
    std::fs::write(
        dir.join("de/admin.json"),
        r#"{ "signed.in": "Angemeldet: {benutzer}" }"#,
    )
    .unwrap();
    let (_, report) = check_with(&dir);
    assert!(
        report.contains(
            "de/admin.json: message \"signed.in\" uses {benutzer} where English uses {name}"
        ),
        "{report}"
    );
    assert!(
        report.contains("de/admin.json: missing: locale de has no message \"tab.list\""),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_pages_words_come_from_message_files_a_template_author_can_add() {
    use crate::helpers::Backend;
    use crate::server::{ServerOptions, spawn_server_with};
    let dir = crate::helpers::temp_dir();
    std::fs::create_dir_all(dir.join("nl")).unwrap();
    let english: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/email-templates/en/admin.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut dutch = english.clone();
    dutch.insert("tab.list".into(), "Uitnodigingen".into());
    std::fs::write(
        dir.join("nl/admin.json"),
        serde_json::to_string(&dutch).unwrap(),
    )
    .unwrap();
    let server = spawn_server_with(
        Backend::Sqlite,
        ServerOptions {
            email_templates_dir: Some(dir.display().to_string()),
            ..ServerOptions::default()
        },
    )
    .await;
    let ask = |path: &'static str, lang: &'static str| {
        let server = &server;
        async move {
            let response = server
                .http()
                .get(server.url(path))
                .query(&[("lang", lang)])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    // The admin UI: the editor's languages in order, by tag then language.
    let answer = ask("/admin/messages", "nl-BE,de").await;
    assert_eq!(answer["locale"], "nl");
    assert_eq!(answer["messages"]["tab.list"], "Uitnodigingen");
    assert_eq!(
        answer["locales"],
        serde_json::json!(["de", "en", "fr", "nl"])
    );
    let answer = ask("/admin/messages", "pt-BR,fr-CA").await;
    assert_eq!(answer["locale"], "fr");
    assert_eq!(answer["messages"]["tab.create"], "Inviter");
    // Nothing asked for that exists: the server's default locale.
    assert_eq!(ask("/admin/messages", "xx").await["locale"], "en");
    // Each page chooses among its own files: nl has no invitee page.
    let answer = ask("/accept/messages", "nl,de").await;
    assert_eq!(answer["locale"], "de");
    assert_eq!(answer["locales"], serde_json::json!(["de", "en", "fr"]));
    server.cleanup().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn templates_preview_prints_one_part_with_sample_data() {
    let preview = crate::process::std_command()
        .args([
            "templates",
            "preview",
            "--kind",
            "invitation",
            "--locale",
            "de",
            "--part",
            "txt",
        ])
        .env("INVITATIONS_EMAIL_PRODUCT_NAME", "Beispiel-CMS")
        .output()
        .unwrap();
    assert!(preview.status.success());
    let text = String::from_utf8_lossy(&preview.stdout);
    assert!(text.starts_with("Hallo Ada Lovelace,"), "{text}");
    assert!(
        text.contains("auf Beispiel-CMS mit der Rolle „Autor“"),
        "{text}"
    );
    let unknown = crate::process::std_command()
        .args([
            "templates",
            "preview",
            "--kind",
            "invitation",
            "--locale",
            "xx",
        ])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn the_documented_variables_are_the_variables_of_each_context() {
    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/email-templates.md");
    let mut table = String::new();
    for kind in MessageKind::ALL {
        table.push_str(&format!(
            "\n`{}`:\n\n| Variable | Meaning |\n|---|---|\n",
            kind.as_str()
        ));
        for (name, meaning) in template_variables(kind) {
            table.push_str(&format!("| `{name}` | {meaning} |\n"));
        }
    }
    // The documented names must be exactly the fields a sample context serializes.
    for kind in MessageKind::ALL {
        let sample = serde_json::to_value(EmailContext::sample(kind, "en", true)).unwrap();
        let mut fields: Vec<&str> = sample
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut documented: Vec<&str> = template_variables(kind)
            .iter()
            .map(|(name, _)| *name)
            .collect();
        fields.sort_unstable();
        documented.sort_unstable();
        assert_eq!(fields, documented, "{}", kind.as_str());
    }
    crate::contracts::assert_marked_section(DOC, "variables", &table);
}

#[test]
fn the_shipped_sms_fit_two_gsm7_segments_with_a_40_character_accept_url() {
    let templates = EmailTemplates::builtin().unwrap();
    let measures = templates.sms_lengths();
    assert_eq!(measures.len(), 3, "{measures:?}");
    for measure in measures {
        assert_eq!(
            measure.length.encoding,
            cms_invitations::email::SmsEncoding::Gsm7,
            "{measure:?}"
        );
        assert!(
            measure.length.segments <= cms_invitations::email::SMS_SEGMENT_BUDGET,
            "{measure:?}"
        );
    }
}

#[test]
fn templates_check_reports_each_sms_and_warns_above_two_segments() {
    let ok = crate::process::std_command()
        .args(["templates", "check"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&ok.stdout);
    for locale in ["de", "en", "fr"] {
        assert!(
            said.contains(&format!("{locale}/invitation.sms.hbs: 2 GSM-7 segments")),
            "{said}"
        );
    }
    assert!(!said.contains("warning"), "{said}");
    let dir = crate::helpers::temp_dir();
    std::fs::create_dir_all(dir.join("en")).unwrap();
    std::fs::write(
        dir.join("en/invitation.sms.hbs"),
        format!(
            "{{{{inviter_name}}}} invited you. {} {{{{accept_url}}}}",
            "Welcome! ".repeat(30)
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("en/invitation_accepted.sms.hbs"),
        "{{inviter_name}}",
    )
    .unwrap();
    let (status, report) = check_with(&dir);
    assert_eq!(status, Some(1), "{report}");
    assert!(
        report.contains(
            "invitation_accepted.sms.hbs: the invitation_accepted message has no sms part"
        ),
        "{report}"
    );
    std::fs::remove_file(dir.join("en/invitation_accepted.sms.hbs")).unwrap();
    let warned = crate::process::std_command()
        .args(["templates", "check"])
        .env("INVITATIONS_EMAIL_TEMPLATES_DIR", &dir)
        .output()
        .unwrap();
    assert!(
        warned.status.success(),
        "a long SMS warns, it does not fail"
    );
    let said = String::from_utf8_lossy(&warned.stdout);
    assert!(
        said.lines().any(|line| line.starts_with("warning: ")
            && line.contains("en/invitation.sms.hbs: 3 GSM-7 segments")),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn templates_check_covers_every_variant_and_warns_where_a_locale_falls_back() {
    let dir = crate::helpers::temp_dir();
    let campaign = dir.join("en/campaign");
    std::fs::create_dir_all(&campaign).unwrap();
    // Broken: a misspelt variable, three parts missing.
    std::fs::write(
        campaign.join("invitation.subject.hbs"),
        "{{inviter_name}} has news for {{campain}}\n",
    )
    .unwrap();
    let (status, report) = check_with(&dir);
    assert_eq!(status, Some(1), "{report}");
    assert!(report.contains("campain"), "{report}");
    for part in ["html", "txt", "sms"] {
        assert!(
            report.contains(&format!(
                "missing: en/campaign has no invitation {part} template"
            )),
            "{report}"
        );
    }
    // Whole, in English only: it passes, and the locales without it are named with their
    // fallback.
    for part in ["subject", "txt", "sms"] {
        std::fs::write(
            campaign.join(format!("invitation.{part}.hbs")),
            "Spring news from {{inviter_name}}: {{accept_url}}",
        )
        .unwrap();
    }
    std::fs::write(
        campaign.join("invitation.html.hbs"),
        "{{#> layout_html title=\"Spring\"}}{{#*inline \"preheader\"}}Spring{{/inline~}}<p>{{accept_url}}</p>{{/layout_html}}",
    )
    .unwrap();
    let ok = crate::process::std_command()
        .args(["templates", "check"])
        .env("INVITATIONS_EMAIL_TEMPLATES_DIR", &dir)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{said}");
    assert!(
        said.contains("invitation variants: campaign, partner"),
        "{said}"
    );
    for locale in ["de", "fr"] {
        assert!(
            said.contains(&format!(
                "warning: {locale} has no variant \"campaign\"; invitations in {locale} with it are written in en"
            )),
            "{said}"
        );
    }
    // A variant folder that is no variant name, and a variant of a notice, are problems.
    std::fs::create_dir_all(dir.join("en/Bad Name")).unwrap();
    std::fs::write(dir.join("en/Bad Name/invitation.subject.hbs"), "x").unwrap();
    std::fs::create_dir_all(dir.join("en/notice")).unwrap();
    std::fs::write(dir.join("en/notice/invitation_accepted.subject.hbs"), "x").unwrap();
    let (status, report) = check_with(&dir);
    assert_eq!(status, Some(1), "{report}");
    assert!(report.contains("is no variant name"), "{report}");
    assert!(
        report.contains("only the invitation has variants"),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
