//! The MongoDB store, for production: a replica set (single-node is fine), majority writes.
//!
//! An invitation, its event history and (later) its queued email are one document, so every
//! change is one atomic single-document write; no transaction is needed for them.

mod codec;
mod events;
mod indexes;
mod listing;
mod templates;

use std::future::IntoFuture;
use std::time::Duration;

use async_trait::async_trait;
use bson::{Bson, Document, RawDocumentBuf, doc};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, CollectionOptions, ReturnDocument, WriteConcern};
use mongodb::{Client, Collection, Database};

use super::record::InvitationRecord;
use crate::domain::{Actor, Invitation, InvitationId, IsoDuration, SecretDigest};
use crate::ports::{
    Account, AccountStore, ApiTokenRecord, Erasure, InvitationFilter, InvitationStore, ListQuery,
    Page, StoreError, StoreResult, TokenStore,
};

const DUPLICATE_KEY: i32 = 11000;

#[derive(Debug, Clone)]
pub struct MongoStore {
    database: Database,
    invitations: Collection<Document>,
    accounts: Collection<Document>,
    tokens: Collection<Document>,
    erasures: Collection<Document>,
    event_collections: events::EventCollections,
    template_versions: Collection<Document>,
}

/// Runs a `find` and reads every document it returns.
pub(super) async fn all_of(
    find: impl IntoFuture<Output = mongodb::error::Result<mongodb::Cursor<Document>>>,
) -> StoreResult<Vec<Document>> {
    find.await
        .map_err(classify)?
        .try_collect()
        .await
        .map_err(classify)
}

/// The field a batch of replacements marks its documents with (see `update_many`). Reads
/// ignore it; the next single write drops it.
const WRITE_TOKEN: &str = "writeToken";

/// Server error codes that mean "no primary to take this right now": the replica set is
/// electing, the member stepped down or is shutting down, or a majority did not confirm in
/// time. The same write may succeed a moment later, on the new primary.
const REPLICATION_STATE_CODES: [i32; 12] = [
    64,    // WriteConcernFailed (a majority did not confirm within wtimeout)
    91,    // ShutdownInProgress
    189,   // PrimarySteppedDown
    262,   // ExceededTimeLimit
    10058, // LegacyNotPrimary
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
    6,     // HostUnreachable
    89,    // NetworkTimeout
];

/// The server's error code, wherever the error kind keeps it.
pub(super) fn server_code(err: &mongodb::error::Error) -> Option<i32> {
    match err.kind.as_ref() {
        ErrorKind::Command(command) => Some(command.code),
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some(e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => Some(e.code),
        ErrorKind::InsertMany(e) => e.write_concern_error.as_ref().map(|wce| wce.code),
        _ => None,
    }
}

/// Network trouble, a missing primary and a replica set changing its primary are
/// `Unavailable` (the caller may retry: UNAVAILABLE with a retry hint); the rest is `Other`.
pub(super) fn classify(err: mongodb::error::Error) -> StoreError {
    let unavailable = matches!(
        err.kind.as_ref(),
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
            | ErrorKind::Authentication { .. }
    ) || err.contains_label("RetryableWriteError")
        || server_code(&err).is_some_and(|code| REPLICATION_STATE_CODES.contains(&code));
    if unavailable {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Other(Box::new(err))
    }
}

/// The collection read as raw BSON: `codec` decodes records in place from the bytes the server
/// sent, without building a `Document` first.
fn raw(collection: &Collection<Document>) -> Collection<RawDocumentBuf> {
    collection.clone_with_type()
}

/// The message of a duplicate-key error, if `err` is one.
fn duplicate_key_message(err: &mongodb::error::Error) -> Option<&str> {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) if e.code == DUPLICATE_KEY => {
            Some(&e.message)
        }
        _ => None,
    }
}

impl MongoStore {
    /// Connects, checks the server answers, and creates the indexes. `retention` sets the TTL
    /// index that purges finished invitations (`None`: keep them).
    pub async fn connect(
        uri: &str,
        database: &str,
        retention: Option<IsoDuration>,
    ) -> StoreResult<Self> {
        let mut options = ClientOptions::parse(uri)
            .await
            .map_err(|err| StoreError::Unavailable(Box::new(err)))?;
        options
            .app_name
            .get_or_insert_with(|| "cms-invitations".to_owned());
        // Failover, deliberately (docs/deployment.md): a write or read that meets a primary
        // stepping down or gone is retried once on the new one, which the driver waits for up
        // to the server selection timeout. Every write here is safe to retry: inserts carry
        // their own ids and unique keys, and updates check the record's revision; a retried
        // write the server already applied is answered from its transaction table, not done
        // twice. A connection string may still say otherwise.
        options.retry_writes.get_or_insert(true);
        options.retry_reads.get_or_insert(true);
        // An election takes `electionTimeoutMillis` (10 s by default) plus the vote; a request
        // waits up to this long for a new primary, then gets UNAVAILABLE with a retry hint.
        options
            .server_selection_timeout
            .get_or_insert(Duration::from_secs(15));
        let client = Client::with_options(options).map_err(classify)?;
        Self::open(client.database(database), retention).await
    }

