//! Key queries and writes in SQLite, and the [`Read`] side of the storage
//! contract (with the event reads in `events.rs`).

use rusqlite::{Connection, OptionalExtension, Row};

use super::{Conn, Sql, bad_row, column, events};
use keyward_core::error::Result;
use keyward_core::event::{Event, Head};
use keyward_core::key::{Key, KeyId};
use keyward_core::settings::Settings;
use keyward_core::store::row::{self, KeyRow};
use keyward_core::store::{EventFilter, Read};
use keyward_core::text::Env;
use keyward_core::when::Timestamp;

/// `SELECT <every key column> FROM keys <tail>`, as a literal.
macro_rules! select_keys {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, env, prefix, hint, scopes, is_default, created_at, expires_at, ",
            "revoked_at, revoke_reason, last_used_at, rotated_from, rotated_to, own_expires_at, note, ",
            "rotate_every, quota_id, owner, meta, ratelimits, credits, refill_amount, refill_interval, refilled_at, epoch ",
            "FROM keys LEFT JOIN quotas ON quotas.lineage = keys.quota_id ",
            $tail
        )
    };
}

// The hot statements, named so that the query-plan test checks exactly these.
pub(super) const KEY_BY_ID: &str = select_keys!("WHERE id = ?1");
/// Ids are [a-z2-7], all below '~', so this range is "starts with".
pub(super) const KEYS_BY_ID_PREFIX: &str =
    select_keys!("WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT 10");
pub(super) const CURRENT_BY_NAME: &str =
    select_keys!("WHERE env = ?1 AND name = ?2 AND revoked_at IS NULL AND rotated_to IS NULL");
pub(super) const ACTIVE_IN_ENV: &str = select_keys!(
    "WHERE env = ?1 AND revoked_at IS NULL AND rotated_to IS NULL AND (expires_at IS NULL OR expires_at > ?2)"
);
pub(super) const KEYS_IN_ENV: &str = select_keys!("WHERE env = ?1 ORDER BY env, created_at, rowid");
const ALL_KEYS: &str = select_keys!("ORDER BY env, created_at, rowid");
/// Every key with its secret's hash (column 26), for `copy`, in the order
/// they were stored: that keeps the order of keys created in the same
/// second, and reads the table as it lies instead of sorting a million
/// rows in memory first.
pub(super) const KEYS_WITH_HASHES: &str = concat!(
    "SELECT id, name, env, prefix, hint, scopes, is_default, created_at, expires_at, ",
    "revoked_at, revoke_reason, last_used_at, rotated_from, rotated_to, own_expires_at, note, ",
    "rotate_every, quota_id, owner, meta, ratelimits, credits, refill_amount, refill_interval, refilled_at, epoch, ",
    "secret_sha256 FROM keys LEFT JOIN quotas ON quotas.lineage = keys.quota_id ORDER BY keys.rowid"
);
pub(super) const KEY_BY_SECRET: &str = select_keys!("WHERE secret_sha256 = ?1");
/// Every key of a name in an environment, newest first (a rotated name has
/// one per rotation).
pub(super) const KEYS_NAMED: &str =
    select_keys!("WHERE env = ?1 AND name = ?2 ORDER BY created_at DESC, rowid DESC LIMIT 20");
/// Keys whose stored scopes (JSON text, as serde_json writes it: no
/// whitespace between items) hold a comma that is not a separator, a space,
/// or anything outside printable ASCII: a superset of the keys with a scope
/// that is not a token.
const KEYS_WITH_LOOSE_SCOPES: &str = select_keys!(
    "WHERE instr(replace(scopes, '\",\"', ''), ',') > 0 OR instr(scopes, ' ') > 0 \
     OR scopes GLOB '*[^ -~]*' ORDER BY env, created_at, rowid"
);
const ENVS: &str = "SELECT DISTINCT env FROM keys ORDER BY env";

