//! Who is asking, and what they may do: what an [`Authenticator`](super::Authenticator)
//! produces and every use case checks.

use std::collections::BTreeSet;

use crate::config::RolePolicy;
use crate::domain::{Actor, EmailAddress, Role};

/// An authenticated editor (or a host's user) with its permissions resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    actor: Actor,
    email: Option<EmailAddress>,
    can_read: bool,
    grantable_roles: BTreeSet<String>,
    manages_webhooks: bool,
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
            manages_webhooks: false,
        }
    }

    /// Lets the principal manage webhook endpoints (admins).
    #[must_use]
    pub fn with_webhooks(mut self, manages_webhooks: bool) -> Self {
        self.manages_webhooks = manages_webhooks;
        self
    }

    pub fn manages_webhooks(&self) -> bool {
        self.manages_webhooks
    }

    /// A principal holding one configured role; `None` when the role is not configured.
    pub fn with_role(policy: &RolePolicy, actor: Actor, role: &str) -> Option<Self> {
        let permissions = policy.permissions(role)?;
        Some(
            Self::new(actor, permissions.read, permissions.grants.iter().cloned())
                .with_webhooks(permissions.webhooks),
        )
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
