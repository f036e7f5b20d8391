//! `Query`: read invitations (editors) and look one up by its secret (anyone holding it).

use async_graphql::{Context, ID, Object};

use super::errors::IntoGraphql;
use super::inputs::{InvitationFilter, InvitationSort};
use super::objects::{
    Invitation, InvitationConnection, InvitationEdge, InvitationPageInfo, InvitationViewer,
    PublicInvitation,
};
use super::{Caller, InvitationsModule};
use crate::domain::InvitationId;
use crate::error::Error;
use crate::service::{ListRequest, Total};

/// `first` when a listing leaves it out (or passes `null`).
const DEFAULT_FIRST: i32 = ListRequest::DEFAULT_FIRST as i32;

/// How many invitations a listing asks for, as its cost multiplier (the page limits applied).
fn items_requested(first: Option<i32>) -> usize {
    usize::try_from(first.unwrap_or(DEFAULT_FIRST))
        .unwrap_or(1)
        .clamp(1, ListRequest::MAX_FIRST)
}

/// The module's queries, ready to merge into a host's `MergedObject`.
#[derive(Debug, Default, Clone, Copy)]
pub struct InvitationsQuery;

#[Object]
impl InvitationsQuery {
    /// One invitation, for editors; `null` when there is none with this id.
    async fn invitation(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Invitation>> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let id = InvitationId::parse(&id).map_err(Error::from).gql()?;
        match module.service.get(caller.principal.as_ref(), id).await {
            Ok(invitation) => Ok(Some(Invitation::new(invitation, module.service.now()))),
            Err(Error::NotFound) => Ok(None),
            Err(err) => Err(err).gql(),
        }
    }

    /// A page of invitations, for editors. Sorted by `createdAt` descending unless `sort` says
    /// otherwise; ties are broken by id, so cursors stay stable while invitations are added.
    #[graphql(complexity = "items_requested(first) * child_complexity")]
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        filter: Option<InvitationFilter>,
        sort: Option<Vec<InvitationSort>>,
        #[graphql(default_with = "Some(DEFAULT_FIRST)")] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<InvitationConnection> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let filter = filter
            .unwrap_or_default()
            .into_service()
            .map_err(Error::from)
            .gql()?;
        let request = ListRequest {
            filter,
            sort: sort
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            // An explicit `null` means the default, as an omitted argument does.
            first: first.map(i64::from),
            after,
        };
        // Only what the query selects is built: counting every match costs far more than the
        // page, and edges each encode a cursor.
        let selected = ctx.look_ahead();
        let total = if selected.field("totalCount").exists() {
            Total::Count
        } else {
            Total::Skip
        };
        let listing = module
            .service
            .list(caller.principal.as_ref(), request, total)
            .await
            .gql()?;
        let now = listing.read_at();
        let edges: Vec<InvitationEdge> = if selected.field("edges").exists() {
            let edge = |invitation: &crate::domain::Invitation| InvitationEdge {
                cursor: listing.cursor(invitation),
                node: Invitation::new(invitation.clone(), now),
            };
            listing.items.iter().map(edge).collect()
        } else {
            Vec::new()
        };
        let end_cursor = listing.end_cursor();
        let nodes: Vec<Invitation> = if selected.field("nodes").exists() {
            let node = |invitation| Invitation::new(invitation, now);
            listing.items.into_iter().map(node).collect()
        } else {
            Vec::new()
        };
        Ok(InvitationConnection {
            nodes,
            page_info: InvitationPageInfo {
                has_next_page: listing.has_next_page,
                end_cursor,
            },
            edges,
            total_count: listing.total_count,
        })
    }

    /// Who is calling and what they may do, for admin UIs; `null` for an anonymous caller.
    /// `locale` (a BCP 47 tag, default `en`) is the language of `roleNames`: its tag, its
    /// language, else English.
    async fn invitation_viewer(
        &self,
        ctx: &Context<'_>,
        locale: Option<String>,
    ) -> async_graphql::Result<Option<InvitationViewer>> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        if locale.as_ref().is_some_and(|tag| tag.len() > 35) {
            return Err(Error::validation(
                "locale",
                "must be a language tag of at most 35 characters",
            ))
            .gql();
        }
        Ok(module
            .service
            .viewer(caller.principal.as_ref(), locale.as_deref().unwrap_or("en"))
            .map(InvitationViewer::from))
    }

    /// The invitation a secret belongs to, in whatever state it is, for the invitee's
    /// frontend; `null` for an unknown or malformed secret. Has no side effects (mail scanners
    /// that open links do not use them up). Rate limited per client and per invitation.
    async fn invitation_by_secret(
        &self,
        ctx: &Context<'_>,
        secret: String,
    ) -> async_graphql::Result<Option<PublicInvitation>> {
        let (module, caller) = (InvitationsModule::of(ctx)?, Caller::of(ctx));
        let Some(secret) = module.public_secret(caller, &secret).gql()? else {
            return Ok(None);
        };
        let found = module.service.lookup_by_secret(&secret).await.gql()?;
        Ok(found.map(|invitation| PublicInvitation::new(invitation, module.service.now())))
    }
}
