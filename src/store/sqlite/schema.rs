//! The embedded store's tables and indexes. `user_version` records the schema version.

pub(super) const VERSION: i64 = 8;

/// Statements that bring a database of version `n - 1` to version `n`, run in order before
/// [`SCHEMA`] (which creates whatever is still missing).
pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (
        2,
        r"
ALTER TABLE invitations ADD COLUMN inviter_email TEXT;
ALTER TABLE invitations ADD COLUMN delivery_locale TEXT;
ALTER TABLE invitations ADD COLUMN outbox TEXT NOT NULL DEFAULT '[]';
ALTER TABLE invitations ADD COLUMN next_message_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN email TEXT;
",
    ),
    (
        3,
        r"
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN revoked_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER;
",
    ),
    (
        4,
        r"
ALTER TABLE invitations ADD COLUMN pending_events TEXT NOT NULL DEFAULT '[]';
ALTER TABLE invitations ADD COLUMN next_event_at INTEGER;
",
    ),
    (
        5,
        r"
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';
",
    ),
    // Invitations by SMS: an invitation may have a phone and no email ("" in the email
    // columns, as MongoDB keeps it, so listings sort and page by email alike), and an account
    // too (SQLite cannot drop NOT NULL from a column, so `accounts` is built again, rows
    // copied). Indexes that changed are dropped here and made again by `SCHEMA`.
    (
        6,
        r"
ALTER TABLE invitations ADD COLUMN channel TEXT NOT NULL DEFAULT 'EMAIL';
ALTER TABLE invitations ADD COLUMN phone TEXT;
DROP INDEX IF EXISTS invitations_one_pending;
CREATE TABLE accounts_v6 (
    id TEXT PRIMARY KEY,
    email TEXT,
    email_normalized TEXT UNIQUE,
    name TEXT,
    roles TEXT NOT NULL,
    groups TEXT NOT NULL,
    metadata TEXT NOT NULL,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    phone TEXT UNIQUE
) STRICT;
INSERT INTO accounts_v6 (id, email, email_normalized, name, roles, groups, metadata,
    password_hash, created_at, updated_at)
SELECT id, email, email_normalized, name, roles, groups, metadata, password_hash, created_at,
    updated_at
FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v6 RENAME TO accounts;
",
    ),
    (
        7,
        r"
ALTER TABLE invitations ADD COLUMN template TEXT;
",
    ),
    // Search and sort at a million: the email index gains the id that makes it serve a sorted
    // page, and the email search gets its trigram index (made by `SCHEMA`, filled by the
    // caller with `REBUILD_EMAIL_GRAMS`).
    (
        8,
        r"
DROP INDEX IF EXISTS invitations_by_email;
",
    ),
];

