//! `Mutation`: create, resend and revoke (editors); accept and decline (holder of the secret).

use async_graphql::{Context, ID, Object};

use super::errors::IntoGraphql;
use super::inputs::{AcceptInvitationInput, CreateInvitationInput};
use super::objects::{
    AcceptInvitationResult, BulkInvitationItem, BulkInvitationResult, Invitation,
    InvitationBulkError, PublicInvitation,
};
use super::scalars::Duration;
use super::{Caller, InvitationsModule};
use crate::domain::InvitationId;
use crate::error::Error;

/// The module's mutations, ready to merge into a host's `MergedObject`.
#[derive(Debug, Default, Clone, Copy)]
pub struct InvitationsMutation;

#[Object]
impl InvitationsMutation {
    /// Invites one person and queues the email (unless `sendEmail` is false). The response is
    /// the only place `secret` and `inviteUrl` are shown. DUPLICATE_PENDING_INVITATION names the
    /// PENDING invitation for the same email and scope, unless `onDuplicate` is RESEND.
    async fn create_invitation(
        &self,
        ctx: &Context<'_>,
        input: CreateInvitationInput,
    ) -> async_graphql::Result<Invitation> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let minted = module
            .service
            .create(caller.principal.as_ref(), caller.create_request(input))
            .await
            .gql()?;
        Ok(Invitation::minted(minted, module.service.now()))
    }

    /// Invites up to 1000 people. Each input gets its own item, in order: a bad one fails alone.
    async fn create_invitations(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<CreateInvitationInput>,
    ) -> async_graphql::Result<BulkInvitationResult> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let outcomes = module
            .service
            .create_many(
                caller.principal.as_ref(),
                inputs
                    .into_iter()
                    .map(|input| caller.create_request(input))
                    .collect(),
            )
            .await
            .gql()?;
        let now = module.service.now();
        let mut result = BulkInvitationResult {
            created: 0,
            failed: 0,
            items: Vec::with_capacity(outcomes.len()),
        };
        for (index, outcome) in (0u32..).zip(outcomes) {
            let item = match outcome {
                Ok(minted) => {
                    result.created += 1;
                    BulkInvitationItem {
                        index,
                        invitation: Some(Invitation::minted(minted, now)),
                        error: None,
                    }
                }
                Err(err) => {
                    result.failed += 1;
                    BulkInvitationItem {
                        index,
                        invitation: None,
                        error: Some(bulk_error(&err)),
                    }
                }
            };
            result.items.push(item);
        }
        Ok(result)
    }

    /// Mints a new secret and expiry (`validFor`, else the default) for a PENDING or EXPIRED
    /// invitation and queues a new email. The old link stops working at once.
    async fn resend_invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        valid_for: Option<Duration>,
    ) -> async_graphql::Result<Invitation> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = InvitationId::parse(&id).map_err(Error::from).gql()?;
        let minted = module
            .service
            .resend(
                caller.principal.as_ref(),
                id,
                valid_for.as_ref().map(Duration::as_str),
            )
            .await
            .gql()?;
        Ok(Invitation::minted(minted, module.service.now()))
    }

    /// Moves the expiry of a PENDING or EXPIRED invitation to now + `validFor` (else the
    /// default), within the configured bounds and not earlier than it is, keeping the secret: the
    /// link already sent keeps working, or works again. Nothing is sent unless `notify`, which
    /// sends the invitee a short notice without a link through the invitation's channel.
    /// Refused with the state's code once accepted, revoked or declined.
    async fn extend_invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        valid_for: Option<Duration>,
        #[graphql(default = false)] notify: bool,
    ) -> async_graphql::Result<Invitation> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = InvitationId::parse(&id).map_err(Error::from).gql()?;
        let extended = module
            .service
            .extend(
                caller.principal.as_ref(),
                id,
                valid_for.as_ref().map(Duration::as_str),
                notify,
            )
            .await
            .gql()?;
        Ok(Invitation::new(extended, module.service.now()))
    }

    /// PENDING -> REVOKED: the link stops working. INVITATION_EXPIRED once it has expired.
    async fn revoke_invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Invitation> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = InvitationId::parse(&id).map_err(Error::from).gql()?;
        let revoked = module
            .service
            .revoke(caller.principal.as_ref(), id)
            .await
            .gql()?;
        Ok(Invitation::new(revoked, module.service.now()))
    }

    /// Deletes an invitation in any state with everything stored about it: its queued
    /// messages, logged events and webhook payloads. Receivers get `invitation.deleted` (the
    /// id only). `false` when there is none. Needs the role permission `erase` (admins).
    async fn delete_invitation(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = InvitationId::parse(&id).map_err(Error::from).gql()?;
        module
            .service
            .delete_invitation(caller.principal.as_ref(), id)
            .await
            .gql()
    }

    /// Erases every invitation of one person (by email, or by phone in E.164), in the scopes
    /// the caller reaches, as `deleteInvitation` does; how many there were. Needs the role
    /// permission `erase` (admins).
    async fn erase_invitee(
        &self,
        ctx: &Context<'_>,
        email: Option<String>,
        phone: Option<String>,
    ) -> async_graphql::Result<i32> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let erased = module
            .service
            .erase_invitee(
                caller.principal.as_ref(),
                email.as_deref(),
                phone.as_deref(),
            )
            .await
            .gql()?;
        Ok(i32::try_from(erased).unwrap_or(i32::MAX))
    }

    /// Accepts with the secret from the link, creating (or linking) the account with the role
    /// and groups chosen up front. Of concurrent accepts exactly one wins; the others get
    /// INVITATION_ACCEPTED. INVITATION_EXPIRED even before the sweeper has run.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        secret: String,
        input: Option<AcceptInvitationInput>,
    ) -> async_graphql::Result<AcceptInvitationResult> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let secret = module
            .public_secret(caller, &secret)
            .and_then(|secret| secret.ok_or(Error::InvalidSecret))
            .gql()?;
        let accepted = module
            .service
            .accept(&secret, input.unwrap_or_default().into())
            .await
            .gql()?;
        Ok(AcceptInvitationResult {
            invitation: PublicInvitation::new(accepted.invitation, module.service.now()),
            user_id: ID(accepted.user_id),
            existing_user: accepted.existing_user,
        })
    }

    /// PENDING -> DECLINED, with the secret from the link.
    async fn decline_invitation(
        &self,
        ctx: &Context<'_>,
        secret: String,
    ) -> async_graphql::Result<PublicInvitation> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let secret = module
            .public_secret(caller, &secret)
            .and_then(|secret| secret.ok_or(Error::InvalidSecret))
            .gql()?;
        let declined = module.service.decline(&secret).await.gql()?;
        Ok(PublicInvitation::new(declined, module.service.now()))
    }
}

fn bulk_error(err: &Error) -> InvitationBulkError {
    super::errors::log_cause(err);
    InvitationBulkError {
        code: err.code().as_str().to_owned(),
        message: err.to_string(),
        field: err.field().map(str::to_owned),
        invitation_id: match err {
            Error::DuplicatePending { existing } => Some(ID(existing.to_string())),
            _ => None,
        },
    }
}
