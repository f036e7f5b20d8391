//! Message templates as content: which template a stored version replaces, and the versions
//! themselves. Each save appends a version; the latest version of a template is its current
//! text, or, when it is a deletion, says that the folder or built-in template applies again.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Actor, Locale, MessageKind, TemplateVariant, ValidationError, string_enum};

string_enum! {
    /// The parts of a message: subject line, HTML body, plain-text body, and the text message
    /// an SMS invitation sends. The text is the file name suffix before `.hbs`.
    pub enum EmailPart ("email part") {
        Subject = "subject",
        Html = "html",
        Text = "txt",
        Sms = "sms",
    }
}

impl EmailPart {
    /// The parts a locale has for `kind`: an email's three, and the invitation's text message.
    pub fn of(kind: MessageKind) -> &'static [EmailPart] {
        match kind {
            MessageKind::Invitation | MessageKind::InvitationExtended => {
                &[Self::Subject, Self::Html, Self::Text, Self::Sms]
            }
            MessageKind::InvitationAccepted => &[Self::Subject, Self::Html, Self::Text],
        }
    }
}

/// One template: a part of one kind of message in one locale, of the base message or of a
/// variant of the invitation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TemplateKey {
    pub kind: MessageKind,
    pub locale: Locale,
    pub variant: Option<TemplateVariant>,
    pub part: EmailPart,
}

impl TemplateKey {
    /// Checks that the kind has the part and that only the invitation names a variant.
    pub fn new(
        kind: MessageKind,
        locale: &str,
        variant: Option<&str>,
        part: EmailPart,
    ) -> Result<Self, ValidationError> {
        let locale = Locale::parse(locale)?;
        let variant = match variant.map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(_) if kind != MessageKind::Invitation => {
                return Err(ValidationError::new(
                    "variant",
                    "only the invitation message has variants",
                ));
            }
            Some(name) => Some(TemplateVariant::parse(name).map_err(|e| e.for_field("variant"))?),
        };
        if !EmailPart::of(kind).contains(&part) {
            return Err(ValidationError::new(
                "part",
                format!("the {kind} message has no {part} part"),
            ));
        }
        Ok(Self {
            kind,
            locale,
            variant,
            part,
        })
    }

    /// The template's name in the set: `de/invitation.subject`, `de/partner/invitation.html`
    /// (its path under `email-templates/` without `.hbs`).
    pub fn name(&self) -> String {
        match &self.variant {
            Some(variant) => format!(
                "{}/{}/{}.{}",
                self.locale.as_str(),
                variant.as_str(),
                self.kind,
                self.part
            ),
            None => format!("{}/{}.{}", self.locale.as_str(), self.kind, self.part),
        }
    }
}

/// Longest stored template, in bytes (the shipped HTML bodies are under 3 KiB).
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Longest comment on a version, in characters.
pub const MAX_TEMPLATE_COMMENT_CHARS: usize = 500;

/// One saved version of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersion {
    pub id: Uuid,
    pub key: TemplateKey,
    /// 1 for a template's first save, then one more for each.
    pub version: u32,
    /// The Handlebars source; `None` for a deletion (the folder or built-in template applies
    /// again).
    pub body: Option<String>,
    pub comment: String,
    pub author: Actor,
    pub saved_at: DateTime<Utc>,
}

/// A version's comment: trimmed, at most [`MAX_TEMPLATE_COMMENT_CHARS`], one line.
pub fn template_comment(input: &str) -> Result<String, ValidationError> {
    let comment = input.trim();
    if comment.chars().count() > MAX_TEMPLATE_COMMENT_CHARS {
        return Err(ValidationError::new(
            "comment",
            format!("a comment is at most {MAX_TEMPLATE_COMMENT_CHARS} characters"),
        ));
    }
    if comment.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "comment",
            "a comment is one line without control characters",
        ));
    }
    Ok(comment.to_owned())
}

/// A template's source: at most [`MAX_TEMPLATE_BYTES`], without NUL.
pub fn template_body(input: &str) -> Result<&str, ValidationError> {
    if input.len() > MAX_TEMPLATE_BYTES {
        return Err(ValidationError::new(
            "source",
            format!("a template is at most {} KiB", MAX_TEMPLATE_BYTES / 1024),
        ));
    }
    if input.contains('\0') {
        return Err(ValidationError::new(
            "source",
            "a template holds no NUL character",
        ));
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_its_template_as_the_folder_does() {
        let key = TemplateKey::new(
            MessageKind::Invitation,
            "de",
            Some("partner"),
            EmailPart::Html,
        )
        .unwrap();
        assert_eq!(key.name(), "de/partner/invitation.html");
        let key =
            TemplateKey::new(MessageKind::InvitationAccepted, "fr", None, EmailPart::Text).unwrap();
        assert_eq!(key.name(), "fr/invitation_accepted.txt");
    }

    #[test]
    fn a_key_refuses_parts_and_variants_a_kind_does_not_have() {
        let no_sms = TemplateKey::new(MessageKind::InvitationAccepted, "en", None, EmailPart::Sms)
            .unwrap_err();
        assert_eq!(no_sms.field(), "part");
        let variant = TemplateKey::new(
            MessageKind::InvitationExtended,
            "en",
            Some("partner"),
            EmailPart::Subject,
        )
        .unwrap_err();
        assert_eq!(variant.field(), "variant");
        let path = TemplateKey::new(MessageKind::Invitation, "../en", None, EmailPart::Subject)
            .unwrap_err();
        assert_eq!(path.field(), "locale");
        let bad_variant = TemplateKey::new(
            MessageKind::Invitation,
            "en",
            Some("../x"),
            EmailPart::Subject,
        )
        .unwrap_err();
        assert_eq!(bad_variant.field(), "variant");
    }

    #[test]
    fn comments_are_one_short_line_and_bodies_are_bounded() {
        assert_eq!(
            template_comment("  friendlier subject ").unwrap(),
            "friendlier subject"
        );
        assert!(template_comment("two\nlines").is_err());
        assert!(template_comment(&"x".repeat(501)).is_err());
        assert!(template_body(&"x".repeat(MAX_TEMPLATE_BYTES + 1)).is_err());
        assert!(template_body("a\0b").is_err());
    }
}
