//! Input types and their translation into service requests. None of them has a `secret`,
//! `state` or `acceptedAt` field: those are set by the system only (a schema test checks it).

use async_graphql::{ID, InputObject};

use super::enums::{Channel, InvitationState, OnDuplicate, SortDirection, SortField};
use super::scalars::{DateTime, Duration, Json};
use crate::domain::ValidationError;
use crate::service::{self, AcceptInput, CreateInvitation, SortKey};

#[derive(InputObject, Debug, Clone)]
pub struct CreateInvitationInput {
    /// The invitee's email: required for an EMAIL invitation, optional for an SMS one.
    pub email: Option<String>,
    /// The invitee's mobile number in international form (`+49 151 12345678`; kept in
    /// E.164): required for an SMS invitation, optional for an EMAIL one.
    pub phone: Option<String>,
    /// How the invitation reaches the invitee.
    #[graphql(default)]
    pub channel: Channel,
    pub name: Option<String>,
    /// One of the configured invitee roles that your role may grant.
    pub role: String,
    #[graphql(default)]
    pub groups: Vec<String>,
    /// A JSON object, copied to the account on acceptance.
    pub metadata: Option<Json>,
    /// BCP 47 tag choosing the email's language, e.g. `de-AT`.
    pub locale: Option<String>,
    pub scope: Option<String>,
    /// Overrides the default validity, within the configured bounds.
    pub valid_for: Option<Duration>,
    /// Where the link points instead of the accept page; must match the allow-list.
    pub redirect_url: Option<String>,
    /// A variant of the invitation message (`invitationViewer.templateVariants`); unset: the
    /// base template. An unknown one is VALIDATION_FAILED on `template`.
    pub template: Option<String>,
    /// False: nothing is sent (no email, no text message); share `inviteUrl` yourself.
    #[graphql(default = true)]
    pub send_email: bool,
    #[graphql(default)]
    pub on_duplicate: OnDuplicate,
}

impl From<CreateInvitationInput> for CreateInvitation {
    fn from(input: CreateInvitationInput) -> Self {
        Self {
            email: input.email,
            phone: input.phone,
            channel: input.channel.into(),
            name: input.name,
            role: input.role,
            groups: input.groups,
            metadata: input.metadata.map(|json| json.0),
            locale: input.locale,
            scope: input.scope,
            valid_for: input.valid_for.map(|d| d.as_str().to_owned()),
            redirect_url: input.redirect_url,
            template: input.template,
            send_email: input.send_email,
            on_duplicate: input.on_duplicate.into(),
            accept_language: None,
        }
    }
}

#[derive(InputObject, Debug, Clone, Default)]
pub struct AcceptInvitationInput {
    /// The new account's display name.
    pub name: Option<String>,
    /// The new account's password (8 to 256 characters). Ignored for an existing account.
    pub password: Option<String>,
}

impl From<AcceptInvitationInput> for AcceptInput {
    fn from(input: AcceptInvitationInput) -> Self {
        Self {
            name: input.name,
            password: input.password,
        }
    }
}

/// Every given condition must hold.
#[derive(InputObject, Debug, Clone, Default)]
pub struct InvitationFilter {
    /// Effective states: a PENDING invitation past its expiry counts as EXPIRED.
    #[graphql(default)]
    pub states: Vec<InvitationState>,
    /// Exactly this address (compared in normalized form).
    pub email: Option<String>,
    /// Part of the address, case-insensitive.
    pub email_contains: Option<String>,
    /// Exactly this mobile number (compared in E.164).
    pub phone: Option<String>,
    /// Only invitations sent through one of these channels.
    #[graphql(default)]
    pub channels: Vec<Channel>,
    pub role: Option<String>,
    pub group: Option<String>,
    pub scope: Option<String>,
    pub invited_by: Option<ID>,
    pub created_after: Option<DateTime>,
    pub created_before: Option<DateTime>,
    pub expires_after: Option<DateTime>,
    pub expires_before: Option<DateTime>,
}

impl InvitationFilter {
    pub(crate) fn into_service(self) -> Result<service::InvitationFilter, ValidationError> {
        let time = |value: Option<DateTime>, field: &str| {
            value
                .map(|t| t.parse_for(&format!("filter.{field}")))
                .transpose()
        };
        Ok(service::InvitationFilter {
            states: self.states.into_iter().map(Into::into).collect(),
            email: self.email,
            email_contains: self.email_contains,
            phone: self.phone,
            channels: self.channels.into_iter().map(Into::into).collect(),
            role: self.role,
            group: self.group,
            scope: self.scope,
            invited_by: self.invited_by.map(|id| id.0),
            created_after: time(self.created_after, "createdAfter")?,
            created_before: time(self.created_before, "createdBefore")?,
            expires_after: time(self.expires_after, "expiresAfter")?,
            expires_before: time(self.expires_before, "expiresBefore")?,
            within_scopes: None,
        })
    }
}

#[derive(InputObject, Debug, Clone, Copy)]
pub struct InvitationSort {
    pub field: SortField,
    #[graphql(default_with = "SortDirection::Desc")]
    pub direction: SortDirection,
}

impl From<InvitationSort> for SortKey {
    fn from(sort: InvitationSort) -> Self {
        Self {
            field: sort.field.into(),
            direction: sort.direction.into(),
        }
    }
}
