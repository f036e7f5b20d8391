//! The event log, webhook endpoints and deliveries in the embedded store. Each row keeps its
//! record as JSON, beside the columns its queries filter and sort on.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::{SELECT, SqliteStore, classify, query_invitations};
use crate::domain::{Invitation, InvitationId, WebhookDelivery, WebhookEndpoint};
use crate::ports::{EventStore, LoggedEvent, StoreError, StoreResult};
use crate::store::record::PendingEventRecord;
use crate::store::webhook_record::{DeliveryRecord, EndpointRecord, LoggedEventRecord, ms};

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Records of strings and numbers always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("a stored {what}")))
}

fn id_text(id: Uuid) -> Value {
    Value::Text(id.hyphenated().to_string())
}

/// Deletes the logged events and webhook deliveries of invitation `id`, except those of its
/// `invitation.deleted` event, which hold no personal data.
pub(super) fn erase_traces(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    const EVENTS: &str = "SELECT id FROM invitation_events \
        WHERE json_extract(data, '$.invitationId') = ?1 \
        AND json_extract(data, '$.type') <> 'invitation.deleted'";
    // Deliveries through their events' ids (every delivery's event is in the log for at least
    // as long as the delivery), then the events.
    conn.prepare_cached(&format!(
        "DELETE FROM webhook_deliveries WHERE event_id IN ({EVENTS})"
    ))?
    .execute([id])?;
    conn.prepare_cached(&format!(
        "DELETE FROM invitation_events WHERE id IN ({EVENTS})"
    ))?
    .execute([id])?;
    Ok(())
}

fn insert_delivery_row(
    conn: &Connection,
    d: &DeliveryRecord,
    or_ignore: bool,
) -> rusqlite::Result<usize> {
    let verb = if or_ignore {
        "INSERT OR IGNORE"
    } else {
        "INSERT"
    };
    conn.prepare_cached(&format!(
        "{verb} INTO webhook_deliveries (id, event_id, endpoint_id, state, available_at, created_at, revision, data) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            d.id.hyphenated().to_string(),
            d.event_id.hyphenated().to_string(),
            d.endpoint_id.hyphenated().to_string(),
            d.state,
            d.lease_until.map_or(d.next_attempt_at, |l| l.max(d.next_attempt_at)),
            d.created_at,
            d.revision,
            to_json(d),
        ])
    })
}

/// Writes `delivery` if its stored revision is still `delivery.revision`.
fn write_delivery(conn: &Connection, delivery: &WebhookDelivery) -> StoreResult<bool> {
    let mut record = DeliveryRecord::from(delivery);
    let expected = record.revision;
    record.revision += 1;
    let available = record
        .lease_until
        .map_or(record.next_attempt_at, |l| l.max(record.next_attempt_at));
    let changed = conn
        .prepare_cached(
            "UPDATE webhook_deliveries SET state = ?3, available_at = ?4, revision = ?5, data = ?6 \
             WHERE id = ?1 AND revision = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                record.id.hyphenated().to_string(),
                expected,
                record.state,
                available,
                record.revision,
                to_json(&record)
            ])
        })
        .map_err(classify)?;
    Ok(changed == 1)
}

