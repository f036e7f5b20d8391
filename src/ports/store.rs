//! The store port: what the service and the standalone server need from persistence. Two
//! adapters implement it (`crate::store::mongo` for production, `crate::store::sqlite` as the
//! embedded default), proved by one contract test suite that runs against both.
//!
//! Stores keep whole invitations, including their event history and queued messages, in one
//! record, so that a change and the event that records it are a single atomic write. Every
//! update is conditional on the revision that was read: of two racing writers exactly one
//! wins, the other gets [`StoreError::Conflict`] and re-reads. The rules of what may change
//! live in the domain.

use std::fmt::Debug;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::account::Account;
use super::listing::{InvitationFilter, ListQuery, Page};
use super::token::ApiTokenRecord;
use crate::domain::{Actor, Invitation, InvitationId, SecretDigest};
use crate::error::{BoxError, Error};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another PENDING invitation holds this normalized email (or phone) and scope. `existing`
    /// is `None` when the holder changed state before it could be read back.
    #[error("a pending invitation already exists for this email or phone and scope")]
    DuplicatePending { existing: Option<InvitationId> },
    /// An account with this normalized email exists already.
    #[error("an account with this email already exists")]
    DuplicateAccount,
    /// An API token with this id exists already.
    #[error("an API token with this id already exists")]
    DuplicateToken,
    /// The record changed since it was read (or is gone): re-read and decide again.
    #[error("the record was changed concurrently")]
    Conflict,
    /// The database cannot be reached or timed out.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// A stored record cannot be read back (data written by something else, or corrupted).
    #[error("a stored record is malformed: {0}")]
    Corrupt(String),
    #[error("store error")]
    Other(#[source] BoxError),
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::DuplicatePending {
                existing: Some(existing),
            } => Error::DuplicatePending { existing },
            StoreError::Unavailable(source) => Error::Unavailable(source),
            other => Error::Internal(Box::new(other)),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait InvitationStore: Send + Sync + Debug {
    /// Stores a new invitation (revision 0). Fails with `DuplicatePending` when another PENDING
    /// invitation holds its normalized email and scope.
    async fn insert(&self, invitation: &Invitation) -> StoreResult<()>;

    /// Stores many new invitations; one outcome per input, in order. A failed item does not
    /// stop the others.
    async fn insert_many(&self, invitations: &[Invitation]) -> Vec<StoreResult<()>>;

    async fn get(&self, id: InvitationId) -> StoreResult<Option<Invitation>>;

    /// Looks an invitation up by the digest of its current secret. No side effects.
    async fn find_by_secret_digest(&self, digest: &SecretDigest)
    -> StoreResult<Option<Invitation>>;

    /// Writes `invitation` if the stored revision is still `invitation.revision`, and returns
    /// the new revision. `Conflict` when it is not; `DuplicatePending` when the write would
    /// make a second PENDING invitation for the same email and scope.
    async fn update(&self, invitation: &Invitation) -> StoreResult<u64>;

    /// Writes each of `invitations` as [`Self::update`] would, together where the store can
    /// (one round trip, one commit for the batch): for each, in order, its new revision, or
    /// `None` when its stored revision moved on or it is gone (the caller reads it again).
    /// An error says nothing of which were written; each revision check still holds, so the
    /// caller may read them again and decide again. The default writes them one by one.
    async fn update_many(&self, invitations: &[Invitation]) -> StoreResult<Vec<Option<u64>>> {
        let mut written = Vec::with_capacity(invitations.len());
        for invitation in invitations {
            written.push(match self.update(invitation).await {
                Ok(revision) => Some(revision),
                Err(StoreError::Conflict) => None,
                Err(err) => return Err(err),
            });
        }
        Ok(written)
    }

    /// One page of invitations matching the filter, in the requested order. `now` decides
    /// which PENDING invitations read as EXPIRED.
    async fn list(&self, query: &ListQuery, now: DateTime<Utc>) -> StoreResult<Page>;

    /// How many invitations match the filter at `now`.
    async fn count(&self, filter: &InvitationFilter, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Up to `limit` invitations stored as PENDING whose expiry has passed.
    async fn due_for_expiry(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Invitation>>;

    /// Up to `limit` invitations with a queued message available at `now` (due, and not held
    /// by a live lease), the longest waiting first.
    async fn due_messages(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Invitation>>;

    /// Deletes invitations that finished (accepted, revoked, declined or expired) before
    /// `finished_before`; returns how many went. MongoDB also purges through a TTL index.
    async fn purge_finished(&self, finished_before: DateTime<Utc>) -> StoreResult<u64>;

    /// Checks that the store answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// Every invitation for this normalized email or this phone (E.164), in any state and
    /// scope: its id and scope.
    async fn invitations_for_person(
        &self,
        email_normalized: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<Vec<(InvitationId, Option<String>)>>;

    /// Deletes the invitations `ids` with every trace they left in the store: the records
    /// (their queued messages and unpublished events with them), their logged events and
    /// their webhook deliveries, except `invitation.deleted` ones (which hold no personal
    /// data). Then stores an [`Erasure`] by `actor` with the number deleted, and returns it.
    async fn erase(
        &self,
        ids: &[InvitationId],
        actor: &Actor,
        operation: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// The latest `limit` erasures, newest first.
    async fn erasures(&self, limit: usize) -> StoreResult<Vec<Erasure>>;
}

/// The audit entry an erasure leaves: who erased how many invitations, when, and how. It holds
/// no personal data of the people erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// `deleteInvitation` or `eraseInvitee`.
    pub operation: String,
    pub count: u64,
}

/// Accounts of the standalone server's built-in provisioner.
#[async_trait]
pub trait AccountStore: Send + Sync + Debug {
    /// The account with this normalized email, else the one with this phone (E.164).
    async fn find_account(
        &self,
        email_normalized: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<Option<Account>>;

    /// `DuplicateAccount` when an account with the same normalized email or phone exists.
    async fn insert_account(&self, account: &Account) -> StoreResult<()>;

    /// Adds a role and groups to an account (set semantics: repeating it changes nothing).
    async fn attach_to_account(
        &self,
        account_id: &str,
        role: &str,
        groups: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Account>;
}

/// API tokens of the standalone server.
#[async_trait]
pub trait TokenStore: Send + Sync + Debug {
    /// `DuplicateToken` when a token with the same id exists (the bootstrap token has a fixed
    /// id, so two servers starting at once cannot both make one).
    async fn insert_token(&self, token: &ApiTokenRecord) -> StoreResult<()>;

    async fn find_token(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>>;

    async fn count_tokens(&self) -> StoreResult<u64>;

    /// Every token, oldest first.
    async fn list_tokens(&self) -> StoreResult<Vec<ApiTokenRecord>>;

    /// Marks the token revoked at `now`; `false` when there is no such token or it was
    /// revoked already.
    async fn revoke_token(&self, id: &str, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Records that the token signed a request in at `now`.
    async fn touch_token(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()>;
}

/// What the service and the standalone server need from persistence.
pub trait Store:
    InvitationStore + AccountStore + TokenStore + super::EventStore + super::TemplateStore
{
}

impl<T> Store for T where
    T: InvitationStore + AccountStore + TokenStore + super::EventStore + super::TemplateStore
{
}
