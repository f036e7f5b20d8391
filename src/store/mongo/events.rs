//! The event log, webhook endpoints and deliveries in MongoDB, and the change stream that
//! carries logged events to every server instance.

use std::sync::Arc;

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt as _;
use mongodb::change_stream::event::ResumeToken;
use mongodb::error::ErrorKind;
use mongodb::options::{FullDocumentType, IndexOptions};
use mongodb::{Collection, IndexModel};
use uuid::Uuid;

use super::{DUPLICATE_KEY, MongoStore, all_of, classify, duplicate_key_message, raw};
use crate::domain::{EventType, Invitation, InvitationId, WebhookDelivery, WebhookEndpoint};
use crate::ports::{
    EventStore, FeedPosition, FeedStream, LoggedEvent, SharedEventFeed, StoreError, StoreResult,
};
use crate::store::webhook_record::{DeliveryRecord, EndpointRecord, LoggedEventRecord, ms};

/// Ids are stored as hyphenated text in `_id`: UUID v7 sorts by creation time that way.
pub(super) fn key(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// The value a record's UUID field is stored as, for filters.
fn uuid_value(id: Uuid) -> Bson {
    bson::to_bson(&id).unwrap_or(Bson::Null)
}

pub(super) fn to_document<T: serde::Serialize>(record: &T, id: Uuid) -> StoreResult<Document> {
    let mut document = bson::to_document(record).map_err(|err| StoreError::Other(Box::new(err)))?;
    document.insert("_id", key(id));
    Ok(document)
}

pub(super) fn from_document<T: serde::de::DeserializeOwned>(
    mut document: Document,
    what: &str,
) -> StoreResult<T> {
    document.remove("_id");
    bson::from_document(document).map_err(|_| StoreError::Corrupt(format!("a stored {what}")))
}

fn delivery_document(record: &DeliveryRecord) -> StoreResult<Document> {
    let mut document = to_document(record, record.id)?;
    // When a sender may take it: the later of its next attempt and its lease.
    let available = record.lease_until.map_or(record.next_attempt_at, |lease| {
        lease.max(record.next_attempt_at)
    });
    document.insert("availableAt", available);
    Ok(document)
}

fn delivery_from(document: Document) -> StoreResult<WebhookDelivery> {
    let mut document = document;
    document.remove("availableAt");
    document.remove("claim");
    from_document::<DeliveryRecord>(document, "webhook delivery")?.into_delivery()
}

/// Collections and indexes of the events side.
#[derive(Debug, Clone)]
pub(super) struct EventCollections {
    pub events: Collection<Document>,
    pub endpoints: Collection<Document>,
    pub deliveries: Collection<Document>,
}

impl EventCollections {
    pub(super) async fn ensure_indexes(&self) -> StoreResult<()> {
        let named = |name: &str, keys: Document, options: IndexOptions| {
            let mut options = options;
            options.name = Some(name.to_owned());
            IndexModel::builder().keys(keys).options(options).build()
        };
        self.events
            .create_indexes([
                named("by_at", doc! { "at": 1 }, IndexOptions::default()),
                named(
                    "by_invitation",
                    doc! { "invitationId": 1 },
                    IndexOptions::default(),
                ),
            ])
            .await
            .map_err(classify)?;
        self.deliveries
            .create_indexes([
                named(
                    "one_per_event_and_endpoint",
                    doc! { "eventId": 1, "endpointId": 1 },
                    IndexOptions::builder().unique(true).build(),
                ),
                named(
                    "due",
                    doc! { "availableAt": 1 },
                    IndexOptions::builder()
                        .partial_filter_expression(doc! { "state": "PENDING" })
                        .build(),
                ),
                named(
                    "by_endpoint",
                    doc! { "endpointId": 1, "_id": -1 },
                    IndexOptions::default(),
                ),
                named(
                    "by_created",
                    doc! { "createdAt": 1 },
                    IndexOptions::default(),
                ),
            ])
            .await
            .map_err(classify)?;
        Ok(())
    }
}

fn is_duplicate(err: &mongodb::error::Error) -> bool {
    duplicate_key_message(err).is_some()
}

/// For an unordered `insert_many` that failed only on duplicate keys, the indexes of the
/// duplicates; `None` for any other failure.
fn only_duplicates(err: &mongodb::error::Error) -> Option<Vec<usize>> {
    match err.kind.as_ref() {
        ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => {
            let errors = failure.write_errors.as_deref().unwrap_or_default();
            errors
                .iter()
                .all(|e| e.code == DUPLICATE_KEY)
                .then(|| errors.iter().map(|e| e.index).collect())
        }
        _ => None,
    }
}

impl MongoStore {
    /// Deletes the logged events and webhook deliveries of the invitations `ids`, except
    /// those of their `invitation.deleted` events, which hold no personal data.
    pub(super) async fn erase_traces(&self, ids: &[Uuid]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<Bson> = ids.iter().map(|id| uuid_value(*id)).collect();
        let filter = doc! {
            "invitationId": { "$in": ids },
            "type": { "$ne": EventType::Deleted.as_str() },
        };
        // Deliveries through their events' ids (every delivery's event is in the log for at
        // least as long as the delivery, and deliveries are indexed by event), then the events.
        let events = all_of(
            self.event_collections
                .events
                .find(filter.clone())
                .projection(doc! { "id": 1 }),
        )
        .await?;
        let event_ids: Vec<Bson> = events.iter().filter_map(|e| e.get("id").cloned()).collect();
        self.event_collections
            .deliveries
            .delete_many(doc! { "eventId": { "$in": event_ids } })
            .await
            .map_err(classify)?;
        self.event_collections
            .events
            .delete_many(filter)
            .await
            .map_err(classify)?;
        Ok(())
    }
}

#[async_trait]
impl EventStore for MongoStore {
    async fn log_events(
        &self,
        events: &[(LoggedEvent, Vec<WebhookDelivery>)],
    ) -> StoreResult<Vec<bool>> {
        let mut new = vec![true; events.len()];
        if events.is_empty() {
            return Ok(new);
        }
        let documents = events
            .iter()
            .map(|(event, _)| to_document(&LoggedEventRecord::from(event), event.id))
            .collect::<StoreResult<Vec<_>>>()?;
        if let Err(err) = self
            .event_collections
            .events
            .insert_many(documents)
            .ordered(false)
            .await
        {
            // Logged by an earlier pass: exactly what idempotence asks.
            for index in only_duplicates(&err).ok_or_else(|| classify(err))? {
                if let Some(slot) = new.get_mut(index) {
                    *slot = false;
                }
            }
        }
        let deliveries = events
            .iter()
            .flat_map(|(_, deliveries)| deliveries)
            .map(|d| delivery_document(&DeliveryRecord::from(d)))
            .collect::<StoreResult<Vec<_>>>()?;
        if !deliveries.is_empty()
            && let Err(err) = self
                .event_collections
                .deliveries
                .insert_many(deliveries)
                .ordered(false)
                .await
        {
            only_duplicates(&err).ok_or_else(|| classify(err))?;
        }
        Ok(new)
    }

    async fn remove_published(&self, published: &[(InvitationId, Vec<Uuid>)]) -> StoreResult<()> {
        if published.is_empty() {
            return Ok(());
        }
        let records = || -> Vec<Bson> {
            published
                .iter()
                .map(|(id, _)| super::codec::uuid(id.as_uuid()))
                .collect()
        };
        // Event ids as the records store them; each belongs to one record, so one list serves
        // every record of the batch.
        let events: Vec<Bson> = published
            .iter()
            .flat_map(|(_, ids)| ids)
            .map(|id| uuid_value(*id))
            .collect();
        let pipeline = vec![
            doc! { "$set": { "pendingEvents": { "$filter": {
                "input": { "$ifNull": ["$pendingEvents", []] },
                "as": "event",
                "cond": { "$not": [{ "$in": ["$$event.id", events] }] },
            } } } },
            // Records left without events leave the takeover index. One that still holds an
            // event keeps its (earlier) time: the takeover may look at it early and finds
            // nothing to take.
            doc! { "$set": {
                "nextEventAt": { "$cond": [
                    { "$eq": [{ "$size": "$pendingEvents" }, 0] }, "$$REMOVE", "$nextEventAt",
                ] },
                "revision": { "$add": ["$revision", 1] },
            } },
        ];
        let updated = self
            .invitations
            .update_many(doc! { "_id": { "$in": records() } }, pipeline)
            .await
            .map_err(classify)?;
        if usize::try_from(updated.matched_count).unwrap_or(usize::MAX) < published.len() {
            // Some were erased while their events were being published: what was just
            // logged of them goes too.
            let existing: Vec<Document> = all_of(
                self.invitations
                    .find(doc! { "_id": { "$in": records() } })
                    .projection(doc! { "_id": 1 }),
            )
            .await?;
            let existing: Vec<&Bson> = existing.iter().filter_map(|d| d.get("_id")).collect();
            let gone: Vec<Uuid> = published
                .iter()
                .map(|(id, _)| id.as_uuid())
                .filter(|id| !existing.contains(&&super::codec::uuid(*id)))
                .collect();
            self.erase_traces(&gone).await?;
        }
        Ok(())
    }

    async fn abandoned_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Invitation>> {
        let cursor = raw(&self.invitations)
            .find(doc! { "nextEventAt": { "$lte": super::codec::time(now) } })
            .sort(doc! { "nextEventAt": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(classify)?;
        self.find_many(cursor).await
    }

    async fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        let record = EndpointRecord::from(endpoint);
        self.event_collections
            .endpoints
            .insert_one(to_document(&record, record.id)?)
            .await
            .map(drop)
            .map_err(classify)
    }

    async fn update_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<u64> {
        let mut record = EndpointRecord::from(endpoint);
        let expected = record.revision;
        record.revision += 1;
        let result = self
            .event_collections
            .endpoints
            .replace_one(
                doc! { "_id": key(record.id), "revision": expected },
                to_document(&record, record.id)?,
            )
            .await
            .map_err(classify)?;
        if result.matched_count == 1 {
            Ok(endpoint.revision + 1)
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn delete_endpoint(&self, id: Uuid) -> StoreResult<bool> {
        let result = self
            .event_collections
            .endpoints
            .delete_one(doc! { "_id": key(id) })
            .await
            .map_err(classify)?;
        Ok(result.deleted_count == 1)
    }

    async fn get_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
        self.event_collections
            .endpoints
            .find_one(doc! { "_id": key(id) })
            .await
            .map_err(classify)?
            .map(|d| from_document::<EndpointRecord>(d, "webhook endpoint")?.into_endpoint())
            .transpose()
    }

    async fn list_endpoints(&self) -> StoreResult<Vec<WebhookEndpoint>> {
        let documents: Vec<Document> = all_of(
            self.event_collections
                .endpoints
                .find(doc! {})
                .sort(doc! { "_id": 1 }),
        )
        .await?;
        documents
            .into_iter()
            .map(|d| from_document::<EndpointRecord>(d, "webhook endpoint")?.into_endpoint())
            .collect()
    }

    async fn insert_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()> {
        match self
            .event_collections
            .deliveries
            .insert_one(delivery_document(&DeliveryRecord::from(delivery))?)
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if is_duplicate(&err) => Err(StoreError::Conflict),
            Err(err) => Err(classify(err)),
        }
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let due = doc! { "state": "PENDING", "availableAt": { "$lte": ms(now) } };
        let candidates: Vec<Document> = all_of(
            self.event_collections
                .deliveries
                .find(due.clone())
                .sort(doc! { "availableAt": 1 })
                .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                .projection(doc! { "_id": 1 }),
        )
        .await?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Bson> = candidates
            .into_iter()
            .filter_map(|mut d| d.remove("_id"))
            .collect();
        // Picks and holds in one write per document, still due when written: of several
        // senders exactly one holds each. The token finds what this one got.
        let token = Uuid::now_v7().simple().to_string();
        let until = ms(now + lease);
        let mut filter = due;
        filter.insert("_id", doc! { "$in": ids });
        self.event_collections
            .deliveries
            .update_many(
                filter,
                doc! {
                    "$set": { "leaseUntil": until, "availableAt": until, "claim": &token },
                    "$inc": { "revision": 1 },
                },
            )
            .await
            .map_err(classify)?;
        self.find_deliveries(doc! { "claim": &token }, doc! { "availableAt": 1 }, limit)
            .await
    }

    async fn save_deliveries(&self, deliveries: &[WebhookDelivery]) -> StoreResult<Vec<bool>> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        // One `update` command with a statement per delivery: one round trip and one journal
        // commit for the batch (the driver's bulk write needs MongoDB 8).
        let mut updates = Vec::with_capacity(deliveries.len());
        let mut written = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let mut record = DeliveryRecord::from(delivery);
            let expected = record.revision;
            record.revision += 1;
            updates.push(Bson::Document(doc! {
                "q": { "_id": key(record.id), "revision": expected },
                "u": delivery_document(&record)?,
            }));
            written.push((key(record.id), record.revision));
        }
        let collection = &self.event_collections.deliveries;
        let answer = self
            .database
            .run_command(doc! {
                "update": collection.name(),
                "updates": updates,
                "ordered": false,
                "writeConcern": { "w": "majority", "j": true },
            })
            .await
            .map_err(classify)?;
        if answer.get_document("writeConcernError").is_ok()
            || answer.get_array("writeErrors").is_ok_and(|e| !e.is_empty())
        {
            return Err(StoreError::Unavailable(
                format!("saving webhook deliveries failed: {answer}").into(),
            ));
        }
        let matched = answer
            .get_i32("n")
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        if matched == deliveries.len() {
            return Ok(vec![true; deliveries.len()]);
        }
        // Some changed meanwhile: those that now hold this write's revision are written.
        let ids: Vec<Bson> = written
            .iter()
            .map(|(id, _)| Bson::String(id.clone()))
            .collect();
        let now: Vec<Document> = all_of(
            collection
                .find(doc! { "_id": { "$in": ids } })
                .projection(doc! { "revision": 1 }),
        )
        .await?;
        Ok(written
            .iter()
            .map(|(id, revision)| {
                now.iter().any(|d| {
                    d.get_str("_id").ok() == Some(id.as_str())
                        && d.get_i64("revision").ok() == Some(*revision)
                })
            })
            .collect())
    }

    async fn update_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<u64> {
        let mut record = DeliveryRecord::from(delivery);
        let expected = record.revision;
        record.revision += 1;
        let result = self
            .event_collections
            .deliveries
            .replace_one(
                doc! { "_id": key(record.id), "revision": expected },
                delivery_document(&record)?,
            )
            .await
            .map_err(classify)?;
        if result.matched_count == 1 {
            Ok(delivery.revision + 1)
        } else {
            Err(StoreError::Conflict)
        }
    }

    async fn get_delivery(&self, id: Uuid) -> StoreResult<Option<WebhookDelivery>> {
        self.event_collections
            .deliveries
            .find_one(doc! { "_id": key(id) })
            .await
            .map_err(classify)?
            .map(delivery_from)
            .transpose()
    }

    async fn list_deliveries(
        &self,
        endpoint: Uuid,
        first: usize,
        before: Option<Uuid>,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let mut filter = doc! { "endpointId": uuid_value(endpoint) };
        if let Some(before) = before {
            filter.insert("_id", doc! { "$lt": key(before) });
        }
        self.find_deliveries(filter, doc! { "_id": -1 }, first)
            .await
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let events = self
            .event_collections
            .events
            .delete_many(doc! { "at": { "$lt": ms(before) } })
            .await
            .map_err(classify)?;
        let deliveries = self
            .event_collections
            .deliveries
            .delete_many(doc! { "state": { "$ne": "PENDING" }, "createdAt": { "$lt": ms(before) } })
            .await
            .map_err(classify)?;
        Ok(events.deleted_count + deliveries.deleted_count)
    }

    fn shared_feed(&self) -> Option<Arc<dyn SharedEventFeed>> {
        Some(Arc::new(self.clone()))
    }
}

