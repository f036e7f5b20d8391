//! The permission checks every use case makes, in one place for every transport.

use crate::domain::{Invitation, Role, Scope};
use crate::error::{Error, Result};
use crate::ports::Principal;

/// UNAUTHENTICATED without a principal, FORBIDDEN with `refusal` when `may` says no.
fn require<'p>(
    principal: Option<&'p Principal>,
    may: fn(&Principal) -> bool,
    refusal: &str,
) -> Result<&'p Principal> {
    let principal = principal.ok_or(Error::Unauthenticated)?;
    if may(principal) {
        Ok(principal)
    } else {
        Err(Error::Forbidden(refusal.to_owned()))
    }
}

/// FORBIDDEN without read permission.
pub(crate) fn require_reader(principal: Option<&Principal>) -> Result<&Principal> {
    require(
        principal,
        Principal::can_read,
        "your role may not read invitations",
    )
}

/// FORBIDDEN when it may grant no role at all.
pub(crate) fn require_manager(principal: Option<&Principal>) -> Result<&Principal> {
    require(
        principal,
        Principal::can_manage,
        "your role may not create, resend or revoke invitations",
    )
}

/// FORBIDDEN without the `erase` permission.
pub(crate) fn require_eraser(principal: Option<&Principal>) -> Result<&Principal> {
    require(
        principal,
        Principal::may_erase,
        "your role may not delete invitations or erase invitees",
    )
}

/// FORBIDDEN without the `webhooks` permission, and for any principal limited to scopes.
pub(crate) fn require_webhook_admin(principal: Option<&Principal>) -> Result<&Principal> {
    let refusal = if principal.is_some_and(|p| p.scopes().is_some()) {
        "a principal limited to scopes may not manage webhooks: endpoints receive every scope's events"
    } else {
        "your role may not manage webhooks"
    };
    require(principal, Principal::manages_webhooks, refusal)
}

/// FORBIDDEN without the `templates` permission, and for any principal limited to scopes.
pub(crate) fn require_template_editor(principal: Option<&Principal>) -> Result<&Principal> {
    let refusal = if principal.is_some_and(|p| p.scopes().is_some()) {
        "a principal limited to scopes may not edit email templates: every scope's messages use them"
    } else {
        "your role may not edit email templates"
    };
    require(principal, Principal::edits_templates, refusal)
}

/// FORBIDDEN unless it may read invitations or edit templates: both may list and preview the
/// templates.
pub(crate) fn require_template_reader(principal: Option<&Principal>) -> Result<&Principal> {
    require(
        principal,
        |p| p.can_read() || p.edits_templates(),
        "your role may not read the email templates",
    )
}

/// Resending or revoking an invitation needs the right to grant its role.
pub(crate) fn require_grant(principal: &Principal, role: &Role) -> Result<()> {
    if principal.may_grant(role) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "your role may not manage invitations for the role {}",
            role.as_str()
        )))
    }
}

/// NOT_FOUND for an invitation outside the principal's scopes: to a principal limited to some
/// scopes, an invitation elsewhere is indistinguishable from one that does not exist.
pub(crate) fn require_reach(principal: &Principal, invitation: &Invitation) -> Result<()> {
    if principal.reaches(invitation.details.scope.as_ref().map(Scope::as_str)) {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// A principal limited to scopes creates invitations in one of them.
pub(crate) fn require_scope_to_create(principal: &Principal, scope: Option<&Scope>) -> Result<()> {
    let Some(scopes) = principal.scopes() else {
        return Ok(());
    };
    if principal.reaches(scope.map(Scope::as_str)) {
        return Ok(());
    }
    let yours = scopes
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    Err(Error::Forbidden(match scope {
        None => format!("name a scope: you create invitations only in yours ({yours})"),
        Some(scope) => format!(
            "you may not create invitations in the scope {:?}; yours: {yours}",
            scope.as_str()
        ),
    }))
}

/// Resending or revoking an invitation needs the right to give each of its groups.
pub(crate) fn require_groups(principal: &Principal, invitation: &Invitation) -> Result<()> {
    match invitation
        .details
        .groups
        .iter()
        .find(|group| !principal.may_grant_group(group))
    {
        None => Ok(()),
        Some(group) => Err(Error::Forbidden(format!(
            "your role may not manage invitations to the group {:?}",
            group
        ))),
    }
}
