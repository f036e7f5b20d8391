//! What each kind of email may use: one typed context per kind. `templates check` renders every
//! template with the samples below in strict mode, so a template that names a variable its
//! context does not have is caught before it reaches a mailbox.

use std::fmt;

use serde::Serialize;

pub use crate::domain::EmailPart;
use crate::domain::{MessageKind, REDACTED};

/// The variables a template of `kind` may use, for the docs and `templates check`.
pub fn template_variables(kind: MessageKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        MessageKind::Invitation => &[
            (
                "product_name",
                "the CMS's name (setting `email_product_name`)",
            ),
            ("lang", "the chosen locale, e.g. `de-AT`"),
            ("invitee_name", "the invitee's name, if the editor gave one"),
            (
                "invitee_email",
                "the invited address (none for an SMS invitation without one)",
            ),
            (
                "invitee_phone",
                "the invitee's mobile number in E.164, if given",
            ),
            ("inviter_name", "who sent the invitation"),
            (
                "role",
                "the role the account will get, by its name in the email's language (`roles.names`)",
            ),
            ("scope", "team, workspace or company, if any"),
            ("groups", "list of group names (may be empty)"),
            (
                "accept_url",
                "the link with the secret; show it as a button and as text",
            ),
            ("expires_at", "end of validity, formatted for the locale"),
        ],
        MessageKind::InvitationExtended => &[
            ("product_name", "the CMS's name"),
            ("lang", "the chosen locale"),
            ("invitee_name", "the invitee's name, if the editor gave one"),
            ("inviter_name", "who sent the invitation"),
            ("scope", "team, workspace or company, if any"),
            (
                "expires_at",
                "the new end of validity, formatted for the locale",
            ),
        ],
        MessageKind::InvitationAccepted => &[
            ("product_name", "the CMS's name"),
            ("lang", "the chosen locale"),
            ("inviter_name", "who sent the invitation (the recipient)"),
            ("invitee_name", "the new member's name, if known"),
            ("invitee_email", "the new member's email, if any"),
            ("invitee_phone", "the new member's mobile number, if any"),
            (
                "invitee_address",
                "how the inviter knows the new member: the email, else the phone",
            ),
            (
                "role",
                "the role the account got, by its name in the email's language",
            ),
            ("scope", "team, workspace or company, if any"),
            (
                "accepted_at",
                "when it was accepted, formatted for the locale",
            ),
        ],
    }
}

/// A variable a template of one kind may use, with what the full sample gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVariable {
    pub name: &'static str,
    pub description: &'static str,
    /// The sample's value as a template would print it (a list as its items joined by `, `);
    /// `None` when the sample leaves it out.
    pub sample: Option<String>,
}

/// The variables of `kind` with their values in the full sample for `locale`.
pub fn template_variable_samples(kind: MessageKind, locale: &str) -> Vec<TemplateVariable> {
    let sample = serde_json::to_value(EmailContext::sample(kind, locale, true)).unwrap_or_default();
    template_variables(kind)
        .iter()
        .map(|&(name, description)| TemplateVariable {
            name,
            description,
            sample: match sample.get(name) {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::String(text)) => Some(text.clone()),
                Some(serde_json::Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|item| {
                            item.as_str()
                                .map_or_else(|| item.to_string(), str::to_owned)
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                Some(other) => Some(other.to_string()),
            },
        })
        .collect()
}

/// Context of the `invitation` email. `accept_url` holds the secret, so `Debug` hides it.
#[derive(Clone, Serialize)]
pub struct InvitationContext {
    pub product_name: String,
    pub lang: String,
    pub invitee_name: Option<String>,
    pub invitee_email: Option<String>,
    pub invitee_phone: Option<String>,
    pub inviter_name: String,
    pub role: String,
    pub scope: Option<String>,
    pub groups: Vec<String>,
    pub accept_url: String,
    pub expires_at: String,
}

impl fmt::Debug for InvitationContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvitationContext")
            .field("lang", &self.lang)
            .field("invitee_email", &self.invitee_email)
            .field("role", &self.role)
            .field("accept_url", &REDACTED)
            .finish_non_exhaustive()
    }
}

