//! Schema versions: `PRAGMA user_version` counts the migrations applied, and
//! `PRAGMA application_id` marks the file as keyward's. Migrations only go
//! forward; a vault from a newer keyward is refused before anything is written.

use rusqlite::{Connection, Transaction};

use keyward_core::error::Result;

/// "kwrd": marks a SQLite file as a keyward vault.
pub const APPLICATION_ID: i64 = 0x6b77_7264;

/// Migration N (1-based) brings a vault from version N-1 to N.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8];

pub const CURRENT: i64 = MIGRATIONS.len() as i64;

pub use keyward_core::store::Found;

/// Reads what the file holds without writing to it. One statement, so the
/// three values come from one snapshot even while another process is
/// creating the schema.
pub fn inspect(conn: &Connection) -> Result<Found> {
    let (version, app_id, tables): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT user_version FROM pragma_user_version), \
                (SELECT application_id FROM pragma_application_id), \
                (SELECT count(*) FROM sqlite_master)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(match (version, app_id) {
        (0, 0) if tables == 0 => Found::Empty,
        (_, id) if id != APPLICATION_ID => {
            Found::Foreign("it is an SQLite database that keyward did not make")
        }
        (v, _) if v > CURRENT => Found::Newer(v),
        (v, _) if v == CURRENT => Found::Current,
        (v, _) => Found::Older(v),
    })
}

/// Applies the missing migrations inside the caller's IMMEDIATE transaction,
/// re-reading the version there so that parallel first uses apply them once.
pub fn migrate(tx: &Transaction<'_>) -> Result<()> {
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let start = usize::try_from(version).unwrap_or(usize::MAX);
    for sql in MIGRATIONS.iter().skip(start) {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", CURRENT)?;
    Ok(())
}

const V1: &str = r#"
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE keys (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    env           TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    hint          TEXT NOT NULL,
    secret_sha256 BLOB NOT NULL UNIQUE,
    scopes        TEXT NOT NULL DEFAULT '[]',
    is_default    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    revoke_reason TEXT,
    last_used_at  INTEGER,
    rotated_from  TEXT REFERENCES keys(id),
    rotated_to    TEXT REFERENCES keys(id)
);
CREATE INDEX keys_by_env_name ON keys(env, name);
CREATE INDEX keys_by_env_created ON keys(env, created_at);
CREATE INDEX keys_by_created ON keys(created_at);

CREATE TABLE events (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    event          TEXT NOT NULL,
    key_id         TEXT,
    related_key_id TEXT,
    env            TEXT,
    actor          TEXT NOT NULL,
    details        TEXT NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX events_by_key ON events(key_id, id);
CREATE INDEX events_by_related_key ON events(related_key_id, id);
CREATE INDEX events_by_env ON events(env, id);
CREATE INDEX events_by_kind ON events(event, id);

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;
"#;

/// Create, rotate and name lookups ask for an environment's keys that are
/// neither superseded nor revoked. A partial index holds only those, so the
/// lookups stay small however long an environment's history grows. The
/// index on created_at served no query.
const V2: &str = r#"
CREATE INDEX keys_current_by_env_name ON keys(env, name)
    WHERE revoked_at IS NULL AND rotated_to IS NULL;
DROP INDEX keys_by_created;
"#;

/// A rotated key's grace never runs past the expiry it had while active,
/// so that expiry is kept once `expires_at` holds the grace end. Keys
/// rotated before this version get it back from their `rotated` event.
const V3: &str = r#"
ALTER TABLE keys ADD COLUMN own_expires_at INTEGER;
UPDATE keys SET own_expires_at = (
    SELECT unixepoch(json_extract(e.details, '$.old_expires_at'))
    FROM events e WHERE e.event = 'rotated' AND e.key_id = keys.id
) WHERE rotated_to IS NOT NULL;
"#;

/// A note on a key (`create --note`, `update --note`).
const V4: &str = r#"
ALTER TABLE keys ADD COLUMN note TEXT;
"#;

/// serve's usage counts: verifications per key and UTC day, by outcome.
const V5: &str = r#"
CREATE TABLE usage (
    key_id  TEXT NOT NULL REFERENCES keys(id),
    day     TEXT NOT NULL,
    valid   INTEGER NOT NULL DEFAULT 0,
    invalid INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
) WITHOUT ROWID;
"#;

/// A key's rotation policy (`--rotate-every`), in seconds.
const V6: &str = r#"
ALTER TABLE keys ADD COLUMN rotate_every INTEGER;
"#;

/// Quotas: the rate limits and credits a lineage of keys shares (named by
/// the id of the key that started it, held in each key's `quota_id`), and
/// what each rate limit admitted, by slot.
const V7: &str = r#"
ALTER TABLE keys ADD COLUMN quota_id TEXT;
CREATE TABLE quotas (
    lineage         TEXT PRIMARY KEY,
    ratelimits      TEXT NOT NULL DEFAULT '[]',
    credits         INTEGER,
    refill_amount   INTEGER,
    refill_interval TEXT,
    refilled_at     INTEGER,
    epoch           INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE quota_use (
    quota_id TEXT NOT NULL,
    name     TEXT NOT NULL,
    slot     INTEGER NOT NULL,
    used     INTEGER NOT NULL,
    PRIMARY KEY (quota_id, name, slot)
) WITHOUT ROWID;
"#;

/// Owners and metadata: who a key belongs to (`--owner`, Unkey's
/// `externalId`; `list --owner` and `max-keys-per-owner` look keys up by it)
/// and a JSON object for the product that holds it (`--meta`).
const V8: &str = r#"
ALTER TABLE keys ADD COLUMN owner TEXT;
ALTER TABLE keys ADD COLUMN meta TEXT;
CREATE INDEX keys_by_env_owner ON keys(env, owner) WHERE owner IS NOT NULL;
"#;
