//! Localized emails: Handlebars templates per locale and kind, typed contexts, dates written as
//! each language writes them.

mod context;
mod dates;
mod page_messages;
mod sms;
mod templates;
mod transport;

pub use context::{
    AcceptedContext, EmailContext, EmailPart, ExtendedContext, InvitationContext, TemplateVariable,
    template_variable_samples, template_variables,
};
pub use dates::format_date_time;
pub use page_messages::{Page, PageMessages};
pub use sms::{SmsEncoding, SmsLength, fold_to_gsm7};
pub use templates::{
    DraftPreview, EmailTemplates, RenderedEmail, RenderedSms, SMS_SEGMENT_BUDGET, SmsMeasure,
    StoredTemplates, TemplateInfo, TemplateOrigin, TemplateProblem, TemplateProblems, author_line,
};
pub use transport::{FileMailer, Sender, SmtpMailer, prune_outbox};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageKind;
    use templates::{BUILTIN, guard_draft};

    #[test]
    fn every_shipped_file_is_compiled_into_the_binary() {
        /// Every `.hbs` under `dir`, at any depth (variants are a folder deeper), as
        /// `prefix/...`.
        fn hbs(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                if entry.path().is_dir() {
                    hbs(&entry.path(), &path, out);
                } else if name.ends_with(".hbs") {
                    out.push(path);
                }
            }
        }
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/email-templates");
        let mut on_disk = Vec::new();
        hbs(std::path::Path::new(root), "", &mut on_disk);
        on_disk.sort();
        let mut built_in: Vec<String> = BUILTIN.iter().map(|(p, _)| (*p).to_owned()).collect();
        built_in.sort();
        assert_eq!(on_disk, built_in);
    }

    #[test]
    fn the_shipped_templates_pass_the_check_in_every_locale() {
        let templates = EmailTemplates::builtin().unwrap();
        assert_eq!(templates.locales(), ["de", "en", "fr"]);
        assert_eq!(templates.check(), Vec::new());
    }

    #[test]
    fn html_is_escaped_in_the_html_part_only() {
        let templates = EmailTemplates::builtin().unwrap();
        let mut context = EmailContext::sample(MessageKind::Invitation, "en", true);
        if let EmailContext::Invitation(c) = &mut context {
            c.inviter_name = "<script>alert(1)</script> & Co".to_owned();
        }
        let email = templates.render("en", &context).unwrap();
        assert!(
            email
                .html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co")
        );
        assert!(!email.html.contains("<script>"));
        assert!(email.text.contains("<script>alert(1)</script> & Co"));
        assert!(
            email
                .subject
                .starts_with("<script>alert(1)</script> & Co invited you")
        );
    }

    #[test]
    fn locales_fall_back_from_region_to_language_to_the_default() {
        let templates = EmailTemplates::builtin().unwrap();
        assert_eq!(templates.choose_locale(["de-AT"], "en"), "de");
        assert_eq!(templates.choose_locale(["pt-BR", "fr-CA"], "en"), "fr");
        assert_eq!(templates.choose_locale(["pt-BR"], "en"), "en");
    }

    #[test]
    fn an_unknown_variable_is_reported_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("tpl-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("de")).unwrap();
        std::fs::write(
            dir.join("de/invitation.txt.hbs"),
            "Hallo,\n{{inviter_nam}}\n",
        )
        .unwrap();
        let templates = EmailTemplates::load(Some(&dir), false).unwrap();
        let problems = templates.check();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].file.ends_with("de/invitation.txt.hbs"));
        assert_eq!(problems[0].line, Some(2));
        assert!(
            problems[0].message.contains("inviter_nam"),
            "{}",
            problems[0].message
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn with_reload_an_edited_override_shows_in_the_next_render() {
        let dir = std::env::temp_dir().join(format!("tpl-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(dir.join("en")).unwrap();
        let subject = dir.join("en/invitation.subject.hbs");
        std::fs::write(&subject, "Join us, {{invitee_email}}").unwrap();
        let templates = EmailTemplates::load(Some(&dir), true).unwrap();
        let context = EmailContext::sample(MessageKind::Invitation, "en", true);
        assert_eq!(
            templates.render("en", &context).unwrap().subject,
            "Join us, ada@example.org"
        );
        std::fs::write(&subject, "You are invited, {{invitee_email}}").unwrap();
        assert_eq!(
            templates.render("en", &context).unwrap().subject,
            "You are invited, ada@example.org"
        );
        let fixed = EmailTemplates::load(Some(&dir), false).unwrap();
        std::fs::write(&subject, "Changed again").unwrap();
        assert_eq!(
            fixed.render("en", &context).unwrap().subject,
            "You are invited, ada@example.org",
            "without reload the templates stay as loaded"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    fn key(locale: &str, part: EmailPart) -> crate::domain::TemplateKey {
        crate::domain::TemplateKey::new(MessageKind::Invitation, locale, None, part).unwrap()
    }

    fn stored(revision: u64, name: &str, version: u32, text: &str) -> StoredTemplates {
        StoredTemplates {
            revision,
            bodies: [(name.to_owned(), (version, text.to_owned()))].into(),
        }
    }

    #[test]
    fn a_stored_version_replaces_the_built_in_until_it_is_taken_away() {
        let templates = EmailTemplates::builtin().unwrap();
        let context = EmailContext::sample(MessageKind::Invitation, "de", true);
        let shipped = templates.render("de", &context).unwrap().subject;
        templates
            .apply_stored(stored(
                1,
                "de/invitation.subject",
                3,
                "Willkommen, {{invitee_email}}",
            ))
            .unwrap();
        assert_eq!(templates.stored_revision(), 1);
        assert_eq!(
            templates.render("de", &context).unwrap().subject,
            "Willkommen, ada@example.org"
        );
        let info = templates.get(&key("de", EmailPart::Subject)).unwrap();
        assert_eq!(info.origin, TemplateOrigin::Stored { version: 3 });
        assert_eq!(
            templates
                .get(&key("en", EmailPart::Subject))
                .unwrap()
                .origin,
            TemplateOrigin::BuiltIn
        );
        // A clone shares the set: the sender and the preview see the same templates.
        let clone = templates.clone();
        clone
            .apply_stored(StoredTemplates {
                revision: 2,
                bodies: Default::default(),
            })
            .unwrap();
        assert_eq!(templates.render("de", &context).unwrap().subject, shipped);
    }

    #[test]
    fn a_stored_version_adds_no_template_the_files_do_not_have() {
        let templates = EmailTemplates::builtin().unwrap();
        templates
            .apply_stored(stored(1, "es/invitation.subject", 1, "Hola"))
            .unwrap();
        assert_eq!(templates.locales(), ["de", "en", "fr"]);
        let spanish = crate::domain::TemplateKey::new(
            MessageKind::Invitation,
            "es",
            None,
            EmailPart::Subject,
        )
        .unwrap();
        assert!(templates.get(&spanish).is_none());
        let refused = templates.check_draft(&spanish, "Hola", None);
        assert!(
            refused.problems[0]
                .message
                .contains("no template es/invitation.subject")
        );
    }

    #[test]
    fn a_draft_is_checked_with_its_line_and_column_and_changes_nothing() {
        let templates = EmailTemplates::builtin().unwrap();
        let subject = key("en", EmailPart::Subject);
        let unclosed = templates.check_draft(&subject, "Hello\n{{#if invitee_name}}x", None);
        assert_eq!(unclosed.problems.len(), 1, "{unclosed:?}");
        let problem = &unclosed.problems[0];
        assert!(
            problem.line.is_some() && problem.column.is_some(),
            "{problem:?}"
        );
        let unknown = templates.check_draft(&subject, "Hi\n  {{inviter_nam}}", None);
        assert_eq!(
            author_line(&unknown.problems[0])
                .split(':')
                .take(2)
                .collect::<Vec<_>>(),
            ["2", "3"],
            "the column of its `{{`"
        );
        assert!(unknown.problems[0].message.contains("inviter_nam"));
        let partial =
            templates.check_draft(&key("en", EmailPart::Html), "{{> no_such_partial}}", None);
        assert!(
            partial.problems[0].message.contains("no_such_partial"),
            "{partial:?}"
        );
        let good = templates.check_draft(&subject, "{{inviter_name}} invites you", None);
        assert!(good.problems.is_empty(), "{good:?}");
        assert_eq!(good.subject.as_deref(), Some("Grace Hopper invites you"));
        assert!(
            good.html.unwrap().contains("Grace Hopper"),
            "the other parts render too"
        );
        let context = EmailContext::sample(MessageKind::Invitation, "en", true);
        assert_ne!(
            templates.render("en", &context).unwrap().subject,
            "Grace Hopper invites you",
            "a draft is never in force"
        );
    }

    #[test]
    fn an_html_draft_without_its_preheader_and_a_long_text_message_are_named() {
        let templates = EmailTemplates::builtin().unwrap();
        let html = templates.check_draft(
            &key("en", EmailPart::Html),
            "{{#> layout_html title=\"Hi\"}}<p>{{inviter_name}}</p>{{/layout_html}}",
            None,
        );
        assert!(
            html.problems
                .iter()
                .any(|p| p.message.contains("preheader")),
            "{html:?}"
        );
        let long = templates.check_draft(
            &key("en", EmailPart::Sms),
            &format!("{} {{{{accept_url}}}}", "word ".repeat(80)),
            None,
        );
        assert!(long.problems.is_empty(), "{long:?}");
        assert!(long.warnings[0].message.contains("segments"), "{long:?}");
    }

    #[test]
    fn a_stored_set_that_does_not_compile_leaves_the_templates_in_force() {
        let templates = EmailTemplates::builtin().unwrap();
        let context = EmailContext::sample(MessageKind::Invitation, "en", true);
        templates
            .apply_stored(stored(
                1,
                "en/invitation.subject",
                1,
                "Good {{inviter_name}}",
            ))
            .unwrap();
        let refused = templates
            .apply_stored(stored(
                2,
                "en/invitation.subject",
                2,
                "{{#if scope}}unclosed",
            ))
            .unwrap_err();
        assert!(refused.0[0].file.contains("version 2"), "{refused}");
        assert_eq!(
            templates.stored_revision(),
            2,
            "not compiled again at each check"
        );
        assert_eq!(
            templates.render("en", &context).unwrap().subject,
            "Good Grace Hopper"
        );
    }

    #[test]
    fn a_draft_that_could_render_without_end_is_refused_before_it_renders() {
        let templates = EmailTemplates::builtin().unwrap();
        let subject = key("en", EmailPart::Subject);
        let refused = |body: &str| {
            let checked = templates.check_draft(&subject, body, None);
            assert_eq!(checked.problems.len(), 1, "{body}: {checked:?}");
            checked.problems[0].clone()
        };
        // Two inline partials calling each other would recurse until the stack overflows.
        let mutual = refused(
            "{{#*inline \"a\"}}{{> b}}{{/inline}}{{#*inline \"b\"}}{{> a}}{{/inline}}{{> a}}",
        );
        assert!(mutual.message.contains("inline partial"), "{mutual:?}");
        assert_eq!(
            (mutual.line, mutual.column),
            (Some(1), Some(17)),
            "at its `{{> b}}`"
        );
        let nested_loops = refused(
            "{{#each groups}}{{#each ../groups}}{{#each ../../groups}}x{{/each}}{{/each}}{{/each}}",
        );
        assert!(nested_loops.message.contains("#each"), "{nested_loops:?}");
        let deep = format!("{}x{}", "{{#if scope}}".repeat(17), "{{/if}}".repeat(17));
        assert!(refused(&deep).message.contains("nest"));
        let parens = format!(
            "{{{{lookup {}groups{} 0}}}}",
            "(lookup ".repeat(9),
            " 0)".repeat(9)
        );
        assert!(refused(&parens).message.contains("subexpressions"));
        assert!(
            refused("{{> (lookup . \"role\")}}")
                .message
                .contains("expression")
        );
        assert!(refused("{{> @partial-block}}").message.contains("layouts"));
        // What the shipped templates do stays allowed.
        for (name, text) in BUILTIN {
            if !name.starts_with("partials/") {
                assert_eq!(guard_draft(text), Ok(()), "{name}");
            }
        }
        let html = key("en", EmailPart::Html);
        let shipped = templates.get(&html).unwrap().body;
        assert!(
            templates
                .check_draft(&html, &shipped, None)
                .problems
                .is_empty()
        );
    }
}
