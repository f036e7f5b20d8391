//! What the holder of a secret can do: look the invitation up, accept it, decline it.

use super::{AcceptInput, InvitationService};
use crate::domain::{Invitation, InvitationState, Secret};
use crate::error::{Error, Result};

/// The outcome of a successful accept.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub invitation: Invitation,
    pub user_id: String,
    pub existing_user: bool,
}

impl InvitationService {
    /// The invitation a secret belongs to, in whatever state it is (so a frontend can say
    /// "expired" or "already accepted"). `None` for an unknown secret. Has no side effects:
    /// mail scanners that open links do not use them up. Transports parse the presented text
    /// with [`Secret::parse`]; a malformed one never reaches the store.
    pub async fn lookup_by_secret(&self, secret: &Secret) -> Result<Option<Invitation>> {
        Ok(self.store.find_by_secret_digest(&secret.digest()).await?)
    }

    async fn by_secret(&self, secret: &Secret) -> Result<Invitation> {
        self.store
            .find_by_secret_digest(&secret.digest())
            .await?
            .ok_or(Error::InvalidSecret)
    }

    /// PENDING -> ACCEPTED, then creates or links the account through the provisioner.
    ///
    /// Of any number of concurrent accepts exactly one succeeds; the others get
    /// INVITATION_ACCEPTED. An expired invitation gives INVITATION_EXPIRED even before the
    /// sweeper has run. If provisioning fails, the accept is rolled back (recorded as
    /// ACCEPT_ROLLED_BACK) and the link keeps working. A provisioning failure that may pass
    /// (UNAVAILABLE: for example the same person's account was created by another accept in
    /// the same instant) is tried once more at once, with a fresh plan.
    pub async fn accept(&self, secret: &Secret, input: AcceptInput) -> Result<Accepted> {
        match self.accept_once(secret, &input).await {
            Err(Error::Unavailable(cause)) => {
                tracing::info!(cause = %cause, "accept rolled back on a passing failure; trying once more");
                self.accept_once(secret, &input).await
            }
            outcome => outcome,
        }
    }

    async fn accept_once(&self, secret: &Secret, input: &AcceptInput) -> Result<Accepted> {
        let found = self.by_secret(secret).await?;
        match found.state_at(self.clock.now()) {
            InvitationState::Pending => {}
            other => return Err(Error::InvitationState(other)),
        }
        let plan = self.provisioner.prepare(&found, input).await?;
        let digest = found.secret_digest;
        let accepted = self
            .transition_from(found, |invitation, now| {
                if invitation.secret_digest != digest {
                    // Resent meanwhile: the presented link no longer works.
                    return Err(Error::InvalidSecret);
                }
                invitation.accept(now, plan.user_id.clone())?;
                self.queue_accepted_notice(invitation, now);
                Ok(())
            })
            .await?;
        if let Err(err) = self.provisioner.provision(&accepted, input, &plan).await {
            let rollback = self
                .transition(accepted.id, |invitation, now| {
                    Ok(invitation.roll_back_accept(now, &plan.user_id)?)
                })
                .await;
            if let Err(rollback_err) = rollback {
                tracing::error!(invitation = %accepted.id, error = %rollback_err, "could not roll back an accept after provisioning failed");
            }
            return Err(err);
        }
        // Only now: a rolled-back accept must not have sent its notice.
        let accepted = self.release_notice(accepted).await;
        Ok(Accepted {
            invitation: accepted,
            user_id: plan.user_id,
            existing_user: plan.existing_user,
        })
    }

    /// PENDING -> DECLINED.
    pub async fn decline(&self, secret: &Secret) -> Result<Invitation> {
        let found = self.by_secret(secret).await?;
        let digest = found.secret_digest;
        self.transition_from(found, |invitation, now| {
            if invitation.secret_digest != digest {
                return Err(Error::InvalidSecret);
            }
            Ok(invitation.decline(now)?)
        })
        .await
    }
}