    /// Uses an existing database handle (a host that already has a client).
    pub async fn open(database: Database, retention: Option<IsoDuration>) -> StoreResult<Self> {
        // Majority and journaled: an acknowledged invitation survives a primary failover.
        let durable = CollectionOptions::builder()
            .write_concern(
                WriteConcern::builder()
                    .w(mongodb::options::Acknowledgment::Majority)
                    .journal(true)
                    .build(),
            )
            .build();
        let invitations = database.collection_with_options("invitations", durable.clone());
        let accounts = database.collection_with_options("accounts", durable.clone());
        let tokens = database.collection_with_options("api_tokens", durable.clone());
        let erasures = database.collection_with_options("erasures", durable.clone());
        let template_versions =
            database.collection_with_options("email_template_versions", durable.clone());
        indexes::ensure(&invitations, &accounts, &tokens, retention).await?;
        templates::ensure_indexes(&template_versions).await?;
        let event_collections = events::EventCollections {
            events: database.collection_with_options("invitation_events", durable.clone()),
            endpoints: database.collection_with_options("webhook_endpoints", durable.clone()),
            deliveries: database.collection_with_options("webhook_deliveries", durable),
        };
        event_collections.ensure_indexes().await?;
        Ok(Self {
            database,
            invitations,
            accounts,
            tokens,
            erasures,
            event_collections,
            template_versions,
        })
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    async fn find_one(&self, filter: Document) -> StoreResult<Option<Invitation>> {
        match raw(&self.invitations)
            .find_one(filter)
            .await
            .map_err(classify)?
        {
            Some(document) => codec::invitation_record(&document)?
                .into_invitation()
                .map(Some),
            None => Ok(None),
        }
    }

    async fn find_many(
        &self,
        cursor: mongodb::Cursor<RawDocumentBuf>,
    ) -> StoreResult<Vec<Invitation>> {
        let documents: Vec<RawDocumentBuf> = cursor.try_collect().await.map_err(classify)?;
        documents
            .iter()
            .map(|d| codec::invitation_record(d)?.into_invitation())
            .collect()
    }

    async fn duplicate(&self, record: &InvitationRecord) -> StoreError {
        match self.holder(record).await {
            Ok(holder) => StoreError::DuplicatePending {
                existing: holder.map(|inv| inv.id),
            },
            Err(err) => err,
        }
    }

    /// The PENDING invitation in `record`'s scope that holds its email or its phone.
    async fn holder(&self, record: &InvitationRecord) -> StoreResult<Option<Invitation>> {
        let Some(mut filter) = person(record.email_normalized.as_deref(), record.phone.as_deref())
        else {
            return Ok(None);
        };
        filter.insert("scope", record.scope.as_deref());
        filter.insert("state", "PENDING");
        filter.insert("_id", doc! { "$ne": codec::uuid(record.id) });
        self.find_one(filter).await
    }

    /// Maps a write error: the one-pending rule names the holder; the rest is classified.
    async fn write_error(
        &self,
        err: mongodb::error::Error,
        record: &InvitationRecord,
    ) -> StoreError {
        match duplicate_key_message(&err) {
            Some(message) if message.contains(indexes::ONE_PENDING) => self.duplicate(record).await,
            _ => classify(err),
        }
    }
}

/// Documents with this normalized email or this phone; `None` when neither is given.
fn person(email_normalized: Option<&str>, phone: Option<&str>) -> Option<Document> {
    let addresses: Vec<Document> = [
        email_normalized.map(|email| doc! { "emailNorm": email }),
        phone.map(|phone| doc! { "phone": phone }),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!addresses.is_empty()).then(|| doc! { "$or": addresses })
}

#[async_trait]
impl InvitationStore for MongoStore {
    async fn insert(&self, invitation: &Invitation) -> StoreResult<()> {
        let record = InvitationRecord::from(invitation);
        match self
            .invitations
            .insert_one(codec::invitation_document(&record))
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => Err(self.write_error(err, &record).await),
        }
    }

