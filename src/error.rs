//! The module's one error type and its stable codes: the API contract for programs.
//!
//! People read `Display` (safe to show: no driver message, no stack, no secret); programs read
//! [`Error::code`]; logs read the `source()` chain of `Unavailable` and `Internal`.

use std::fmt;

use crate::domain::{
    InvitationId, InvitationState, MalformedSecret, TransitionRefused, ValidationError,
};

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every code the API can return. The names are a contract; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    ValidationFailed,
    DuplicatePendingInvitation,
    InvalidSecret,
    InvitationExpired,
    InvitationAccepted,
    InvitationRevoked,
    InvitationDeclined,
    RateLimited,
    PersistedQueryNotFound,
    PersistedQueryNotSupported,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [Self; 15] = [
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::ValidationFailed,
        Self::DuplicatePendingInvitation,
        Self::InvalidSecret,
        Self::InvitationExpired,
        Self::InvitationAccepted,
        Self::InvitationRevoked,
        Self::InvitationDeclined,
        Self::RateLimited,
        Self::PersistedQueryNotFound,
        Self::PersistedQueryNotSupported,
        Self::Unavailable,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::ValidationFailed => "VALIDATION_FAILED",
            Self::DuplicatePendingInvitation => "DUPLICATE_PENDING_INVITATION",
            Self::InvalidSecret => "INVALID_SECRET",
            Self::InvitationExpired => "INVITATION_EXPIRED",
            Self::InvitationAccepted => "INVITATION_ACCEPTED",
            Self::InvitationRevoked => "INVITATION_REVOKED",
            Self::InvitationDeclined => "INVITATION_DECLINED",
            Self::RateLimited => "RATE_LIMITED",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }
}

impl ErrorCode {
    /// When the code is returned, for `docs/graphql.md` (a test keeps the two in step).
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Unauthenticated => {
                "no principal: an editor operation without a token, or a token that is not valid (HTTP 401)"
            }
            Self::Forbidden => {
                "the principal may not do this: read without read permission, create/resend/revoke without a grantable role, manage an invitation whose role it may not grant, or edit email templates without the `templates` permission"
            }
            Self::NotFound => {
                "no invitation with this id (resend, revoke), or no such webhook endpoint, delivery, template or template version"
            }
            Self::ValidationFailed => {
                "an input is not acceptable; `extensions.field` names it. A template that would not render adds `extensions.problems` (`line:column: message` each). Also malformed GraphQL, unknown fields, and the depth, complexity and body-size limits"
            }
            Self::DuplicatePendingInvitation => {
                "a PENDING invitation exists for this email (or phone) and scope; `extensions.invitationId` names it (create with `onDuplicate: RESEND` to resend it instead)"
            }
            Self::InvalidSecret => {
                "no invitation has this secret (never issued, mistyped, or replaced by a resend)"
            }
            Self::InvitationExpired => {
                "the invitation is past `expiresAt`, even if the sweeper has not persisted it yet"
            }
            Self::InvitationAccepted => "the invitation has been accepted already",
            Self::InvitationRevoked => "the invitation has been revoked",
            Self::InvitationDeclined => "the invitation has been declined",
            Self::RateLimited => {
                "too many public operations from this client or for this invitation; `extensions.retryAfterSeconds` and the `Retry-After` header say when to retry"
            }
            Self::PersistedQueryNotFound => {
                "the request names a persisted query (`extensions.persistedQuery.sha256Hash`) this server does not hold; send it again with the query"
            }
            Self::PersistedQueryNotSupported => {
                "persisted queries are off on this server (`persisted_query_cache_bytes = 0`); send the query itself"
            }
            Self::Unavailable => {
                "the store cannot be reached, is busy, or its replica set is electing a primary; retry after `extensions.retryAfterSeconds` (the cause is logged, not shown)"
            }
            Self::Internal => "a bug or corrupted data; the cause is logged, not shown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sign in with an API token to do this")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("no invitation with this id")]
    NotFound,
    /// NOT_FOUND for something other than an invitation (a webhook endpoint, a delivery).
    #[error("no {0} with this id")]
    NoSuch(&'static str),
    #[error("{}", .0.message())]
    Validation(#[from] ValidationError),
    /// A template that would not render: VALIDATION_FAILED on `source`, each problem as
    /// `line:column: message` in `extensions.problems`.
    #[error("the template has {} problem{}: {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.join("; "))]
    TemplateRejected(Vec<String>),
    #[error("a pending invitation for this email (or phone) and scope already exists")]
    DuplicatePending { existing: InvitationId },
    #[error("this invitation link is not valid")]
    InvalidSecret,
    #[error("{}", state_message(*.0))]
    InvitationState(InvitationState),
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the service is temporarily unavailable; try again shortly")]
    Unavailable(#[source] BoxError),
    #[error("something went wrong on our side")]
    Internal(#[source] BoxError),
}

fn state_message(state: InvitationState) -> &'static str {
    match state {
        InvitationState::Expired => "this invitation has expired; ask for a new one",
        InvitationState::Accepted => "this invitation has already been accepted",
        InvitationState::Revoked => "this invitation has been revoked",
        InvitationState::Declined => "this invitation has been declined",
        InvitationState::Pending => "this invitation is still pending",
    }
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound | Self::NoSuch(_) => ErrorCode::NotFound,
            Self::Validation(_) | Self::TemplateRejected(_) => ErrorCode::ValidationFailed,
            Self::DuplicatePending { .. } => ErrorCode::DuplicatePendingInvitation,
            Self::InvalidSecret => ErrorCode::InvalidSecret,
            Self::InvitationState(InvitationState::Expired) => ErrorCode::InvitationExpired,
            Self::InvitationState(InvitationState::Accepted) => ErrorCode::InvitationAccepted,
            Self::InvitationState(InvitationState::Revoked) => ErrorCode::InvitationRevoked,
            Self::InvitationState(InvitationState::Declined) => ErrorCode::InvitationDeclined,
            // No operation is refused because an invitation is pending.
            Self::InvitationState(InvitationState::Pending) => ErrorCode::Internal,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The input field a validation error is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Validation(err) => Some(err.field()),
            Self::TemplateRejected(_) => Some("source"),
            _ => None,
        }
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(ValidationError::new(field, message))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into().into())
    }
}

impl From<TransitionRefused> for Error {
    fn from(refused: TransitionRefused) -> Self {
        Self::InvitationState(refused.0)
    }
}

impl From<MalformedSecret> for Error {
    fn from(_: MalformedSecret) -> Self {
        Self::InvalidSecret
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
