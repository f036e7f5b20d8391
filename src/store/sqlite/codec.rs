//! Rows of the embedded store to and from [`InvitationRecord`]s. Times are Unix milliseconds.

use chrono::{DateTime, Utc};
use rusqlite::Row;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::ports::{Account, ApiTokenRecord, StoreError, StoreResult};
use crate::store::record::{EventRecord, InvitationRecord};

fn millis(t: DateTime<Utc>) -> Value {
    Value::Integer(t.timestamp_millis())
}

fn opt_millis(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, millis)
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.to_owned()))
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn to_time(ms: i64) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or(rusqlite::Error::IntegralValueOutOfRange(0, ms))
}

fn opt_time(ms: Option<i64>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    ms.map(to_time).transpose()
}

fn json_column<T: for<'de> Deserialize<'de>>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(err))
    })
}

fn json_text<T: Serialize>(value: &T) -> Value {
    Value::Text(serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned()))
}

#[derive(Serialize, Deserialize)]
struct StoredEvent {
    kind: String,
    at: i64,
    by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor_name: Option<String>,
}

/// The values of one row, in `schema::COLUMNS` order.
pub(super) fn invitation_values(r: &InvitationRecord) -> Vec<Value> {
    let events: Vec<StoredEvent> = r
        .events
        .iter()
        .map(|e| StoredEvent {
            kind: e.kind.clone(),
            at: e.at.timestamp_millis(),
            by: e.by.clone(),
            actor_id: e.actor_id.clone(),
            actor_name: e.actor_name.clone(),
        })
        .collect();
    vec![
        text(&r.id.hyphenated().to_string()),
        // No email (an SMS invitation): "", as MongoDB keeps it.
        text(r.email.as_deref().unwrap_or_default()),
        text(r.email_normalized.as_deref().unwrap_or_default()),
        opt_text(r.name.as_deref()),
        text(&r.role),
        json_text(&r.groups),
        json_text(&r.metadata),
        opt_text(r.locale.as_deref()),
        opt_text(r.scope.as_deref()),
        opt_text(r.redirect_url.as_deref()),
        text(&r.invited_by_id),
        text(&r.invited_by_name),
        Value::Blob(r.secret_digest.clone()),
        text(&r.state),
        millis(r.created_at),
        millis(r.updated_at),
        millis(r.expires_at),
        opt_millis(r.accepted_at),
        opt_millis(r.revoked_at),
        opt_millis(r.declined_at),
        opt_millis(r.finished_at),
        opt_text(r.accepted_user_id.as_deref()),
        Value::Integer(r.send_count),
        opt_millis(r.last_sent_at),
        text(&r.delivery_status),
        Value::Integer(r.delivery_attempts),
        opt_text(r.delivery_last_error.as_deref()),
        opt_millis(r.delivery_last_attempt_at),
        json_text(&events),
        opt_text(r.inviter_email.as_deref()),
        opt_text(r.delivery_locale.as_deref()),
        json_text(&r.outbox),
        opt_millis(r.next_message_at),
        json_text(&r.pending_events),
        opt_millis(r.next_event_at),
        text(&r.channel),
        opt_text(r.phone.as_deref()),
        opt_text(r.template.as_deref()),
        Value::Integer(r.revision),
    ]
}

