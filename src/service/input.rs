//! Raw inputs from transports and their parsing into domain drafts.

use serde_json::Value;

use super::Settings;
use crate::domain::{
    Channel, Contact, EmailAddress, Groups, InvitationDetails, InvitationDraft, IsoDuration,
    Locale, Metadata, PersonName, PhoneNumber, RedirectUrl, Role, Scope, TemplateVariant,
    ValidationError, ValidityPolicy,
};
use crate::email::EmailTemplates;
use crate::ports::Principal;

/// What to do when a PENDING invitation for the same email (or phone) and scope exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnDuplicate {
    /// Fail with DUPLICATE_PENDING_INVITATION naming the existing invitation.
    #[default]
    Error,
    /// Resend the existing invitation instead (new secret, new expiry, new email).
    Resend,
}

/// A create request as a transport received it: nothing validated yet.
#[derive(Debug, Clone)]
pub struct CreateInvitation {
    /// Required for an email invitation; optional for an SMS one.
    pub email: Option<String>,
    /// Required for an SMS invitation (international form); optional for an email one.
    pub phone: Option<String>,
    pub channel: Channel,
    pub name: Option<String>,
    pub role: String,
    pub groups: Vec<String>,
    pub metadata: Option<Value>,
    pub locale: Option<String>,
    pub scope: Option<String>,
    pub valid_for: Option<String>,
    pub redirect_url: Option<String>,
    /// A variant of the invitation message (`partner`); `None`: the base template.
    pub template: Option<String>,
    /// Send the invitation through its channel (false: the editor shares the link).
    pub send_email: bool,
    pub on_duplicate: OnDuplicate,
    /// The creating request's `Accept-Language` header: the email's locale when the
    /// invitation has none.
    pub accept_language: Option<String>,
}

impl CreateInvitation {
    /// An email invitation with only the required fields, sending the email.
    pub fn new(email: impl Into<String>, role: impl Into<String>) -> Self {
        Self {
            email: Some(email.into()),
            phone: None,
            channel: Channel::Email,
            name: None,
            role: role.into(),
            groups: Vec::new(),
            metadata: None,
            locale: None,
            scope: None,
            valid_for: None,
            redirect_url: None,
            template: None,
            send_email: true,
            on_duplicate: OnDuplicate::Error,
            accept_language: None,
        }
    }
}

/// A create request after validation.
#[derive(Debug, Clone)]
pub(crate) struct ParsedCreate {
    pub draft: InvitationDraft,
    /// `validFor` resolved against the policy: the override, else the default.
    pub validity: IsoDuration,
    pub on_duplicate: OnDuplicate,
    /// From `Accept-Language`, most preferred first.
    pub request_locales: Vec<String>,
}

fn optional<T>(
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, ValidationError>,
) -> Result<Option<T>, ValidationError> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(parse)
        .transpose()
}

/// `validFor` as a transport gave it, resolved once against the policy: the override (which
/// must lie inside the bounds), else the default.
pub(crate) fn resolve_valid_for(
    value: Option<&str>,
    policy: &ValidityPolicy,
) -> Result<IsoDuration, ValidationError> {
    policy.resolve(optional(value, IsoDuration::parse)?)
}

/// `name` as a variant the templates have: an unknown one is refused now, at create, rather
/// than failing the delivery later.
fn known_variant(
    name: &str,
    templates: &EmailTemplates,
) -> Result<TemplateVariant, ValidationError> {
    let variant = TemplateVariant::parse(name)?;
    if templates.has_variant(variant.as_str()) {
        return Ok(variant);
    }
    let known = templates.variants();
    Err(ValidationError::new(
        "template",
        if known.is_empty() {
            format!("unknown template variant {name:?}: there are none")
        } else {
            format!(
                "unknown template variant {name:?}; there are: {}",
                known.join(", ")
            )
        },
    ))
}

/// Validates every field; the first problem is returned, naming its field.
pub(crate) fn parse_create(
    input: CreateInvitation,
    principal: &Principal,
    settings: &Settings,
) -> Result<ParsedCreate, ValidationError> {
    let contact = Contact::new(
        input.channel,
        optional(input.email.as_deref(), EmailAddress::parse)?,
        optional(input.phone.as_deref(), PhoneNumber::parse)?,
    )?;
    let role = Role::parse(&input.role)?;
    if !settings
        .roles
        .invitee_roles()
        .iter()
        .any(|r| r == role.as_str())
    {
        return Err(ValidationError::new(
            "role",
            format!(
                "unknown role {:?}; invitees may get one of: {}",
                role.as_str(),
                settings.roles.invitee_roles().join(", ")
            ),
        ));
    }
    if !principal.may_grant(&role) {
        return Err(ValidationError::new(
            "role",
            format!("your role may not grant {:?}", role.as_str()),
        ));
    }
    let validity = resolve_valid_for(input.valid_for.as_deref(), &settings.validity)?;
    let metadata = match input.metadata {
        None | Some(Value::Null) => Metadata::default(),
        Some(value) => Metadata::parse(value, settings.metadata_max_bytes)?,
    };
    let groups = Groups::parse(&input.groups)?;
    if let Some(group) = groups.iter().find(|g| !principal.may_grant_group(g)) {
        return Err(ValidationError::new(
            "groups",
            format!("your role may not give the group {group:?}"),
        ));
    }
    let details = InvitationDetails {
        contact,
        name: optional(input.name.as_deref(), PersonName::parse)?,
        role,
        groups,
        metadata,
        locale: optional(input.locale.as_deref(), Locale::parse)?,
        scope: optional(input.scope.as_deref(), Scope::parse)?,
        redirect_url: optional(input.redirect_url.as_deref(), |url| {
            RedirectUrl::parse(url, &settings.redirect_allow_list)
        })?,
        template: optional(input.template.as_deref(), |name| {
            known_variant(name, &settings.email.templates)
        })?,
    };
    let draft = InvitationDraft {
        details,
        send_email: input.send_email,
    };
    Ok(ParsedCreate {
        draft,
        validity,
        on_duplicate: input.on_duplicate,
        request_locales: input
            .accept_language
            .as_deref()
            .map(super::accept_language_tags)
            .unwrap_or_default(),
    })
}
