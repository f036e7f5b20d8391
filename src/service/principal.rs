//! Who is asking, and what they may do.

use std::collections::BTreeSet;

use crate::config::RolePolicy;
use crate::domain::{Actor, EmailAddress, Role};
use crate::error::{Error, Result};

/// An authenticated editor (or a host's user) with its permissions resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    actor: Actor,
    email: Option<EmailAddress>,
    can_read: bool,
    grantable_roles: BTreeSet<String>,
}

impl Principal {
    /// A principal with explicit permissions, for hosts with their own permission model.
    pub fn new(
        actor: Actor,
        can_read: bool,
        grantable_roles: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            actor,
            email: None,
            can_read,
            grantable_roles: grantable_roles.into_iter().collect(),
        }
    }

    /// A principal holding one configured role; `None` when the role is not configured.
    pub fn with_role(policy: &RolePolicy, actor: Actor, role: &str) -> Option<Self> {
        let permissions = policy.permissions(role)?;
        Some(Self::new(
            actor,
            permissions.read,
            permissions.grants.iter().cloned(),
        ))
    }

    /// The principal's address, where "invitation accepted" notices go. Without one, no
    /// notice is sent for invitations this principal creates.
    #[must_use]
    pub fn with_email(mut self, email: Option<EmailAddress>) -> Self {
        self.email = email;
        self
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn email(&self) -> Option<&EmailAddress> {
        self.email.as_ref()
    }

    pub fn can_read(&self) -> bool {
        self.can_read
    }

    /// Creating, resending and revoking need at least one grantable role.
    pub fn can_manage(&self) -> bool {
        !self.grantable_roles.is_empty()
    }

    pub fn may_grant(&self, role: &Role) -> bool {
        self.grantable_roles.contains(role.as_str())
    }

    pub fn grantable_roles(&self) -> impl Iterator<Item = &str> {
        self.grantable_roles.iter().map(String::as_str)
    }
}

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