impl<C: Conn> Sql<C> {
    fn query_keys(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Key>> {
        let run = || -> rusqlite::Result<Vec<Key>> {
            let mut stmt = self.c().prepare_cached(sql)?;
            let rows = stmt.query_map(params, key_from_row)?;
            rows.collect()
        };
        run().map_err(|e| self.explain(e))
    }

    /// The keys `sql` selects, one at a time, from one statement (one
    /// snapshot).
    pub(super) fn stream_keys(
        &self,
        env: Option<&Env>,
        each: &mut dyn FnMut(Key) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .c()
            .prepare_cached(if env.is_some() { KEYS_IN_ENV } else { ALL_KEYS })
            .map_err(|e| self.explain(e))?;
        let mut rows = match env {
            Some(env) => stmt.query([env.as_str()]),
            None => stmt.query([]),
        }
        .map_err(|e| self.explain(e))?;
        while let Some(r) = rows.next().map_err(|e| self.explain(e))? {
            each(key_from_row(r).map_err(|e| self.explain(e))?)?;
        }
        Ok(())
    }

    fn query_key(&self, sql: &str, params: impl rusqlite::Params) -> Result<Option<Key>> {
        self.c()
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row(params, key_from_row).optional())
            .map_err(|e| self.explain(e))
    }
}

impl<C: Conn> Read for Sql<C> {
    fn key(&self, id: &KeyId) -> Result<Option<Key>> {
        self.query_key(KEY_BY_ID, [id.as_str()])
    }

    fn keys_by_id_prefix(&self, prefix: &str) -> Result<Vec<Key>> {
        self.query_keys(KEYS_BY_ID_PREFIX, [prefix])
    }

    fn current_by_name(&self, env: &Env, name: &str) -> Result<Vec<Key>> {
        self.query_keys(CURRENT_BY_NAME, [env.as_str(), name])
    }

    fn keys_named(&self, env: &Env, name: &str) -> Result<Vec<Key>> {
        self.query_keys(KEYS_NAMED, [env.as_str(), name])
    }

    fn envs(&self) -> Result<Vec<Env>> {
        let run = || -> rusqlite::Result<Vec<Env>> {
            let mut stmt = self.c().prepare_cached(ENVS)?;
            let rows = stmt.query_map([], |r| Ok(Env::stored(r.get(0)?)))?;
            rows.collect()
        };
        run().map_err(|e| self.explain(e))
    }

    fn keys(&self, env: Option<&Env>) -> Result<Vec<Key>> {
        match env {
            Some(env) => self.query_keys(KEYS_IN_ENV, [env.as_str()]),
            None => self.query_keys(ALL_KEYS, []),
        }
    }

    fn keys_with_loose_scopes(&self) -> Result<Vec<Key>> {
        self.query_keys(KEYS_WITH_LOOSE_SCOPES, [])
    }

    fn active_in_env(&self, env: &Env, now: Timestamp) -> Result<Vec<Key>> {
        self.query_keys(ACTIVE_IN_ENV, rusqlite::params![env.as_str(), now.unix()])
    }

    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Key>> {
        self.query_key(KEY_BY_SECRET, [&hash[..]])
    }

    fn settings_but(&self, skip: Option<keyward_core::settings::Setting>) -> Result<Settings> {
        self.read_settings(skip)
    }

    fn head(&self) -> Result<Option<Head>> {
        self.read_head()
    }

    fn event_hash(&self, id: i64) -> Result<Option<String>> {
        Ok(self
            .c()
            .prepare_cached("SELECT hash FROM events WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        self.read_events(filter)
    }

    fn verify_chain(&self) -> Result<u64> {
        events::verify_chain(self.c())
    }

    fn usage(&self, id: &KeyId, since: time::Date) -> Result<Vec<keyward_core::store::DailyUsage>> {
        super::usage::read(self, id, since)
    }

    fn quota(&self, id: &KeyId) -> Result<Option<keyward_core::quota::Quota>> {
        super::quotas::read(self, id)
    }

    fn quota_use(&self, id: &KeyId, name: &str) -> Result<Vec<(i64, u64)>> {
        super::quotas::uses(self, id, name)
    }
}

pub(super) fn insert(conn: &Connection, k: &Key, secret_hash: &[u8; 32]) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO keys (id, name, env, prefix, hint, secret_sha256, scopes, is_default, created_at,
                           expires_at, own_expires_at, rotated_from, note, revoked_at, revoke_reason,
                           last_used_at, rotate_every, quota_id, owner, meta)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
    )?
    .execute(rusqlite::params![
        k.id.as_str(),
        k.name.as_str(),
        k.env.as_str(),
        k.prefix,
        k.hint,
        &secret_hash[..],
        serde_json::to_string(&k.scopes)?,
        k.is_default,
        k.created_at.unix(),
        k.expires_at.map(Timestamp::unix),
        k.own_expires_at.map(Timestamp::unix),
        k.rotated_from.as_ref().map(KeyId::as_str),
        k.note,
        k.revoked_at.map(Timestamp::unix),
        k.revoke_reason,
        k.last_used_at.map(Timestamp::unix),
        k.rotate_every,
        k.quota_id.as_ref().map(KeyId::as_str),
        k.owner.as_ref().map(|o| o.as_str()),
        k.meta.as_ref().map(|m| m.as_str()),
    ])?;
    Ok(())
}

