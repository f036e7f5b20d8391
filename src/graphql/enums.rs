//! GraphQL enums, each mirroring a domain or service enum.

use async_graphql::Enum;

use crate::{domain, service};

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "InvitationState", remote = "domain::InvitationState")]
pub enum InvitationState {
    Pending,
    Accepted,
    Expired,
    Revoked,
    Declined,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "InvitationDeliveryStatus", remote = "domain::DeliveryStatus")]
pub enum DeliveryStatus {
    /// Waiting to be sent (or to be retried).
    Queued,
    Sent,
    /// Gave up: see `lastError`.
    Failed,
    /// Created with `sendEmail: false`; share the link yourself.
    Skipped,
    /// Not sent: the invitation was accepted, revoked, declined or expired before its email
    /// went out.
    Cancelled,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "InvitationEventKind", remote = "domain::EventKind")]
pub enum EventKind {
    Created,
    Resent,
    Accepted,
    Declined,
    Revoked,
    Expired,
    /// The expiry moved later with `extendInvitation`; the link stayed the same.
    Extended,
    /// Account provisioning failed after an accept; the invitation is PENDING again.
    AcceptRolledBack,
}

/// Who caused an event.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "InvitationEventActorKind")]
pub enum EventActorKind {
    /// An editor (see `actor`).
    Editor,
    /// The holder of the invitation's secret.
    Invitee,
    /// The module itself: the expiry sweeper or a rollback.
    System,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "InvitationSortField", remote = "service::SortField")]
pub enum SortField {
    CreatedAt,
    ExpiresAt,
    Email,
    State,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "SortDirection", remote = "service::SortDirection")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// How an invitation reaches its invitee.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(name = "InvitationChannel", remote = "domain::Channel")]
pub enum Channel {
    /// An email with the link.
    #[default]
    Email,
    /// A text message with the link, to `phone`.
    Sms,
}

/// What `createInvitation` does when a PENDING invitation for the same email (or phone) and
/// scope exists.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[graphql(name = "InvitationOnDuplicate", remote = "service::OnDuplicate")]
pub enum OnDuplicate {
    /// Fail with DUPLICATE_PENDING_INVITATION, naming the existing invitation.
    #[default]
    Error,
    /// Resend the existing invitation instead.
    Resend,
}
