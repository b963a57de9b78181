//! The schema `keyward`: versioned in `keyward.meta`, migrated forward only,
//! created once however many processes start on an empty database at once
//! (the migration runs under the vault's advisory lock and re-reads the
//! version there). The same columns as the SQLite schema at its version 6,
//! so a vault copies between engines with its hashes intact.

use postgres::Client;

use keyward_core::error::Result;

/// Migration N (1-based) brings the schema from version N-1 to N.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

pub const CURRENT: i64 = MIGRATIONS.len() as i64;

pub use keyward_core::store::Found;

/// Whether `keyward.meta` exists, read from the catalog tables with the
/// statement's own snapshot (to_regclass can answer from a cache that has
/// not yet seen a schema another process just committed).
const HAS_META: &str = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
    WHERE n.nspname = 'keyward' AND c.relname = 'meta')";

/// Whether the schema `keyward` holds anything (tables, sequences, views,
/// functions, types): an empty schema may be filled, a used one is not
/// keyward's unless it has keyward's `meta`.
const HAS_OBJECTS: &str = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE \
    n.nspname = 'keyward' AND (\
    EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid) OR \
    EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid) OR \
    EXISTS (SELECT 1 FROM pg_catalog.pg_type t WHERE t.typnamespace = n.oid)))";

/// keyward's `meta`: the columns `id` and `version` of types keyward gave them.
const META_IS_KEYWARDS: &str = "SELECT count(*) = 2 FROM pg_catalog.pg_attribute a \
    WHERE a.attrelid = 'keyward.meta'::regclass AND a.attnum > 0 AND NOT a.attisdropped \
    AND ((a.attname = 'id' AND a.atttypid = 'integer'::regtype) \
      OR (a.attname = 'version' AND a.atttypid = 'integer'::regtype))";

pub fn inspect(client: &mut Client) -> Result<Found> {
    // One statement, one snapshot: a schema another process commits in
    // between is seen whole or not at all.
    let row = client.query_one(&format!("SELECT ({HAS_META}), ({HAS_OBJECTS})"), &[])?;
    let (exists, used): (bool, bool) = (row.try_get(0)?, row.try_get(1)?);
    if !exists {
        return Ok(match used {
            true => Found::Foreign(FOREIGN),
            false => Found::Empty,
        });
    }
    let ours: bool = client.query_one(META_IS_KEYWARDS, &[])?.try_get(0)?;
    let row = match ours {
        true => client.query_opt("SELECT version FROM keyward.meta WHERE id = 1", &[])?,
        false => None,
    };
    let Some(row) = row else {
        return Ok(Found::Foreign(FOREIGN));
    };
    let version = i64::from(row.try_get::<_, i32>(0)?);
    Ok(match version {
        v if v > CURRENT => Found::Newer(v),
        v if v == CURRENT => Found::Current,
        v => Found::Older(v),
    })
}

const FOREIGN: &str = "its schema keyward holds objects keyward did not make (it has no \
    keyward.meta of keyward's); keyward leaves it alone: use another database, or rename that \
    schema";

/// Creates or migrates the schema in one transaction under `lock`; returns
/// whether it created it (no keyward schema was there once the lock was held).
pub fn migrate(client: &mut Client, lock: i64) -> Result<bool> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])?;
    let exists: bool = tx.query_one(HAS_META, &[])?.try_get(0)?;
    let version = match exists {
        false => 0,
        true => i64::from(
            tx.query_one("SELECT version FROM keyward.meta", &[])?
                .try_get::<_, i32>(0)?,
        ),
    };
    let start = usize::try_from(version).unwrap_or(usize::MAX);
    for sql in MIGRATIONS.iter().skip(start) {
        tx.batch_execute(sql)?;
    }
    let current = i32::try_from(CURRENT).unwrap_or(i32::MAX);
    tx.execute(
        "INSERT INTO keyward.meta (id, version) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        &[&current],
    )?;
    tx.commit()?;
    Ok(version == 0)
}

const V1: &str = r#"
CREATE SCHEMA IF NOT EXISTS keyward;

CREATE TABLE keyward.meta (
    id      integer PRIMARY KEY CHECK (id = 1),
    version integer NOT NULL
);