pub(super) fn update(conn: &Connection, k: &Key) -> Result<()> {
    conn.prepare_cached(
        "UPDATE keys SET expires_at = ?1, own_expires_at = ?2, rotated_to = ?3, is_default = ?4,
                         revoked_at = ?5, revoke_reason = ?6, name = ?7, scopes = ?8, note = ?9,
                         quota_id = ?11, owner = ?12, meta = ?13
         WHERE id = ?10",
    )?
    .execute(rusqlite::params![
        k.expires_at.map(Timestamp::unix),
        k.own_expires_at.map(Timestamp::unix),
        k.rotated_to.as_ref().map(KeyId::as_str),
        k.is_default,
        k.revoked_at.map(Timestamp::unix),
        k.revoke_reason,
        k.name.as_str(),
        serde_json::to_string(&k.scopes)?,
        k.note,
        k.id.as_str(),
        k.quota_id.as_ref().map(KeyId::as_str),
        k.owner.as_ref().map(|o| o.as_str()),
        k.meta.as_ref().map(|m| m.as_str()),
    ])?;
    Ok(())
}

/// A row of [`KEYS_WITH_HASHES`]: the key and its secret's hash.
pub(super) fn key_and_hash_from_row(r: &Row<'_>) -> rusqlite::Result<(Key, [u8; 32])> {
    let key = key_from_row(r)?;
    let hash: Vec<u8> = column(r, row::SECRET_HASH_COLUMN, &format!("key {}", key.id))?;
    let hash = row::secret_hash(hash)
        .map_err(|b| bad_row(b.column, format!("key {}", key.id), b.problem))?;
    Ok((key, hash))
}

/// A key row's values in SQLite's types (the default flag is 0 or 1),
/// decoded by the core.
fn key_from_row(r: &Row<'_>) -> rusqlite::Result<Key> {
    let id: String = column(r, 0, "a key")?;
    let label = format!("key {id}");
    let text = |i: usize| column::<String>(r, i, &label);
    let maybe = |i: usize| column::<Option<String>>(r, i, &label);
    let int = |i: usize| column::<Option<i64>>(r, i, &label);
    let is_default = match column::<i64>(r, 6, &label)? {
        0 => false,
        1 => true,
        _ => return Err(bad_row(6, label, "its default flag is neither 0 nor 1")),
    };
    let values = KeyRow {
        name: text(1)?,
        env: text(2)?,
        prefix: text(3)?,
        hint: text(4)?,
        scopes: text(5)?,
        is_default,
        created_at: int(7)?,
        expires_at: int(8)?,
        revoked_at: int(9)?,
        revoke_reason: maybe(10)?,
        last_used_at: int(11)?,
        rotated_from: maybe(12)?,
        rotated_to: maybe(13)?,
        own_expires_at: int(14)?,
        note: maybe(15)?,
        rotate_every: int(16)?,
        quota_id: maybe(17)?,
        owner: maybe(18)?,
        meta: maybe(19)?,
        quota: match column::<Option<String>>(r, row::QUOTA_FROM, &label)? {
            None => None,
            Some(ratelimits) => Some(row::QuotaRow {
                ratelimits,
                credits: int(21)?,
                refill_amount: int(22)?,
                refill_interval: maybe(23)?,
                refilled_at: int(24)?,
                epoch: int(25)?.unwrap_or(0),
            }),
        },
        id,
    };
    values
        .decode()
        .map_err(|b| bad_row(b.column, label, b.problem))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_key_columns_are_the_cores_in_its_order() {
        let select = super::KEY_BY_ID;
        let columns = select
            .strip_prefix("SELECT ")
            .and_then(|s| s.split(" FROM ").next())
            .unwrap_or_default();
        let core = keyward_core::store::row::KEY_COLUMNS
            .iter()
            .chain(keyward_core::store::row::QUOTA_COLUMNS.iter())
            .copied()
            .collect::<Vec<_>>();
        assert_eq!(columns, core.join(", "));
    }
}
