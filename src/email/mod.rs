//! Localized emails: Handlebars templates per locale and kind, typed contexts, dates written as
//! each language writes them.

mod context;
mod dates;
mod page_messages;
mod sms;
mod templates;
mod transport;

pub use context::{
    AcceptedContext, EmailContext, EmailPart, ExtendedContext, InvitationContext,
    template_variables,
};
pub use dates::format_date_time;
pub use page_messages::{Page, PageMessages};
pub use sms::{SmsEncoding, SmsLength, fold_to_gsm7};
pub use templates::{
    EmailTemplates, RenderedEmail, RenderedSms, SMS_SEGMENT_BUDGET, SmsMeasure, TemplateProblem,
    TemplateProblems,
};
pub use transport::{FileMailer, Sender, SmtpMailer, prune_outbox};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageKind;

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
        let mut built_in: Vec<String> = templates::BUILTIN
            .iter()
            .map(|(p, _)| (*p).to_owned())
            .collect();
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
}