CREATE TABLE keyward.settings (
    name  text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE keyward.keys (
    id             text COLLATE "C" PRIMARY KEY,
    seq            bigserial NOT NULL,
    name           text NOT NULL,
    env            text NOT NULL,
    prefix         text NOT NULL,
    hint           text NOT NULL,
    secret_sha256  bytea NOT NULL UNIQUE,
    scopes         text NOT NULL DEFAULT '[]',
    is_default     boolean NOT NULL DEFAULT false,
    created_at     bigint NOT NULL,
    expires_at     bigint,
    revoked_at     bigint,
    revoke_reason  text,
    last_used_at   bigint,
    rotated_from   text COLLATE "C" REFERENCES keyward.keys(id) DEFERRABLE INITIALLY DEFERRED,
    rotated_to     text COLLATE "C" REFERENCES keyward.keys(id) DEFERRABLE INITIALLY DEFERRED,
    own_expires_at bigint,
    note           text
);
CREATE INDEX keys_by_env_name ON keyward.keys (env, name);
CREATE INDEX keys_by_env_created ON keyward.keys (env, created_at, seq);
CREATE INDEX keys_current_by_env_name ON keyward.keys (env, name)
    WHERE revoked_at IS NULL AND rotated_to IS NULL;

CREATE TABLE keyward.events (
    id             bigint PRIMARY KEY,
    at             bigint NOT NULL,
    event          text NOT NULL,
    key_id         text COLLATE "C",
    related_key_id text COLLATE "C",
    env            text,
    actor          text NOT NULL,
    details        text NOT NULL,
    prev_hash      text NOT NULL,
    hash           text NOT NULL
);
CREATE INDEX events_by_key ON keyward.events (key_id, id);
CREATE INDEX events_by_related_key ON keyward.events (related_key_id, id);
CREATE INDEX events_by_env ON keyward.events (env, id);
CREATE INDEX events_by_kind ON keyward.events (event, id);
CREATE INDEX events_by_actor ON keyward.events (actor, id);

CREATE FUNCTION keyward.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the activity log is append-only';
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON keyward.events
    FOR EACH ROW EXECUTE FUNCTION keyward.append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON keyward.events
    FOR EACH STATEMENT EXECUTE FUNCTION keyward.append_only();
"#;

/// serve's usage counts: verifications per key and UTC day, by outcome.
const V2: &str = r#"
CREATE TABLE keyward.usage (
    key_id  text COLLATE "C" NOT NULL REFERENCES keyward.keys(id) DEFERRABLE INITIALLY DEFERRED,
    day     text NOT NULL,
    valid   bigint NOT NULL DEFAULT 0,
    invalid bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
);
"#;

/// A key's rotation policy (`--rotate-every`), in seconds.
const V3: &str = r#"
ALTER TABLE keyward.keys ADD COLUMN rotate_every bigint;
"#;

/// Quotas: the rate limits and credits a lineage of keys shares (named by
/// the id of the key that started it, held in each key's `quota_id`), and
/// what each rate limit admitted, by slot.
const V4: &str = r#"
ALTER TABLE keyward.keys ADD COLUMN quota_id text COLLATE "C";
CREATE TABLE keyward.quotas (
    lineage         text COLLATE "C" PRIMARY KEY,
    ratelimits      text NOT NULL DEFAULT '[]',
    credits         bigint,
    refill_amount   bigint,
    refill_interval text,
    refilled_at     bigint,
    epoch           bigint NOT NULL DEFAULT 0
);
CREATE TABLE keyward.quota_use (
    quota_id text COLLATE "C" NOT NULL,
    name     text NOT NULL,
    slot     bigint NOT NULL,
    used     bigint NOT NULL,
    PRIMARY KEY (quota_id, name, slot)
);
"#;

/// Owners and metadata (`--owner`, Unkey's `externalId`; `--meta`).
const V5: &str = r#"
ALTER TABLE keyward.keys ADD COLUMN owner text;
ALTER TABLE keyward.keys ADD COLUMN meta text;
CREATE INDEX keys_by_env_owner ON keyward.keys (env, owner) WHERE owner IS NOT NULL;
"#;