    async fn insert_many(&self, invitations: &[Invitation]) -> Vec<StoreResult<()>> {
        if invitations.is_empty() {
            return Vec::new();
        }
        let records: Vec<InvitationRecord> =
            invitations.iter().map(InvitationRecord::from).collect();
        let documents: Vec<Document> = records.iter().map(codec::invitation_document).collect();
        let mut outcomes: Vec<StoreResult<()>> = records.iter().map(|_| Ok(())).collect();
        let Err(err) = self.invitations.insert_many(documents).ordered(false).await else {
            return outcomes;
        };
        let ErrorKind::InsertMany(failure) = err.kind.as_ref() else {
            let shared = err.to_string();
            return records
                .iter()
                .map(|_| Err(StoreError::Other(shared.clone().into())))
                .collect();
        };
        for write_error in failure.write_errors.iter().flatten() {
            let Some(record) = records.get(write_error.index) else {
                continue;
            };
            outcomes[write_error.index] = Err(
                if write_error.code == DUPLICATE_KEY
                    && write_error.message.contains(indexes::ONE_PENDING)
                {
                    self.duplicate(record).await
                } else {
                    StoreError::Other(
                        format!("insert failed with server code {}", write_error.code).into(),
                    )
                },
            );
        }
        if failure.write_concern_error.is_some() {
            // Written, but not confirmed on a majority: report what we cannot promise.
            for outcome in outcomes.iter_mut().filter(|o| o.is_ok()) {
                *outcome = Err(StoreError::Unavailable(
                    "write concern not satisfied".into(),
                ));
            }
        }
        outcomes
    }

    async fn get(&self, id: InvitationId) -> StoreResult<Option<Invitation>> {
        self.find_one(doc! { "_id": codec::uuid(id.as_uuid()) })
            .await
    }

    async fn find_by_secret_digest(
        &self,
        digest: &SecretDigest,
    ) -> StoreResult<Option<Invitation>> {
        self.find_one(doc! { "secretDigest": codec::digest(digest.as_bytes()) })
            .await
    }

    async fn update(&self, invitation: &Invitation) -> StoreResult<u64> {
        let mut record = InvitationRecord::from(invitation);
        let read_revision = record.revision;
        record.revision += 1;
        let filter = doc! { "_id": codec::uuid(record.id), "revision": read_revision };
        match self
            .invitations
            .replace_one(filter, codec::invitation_document(&record))
            .await
        {
            Ok(result) if result.matched_count == 1 => Ok(invitation.revision + 1),
            Ok(_) => Err(StoreError::Conflict),
            Err(err) => Err(self.write_error(err, &record).await),
        }
    }

    async fn update_many(&self, invitations: &[Invitation]) -> StoreResult<Vec<Option<u64>>> {
        match invitations {
            [] => return Ok(Vec::new()),
            [one] => {
                return match self.update(one).await {
                    Ok(revision) => Ok(vec![Some(revision)]),
                    Err(StoreError::Conflict) => Ok(vec![None]),
                    Err(err) => Err(err),
                };
            }
            _ => {}
        }
        // One `update` command with a replacement per invitation, each under its revision
        // check: one round trip and one journal commit for the batch (the driver's bulk write
        // needs MongoDB 8). Its answer counts matches but does not say which, so every
        // replacement carries this write's token: when some did not match, the documents that
        // hold the token are the ones written.
        let token = Bson::String(uuid::Uuid::new_v4().simple().to_string());
        let mut updates = Vec::with_capacity(invitations.len());
        let mut ids = Vec::with_capacity(invitations.len());
        for invitation in invitations {
            let mut record = InvitationRecord::from(invitation);
            let read_revision = record.revision;
            record.revision += 1;
            let mut replacement = codec::invitation_document(&record);
            replacement.insert(WRITE_TOKEN, token.clone());
            ids.push(codec::uuid(record.id));
            updates.push(Bson::Document(doc! {
                "q": { "_id": codec::uuid(record.id), "revision": read_revision },
                "u": replacement,
            }));
        }
        let answer = self
            .database
            .run_command(doc! {
                "update": self.invitations.name(),
                "updates": updates,
                "ordered": false,
                "writeConcern": { "w": "majority", "j": true },
            })
            .await
            .map_err(classify)?;
        if let Ok(concern) = answer.get_document("writeConcernError") {
            return Err(StoreError::Unavailable(
                format!("a batch of invitation writes was not confirmed by a majority: {concern}")
                    .into(),
            ));
        }
        // A statement a unique index refused (`writeErrors`) matched nothing and reads as not
        // written below: the caller writes it again alone, which says why.
        let matched = answer
            .get_i32("n")
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        if matched == invitations.len() {
            return Ok(invitations.iter().map(|i| Some(i.revision + 1)).collect());
        }
        let written: std::collections::HashSet<Vec<u8>> = all_of(
            self.invitations
                .find(doc! { "_id": { "$in": ids }, WRITE_TOKEN: &token })
                .projection(doc! { "_id": 1 }),
        )
        .await?
        .iter()
        .filter_map(|found| match found.get("_id") {
            Some(Bson::Binary(id)) => Some(id.bytes.clone()),
            _ => None,
        })
        .collect();
        Ok(invitations
            .iter()
            .map(|invitation| {
                written
                    .contains(invitation.id.as_uuid().as_bytes().as_slice())
                    .then(|| invitation.revision + 1)
            })
            .collect())
    }

