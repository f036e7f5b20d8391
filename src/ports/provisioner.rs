//! Account provisioning on acceptance: the port a host implements to create or link the
//! invitee's account in its own user store.

use std::fmt::{self, Debug};

use async_trait::async_trait;

use crate::domain::Invitation;
use crate::error::Result;

/// Input for accepting: both optional; a new account gets them.
#[derive(Clone, Default)]
pub struct AcceptInput {
    pub name: Option<String>,
    pub password: Option<String>,
}

impl Debug for AcceptInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceptInput")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The account an accept will create or link, decided before the accept is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionPlan {
    pub user_id: String,
    pub existing_user: bool,
}

/// Creates or links the account of an accepted invitation. A host implements this to create
/// users in its own user store.
#[async_trait]
pub trait AccountProvisioner: Send + Sync + Debug {
    /// Checks that `invitation` can be accepted with `input` and decides the account: an
    /// existing one with the invited email, or a new id. Must have no side effects: it runs
    /// for every attempt, including those that lose a race.
    async fn prepare(&self, invitation: &Invitation, input: &AcceptInput) -> Result<ProvisionPlan>;

    /// Creates or links the account as `plan` says. Runs once, for the accept that won. On
    /// error the accept is rolled back and the invitation stays usable, so it must leave
    /// nothing half-done that a retry would trip over.
    async fn provision(
        &self,
        invitation: &Invitation,
        input: &AcceptInput,
        plan: &ProvisionPlan,
    ) -> Result<()>;
}
