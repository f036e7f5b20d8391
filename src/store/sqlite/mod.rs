//! The embedded store: one SQLite file in WAL mode, bundled with the binary.
//!
//! One writer connection (SQLite has one writer at a time anyway) and a few reader
//! connections, all used from blocking threads so the async runtime never waits on disk.

mod codec;
mod events;
mod listing;
mod schema;
mod templates;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params, params_from_iter};

use super::record::InvitationRecord;
use crate::domain::{Actor, Invitation, InvitationId, SecretDigest};
use crate::ports::{
    Account, AccountStore, ApiTokenRecord, Erasure, InvitationFilter, InvitationStore, ListQuery,
    Page, StoreError, StoreResult, TokenStore,
};

const READERS: usize = 2;

static SELECT: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM invitations", schema::COLUMNS.join(", ")));
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let placeholders: Vec<String> = (1..=schema::COLUMNS.len())
        .map(|i| format!("?{i}"))
        .collect();
    format!(
        "INSERT INTO invitations ({}) VALUES ({})",
        schema::COLUMNS.join(", "),
        placeholders.join(", ")
    )
});
/// Binds the same values as INSERT: `?1` is the id, the last the revision that was read.
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    let last = schema::COLUMNS.len();
    let assignments: Vec<String> = schema::COLUMNS[1..last - 1]
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = ?{}", i + 2))
        .collect();
    format!(
        "UPDATE invitations SET {}, revision = ?{last} + 1 WHERE id = ?1 AND revision = ?{last}",
        assignments.join(", ")
    )
});

#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// Maps an SQLite error: busy or unopenable databases are `Unavailable`.
fn classify(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::DiskFull,
        ) => StoreError::Unavailable(Box::new(err)),
        _ => StoreError::Other(Box::new(err)),
    }
}

fn is_one_pending_violation(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, Some(message))
        if e.code == ErrorCode::ConstraintViolation && message.contains(schema::ONE_PENDING_INDEX))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a connection half-written: SQLite rolls back.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_connection(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A delivered email's body (it holds the link) is overwritten, not just unlinked.
        conn.pragma_update(None, "secure_delete", "ON")?;
    }
    // FULL: a committed invitation survives a power loss, not only a process crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (or creates) the database file and its schema.
    pub async fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|err| StoreError::Other(Box::new(err)))?
    }

    fn open_blocking(path: PathBuf) -> StoreResult<Self> {
        let unavailable = |err: std::io::Error| StoreError::Unavailable(Box::new(err));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fs::private_dir(dir).map_err(unavailable)?;
        }
        crate::fs::private_existing(&path).map_err(unavailable)?;
        let writer = open_connection(&path, false).map_err(classify)?;
        let version: i64 = writer
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(classify)?;
        if version > schema::VERSION {
            return Err(StoreError::Corrupt(format!(
                "{} was written by a newer version (schema {version}, this build knows {})",
                path.display(),
                schema::VERSION
            )));
        }
        // One transaction: a process stopped halfway (version 6 copies whole tables) leaves
        // the database as it was.
        let upgrade = writer.unchecked_transaction().map_err(classify)?;
        if version > 0 {
            for (to, statements) in schema::MIGRATIONS {
                if version < *to {
                    upgrade.execute_batch(statements).map_err(classify)?;
                }
            }
        }
        upgrade.execute_batch(schema::SCHEMA).map_err(classify)?;
        if version > 0 && version < 8 {
            upgrade
                .execute_batch(schema::REBUILD_EMAIL_GRAMS)
                .map_err(classify)?;
        }
        upgrade
            .pragma_update(None, "user_version", schema::VERSION)
            .map_err(classify)?;
        upgrade.commit().map_err(classify)?;
        let readers = (0..READERS)
            .map(|_| open_connection(&path, true).map(Mutex::new))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(classify)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&mut lock(&inner.writer)))
            .await
            .map_err(|err| StoreError::Other(Box::new(err)))?
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let index = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
            work(&lock(&inner.readers[index]))
        })
        .await
        .map_err(|err| StoreError::Other(Box::new(err)))?
    }
}

