//! The permission checks every use case makes, in one place for every transport.

use crate::domain::Role;
use crate::error::{Error, Result};
use crate::ports::Principal;

/// UNAUTHENTICATED without a principal, FORBIDDEN without read permission.
pub(crate) fn require_reader(principal: Option<&Principal>) -> Result<&Principal> {
    let principal = principal.ok_or(Error::Unauthenticated)?;
    if principal.can_read() {
        Ok(principal)
    } else {
        Err(Error::Forbidden(
            "your role may not read invitations".into(),
        ))
    }
}

/// UNAUTHENTICATED without a principal, FORBIDDEN when it may grant no role at all.
pub(crate) fn require_manager(principal: Option<&Principal>) -> Result<&Principal> {
    let principal = principal.ok_or(Error::Unauthenticated)?;
    if principal.can_manage() {
        Ok(principal)
    } else {
        Err(Error::Forbidden(
            "your role may not create, resend or revoke invitations".into(),
        ))
    }
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
