//! What a caller may do, as an admin UI needs to know it before offering anything.

use super::InvitationService;
use crate::domain::{Actor, IsoDuration};
use crate::ports::Principal;

/// The caller's permissions and the choices a create form offers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub actor: Actor,
    pub can_read: bool,
    /// The invitee roles this caller may give, in the configured order (empty: may not create,
    /// resend or revoke).
    pub grantable_roles: Vec<String>,
    /// Locales that have email templates.
    pub email_locales: Vec<String>,
    /// The email locale of invitations that name none (and whose request names none).
    pub default_locale: String,
    pub default_validity: IsoDuration,
    pub min_validity: IsoDuration,
    pub max_validity: IsoDuration,
    /// May manage webhook endpoints.
    pub can_manage_webhooks: bool,
    /// May delete invitations and erase invitees.
    pub can_erase: bool,
    /// May save, revert and delete stored email templates.
    pub can_edit_templates: bool,
    /// The event types webhook endpoints and subscriptions can ask for.
    pub event_types: Vec<String>,
    /// The scopes the caller is limited to, in order; `None`: every scope.
    pub scopes: Option<Vec<String>>,
    /// The groups the caller may give, in order; `None`: any group.
    pub grantable_groups: Option<Vec<String>>,
    /// Every invitee role and its display name in the asked locale, in the configured order.
    pub role_names: Vec<(String, String)>,
    /// The variants of the invitation message.
    pub template_variants: Vec<String>,
}

impl InvitationService {
    /// Who `principal` is and what it may do, with role names in `locale` (its tag, its
    /// language, else English); `None` for an anonymous caller.
    pub fn viewer(&self, principal: Option<&Principal>, locale: &str) -> Option<Viewer> {
        let principal = principal?;
        let settings = self.settings();
        let grantable_roles = settings
            .roles
            .invitee_roles()
            .iter()
            .filter(|role| principal.grantable_roles().any(|g| g == role.as_str()))
            .cloned()
            .collect();
        Some(Viewer {
            actor: principal.actor().clone(),
            can_read: principal.can_read(),
            grantable_roles,
            email_locales: settings.email.templates.locales(),
            default_locale: settings.email.default_locale.clone(),
            default_validity: settings.validity.default_validity(),
            min_validity: settings.validity.min(),
            max_validity: settings.validity.max(),
            can_manage_webhooks: principal.manages_webhooks(),
            can_erase: principal.may_erase(),
            can_edit_templates: principal.edits_templates(),
            event_types: crate::domain::EventType::published()
                .map(|t| t.as_str().to_owned())
                .collect(),
            scopes: principal.scopes().map(|s| s.iter().cloned().collect()),
            grantable_groups: principal
                .grantable_groups()
                .map(|g| g.iter().cloned().collect()),
            role_names: settings
                .roles
                .invitee_roles()
                .iter()
                .map(|role| {
                    (
                        role.clone(),
                        settings.roles.display_name(role, locale).to_owned(),
                    )
                })
                .collect(),
            template_variants: settings.email.templates.variants(),
        })
    }
}