fn query_invitations(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> StoreResult<Vec<Invitation>> {
    let mut statement = conn.prepare_cached(sql).map_err(classify)?;
    let records: Vec<InvitationRecord> = codec::rows(
        statement
            .query_map(params_from_iter(params), codec::invitation_from_row)
            .and_then(Iterator::collect),
    )?;
    records
        .into_iter()
        .map(InvitationRecord::into_invitation)
        .collect::<StoreResult<Vec<_>>>()
}

fn query_one(conn: &Connection, sql: &str, params: &[Value]) -> StoreResult<Option<Invitation>> {
    Ok(query_invitations(conn, sql, params)?.into_iter().next())
}

fn scope_key(scope: Option<&str>) -> Value {
    Value::Text(scope.unwrap_or_default().to_owned())
}

/// The PENDING invitation in `record`'s scope that holds its email or its phone.
fn pending_holder(conn: &Connection, record: &InvitationRecord) -> StoreResult<Option<Invitation>> {
    let sql = format!(
        "{} WHERE (email_normalized = ?1 OR phone = ?2) AND IFNULL(scope, '') = ?3 \
         AND state = 'PENDING' AND id <> ?4",
        *SELECT
    );
    let text = |value: Option<&str>| value.map_or(Value::Null, |v| Value::Text(v.to_owned()));
    query_one(
        conn,
        &sql,
        &[
            text(record.email_normalized.as_deref()),
            text(record.phone.as_deref()),
            scope_key(record.scope.as_deref()),
            Value::Text(record.id.hyphenated().to_string()),
        ],
    )
}

/// Runs an INSERT or UPDATE of `record`; a clash on the one-pending rule names the holder.
fn write_record(conn: &Connection, sql: &str, record: &InvitationRecord) -> StoreResult<usize> {
    let values = codec::invitation_values(record);
    let mut statement = conn.prepare_cached(sql).map_err(classify)?;
    match statement.execute(params_from_iter(values)) {
        Ok(changed) => Ok(changed),
        Err(err) if is_one_pending_violation(&err) => {
            let existing = pending_holder(conn, record)?;
            Err(StoreError::DuplicatePending {
                existing: existing.map(|inv| inv.id),
            })
        }
        Err(err) => Err(classify(err)),
    }
}

#[async_trait]
impl InvitationStore for SqliteStore {
    async fn insert(&self, invitation: &Invitation) -> StoreResult<()> {
        let record = InvitationRecord::from(invitation);
        self.write(move |conn| write_record(conn, &INSERT, &record).map(drop))
            .await
    }

    async fn insert_many(&self, invitations: &[Invitation]) -> Vec<StoreResult<()>> {
        let records: Vec<InvitationRecord> =
            invitations.iter().map(InvitationRecord::from).collect();
        let count = records.len();
        let outcome = self
            .write(move |conn| {
                // One transaction: a failed statement rolls back only itself.
                let tx = conn.transaction().map_err(classify)?;
                let results: Vec<StoreResult<()>> = records
                    .iter()
                    .map(|record| write_record(&tx, &INSERT, record).map(drop))
                    .collect();
                tx.commit().map_err(classify)?;
                Ok(results)
            })
            .await;
        match outcome {
            Ok(results) => results,
            Err(err) => {
                let shared = err.to_string();
                (0..count)
                    .map(|_| Err(StoreError::Other(shared.clone().into())))
                    .collect()
            }
        }
    }

    async fn get(&self, id: InvitationId) -> StoreResult<Option<Invitation>> {
        self.read(move |conn| {
            query_one(
                conn,
                &format!("{} WHERE id = ?1", *SELECT),
                &[Value::Text(id.to_string())],
            )
        })
        .await
    }

    async fn find_by_secret_digest(
        &self,
        digest: &SecretDigest,
    ) -> StoreResult<Option<Invitation>> {
        let digest = digest.as_bytes().to_vec();
        self.read(move |conn| {
            query_one(
                conn,
                &format!("{} WHERE secret_digest = ?1", *SELECT),
                &[Value::Blob(digest)],
            )
        })
        .await
    }

    async fn update(&self, invitation: &Invitation) -> StoreResult<u64> {
        let record = InvitationRecord::from(invitation);
        let next = invitation.revision + 1;
        self.write(move |conn| match write_record(conn, &UPDATE, &record)? {
            0 => Err(StoreError::Conflict),
            _ => Ok(next),
        })
        .await
    }

    async fn update_many(&self, invitations: &[Invitation]) -> StoreResult<Vec<Option<u64>>> {
        let records: Vec<(InvitationRecord, u64)> = invitations
            .iter()
            .map(|invitation| (InvitationRecord::from(invitation), invitation.revision + 1))
            .collect();
        self.write(move |conn| {
            // One transaction, one commit (one sync of the log) for the batch.
            let tx = conn.transaction().map_err(classify)?;
            let mut written = Vec::with_capacity(records.len());
            for (record, next) in &records {
                written.push(match write_record(&tx, &UPDATE, record) {
                    Ok(0) | Err(StoreError::Conflict) => None,
                    Ok(_) => Some(*next),
                    Err(err) => return Err(err),
                });
            }
            tx.commit().map_err(classify)?;
            Ok(written)
        })
        .await
    }

    async fn list(&self, query: &ListQuery, now: DateTime<Utc>) -> StoreResult<Page> {
        let page_sql = listing::page(query, &schema::COLUMNS.join(", "), now);
        let first = query.first;
        self.read(move |conn| {
            let mut items = query_invitations(conn, &page_sql.text, &page_sql.params)?;
            let has_next_page = items.len() > first;
            items.truncate(first);
            Ok(Page {
                items,
                has_next_page,
            })
        })
        .await
    }

    async fn count(&self, filter: &InvitationFilter, now: DateTime<Utc>) -> StoreResult<u64> {
        let count_sql = listing::count(filter, now);
        self.read(move |conn| {
            let total: i64 = conn
                .prepare_cached(&count_sql.text)
                .and_then(|mut s| {
                    s.query_row(params_from_iter(&count_sql.params), |row| row.get(0))
                })
                .map_err(classify)?;
            Ok(u64::try_from(total).unwrap_or_default())
        })
        .await
    }

    async fn due_for_expiry(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<Invitation>> {
        let sql = format!(
            "{} WHERE state = 'PENDING' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
            *SELECT
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            query_invitations(conn, &sql, &[codec::time_value(now), Value::Integer(limit)])
        })
        .await
    }

    async fn due_messages(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<Invitation>> {
        let sql = format!(
            "{} WHERE next_message_at <= ?1 ORDER BY next_message_at LIMIT ?2",
            *SELECT
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            query_invitations(conn, &sql, &[codec::time_value(now), Value::Integer(limit)])
        })
        .await
    }

    async fn purge_finished(&self, finished_before: DateTime<Utc>) -> StoreResult<u64> {
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM invitations WHERE finished_at IS NOT NULL AND finished_at < ?1",
                [codec::time_value(finished_before)],
            )
            .map(|n| n as u64)
            .map_err(classify)
        })
        .await
    }

    /// Ready means writable: the write lock can be taken within the busy timeout (another
    /// process holding it longer, or a file that cannot be written, is UNAVAILABLE).
    async fn ping(&self) -> StoreResult<()> {
        self.write(|conn| {
            conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK")
                .map_err(classify)
        })
        .await
    }

    async fn invitations_for_person(
        &self,
        email_normalized: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<Vec<(InvitationId, Option<String>)>> {
        let (email, phone) = (
            email_normalized.map(str::to_owned),
            phone.map(str::to_owned),
        );
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, scope FROM invitations WHERE email_normalized = ?1 \
                     UNION SELECT id, scope FROM invitations WHERE phone = ?2",
                )
                .map_err(classify)?;
            let rows = stmt
                .query_map(params![email, phone], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
                })
                .map_err(classify)?;
            rows.map(|row| {
                let (id, scope) = row.map_err(classify)?;
                let id = InvitationId::parse(&id)
                    .map_err(|_| StoreError::Corrupt(format!("invitation id {id:?}")))?;
                Ok((id, scope))
            })
            .collect()
        })
        .await
    }

    async fn erase(
        &self,
        ids: &[InvitationId],
        actor: &Actor,
        operation: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let (actor, operation) = (actor.clone(), operation.to_owned());
        self.write(move |conn| {
            // One transaction; `secure_delete` overwrites what it removes.
            let tx = conn.transaction().map_err(classify)?;
            let mut count = 0u64;
            for id in &ids {
                count += tx
                    .execute("DELETE FROM invitations WHERE id = ?1", [id])
                    .map_err(classify)? as u64;
                events::erase_traces(&tx, id).map_err(classify)?;
            }
            tx.execute(
                "INSERT INTO erasures (id, at, actor_id, actor_name, operation, count) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    uuid::Uuid::now_v7().to_string(),
                    codec::time_value(at),
                    actor.id,
                    actor.name,
                    operation,
                    i64::try_from(count).unwrap_or(i64::MAX),
                ],
            )
            .map_err(classify)?;
            tx.commit().map_err(classify)?;
            Ok(count)
        })
        .await
    }

    async fn erasures(&self, limit: usize) -> StoreResult<Vec<Erasure>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, at, actor_id, actor_name, operation, count FROM erasures \
                     ORDER BY at DESC, id DESC LIMIT ?1",
                )
                .map_err(classify)?;
            let rows = stmt
                .query_map([limit], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })
                .map_err(classify)?;
            rows.map(|row| {
                let (id, at, actor_id, actor_name, operation, count) = row.map_err(classify)?;
                let corrupt = || StoreError::Corrupt(format!("erasure {id}"));
                Ok(Erasure {
                    id: uuid::Uuid::parse_str(&id).map_err(|_| corrupt())?,
                    at: DateTime::from_timestamp_millis(at).ok_or_else(corrupt)?,
                    actor: Actor {
                        id: actor_id,
                        name: actor_name,
                    },
                    operation,
                    count: u64::try_from(count).map_err(|_| corrupt())?,
                })
            })
            .collect()
        })
        .await
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn find_account(
        &self,
        email_normalized: Option<&str>,
        phone: Option<&str>,
    ) -> StoreResult<Option<Account>> {
        let (email, phone) = (
            email_normalized.map(str::to_owned),
            phone.map(str::to_owned),
        );
        self.read(move |conn| {
            // By email first: an email names one person more surely than a phone.
            let sql = format!(
                "SELECT {} FROM accounts WHERE email_normalized = ?1 OR phone = ?2 \
                 ORDER BY email_normalized IS ?1 DESC LIMIT 1",
                codec::ACCOUNT_COLUMNS
            );
            codec::rows(
                conn.query_row(&sql, params![email, phone], codec::account_from_row)
                    .optional(),
            )
        })
        .await
    }

    async fn insert_account(&self, account: &Account) -> StoreResult<()> {
        let account = account.clone();
        self.write(move |conn| {
            let inserted = conn.execute(
                &format!(
                    "INSERT INTO accounts ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    codec::ACCOUNT_COLUMNS
                ),
                params![
                    account.id,
                    account.email,
                    account.email_normalized,
                    account.name,
                    codec::json_value(&account.roles),
                    codec::json_value(&account.groups),
                    codec::json_value(&account.metadata),
                    account.password_hash,
                    codec::time_value(account.created_at),
                    codec::time_value(account.updated_at),
                    account.phone,
                ],
            );
            match inserted {
                Ok(_) => Ok(()),
                Err(err) if err.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                    Err(StoreError::DuplicateAccount)
                }
                Err(err) => Err(classify(err)),
            }
        })
        .await
    }

    async fn attach_to_account(
        &self,
        account_id: &str,
        role: &str,
        groups: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<Account> {
        let (account_id, role, groups) = (account_id.to_owned(), role.to_owned(), groups.to_vec());
        self.write(move |conn| {
            let tx = conn.transaction().map_err(classify)?;
            let sql = format!(
                "SELECT {} FROM accounts WHERE id = ?1",
                codec::ACCOUNT_COLUMNS
            );
            let mut account =
                codec::rows(tx.query_row(&sql, [&account_id], codec::account_from_row))?;
            if !account.roles.contains(&role) {
                account.roles.push(role);
            }
            for group in groups {
                if !account.groups.contains(&group) {
                    account.groups.push(group);
                }
            }
            account.updated_at = now;
            tx.execute(
                "UPDATE accounts SET roles = ?2, groups = ?3, updated_at = ?4 WHERE id = ?1",
                params![
                    account.id,
                    codec::json_value(&account.roles),
                    codec::json_value(&account.groups),
                    codec::time_value(now)
                ],
            )
            .map_err(classify)?;
            tx.commit().map_err(classify)?;
            Ok(account)
        })
        .await
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(&self, token: &ApiTokenRecord) -> StoreResult<()> {
        let token = token.clone();
        self.write(move |conn| {
            let inserted = conn.execute(
                &format!(
                    "INSERT INTO api_tokens ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    codec::TOKEN_COLUMNS
                ),
                params![
                    token.id,
                    token.name,
                    token.role,
                    token.digest.as_slice(),
                    codec::time_value(token.created_at),
                    token.email,
                    token.expires_at.map(codec::time_value),
                    token.revoked_at.map(codec::time_value),
                    token.last_used_at.map(codec::time_value),
                    codec::json_value(&token.scopes),
                ],
            );
            match inserted {
                Ok(_) => Ok(()),
                Err(err) if err.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                    Err(StoreError::DuplicateToken)
                }
                Err(err) => Err(classify(err)),
            }
        })
        .await
    }

    async fn find_token(&self, digest: &[u8; 32]) -> StoreResult<Option<ApiTokenRecord>> {
        let digest = *digest;
        self.read(move |conn| {
            let sql = format!(
                "SELECT {} FROM api_tokens WHERE digest = ?1",
                codec::TOKEN_COLUMNS
            );
            codec::rows(
                conn.query_row(&sql, [digest.as_slice()], codec::token_from_row)
                    .optional(),
            )
        })
        .await
    }

    async fn count_tokens(&self) -> StoreResult<u64> {
        self.read(|conn| {
            let count: i64 =
                codec::rows(
                    conn.query_row("SELECT COUNT(*) FROM api_tokens", [], |row| row.get(0)),
                )?;
            Ok(u64::try_from(count).unwrap_or_default())
        })
        .await
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiTokenRecord>> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {} FROM api_tokens ORDER BY created_at, id",
                codec::TOKEN_COLUMNS
            );
            let mut statement = conn.prepare(&sql).map_err(classify)?;
            let rows = statement
                .query_map([], codec::token_from_row)
                .map_err(classify)?;
            rows.map(codec::rows).collect()
        })
        .await
    }

    async fn revoke_token(&self, id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, codec::time_value(now)],
                )
                .map_err(classify)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn touch_token(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |conn| {
            conn.execute(
                "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
                params![id, codec::time_value(now)],
            )
            .map(drop)
            .map_err(classify)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column names and index definitions, as SQLite reports them.
    /// Each table's columns (name, type, NOT NULL, default) and each index with its
    /// definition, as a database holds them.
    fn layout(path: &Path) -> (Vec<String>, Vec<String>) {
        let conn = Connection::open(path).unwrap();
        let mut columns = Vec::new();
        for table in ["invitations", "api_tokens", "accounts"] {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT name, type, \"notnull\", IFNULL(dflt_value, '') FROM pragma_table_info('{table}')"
                ))
                .unwrap();
            let names = stmt
                .query_map([], |row| {
                    Ok(format!(
                        "{table}.{} {} notnull={} default={}",
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, String>(3)?
                    ))
                })
                .unwrap();
            columns.extend(names.map(Result::unwrap));
        }
        columns.sort();
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
            .unwrap();
        let indexes = stmt
            .query_map([], |row| {
                Ok(format!(
                    "{}: {}",
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        (columns, indexes)
    }

    #[tokio::test]
    async fn a_page_of_pending_invitations_walks_the_sort_index_without_sorting() {
        let dir = std::env::temp_dir().join(format!("cmsi-plan-{}", uuid::Uuid::now_v7()));
        let path = dir.join("plan.sqlite3");
        drop(SqliteStore::open(&path).await.unwrap());
        let filter = InvitationFilter {
            states: vec![crate::domain::InvitationState::Pending],
            ..Default::default()
        };
        let query = ListQuery {
            filter,
            sort: vec![crate::ports::SortKey {
                field: crate::ports::SortField::CreatedAt,
                direction: crate::ports::SortDirection::Desc,
            }],
            first: 50,
            after: None,
        };
        let sql = listing::page(&query, "id", Utc::now());
        let conn = Connection::open(&path).unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(params_from_iter(sql.params.iter()), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter()
                .any(|step| step.contains("invitations_by_state_created")),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{plan:?}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A database as version 1 made it: the current schema without the columns and index
    /// version 2 added.
    fn version_1_database(path: &Path) -> Connection {
        let added = [
            "inviter_email",
            "delivery_locale",
            "outbox",
            "next_message_at",
            // Version 4.
            "pending_events",
            "next_event_at",
            // Version 6: SMS invitations (columns and indexes); 7: template variants.
            "channel",
            "phone",
            "    template TEXT",
        ];
        // Version 3 added the tokens' expiry, revocation and last use; version 5 their scopes.
        let v2 = schema::SCHEMA.replace(
            "    email TEXT,\n    expires_at INTEGER,\n    revoked_at INTEGER,\n    last_used_at INTEGER,\n    scopes TEXT NOT NULL DEFAULT '[]'\n",
            "    email TEXT\n",
        );
        let v1: String = v2
            .lines()
            .filter(|line| !added.iter().any(|column| line.contains(column)))
            .collect::<Vec<_>>()
            .join("\n")
            .replace(
                "    created_at INTEGER NOT NULL,\n    email TEXT\n",
                "    created_at INTEGER NOT NULL\n",
            )
            // Before version 6 the last columns were these, every account had an email, and
            // the one-pending index took every PENDING row.
            .replace("NOT NULL,\n) STRICT;", "NOT NULL\n) STRICT;")
            .replace(
                "    email TEXT,\n    email_normalized TEXT UNIQUE,",
                "    email TEXT NOT NULL,\n    email_normalized TEXT NOT NULL UNIQUE,",
            )
            .replace(" AND email_normalized <> ''", "");
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(&v1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn
    }

    #[tokio::test]
    async fn rows_written_by_version_1_read_back_and_change_after_the_migration() {
        let dir = std::env::temp_dir().join(format!("cmsi-migrate-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.sqlite3");
        let id = uuid::Uuid::now_v7();
        let digest = [7u8; 32];
        let now = Utc::now().timestamp_millis();
        {
            let conn = version_1_database(&path);
            // As version 1 wrote them: a pending invitation with its CREATED event, a token.
            conn.execute(
                "INSERT INTO invitations (id, email, email_normalized, name, role, groups, metadata, \
                 locale, scope, redirect_url, invited_by_id, invited_by_name, secret_digest, state, \
                 created_at, updated_at, expires_at, send_count, last_sent_at, delivery_status, \
                 delivery_attempts, events, revision) VALUES (?1, 'Old@Example.org', \
                 'old@example.org', 'Old Timer', 'author', '[\"news\"]', '{\"team\":7}', 'de', \
                 'team-a', NULL, 'admin-1', 'Admin', ?2, 'PENDING', ?3, ?3, ?4, 1, ?3, 'SENT', 1, \
                 ?5, 0)",
                params![
                    id.to_string(),
                    digest.as_slice(),
                    now,
                    now + 86_400_000,
                    format!(r#"[{{"kind":"CREATED","at":{now},"by":"editor","actor_id":"admin-1","actor_name":"Admin"}}]"#),
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO api_tokens (id, name, role, digest, created_at) \
                 VALUES ('t1', 'old token', 'editor', ?1, ?2)",
                params![[9u8; 32].as_slice(), now],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let read = store
            .get(InvitationId::from_uuid(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            read.details.contact.email().unwrap().as_str(),
            "Old@Example.org"
        );
        assert_eq!(read.details.groups.to_strings(), ["news"]);
        assert_eq!(
            read.details.scope.as_ref().map(|s| s.as_str()),
            Some("team-a")
        );
        assert_eq!(read.events.len(), 1);
        assert!(read.outbox.is_empty() && read.inviter_email.is_none());
        assert_eq!(read.delivery.locale, None);
        let token = store.find_token(&[9u8; 32]).await.unwrap().unwrap();
        assert_eq!((token.role.as_str(), token.email), ("editor", None));
        assert!(token.scopes.is_empty(), "an old token stays unlimited");
        // The old row still holds its slot, and it can be written as the new version writes.
        let mut twin = read.clone();
        twin.id = InvitationId::new();
        twin.secret_digest = crate::domain::Secret::generate().unwrap().digest();
        assert!(matches!(
            store.insert(&twin).await,
            Err(StoreError::DuplicatePending { existing: Some(existing) }) if existing == read.id
        ));
        let mut revoked = read.clone();
        revoked
            .revoke(
                Utc::now(),
                Actor {
                    id: "a".into(),
                    name: "A".into(),
                },
            )
            .unwrap();
        assert_eq!(store.update(&revoked).await.unwrap(), 1);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_version_1_database_is_migrated_to_the_current_layout() {
        let dir = std::env::temp_dir().join(format!("cmsi-migrate-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join("old.sqlite3");
        drop(version_1_database(&old));
        let (old_columns, _) = layout(&old);
        let has = |column: &str| {
            old_columns
                .iter()
                .any(|c| c.starts_with(&format!("{column} ")))
        };
        for later in [
            "invitations.outbox",
            "api_tokens.email",
            "api_tokens.scopes",
            "invitations.phone",
            "accounts.phone",
        ] {
            assert!(!has(later), "{later} is not in a version 1 database");
        }
        assert!(old_columns.contains(&"accounts.email TEXT notnull=1 default=".to_owned()));

        drop(SqliteStore::open(&old).await.unwrap());
        let fresh = dir.join("fresh.sqlite3");
        drop(SqliteStore::open(&fresh).await.unwrap());
        assert_eq!(layout(&old), layout(&fresh));
        let version: i64 = Connection::open(&old)
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, schema::VERSION);
        let _ = std::fs::remove_dir_all(dir);
    }
}
