//! The standalone server's provisioner: accounts live in the module's own store.

use std::sync::Arc;

use async_trait::async_trait;

use super::password;
use crate::config::ExistingAccountPolicy;
use crate::domain::{Invitation, PersonName};
use crate::error::{Error, Result};
use crate::ports::{
    AcceptInput, Account, AccountProvisioner, AccountStore, Clock, ProvisionPlan, StoreError,
};

#[derive(Debug, Clone)]
pub struct StoreProvisioner {
    accounts: Arc<dyn AccountStore>,
    clock: Arc<dyn Clock>,
    existing: ExistingAccountPolicy,
    hasher: password::Hasher,
}

impl StoreProvisioner {
    pub fn new(
        accounts: Arc<dyn AccountStore>,
        clock: Arc<dyn Clock>,
        existing: ExistingAccountPolicy,
    ) -> Self {
        Self {
            accounts,
            clock,
            existing,
            hasher: password::Hasher::new(),
        }
    }
}

#[async_trait]
impl AccountProvisioner for StoreProvisioner {
    async fn prepare(&self, invitation: &Invitation, input: &AcceptInput) -> Result<ProvisionPlan> {
        if let Some(name) = input.name.as_deref() {
            PersonName::parse(name)?;
        }
        if let Some(password) = input.password.as_deref() {
            password::check(password)?;
        }
        let contact = &invitation.details.contact;
        match self
            .accounts
            .find_account(
                contact.email().map(|e| e.normalized()),
                contact.phone().map(|p| p.as_str()),
            )
            .await?
        {
            Some(_) if self.existing == ExistingAccountPolicy::Refuse => Err(Error::validation(
                "email",
                "an account with this email or phone already exists; sign in instead",
            )),
            Some(account) => Ok(ProvisionPlan {
                user_id: account.id,
                existing_user: true,
            }),
            None => Ok(ProvisionPlan {
                user_id: uuid::Uuid::now_v7().to_string(),
                existing_user: false,
            }),
        }
    }

    async fn provision(
        &self,
        invitation: &Invitation,
        input: &AcceptInput,
        plan: &ProvisionPlan,
    ) -> Result<()> {
        let now = self.clock.now();
        let groups = invitation.details.groups.to_strings();
        if plan.existing_user {
            self.accounts
                .attach_to_account(
                    &plan.user_id,
                    invitation.details.role.as_str(),
                    &groups,
                    now,
                )
                .await?;
            return Ok(());
        }
        let password_hash = match input.password.clone() {
            Some(password) => Some(self.hasher.hash(password).await?),
            None => None,
        };
        let name = input
            .name
            .as_deref()
            .map(PersonName::parse)
            .transpose()?
            .or_else(|| invitation.details.name.clone())
            .map(|n| n.as_str().to_owned());
        let contact = &invitation.details.contact;
        let account = Account {
            id: plan.user_id.clone(),
            email: contact.email().map(|e| e.as_str().to_owned()),
            email_normalized: contact.email().map(|e| e.normalized().to_owned()),
            phone: contact.phone().map(|p| p.as_str().to_owned()),
            name,
            roles: vec![invitation.details.role.as_str().to_owned()],
            groups,
            metadata: invitation.details.metadata.as_map().clone(),
            password_hash,
            created_at: now,
            updated_at: now,
        };
        match self.accounts.insert_account(&account).await {
            Ok(_) => Ok(()),
            // Another invitation for this email or phone was accepted in the same instant: the accept is
            // rolled back and a retry links the account that now exists.
            Err(StoreError::DuplicateAccount) => Err(Error::Unavailable(
                "the account was created concurrently; try again".into(),
            )),
            Err(err) => Err(err.into()),
        }
    }
}
