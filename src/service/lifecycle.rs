//! Editor actions on an existing invitation: resend and revoke; and persisting expiry.

use super::input::resolve_valid_for;
use super::permissions::{require_grant, require_groups, require_manager, require_reach};
use super::{InvitationService, Minted};
use crate::domain::{Invitation, InvitationId, IsoDuration, Secret};
use crate::error::{Error, Result};
use crate::ports::Principal;

impl InvitationService {
    /// PENDING or EXPIRED -> PENDING with a new secret, a new expiry (`valid_for`, else the
    /// default) and a new email. The old link stops working at once.
    pub async fn resend(
        &self,
        principal: Option<&Principal>,
        id: InvitationId,
        valid_for: Option<&str>,
    ) -> Result<Minted> {
        let principal = require_manager(principal)?;
        let validity = resolve_valid_for(valid_for, &self.settings.validity)?;
        self.email_quota
            .take(&principal.actor().id, 1, self.clock.now())?;
        self.resend_as(principal, id, validity).await
    }

    pub(super) async fn resend_as(
        &self,
        principal: &Principal,
        id: InvitationId,
        validity: IsoDuration,
    ) -> Result<Minted> {
        let secret = Secret::generate().map_err(|err| Error::Internal(Box::new(err)))?;
        let invitation = self
            .transition(id, |invitation: &mut Invitation, now| {
                require_reach(principal, invitation)?;
                require_grant(principal, &invitation.details.role)?;
                require_groups(principal, invitation)?;
                let cooldown = self.settings.resend_cooldown;
                if let Some(last) = invitation.last_sent_at
                    && now - last < cooldown
                {
                    let wait = (last + cooldown - now).num_seconds().max(1);
                    return Err(Error::RateLimited {
                        retry_after_secs: u64::try_from(wait).unwrap_or(1),
                    });
                }
                let expires_at = now + validity.as_time_delta();
                invitation.resend(now, secret.digest(), expires_at, principal.actor().clone())?;
                let url = super::invite_url(invitation, &secret, &self.settings.accept_url);
                self.queue_invitation_message(invitation, &url, &[], now);
                Ok(())
            })
            .await?;
        self.wake_sender();
        let invite_url = super::invite_url(&invitation, &secret, &self.settings.accept_url);
        Ok(Minted {
            invitation,
            secret,
            invite_url,
        })
    }

    /// PENDING or EXPIRED -> PENDING until now + `valid_for` (else the default validity),
    /// keeping the secret: the link already sent keeps working, or works again. With
    /// `notify`, the invitee gets a short notice through the invitation's channel, without a
    /// link (the server no longer knows it). The new expiry may not be earlier than the
    /// current one; the permission rules are resend's.
    pub async fn extend(
        &self,
        principal: Option<&Principal>,
        id: InvitationId,
        valid_for: Option<&str>,
        notify: bool,
    ) -> Result<Invitation> {
        let principal = require_manager(principal)?;
        let validity = resolve_valid_for(valid_for, &self.settings.validity)?;
        if notify {
            self.email_quota
                .take(&principal.actor().id, 1, self.clock.now())?;
        }
        let invitation = self
            .transition(id, |invitation: &mut Invitation, now| {
                require_reach(principal, invitation)?;
                require_grant(principal, &invitation.details.role)?;
                require_groups(principal, invitation)?;
                let expires_at = now + validity.as_time_delta();
                if invitation.is_resendable(now) && expires_at < invitation.expires_at {
                    return Err(Error::validation(
                        "validFor",
                        format!(
                            "the invitation is valid until {} already; give a longer validFor",
                            invitation
                                .expires_at
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                        ),
                    ));
                }
                invitation.extend(now, expires_at, principal.actor().clone())?;
                if notify {
                    self.queue_extended_notice(invitation, now);
                }
                Ok(())
            })
            .await?;
        if notify {
            self.wake_sender();
        }
        Ok(invitation)
    }

    /// PENDING -> REVOKED. The link stops working; the invitation stays listed.
    pub async fn revoke(
        &self,
        principal: Option<&Principal>,
        id: InvitationId,
    ) -> Result<Invitation> {
        let principal = require_manager(principal)?;
        self.transition(id, |invitation, now| {
            require_reach(principal, invitation)?;
            require_grant(principal, &invitation.details.role)?;
            require_groups(principal, invitation)?;
            Ok(invitation.revoke(now, principal.actor().clone())?)
        })
        .await
    }

    /// Persists the expiry of an invitation whose time has passed, starting from the copy the
    /// caller read. `false` when another process did it first or it is no longer due.
    pub(super) async fn expire_one(&self, invitation: Invitation) -> Result<bool> {
        match self
            .transition_from(invitation, |invitation, now| Ok(invitation.expire(now)?))
            .await
        {
            Ok(_) => Ok(true),
            Err(Error::InvitationState(_) | Error::NotFound) => Ok(false),
            Err(err) => Err(err),
        }
    }
}