    async fn list(&self, query: &ListQuery, now: DateTime<Utc>) -> StoreResult<Page> {
        let cursor = self
            .invitations
            .aggregate(listing::page_pipeline(query, now, self.invitations.name()))
            .with_type::<RawDocumentBuf>()
            .await
            .map_err(classify)?;
        let mut items = self.find_many(cursor).await?;
        let has_next_page = items.len() > query.first;
        items.truncate(query.first);
        Ok(Page {
            items,
            has_next_page,
        })
    }

    async fn count(&self, filter: &InvitationFilter, now: DateTime<Utc>) -> StoreResult<u64> {
        let filter = listing::filter_document(filter, now);
        if filter.is_empty() {
            // Everything: the collection's own count, kept by the storage engine, instead of
            // visiting a million documents. It is exact except after an unclean shutdown of
            // `mongod`, until the collection is validated (docs/deployment.md).
            return self
                .invitations
                .estimated_document_count()
                .await
                .map_err(classify);
        }
        self.invitations
            .count_documents(filter)
            .await
            .map_err(classify)
    }

    async fn due_for_expiry(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Invitation>> {
        let cursor = raw(&self.invitations)
            .find(doc! { "state": "PENDING", "expiresAt": { "$lte": codec::time(now) } })
            .sort(doc! { "state": 1, "expiresAt": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(classify)?;
        self.find_many(cursor).await
    }

    async fn due_messages(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Invitation>> {
        let cursor = raw(&self.invitations)
            .find(doc! { "nextMessageAt": { "$lte": codec::time(now) } })
            .sort(doc! { "nextMessageAt": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(classify)?;
        self.find_many(cursor).await
    }

    async fn purge_finished(&self, finished_before: DateTime<Utc>) -> StoreResult<u64> {
        let result = self
            .invitations
            .delete_many(doc! { "finishedAt": { "$lt": codec::time(finished_before) } })
            .await
            .map_err(classify)?;
        Ok(result.deleted_count)
    }

    async fn ping(&self) -> StoreResult<()> {
        self.database
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(classify)
            .map(drop)
    }

    async fn invitations_for_person(
        &self,
        email_normalized: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<Vec<(InvitationId, Option<String>)>> {
        let Some(filter) = person(email_normalized, phone) else {
            return Ok(Vec::new());
        };
        let cursor = raw(&self.invitations)
            .find(filter)
            .await
            .map_err(classify)?;
        Ok(self
            .find_many(cursor)
            .await?
            .into_iter()
            .map(|i| (i.id, i.details.scope.map(|s| s.as_str().to_owned())))
            .collect())
    }

    async fn erase(
        &self,
        ids: &[InvitationId],
        actor: &Actor,
        operation: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        // The records first: once they are gone nothing publishes their events any more (a
        // publish in flight erases what it logged, see `remove_published`).
        let keys: Vec<Bson> = ids.iter().map(|id| codec::uuid(id.as_uuid())).collect();
        let deleted = self
            .invitations
            .delete_many(doc! { "_id": { "$in": keys } })
            .await
            .map_err(classify)?
            .deleted_count;
        let uuids: Vec<uuid::Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        self.erase_traces(&uuids).await?;
        self.erasures
            .insert_one(doc! {
                "_id": uuid::Uuid::now_v7().hyphenated().to_string(),
                "at": codec::time(at),
                "actorId": &actor.id,
                "actorName": &actor.name,
                "operation": operation,
                "count": i64::try_from(deleted).unwrap_or(i64::MAX),
            })
            .await
            .map_err(classify)?;
        Ok(deleted)
    }

    async fn erasures(&self, limit: usize) -> StoreResult<Vec<Erasure>> {
        let documents: Vec<Document> = all_of(
            self.erasures
                .find(doc! {})
                .sort(doc! { "at": -1, "_id": -1 })
                .limit(i64::try_from(limit).unwrap_or(i64::MAX)),
        )
        .await?;
        documents
            .into_iter()
            .map(|d| {
                let corrupt = || StoreError::Corrupt(format!("erasure {d}"));
                Ok(Erasure {
                    id: d
                        .get_str("_id")
                        .ok()
                        .and_then(|id| uuid::Uuid::parse_str(id).ok())
                        .ok_or_else(corrupt)?,
                    at: d.get_datetime("at").map_err(|_| corrupt())?.to_chrono(),
                    actor: Actor {
                        id: d.get_str("actorId").map_err(|_| corrupt())?.to_owned(),
                        name: d.get_str("actorName").map_err(|_| corrupt())?.to_owned(),
                    },
                    operation: d.get_str("operation").map_err(|_| corrupt())?.to_owned(),
                    count: u64::try_from(d.get_i64("count").map_err(|_| corrupt())?)
                        .map_err(|_| corrupt())?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl AccountStore for MongoStore {
    async fn find_account(
        &self,
        email_normalized: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<Option<Account>> {
        // By email first: an email names one person more surely than a phone.
        let lookups = [
            email_normalized.map(|email| doc! { "emailNorm": email }),
            phone.map(|phone| doc! { "phone": phone }),
        ];
        for filter in lookups.into_iter().flatten() {
            if let Some(document) = raw(&self.accounts)
                .find_one(filter)
                .await
                .map_err(classify)?
            {
                return codec::account(&document).map(Some);
            }
        }
        Ok(None)
    }

    async fn insert_account(&self, account: &Account) -> StoreResult<()> {
        match self
            .accounts
            .insert_one(codec::account_document(account))
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if duplicate_key_message(&err).is_some() => Err(StoreError::DuplicateAccount),
            Err(err) => Err(classify(err)),
        }
    }

    async fn attach_to_account(
        &self,
        account_id: &str,
        role: &str,
        groups: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let updated = raw(&self.accounts)
            .find_one_and_update(
                doc! { "_id": account_id },
                doc! {
                    "$addToSet": { "roles": role, "groups": { "$each": groups } },
                    "$set": { "updatedAt": codec::time(now) },
                },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(classify)?;
        match updated {
            Some(document) => codec::account(&document),
            None => Err(StoreError::Conflict),
        }
    }
}

#[async_trait]
impl TokenStore for MongoStore {
    async fn insert_token(&self, token: &ApiTokenRecord) -> StoreResult<()> {
        match self.tokens.insert_one(codec::token_document(token)).await {
            Ok(_) => Ok(()),
            Err(err) if duplicate_key_message(&err).is_some() => Err(StoreError::DuplicateToken),
            Err(err) => Err(classify(err)),
        }
    }

    async fn find_token(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>> {
        match raw(&self.tokens)
            .find_one(doc! { "digest": codec::digest(digest) })
            .await
            .map_err(classify)?
        {
            Some(document) => codec::token(&document).map(Some),
            None => Ok(None),
        }
    }

    async fn count_tokens(&self) -> StoreResult<u64> {
        self.tokens.count_documents(doc! {}).await.map_err(classify)
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiTokenRecord>> {
        let mut cursor = raw(&self.tokens)
            .find(doc! {})
            .sort(doc! { "createdAt": 1, "_id": 1 })
            .await
            .map_err(classify)?;
        let mut tokens = Vec::new();
        while let Some(document) = cursor.try_next().await.map_err(classify)? {
            tokens.push(codec::token(&document)?);
        }
        Ok(tokens)
    }

    async fn revoke_token(&self, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let revoked = self
            .tokens
            .update_one(
                doc! { "_id": id, "revokedAt": null },
                doc! { "$set": { "revokedAt": codec::time(now) } },
            )
            .await
            .map_err(classify)?;
        Ok(revoked.modified_count == 1)
    }

    async fn touch_token(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        self.tokens
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { "lastUsedAt": codec::time(now) } },
            )
            .await
            .map(drop)
            .map_err(classify)
    }
}