fn deliveries(conn: &Connection, sql: &str, values: &[Value]) -> StoreResult<Vec<WebhookDelivery>> {
    let mut statement = conn.prepare_cached(sql).map_err(classify)?;
    let rows: Vec<String> = statement
        .query_map(rusqlite::params_from_iter(values), |row| row.get(0))
        .and_then(Iterator::collect)
        .map_err(classify)?;
    rows.iter()
        .map(|text| from_json::<DeliveryRecord>(text, "webhook delivery")?.into_delivery())
        .collect()
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn log_events(
        &self,
        events: &[(LoggedEvent, Vec<WebhookDelivery>)],
    ) -> StoreResult<Vec<bool>> {
        let records: Vec<(LoggedEventRecord, Vec<DeliveryRecord>)> = events
            .iter()
            .map(|(event, deliveries)| {
                (
                    LoggedEventRecord::from(event),
                    deliveries.iter().map(DeliveryRecord::from).collect(),
                )
            })
            .collect();
        self.write(move |conn| {
            // One transaction, so one sync to disk, for the whole batch.
            let tx = conn.transaction().map_err(classify)?;
            let mut new = Vec::with_capacity(records.len());
            for (record, deliveries) in &records {
                let inserted = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO invitation_events (id, at, data) VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            record.id.hyphenated().to_string(),
                            record.at,
                            to_json(record)
                        ])
                    })
                    .map_err(classify)?;
                new.push(inserted == 1);
                for delivery in deliveries {
                    insert_delivery_row(&tx, delivery, true).map_err(classify)?;
                }
            }
            tx.commit().map_err(classify)?;
            Ok(new)
        })
        .await
    }

    async fn remove_published(&self, published: &[(InvitationId, Vec<Uuid>)]) -> StoreResult<()> {
        let published = published.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(classify)?;
            for (invitation, ids) in &published {
                let id = invitation.to_string();
                let Some(text) = tx
                    .query_row(
                        "SELECT pending_events FROM invitations WHERE id = ?1",
                        [&id],
                        |row| row.get::<_, String>(0),
                    )
                    .optional()
                    .map_err(classify)?
                else {
                    // Erased while its events were being published: what was just logged of
                    // it goes too.
                    erase_traces(&tx, &id).map_err(classify)?;
                    continue;
                };
                let mut pending: Vec<PendingEventRecord> = from_json(&text, "pending event list")?;
                let before = pending.len();
                pending.retain(|event| !ids.contains(&event.id));
                if pending.len() == before {
                    continue;
                }
                let next = pending.iter().map(|e| ms(e.available_at)).min();
                tx.execute(
                    "UPDATE invitations SET pending_events = ?2, next_event_at = ?3, \
                     revision = revision + 1 WHERE id = ?1",
                    params![id, to_json(&pending), next],
                )
                .map_err(classify)?;
            }
            tx.commit().map_err(classify)
        })
        .await
    }

    async fn abandoned_events(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Invitation>> {
        let sql = format!(
            "{} WHERE next_event_at <= ?1 ORDER BY next_event_at LIMIT ?2",
            *SELECT
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            query_invitations(
                conn,
                &sql,
                &[Value::Integer(ms(now)), Value::Integer(limit)],
            )
        })
        .await
    }

    async fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        let record = EndpointRecord::from(endpoint);
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO webhook_endpoints (id, revision, data) VALUES (?1, ?2, ?3)",
                params![
                    record.id.hyphenated().to_string(),
                    record.revision,
                    to_json(&record)
                ],
            )
            .map(drop)
            .map_err(classify)
        })
        .await
    }

    async fn update_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<u64> {
        let mut record = EndpointRecord::from(endpoint);
        let expected = record.revision;
        record.revision += 1;
        let next = endpoint.revision + 1;
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE webhook_endpoints SET revision = ?3, data = ?4 WHERE id = ?1 AND revision = ?2",
                    params![record.id.hyphenated().to_string(), expected, record.revision, to_json(&record)],
                )
                .map_err(classify)?;
            if changed == 1 { Ok(next) } else { Err(StoreError::Conflict) }
        })
        .await
    }

    async fn delete_endpoint(&self, id: Uuid) -> StoreResult<bool> {
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM webhook_endpoints WHERE id = ?1",
                [id.hyphenated().to_string()],
            )
            .map(|n| n == 1)
            .map_err(classify)
        })
        .await
    }

    async fn get_endpoint(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
        self.read(move |conn| {
            conn.query_row(
                "SELECT data FROM webhook_endpoints WHERE id = ?1",
                [id.hyphenated().to_string()],
                |row| row.get::<_, String>(0),
            )
            .optional()
            .map_err(classify)?
            .map(|text| from_json::<EndpointRecord>(&text, "webhook endpoint")?.into_endpoint())
            .transpose()
        })
        .await
    }

    async fn list_endpoints(&self) -> StoreResult<Vec<WebhookEndpoint>> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached("SELECT data FROM webhook_endpoints ORDER BY id")
                .map_err(classify)?;
            let rows: Vec<String> = statement
                .query_map([], |row| row.get(0))
                .and_then(Iterator::collect)
                .map_err(classify)?;
            rows.iter()
                .map(|text| from_json::<EndpointRecord>(text, "webhook endpoint")?.into_endpoint())
                .collect()
        })
        .await
    }

    async fn insert_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()> {
        let record = DeliveryRecord::from(delivery);
        self.write(
            move |conn| match insert_delivery_row(conn, &record, false) {
                Ok(_) => Ok(()),
                Err(err)
                    if err.sqlite_error_code()
                        == Some(rusqlite::ErrorCode::ConstraintViolation) =>
                {
                    Err(StoreError::Conflict)
                }
                Err(err) => Err(classify(err)),
            },
        )
        .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.write(move |conn| {
            let tx = conn.transaction().map_err(classify)?;
            let due = deliveries(
                &tx,
                "SELECT data FROM webhook_deliveries WHERE state = 'PENDING' AND available_at <= ?1 \
                 ORDER BY available_at LIMIT ?2",
                &[Value::Integer(ms(now)), Value::Integer(limit)],
            )?;
            let mut claimed = Vec::with_capacity(due.len());
            for mut delivery in due {
                // Picked under the write lock: nobody else can take it in between.
                if !delivery.claim(now, lease) {
                    continue;
                }
                if write_delivery(&tx, &delivery)? {
                    delivery.revision += 1;
                    claimed.push(delivery);
                }
            }
            tx.commit().map_err(classify)?;
            Ok(claimed)
        })
        .await
    }

    async fn save_deliveries(&self, deliveries: &[WebhookDelivery]) -> StoreResult<Vec<bool>> {
        let deliveries = deliveries.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(classify)?;
            let written = deliveries
                .iter()
                .map(|delivery| write_delivery(&tx, delivery))
                .collect::<StoreResult<Vec<bool>>>()?;
            tx.commit().map_err(classify)?;
            Ok(written)
        })
        .await
    }

    async fn update_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<u64> {
        let delivery = delivery.clone();
        self.write(move |conn| {
            if write_delivery(conn, &delivery)? {
                Ok(delivery.revision + 1)
            } else {
                Err(StoreError::Conflict)
            }
        })
        .await
    }

    async fn get_delivery(&self, id: Uuid) -> StoreResult<Option<WebhookDelivery>> {
        self.read(move |conn| {
            Ok(deliveries(
                conn,
                "SELECT data FROM webhook_deliveries WHERE id = ?1",
                &[id_text(id)],
            )?
            .into_iter()
            .next())
        })
        .await
    }

    async fn list_deliveries(
        &self,
        endpoint: Uuid,
        first: usize,
        before: Option<Uuid>,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let first = i64::try_from(first).unwrap_or(i64::MAX);
        // Ids are UUID v7 in hyphenated lower case: they sort by creation time as text.
        let before = before.map_or(Value::Text("~".into()), id_text);
        self.read(move |conn| {
            deliveries(
                conn,
                "SELECT data FROM webhook_deliveries WHERE endpoint_id = ?1 AND id < ?2 \
                 ORDER BY id DESC LIMIT ?3",
                &[id_text(endpoint), before, Value::Integer(first)],
            )
        })
        .await
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.write(move |conn| {
            let tx = conn.transaction().map_err(classify)?;
            let events = tx
                .execute("DELETE FROM invitation_events WHERE at < ?1", [ms(before)])
                .map_err(classify)?;
            let deliveries = tx
                .execute(
                    "DELETE FROM webhook_deliveries WHERE state <> 'PENDING' AND created_at < ?1",
                    [ms(before)],
                )
                .map_err(classify)?;
            tx.commit().map_err(classify)?;
            Ok(u64::try_from(events + deliveries).unwrap_or(u64::MAX))
        })
        .await
    }
}