/// Context of the `invitation_accepted` notice.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptedContext {
    pub product_name: String,
    pub lang: String,
    pub inviter_name: String,
    pub invitee_name: Option<String>,
    pub invitee_email: Option<String>,
    pub invitee_phone: Option<String>,
    pub invitee_address: String,
    pub role: String,
    pub scope: Option<String>,
    pub accepted_at: String,
}

/// Context of the `invitation_extended` notice: no link, by design.
#[derive(Debug, Clone, Serialize)]
pub struct ExtendedContext {
    pub product_name: String,
    pub lang: String,
    pub invitee_name: Option<String>,
    pub inviter_name: String,
    pub scope: Option<String>,
    pub expires_at: String,
}

/// A context of any kind, ready to render.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EmailContext {
    Invitation(InvitationContext),
    InvitationAccepted(AcceptedContext),
    InvitationExtended(ExtendedContext),
}

impl EmailContext {
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Invitation(_) => MessageKind::Invitation,
            Self::InvitationAccepted(_) => MessageKind::InvitationAccepted,
            Self::InvitationExtended(_) => MessageKind::InvitationExtended,
        }
    }

    pub fn set_product_name(&mut self, name: &str) {
        match self {
            Self::Invitation(c) => name.clone_into(&mut c.product_name),
            Self::InvitationAccepted(c) => name.clone_into(&mut c.product_name),
            Self::InvitationExtended(c) => name.clone_into(&mut c.product_name),
        }
    }

    /// Sample data for previews and checks. `full` fills every optional field; the minimal
    /// sample leaves them empty, so both branches of `{{#if}}` are rendered.
    pub fn sample(kind: MessageKind, lang: &str, full: bool) -> Self {
        let at = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
        let language = lang.split('-').next().unwrap_or(lang);
        let when = super::dates::format_date_time(at, language);
        let product_name = "Acme CMS".to_owned();
        // As emails show roles: by name, in the email's language.
        let role = match language {
            "de" => "Autor",
            "fr" => "Auteur",
            _ => "Author",
        }
        .to_owned();
        match kind {
            MessageKind::Invitation => Self::Invitation(InvitationContext {
                product_name,
                lang: lang.to_owned(),
                invitee_name: full.then(|| "Ada Lovelace".to_owned()),
                invitee_email: Some("ada@example.org".to_owned()),
                invitee_phone: full.then(|| "+4915112345678".to_owned()),
                inviter_name: "Grace Hopper".to_owned(),
                role,
                scope: full.then(|| "Analytical Engines Ltd".to_owned()),
                groups: if full {
                    vec![
                        "docs".to_owned(),
                        "research".to_owned(),
                        "review".to_owned(),
                    ]
                } else {
                    Vec::new()
                },
                accept_url: "https://cms.example.org/accept#secret=SAMPLE-SECRET-NOT-A-REAL-LINK"
                    .to_owned(),
                expires_at: when,
            }),
            MessageKind::InvitationExtended => Self::InvitationExtended(ExtendedContext {
                product_name,
                lang: lang.to_owned(),
                invitee_name: full.then(|| "Ada Lovelace".to_owned()),
                inviter_name: "Grace Hopper".to_owned(),
                scope: full.then(|| "Analytical Engines Ltd".to_owned()),
                expires_at: when,
            }),
            MessageKind::InvitationAccepted => Self::InvitationAccepted(AcceptedContext {
                product_name,
                lang: lang.to_owned(),
                inviter_name: "Grace Hopper".to_owned(),
                invitee_name: full.then(|| "Ada Lovelace".to_owned()),
                invitee_email: Some("ada@example.org".to_owned()),
                invitee_phone: full.then(|| "+4915112345678".to_owned()),
                invitee_address: "ada@example.org".to_owned(),
                role,
                scope: full.then(|| "Analytical Engines Ltd".to_owned()),
                accepted_at: when,
            }),
        }
    }
}
