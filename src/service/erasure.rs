//! Erasure: deleting one invitation, or everything about one person, with every trace the
//! store holds of it (queued messages, logged events, webhook payloads). Each erasure leaves a
//! minimal audit entry (who, how many, when) and an `invitation.deleted` event per invitation
//! that carries its id only.

use super::InvitationService;
use super::permissions::require_eraser;
use crate::domain::{EmailAddress, EventActor, InvitationId, OutgoingEvent, PhoneNumber};
use crate::error::{Error, Result};
use crate::ports::{Erasure, Principal};

impl InvitationService {
    /// Deletes one invitation, in any state, with everything stored about it. `false` when
    /// there is none (or none within the caller's scopes: the two are not told apart).
    pub async fn delete_invitation(
        &self,
        principal: Option<&Principal>,
        id: InvitationId,
    ) -> Result<bool> {
        let principal = require_eraser(principal)?;
        let Some(invitation) = self.store.get(id).await? else {
            return Ok(false);
        };
        let scope = invitation.details.scope.as_ref().map(|s| s.as_str());
        if !principal.reaches(scope) {
            return Ok(false);
        }
        let targets = [(id, scope.map(str::to_owned))];
        Ok(self.erase(principal, &targets, "deleteInvitation").await? > 0)
    }

    /// Erases every invitation of the person with this email (or phone), across the scopes
    /// the caller reaches; how many there were. VALIDATION_FAILED without either, or for a
    /// malformed one.
    pub async fn erase_invitee(
        &self,
        principal: Option<&Principal>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<u64> {
        let principal = require_eraser(principal)?;
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        let phone = phone.map(str::trim).filter(|p| !p.is_empty());
        if email.is_none() && phone.is_none() {
            return Err(Error::validation(
                "email",
                "give the email or the phone to erase",
            ));
        }
        let email = email.map(EmailAddress::parse).transpose()?;
        let phone = phone.map(PhoneNumber::parse).transpose()?;
        let targets: Vec<_> = self
            .store
            .invitations_for_person(
                email.as_ref().map(EmailAddress::normalized),
                phone.as_ref().map(PhoneNumber::as_str),
            )
            .await?
            .into_iter()
            .filter(|(_, scope)| principal.reaches(scope.as_deref()))
            .collect();
        self.erase(principal, &targets, "eraseInvitee").await
    }

    /// The latest erasures, newest first, for admins.
    pub async fn erasures(
        &self,
        principal: Option<&Principal>,
        limit: usize,
    ) -> Result<Vec<Erasure>> {
        require_eraser(principal)?;
        Ok(self.store.erasures(limit.clamp(1, 1000)).await?)
    }

    async fn erase(
        &self,
        principal: &Principal,
        targets: &[(InvitationId, Option<String>)],
        operation: &str,
    ) -> Result<u64> {
        let now = self.clock.now();
        let ids: Vec<InvitationId> = targets.iter().map(|(id, _)| *id).collect();
        let erased = self
            .store
            .erase(&ids, principal.actor(), operation, now)
            .await?;
        self.counts_changed();
        tracing::info!(operation, erased, by = %principal.actor().id, "invitations erased");
        let deleted = targets
            .iter()
            .map(|(id, scope)| {
                let actor = EventActor::Editor(principal.actor().clone());
                (
                    *id,
                    scope.clone(),
                    OutgoingEvent::deleted(*id, scope.as_deref(), now, actor),
                )
            })
            .collect();
        if let Err(err) = self.publish_detached(deleted).await {
            // The erasure stands; only the notice to receivers is missing.
            tracing::warn!(error = %err, code = %err.code(), "the invitation.deleted events were not published");
        }
        Ok(erased)
    }
}