pub(super) fn invitation_from_row(row: &Row<'_>) -> rusqlite::Result<InvitationRecord> {
    let id: String = row.get(0)?;
    let id = uuid::Uuid::try_parse(&id).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
    })?;
    let events: Vec<StoredEvent> = json_column(row, 28)?;
    Ok(InvitationRecord {
        id,
        email: non_empty(row.get(1)?),
        email_normalized: non_empty(row.get(2)?),
        name: row.get(3)?,
        role: row.get(4)?,
        groups: json_column(row, 5)?,
        metadata: json_column(row, 6)?,
        locale: row.get(7)?,
        scope: row.get(8)?,
        redirect_url: row.get(9)?,
        invited_by_id: row.get(10)?,
        invited_by_name: row.get(11)?,
        secret_digest: row.get(12)?,
        state: row.get(13)?,
        created_at: to_time(row.get(14)?)?,
        updated_at: to_time(row.get(15)?)?,
        expires_at: to_time(row.get(16)?)?,
        accepted_at: opt_time(row.get(17)?)?,
        revoked_at: opt_time(row.get(18)?)?,
        declined_at: opt_time(row.get(19)?)?,
        finished_at: opt_time(row.get(20)?)?,
        accepted_user_id: row.get(21)?,
        send_count: row.get(22)?,
        last_sent_at: opt_time(row.get(23)?)?,
        delivery_status: row.get(24)?,
        delivery_attempts: row.get(25)?,
        delivery_last_error: row.get(26)?,
        delivery_last_attempt_at: opt_time(row.get(27)?)?,
        events: events
            .into_iter()
            .map(|e| {
                Ok(EventRecord {
                    kind: e.kind,
                    at: to_time(e.at)?,
                    by: e.by,
                    actor_id: e.actor_id,
                    actor_name: e.actor_name,
                })
            })
            .collect::<rusqlite::Result<_>>()?,
        inviter_email: row.get(29)?,
        delivery_locale: row.get(30)?,
        outbox: json_column(row, 31)?,
        next_message_at: opt_time(row.get(32)?)?,
        pending_events: json_column(row, 33)?,
        next_event_at: opt_time(row.get(34)?)?,
        channel: row.get(35)?,
        phone: row.get(36)?,
        template: row.get(37)?,
        revision: row.get(38)?,
    })
}

pub(super) const ACCOUNT_COLUMNS: &str = "id, email, email_normalized, name, roles, groups, metadata, password_hash, created_at, updated_at, phone";

pub(super) fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    let metadata: Map<String, serde_json::Value> = json_column(row, 6)?;
    Ok(Account {
        id: row.get(0)?,
        email: row.get(1)?,
        email_normalized: row.get(2)?,
        name: row.get(3)?,
        roles: json_column(row, 4)?,
        groups: json_column(row, 5)?,
        metadata,
        password_hash: row.get(7)?,
        created_at: to_time(row.get(8)?)?,
        updated_at: to_time(row.get(9)?)?,
        phone: row.get(10)?,
    })
}

pub(super) const TOKEN_COLUMNS: &str =
    "id, name, role, digest, created_at, email, expires_at, revoked_at, last_used_at, scopes";

pub(super) fn token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiTokenRecord> {
    let digest: Vec<u8> = row.get(3)?;
    let digest = <[u8; 32]>::try_from(digest.as_slice()).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Blob,
            "a token digest is not 32 bytes".into(),
        )
    })?;
    Ok(ApiTokenRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        role: row.get(2)?,
        digest,
        created_at: to_time(row.get(4)?)?,
        email: row.get(5)?,
        expires_at: opt_time(row.get(6)?)?,
        revoked_at: opt_time(row.get(7)?)?,
        last_used_at: opt_time(row.get(8)?)?,
        scopes: {
            let text: String = row.get(9)?;
            serde_json::from_str(&text).map_err(|err| {
                rusqlite::Error::FromSqlConversionFailure(
                    9,
                    rusqlite::types::Type::Text,
                    err.into(),
                )
            })?
        },
    })
}

pub(super) fn json_value<T: Serialize>(value: &T) -> Value {
    json_text(value)
}

pub(super) fn time_value(t: DateTime<Utc>) -> Value {
    millis(t)
}

/// Reading a row failed: the data does not have the shape this version writes.
pub(super) fn corrupt(err: rusqlite::Error) -> StoreError {
    match err {
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => StoreError::Corrupt(err.to_string()),
        other => super::classify(other),
    }
}

pub(super) fn rows<T>(result: rusqlite::Result<T>) -> StoreResult<T> {
    result.map_err(corrupt)
}
