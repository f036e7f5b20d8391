//! The listing vocabulary of the store port: filters, sort keys, keyset positions and pages.
//! The service turns positions into opaque cursors for clients ([`crate::service::Listing`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Channel, EmailAddress, Invitation, InvitationState, PhoneNumber};

/// Which invitations to list. Empty or `None` fields do not filter. Strings compare against
/// the normalized email; time bounds are half-open (`after` inclusive, `before` exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct InvitationFilter {
    /// Effective states: `EXPIRED` includes PENDING invitations past their expiry.
    pub states: Vec<InvitationState>,
    pub email: Option<String>,
    pub email_contains: Option<String>,
    /// A phone number, compared in E.164.
    pub phone: Option<String>,
    /// Any of these channels; empty: any.
    pub channels: Vec<Channel>,
    pub role: Option<String>,
    pub group: Option<String>,
    pub scope: Option<String>,
    pub invited_by: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub expires_after: Option<DateTime<Utc>>,
    pub expires_before: Option<DateTime<Utc>>,
    /// Only invitations in one of these scopes (never unscoped ones); `None`: any. What a
    /// principal limited to scopes may see, set by the service, never by a client.
    pub within_scopes: Option<BTreeSet<String>>,
}

impl InvitationFilter {
    /// Emails compare in the normalized form the stores index: `email` exactly,
    /// `email_contains` as a case-insensitive part; a phone in E.164.
    pub(crate) fn normalized(mut self) -> Self {
        self.email = self.email.map(|email| match EmailAddress::parse(&email) {
            Ok(parsed) => parsed.normalized().to_owned(),
            Err(_) => email.trim().to_lowercase(),
        });
        self.email_contains = self.email_contains.map(|part| part.trim().to_lowercase());
        // A number that does not parse matches nothing, as it is.
        self.phone = self.phone.map(|phone| match PhoneNumber::parse(&phone) {
            Ok(parsed) => parsed.as_str().to_owned(),
            Err(_) => phone.trim().to_owned(),
        });
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    CreatedAt,
    ExpiresAt,
    /// By normalized email.
    Email,
    /// By effective state name, alphabetically.
    State,
}

impl SortField {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "CREATED_AT",
            Self::ExpiresAt => "EXPIRES_AT",
            Self::Email => "EMAIL",
            Self::State => "STATE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDirection {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortKey {
    pub field: SortField,
    pub direction: SortDirection,
}

/// A sort key's value for one invitation, as the stores compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Millis(i64),
    Text(String),
}

/// Where a page ends: the sort values and id of its last item. Clients see it only as the
/// opaque cursor the service encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub values: Vec<SortValue>,
    pub id: Uuid,
}

/// One page request, validated by the service: `first` within its bounds, no sort field
/// twice, the filter's emails normalized.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: InvitationFilter,
    /// Never empty; no field twice. The id breaks ties in the first key's direction.
    pub sort: Vec<SortKey>,
    pub first: usize,
    pub after: Option<Cursor>,
}

/// Where one piece of a listing sorted by state starts; see [`ListQuery::state_pieces`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceStart {
    /// Before the cursor's state: nothing of it is on this page.
    Skip,
    /// The cursor's state: past the cursor's remaining sort values and id.
    AfterCursor,
    /// After the cursor's state, or no cursor: from its first row.
    Whole,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Invitation>,
    pub has_next_page: bool,
}

impl ListQuery {
    /// For a listing sorted by state first and read in pieces, one per stored condition of an
    /// effective state (`pieces`, in listing order): whether each piece is read whole, read
    /// past the cursor (the piece of the cursor's state), or left out (before the cursor).
    pub fn state_pieces(&self, pieces: &[InvitationState]) -> Vec<PieceStart> {
        let at = match self.after.as_ref().and_then(|c| c.values.first()) {
            Some(SortValue::Text(state)) => Some(state.as_str()),
            _ => None,
        };
        let mut before_cursor = at.is_some();
        pieces
            .iter()
            .map(|state| match at {
                Some(at) if state.as_str() == at => {
                    before_cursor = false;
                    PieceStart::AfterCursor
                }
                _ if before_cursor => PieceStart::Skip,
                _ => PieceStart::Whole,
            })
            .collect()
    }

    /// The id tie-breaker's direction.
    pub fn id_direction(&self) -> SortDirection {
        self.sort
            .first()
            .map_or(SortDirection::Desc, |key| key.direction)
    }
}

impl Cursor {
    /// The cursor that continues after `invitation` in a listing sorted by `sort` at `now`.
    pub fn after_invitation(invitation: &Invitation, sort: &[SortKey], now: DateTime<Utc>) -> Self {
        let values = sort
            .iter()
            .map(|key| match key.field {
                SortField::CreatedAt => SortValue::Millis(invitation.created_at.timestamp_millis()),
                SortField::ExpiresAt => SortValue::Millis(invitation.expires_at.timestamp_millis()),
                // An invitation without an email sorts as "", first.
                SortField::Email => SortValue::Text(
                    invitation
                        .details
                        .contact
                        .email()
                        .map(|email| email.normalized().to_owned())
                        .unwrap_or_default(),
                ),
                SortField::State => SortValue::Text(invitation.state_at(now).as_str().to_owned()),
            })
            .collect();
        Self {
            values,
            id: invitation.id.as_uuid(),
        }
    }
}