pub(super) const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS invitations (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    name TEXT,
    role TEXT NOT NULL,
    groups TEXT NOT NULL,
    metadata TEXT NOT NULL,
    locale TEXT,
    scope TEXT,
    redirect_url TEXT,
    invited_by_id TEXT NOT NULL,
    invited_by_name TEXT NOT NULL,
    secret_digest BLOB NOT NULL UNIQUE,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER,
    revoked_at INTEGER,
    declined_at INTEGER,
    finished_at INTEGER,
    accepted_user_id TEXT,
    send_count INTEGER NOT NULL,
    last_sent_at INTEGER,
    delivery_status TEXT NOT NULL,
    delivery_attempts INTEGER NOT NULL,
    delivery_last_error TEXT,
    delivery_last_attempt_at INTEGER,
    events TEXT NOT NULL,
    inviter_email TEXT,
    delivery_locale TEXT,
    outbox TEXT NOT NULL DEFAULT '[]',
    next_message_at INTEGER,
    pending_events TEXT NOT NULL DEFAULT '[]',
    next_event_at INTEGER,
    revision INTEGER NOT NULL,
    channel TEXT NOT NULL DEFAULT 'EMAIL',
    phone TEXT,
    template TEXT
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS invitations_one_pending
    ON invitations (email_normalized, IFNULL(scope, '')) WHERE state = 'PENDING' AND email_normalized <> '';
CREATE UNIQUE INDEX IF NOT EXISTS invitations_one_pending_phone
    ON invitations (phone, IFNULL(scope, '')) WHERE state = 'PENDING' AND phone IS NOT NULL;
CREATE INDEX IF NOT EXISTS invitations_by_phone ON invitations (phone) WHERE phone IS NOT NULL;
CREATE INDEX IF NOT EXISTS invitations_by_created ON invitations (created_at, id);
CREATE INDEX IF NOT EXISTS invitations_by_state_created ON invitations (state, created_at, id);
CREATE INDEX IF NOT EXISTS invitations_by_state_expiry ON invitations (state, expires_at);
CREATE INDEX IF NOT EXISTS invitations_by_email_id ON invitations (email_normalized, id);
CREATE INDEX IF NOT EXISTS invitations_by_expiry_id ON invitations (expires_at, id);
CREATE INDEX IF NOT EXISTS invitations_by_state_id ON invitations (state, id);
CREATE VIRTUAL TABLE IF NOT EXISTS invitation_email_grams USING fts5(
    email_normalized, content='invitations', content_rowid='rowid', tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS invitation_email_grams_insert AFTER INSERT ON invitations BEGIN
    INSERT INTO invitation_email_grams(rowid, email_normalized)
        VALUES (new.rowid, new.email_normalized);
END;
CREATE TRIGGER IF NOT EXISTS invitation_email_grams_delete AFTER DELETE ON invitations BEGIN
    INSERT INTO invitation_email_grams(invitation_email_grams, rowid, email_normalized)
        VALUES ('delete', old.rowid, old.email_normalized);
END;
CREATE TRIGGER IF NOT EXISTS invitation_email_grams_update AFTER UPDATE OF email_normalized
    ON invitations WHEN old.email_normalized IS NOT new.email_normalized BEGIN
    INSERT INTO invitation_email_grams(invitation_email_grams, rowid, email_normalized)
        VALUES ('delete', old.rowid, old.email_normalized);
    INSERT INTO invitation_email_grams(rowid, email_normalized)
        VALUES (new.rowid, new.email_normalized);
END;
CREATE INDEX IF NOT EXISTS invitations_by_scope ON invitations (scope, created_at);
CREATE INDEX IF NOT EXISTS invitations_by_finished ON invitations (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS invitations_by_next_message ON invitations (next_message_at) WHERE next_message_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS invitations_by_next_event ON invitations (next_event_at) WHERE next_event_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY,
    email TEXT,
    email_normalized TEXT UNIQUE,
    name TEXT,
    roles TEXT NOT NULL,
    groups TEXT NOT NULL,
    metadata TEXT NOT NULL,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    phone TEXT UNIQUE
) STRICT;

CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    digest BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    email TEXT,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER,
    scopes TEXT NOT NULL DEFAULT '[]'
) STRICT;

CREATE TABLE IF NOT EXISTS invitation_events (
    id TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS invitation_events_by_at ON invitation_events (at);

CREATE TABLE IF NOT EXISTS email_template_versions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (name, version)
) STRICT;

CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    state TEXT NOT NULL,
    available_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (event_id, endpoint_id)
) STRICT;
CREATE INDEX IF NOT EXISTS webhook_deliveries_due
    ON webhook_deliveries (available_at) WHERE state = 'PENDING';
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_created ON webhook_deliveries (created_at);

-- What an erasure finds of an invitation: its logged events, and through their ids its
-- deliveries (an index on the deliveries' JSON would be rewritten at every attempt).
CREATE INDEX IF NOT EXISTS invitation_events_by_invitation
    ON invitation_events (json_extract(data, '$.invitationId'));

-- Who erased how many invitations, when: no personal data of the people erased.
CREATE TABLE IF NOT EXISTS erasures (
    id TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_id TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    operation TEXT NOT NULL,
    count INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS erasures_by_at ON erasures (at);
";

/// Columns of `invitations`, in the order `codec` binds and reads them.
pub(super) const COLUMNS: [&str; 39] = [
    "id",
    "email",
    "email_normalized",
    "name",
    "role",
    "groups",
    "metadata",
    "locale",
    "scope",
    "redirect_url",
    "invited_by_id",
    "invited_by_name",
    "secret_digest",
    "state",
    "created_at",
    "updated_at",
    "expires_at",
    "accepted_at",
    "revoked_at",
    "declined_at",
    "finished_at",
    "accepted_user_id",
    "send_count",
    "last_sent_at",
    "delivery_status",
    "delivery_attempts",
    "delivery_last_error",
    "delivery_last_attempt_at",
    "events",
    "inviter_email",
    "delivery_locale",
    "outbox",
    "next_message_at",
    "pending_events",
    "next_event_at",
    "channel",
    "phone",
    "template",
    // Last: `UPDATE` binds the revision that was read here.
    "revision",
];

/// Fills the email search index from the rows of a database older than version 8.
pub(super) const REBUILD_EMAIL_GRAMS: &str =
    "INSERT INTO invitation_email_grams(invitation_email_grams) VALUES ('rebuild');";

/// Names the unique index in SQLite's constraint message.
pub(super) const ONE_PENDING_INDEX: &str = "invitations_one_pending";
