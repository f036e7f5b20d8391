//! Creating invitations, one or many, with the one-PENDING-per-email-and-scope rule.

use super::input::{ParsedCreate, parse_create};
use super::permissions::{require_manager, require_scope_to_create};
use super::{CreateInvitation, InvitationService, Minted, OnDuplicate};
use crate::ports::Principal;
use url::Url;

use crate::domain::{Invitation, InvitationId, InvitationState, Secret};
use crate::error::{Error, Result};
use crate::ports::StoreError;

/// Upper bound of one `create_many` call.
pub const MAX_BULK: usize = 1000;

/// How often a create retries after finding the PENDING slot held by an expired invitation
/// (which it then marks EXPIRED) or by one that changed state meanwhile.
const MAX_SLOT_RETRIES: usize = 4;

impl InvitationService {
    /// Creates an invitation and returns it with its secret and link.
    ///
    /// VALIDATION_FAILED names the field; DUPLICATE_PENDING_INVITATION names the invitation
    /// already PENDING for this email and scope (unless `on_duplicate` is RESEND, which resends
    /// that one instead). A PENDING invitation past its expiry does not block: it is marked
    /// EXPIRED on the spot.
    pub async fn create(
        &self,
        principal: Option<&Principal>,
        input: CreateInvitation,
    ) -> Result<Minted> {
        let principal = require_manager(principal)?;
        let parsed = parse_create(input, principal, &self.settings)?;
        require_scope_to_create(principal, parsed.draft.details.scope.as_ref())?;
        let emails = usize::from(parsed.draft.send_email);
        self.email_quota
            .take(&principal.actor().id, emails, self.clock.now())?;
        let minted = self.mint(principal, &parsed)?;
        let outcome = match self.store.insert(&minted.invitation).await {
            Ok(()) => {
                self.announce(&minted.invitation);
                Ok(minted)
            }
            Err(err) => self.resolve_insert_failure(principal, &parsed, err).await,
        };
        self.counts_changed();
        self.wake_sender();
        outcome
    }

    /// Creates many invitations; one outcome per input, in order. A bad item fails alone.
    pub async fn create_many(
        &self,
        principal: Option<&Principal>,
        inputs: Vec<CreateInvitation>,
    ) -> Result<Vec<Result<Minted>>> {
        let principal = require_manager(principal)?;
        if inputs.len() > MAX_BULK {
            return Err(Error::validation(
                "inputs",
                format!("at most {MAX_BULK} invitations per call"),
            ));
        }
        let emails = inputs.iter().filter(|input| input.send_email).count();
        self.email_quota
            .take(&principal.actor().id, emails, self.clock.now())?;
        // The invitations go to the store in one call and come back into their results by
        // move: a bulk call holds each rendered email once.
        let mut invitations = Vec::with_capacity(inputs.len());
        let prepared: Vec<Result<(ParsedCreate, Secret, Url)>> = inputs
            .into_iter()
            .map(|input| {
                let parsed = parse_create(input, principal, &self.settings)?;
                require_scope_to_create(principal, parsed.draft.details.scope.as_ref())?;
                let minted = self.mint(principal, &parsed)?;
                invitations.push(minted.invitation);
                Ok((parsed, minted.secret, minted.invite_url))
            })
            .collect();
        let mut stored = self.store.insert_many(&invitations).await.into_iter();
        let mut invitations = invitations.into_iter();
        let mut outcomes = Vec::with_capacity(prepared.len());
        for item in prepared {
            let outcome = match item {
                Err(err) => Err(err),
                Ok((parsed, secret, invite_url)) => match (invitations.next(), stored.next()) {
                    (Some(invitation), Some(Ok(()))) => {
                        self.announce(&invitation);
                        Ok(Minted {
                            invitation,
                            secret,
                            invite_url,
                        })
                    }
                    (Some(_), Some(Err(err))) => {
                        self.resolve_insert_failure(principal, &parsed, err).await
                    }
                    _ => Err(Error::internal(
                        "the store returned fewer outcomes than items",
                    )),
                },
            };
            outcomes.push(outcome);
        }
        self.counts_changed();
        self.wake_sender();
        Ok(outcomes)
    }

    fn mint(&self, principal: &Principal, parsed: &ParsedCreate) -> Result<Minted> {
        let now = self.clock.now();
        let secret = Secret::generate().map_err(|err| Error::Internal(Box::new(err)))?;
        let expires_at = now + parsed.validity.as_time_delta();
        let mut invitation = Invitation::create(
            InvitationId::new(),
            parsed.draft.clone(),
            principal.actor().clone(),
            principal.email().cloned(),
            secret.digest(),
            now,
            expires_at,
        );
        let invite_url = super::invite_url(&invitation, &secret, &self.settings.accept_url);
        if parsed.draft.send_email {
            self.queue_invitation_message(
                &mut invitation,
                &invite_url,
                &parsed.request_locales,
                now,
            );
        }
        Ok(Minted {
            invitation,
            secret,
            invite_url,
        })
    }

    /// After an insert failed: frees a slot held by an expired invitation, resends on request,
    /// or reports the duplicate; then tries again with a freshly minted invitation.
    async fn resolve_insert_failure(
        &self,
        principal: &Principal,
        parsed: &ParsedCreate,
        mut err: StoreError,
    ) -> Result<Minted> {
        for _ in 0..MAX_SLOT_RETRIES {
            let StoreError::DuplicatePending { existing } = err else {
                return Err(err.into());
            };
            if let Some(existing) = existing {
                match self.store.get(existing).await? {
                    // Past its expiry but not yet swept: mark it EXPIRED, which frees the slot.
                    Some(holder)
                        if holder.state_at(self.clock.now()) == InvitationState::Expired =>
                    {
                        self.expire_one(holder).await?;
                    }
                    Some(_) => {
                        return match parsed.on_duplicate {
                            OnDuplicate::Error => Err(Error::DuplicatePending { existing }),
                            OnDuplicate::Resend => {
                                self.resend_as(principal, existing, parsed.validity).await
                            }
                        };
                    }
                    // Changed state meanwhile: insert again.
                    None => {}
                }
            }
            let minted = self.mint(principal, parsed)?;
            match self.store.insert(&minted.invitation).await {
                Ok(()) => {
                    self.announce(&minted.invitation);
                    return Ok(minted);
                }
                Err(next) => err = next,
            }
        }
        Err(Error::Unavailable(
            "the invitation kept changing; try again".into(),
        ))
    }
}
