//! Who is asking, and what they may do: what an [`Authenticator`](super::Authenticator)
//! produces and every use case checks.

use std::collections::BTreeSet;

use crate::config::RolePolicy;
use crate::domain::{Actor, EmailAddress, Role, Scope};

/// An authenticated editor (or a host's user) with its permissions resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    actor: Actor,
    email: Option<EmailAddress>,
    can_read: bool,
    grantable_roles: BTreeSet<String>,
    /// The groups it may put invitees in; `None`: any.
    grantable_groups: Option<BTreeSet<String>>,
    /// The scopes it works in; `None`: every invitation, scoped or not.
    scopes: Option<BTreeSet<String>>,
    manages_webhooks: bool,
    may_erase: bool,
    edits_templates: bool,
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
            grantable_groups: None,
            scopes: None,
            manages_webhooks: false,
            may_erase: false,
            edits_templates: false,
        }
    }

    /// Lets the principal delete invitations and erase invitees (admins), within its scopes.
    #[must_use]
    pub fn with_erasure(mut self, may_erase: bool) -> Self {
        self.may_erase = may_erase;
        self
    }

    pub fn may_erase(&self) -> bool {
        self.may_erase
    }

    /// May save, revert and delete stored email templates.
    #[must_use]
    pub fn with_templates(mut self, edits_templates: bool) -> Self {
        self.edits_templates = edits_templates;
        self
    }

    /// Every scope's messages use the templates, so a principal limited to scopes does not
    /// edit them.
    pub fn edits_templates(&self) -> bool {
        self.edits_templates && self.scopes.is_none()
    }

    /// Limits the principal to invitations in `scopes`: it reads, lists, counts, resends,
    /// revokes, deletes and receives events of those only, and creates invitations in one of
    /// them. An empty list leaves it unlimited.
    #[must_use]
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        let scopes: BTreeSet<String> = scopes.into_iter().map(|s| s.as_str().to_owned()).collect();
        self.scopes = (!scopes.is_empty()).then_some(scopes);
        self
    }

    /// Limits the groups the principal may put invitees in (`None`: any group).
    #[must_use]
    pub fn with_grantable_groups(mut self, groups: Option<BTreeSet<String>>) -> Self {
        self.grantable_groups = groups;
        self
    }

    /// Lets the principal manage webhook endpoints (admins).
    #[must_use]
    pub fn with_webhooks(mut self, manages_webhooks: bool) -> Self {
        self.manages_webhooks = manages_webhooks;
        self
    }

    /// Webhook endpoints receive every invitation's events, so a principal limited to some
    /// scopes never manages them.
    pub fn manages_webhooks(&self) -> bool {
        self.manages_webhooks && self.scopes.is_none()
    }

    /// The scopes the principal is limited to; `None` when it is not.
    pub fn scopes(&self) -> Option<&BTreeSet<String>> {
        self.scopes.as_ref()
    }

    /// Whether an invitation in `scope` (none: unscoped) is within the principal's reach.
    pub fn reaches(&self, scope: Option<&str>) -> bool {
        match (&self.scopes, scope) {
            (None, _) => true,
            (Some(scopes), Some(scope)) => scopes.contains(scope),
            (Some(_), None) => false,
        }
    }

    /// Whether the principal may put invitees in `group`.
    pub fn may_grant_group(&self, group: &str) -> bool {
        self.grantable_groups
            .as_ref()
            .is_none_or(|groups| groups.contains(group))
    }

    /// The groups the principal may give, when limited.
    pub fn grantable_groups(&self) -> Option<&BTreeSet<String>> {
        self.grantable_groups.as_ref()
    }

    /// A principal holding one configured role; `None` when the role is not configured.
    pub fn with_role(policy: &RolePolicy, actor: Actor, role: &str) -> Option<Self> {
        let permissions = policy.permissions(role)?;
        Some(
            Self::new(actor, permissions.read, permissions.grants.iter().cloned())
                .with_webhooks(permissions.webhooks)
                .with_erasure(permissions.erase)
                .with_templates(permissions.templates)
                .with_grantable_groups(permissions.groups.clone()),
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