impl MongoStore {
    async fn find_deliveries(
        &self,
        filter: Document,
        sort: Document,
        limit: usize,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let documents: Vec<Document> = all_of(
            self.event_collections
                .deliveries
                .find(filter)
                .sort(sort)
                .limit(i64::try_from(limit).unwrap_or(i64::MAX)),
        )
        .await?;
        documents.into_iter().map(delivery_from).collect()
    }
}

/// A resume token as an opaque position.
fn position(token: Option<ResumeToken>) -> Option<FeedPosition> {
    let token = token?;
    let document = doc! { "token": bson::to_bson(&token).ok()? };
    bson::to_vec(&document).ok().map(FeedPosition)
}

fn resume_token(position: &FeedPosition) -> Option<ResumeToken> {
    let document = bson::from_slice::<Document>(&position.0).ok()?;
    bson::from_bson(document.get("token")?.clone()).ok()
}

#[async_trait]
impl SharedEventFeed for MongoStore {
    /// A change stream of inserts into the event log: every event logged by any server
    /// instance. The driver resumes by itself after passing errors; after others the caller
    /// opens it again from the last position.
    async fn watch(&self, resume: Option<FeedPosition>) -> StoreResult<FeedStream> {
        let pipeline = [doc! { "$match": { "operationType": "insert" } }];
        let mut watch = self
            .event_collections
            .events
            .watch()
            .pipeline(pipeline)
            .full_document(FullDocumentType::UpdateLookup);
        if let Some(token) = resume.as_ref().and_then(resume_token) {
            watch = watch.resume_after(token);
        }
        let stream = watch.await.map_err(classify)?;
        Ok(
            futures_util::stream::unfold(stream, |mut stream| async move {
                let item = match stream.next().await? {
                    Err(err) => Err(classify(err)),
                    Ok(change) => {
                        let token = position(stream.resume_token());
                        match change.full_document {
                            Some(document) => {
                                from_document::<LoggedEventRecord>(document, "logged event")
                                    .and_then(LoggedEventRecord::into_event)
                                    .map(|event| (event, token))
                            }
                            None => Err(StoreError::Corrupt(
                                "an event insert without its document".into(),
                            )),
                        }
                    }
                };
                Some((item, stream))
            })
            .boxed(),
        )
    }
}
