//! The activity log: append with the hash chain, read with filters (newest
//! first, paged by id), and walk the chain to check it.

use rusqlite::{Connection, OptionalExtension, Row, types::Value as SqlValue};

use super::Vault;
use crate::error::{Error, Result};
use crate::event::{Canonical, Event, GENESIS, NewEvent, chain_hash};
use crate::when::Timestamp;

/// Which events to read. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Events about this key, or naming it as the related key.
    pub key_id: Option<String>,
    pub env: Option<String>,
    pub kinds: Vec<String>,
    pub since: Option<Timestamp>,
    /// Only events older than this id (the next page after it).
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// A page of events, newest first.
pub type EventPage = Vec<Event>;

pub(super) const LAST_EVENT: &str =
    "SELECT id, hash FROM events WHERE id = (SELECT max(id) FROM events)";

const EVENT_COLUMNS: &str =
    "e.id, e.at, e.event, e.key_id, e.related_key_id, e.env, e.actor, e.details, k.name";

impl Vault {
    pub fn events(&self, filter: &EventFilter) -> Result<EventPage> {
        let (sql, params) = page_query(filter);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params), event_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Walks the whole chain, oldest first. Returns how many events it checked,
    /// or the first event whose link or hash does not hold.
    pub fn verify_chain(&self) -> Result<u64> {
        verify_chain(&self.conn)
    }
}

/// The SQL and parameters for a page of the log: newest first, after
/// `before_id` when paging (keyset, never OFFSET).
pub(super) fn page_query(filter: &EventFilter) -> (String, Vec<SqlValue>) {
    let mut sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e LEFT JOIN keys k ON k.id = e.key_id WHERE 1=1"
    );
    let mut params: Vec<SqlValue> = Vec::new();
    let mut bind = |sql: &mut String, clause: &str, value: SqlValue| {
        params.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", params.len())));
    };
    if let Some(id) = &filter.key_id {
        bind(&mut sql, " AND (e.key_id = ? ", id.clone().into());
        bind(&mut sql, "OR e.related_key_id = ?)", id.clone().into());
    }
    if let Some(env) = &filter.env {
        bind(&mut sql, " AND e.env = ?", env.clone().into());
    }
    if !filter.kinds.is_empty() {
        sql.push_str(" AND e.event IN (");
        for (i, kind) in filter.kinds.iter().enumerate() {
            bind(
                &mut sql,
                if i == 0 { "?" } else { ", ?" },
                kind.clone().into(),
            );
        }
        sql.push(')');
    }
    if let Some(since) = filter.since {
        bind(&mut sql, " AND e.at >= ?", since.unix().into());
    }
    if let Some(before) = filter.before_id {
        bind(&mut sql, " AND e.id < ?", before.into());
    }
    let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
    bind(&mut sql, " ORDER BY e.id DESC LIMIT ?", limit.into());
    (sql, params)
}

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        at: Timestamp::from_unix(r.get(1)?),
        kind: r.get(2)?,
        key_id: r.get(3)?,
        related_key_id: r.get(4)?,
        env: r.get(5)?,
        actor: r.get(6)?,
        details: r.get(7)?,
        key_name: r.get(8)?,
    })
}

/// Appends an event inside the caller's transaction, chained to the last one.
pub(super) fn append(tx: &Connection, e: NewEvent) -> Result<i64> {
    let last: Option<(i64, String)> = tx
        .prepare_cached(LAST_EVENT)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (id, prev_hash) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let details = serde_json::Value::Object(e.details).to_string();
    let hash = chain_hash(
        &prev_hash,
        &Canonical {
            id,
            at: e.at.unix(),
            kind: e.kind.as_str(),
            key_id: e.key_id.as_deref(),
            related_key_id: e.related_key_id.as_deref(),
            env: e.env.as_deref(),
            actor: &e.actor,
            details: &details,
        },
    );
    tx.prepare_cached(
        "INSERT INTO events (id, at, event, key_id, related_key_id, env, actor, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(rusqlite::params![
        id,
        e.at.unix(),
        e.kind.as_str(),
        e.key_id,
        e.related_key_id,
        e.env,
        e.actor,
        details,
        prev_hash,
        hash
    ])?;
    Ok(id)
}

fn verify_chain(conn: &Connection) -> Result<u64> {
    let mut stmt = conn.prepare(
        "SELECT id, at, event, key_id, related_key_id, env, actor, details, prev_hash, hash
         FROM events ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.to_string();
    let mut expected_id = 1i64;
    let mut count = 0u64;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let broken = |reason: &str| Error::BrokenChain {
            id,
            reason: reason.to_string(),
        };
        if id != expected_id {
            return Err(Error::BrokenChain {
                id: expected_id,
                reason: format!("it is missing (the next event found is {id})"),
            }
            .into());
        }
        // Read as raw values: a tampered column may hold anything.
        let text = |i: usize| -> Result<Option<String>, Error> {
            match r.get_ref(i).map(|v| v.as_str_or_null()) {
                Ok(Ok(v)) => Ok(v.map(str::to_string)),
                _ => Err(broken(
                    "it holds a value that is not text (it was changed after it was written)",
                )),
            }
        };
        let (kind, actor, details) = (text(2)?, text(6)?, text(7)?);
        let (key_id, related, env) = (text(3)?, text(4)?, text(5)?);
        let (stored_prev, stored_hash) = (text(8)?, text(9)?);
        if stored_prev.as_deref() != Some(prev.as_str()) {
            return Err(broken("it does not link to the event before it").into());
        }
        let Ok(at) = r.get::<_, i64>(1) else {
            return Err(
                broken("its time is not a number (it was changed after it was written)").into(),
            );
        };
        let computed = chain_hash(
            &prev,
            &Canonical {
                id,
                at,
                kind: kind.as_deref().unwrap_or_default(),
                key_id: key_id.as_deref(),
                related_key_id: related.as_deref(),
                env: env.as_deref(),
                actor: actor.as_deref().unwrap_or_default(),
                details: details.as_deref().unwrap_or_default(),
            },
        );
        if stored_hash.as_deref() != Some(computed.as_str()) {
            return Err(broken(
                "its contents do not match its hash (it was changed after it was written)",
            )
            .into());
        }
        prev = computed;
        expected_id += 1;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::vault::{Access, NewKey, Setting};
    use crate::when::Deadline;

    const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);
    const TEXT_COLUMNS: [&str; 8] = [
        "event",
        "key_id",
        "related_key_id",
        "env",
        "actor",
        "details",
        "prev_hash",
        "hash",
    ];

    /// A vault with a few of every kind of event.
    fn vault() -> (tempfile::TempDir, Vault) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut v = Vault::open(&dir.path().join("v.db"), Access::OrCreate).expect("open");
        v.set_setting(Setting::MaxKeys, "50", "setup", NOW)
            .expect("config");
        for i in 0..6 {
            let new = NewKey {
                name: Some(format!("k{i}")),
                env: format!("env{}", i % 2),
                expires: Deadline::Never,
                scopes: vec!["read".into()],
                prefix: None,
            };
            v.create(new, "setup\u{e9}", NOW.plus_secs(i))
                .expect("create");
        }
        (dir, v)
    }

    fn broken_at(v: &Vault) -> Option<i64> {
        match v.verify_chain() {
            Ok(_) => None,
            Err(e) => match e.downcast::<Error>() {
                Ok(Error::BrokenChain { id, .. }) => Some(id),
                other => panic!("not a broken chain: {other:?}"),
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        /// Any single-byte change to any stored field of any event is found,
        /// and the event named is the one that was changed.
        #[test]
        fn any_single_byte_change_is_detected(
            row in 1i64..=7,
            column in 0usize..=TEXT_COLUMNS.len(),
            at in any::<prop::sample::Index>(),
            xor in 1u8..=255,
        ) {
            thread_local!(static VAULT: (tempfile::TempDir, Vault) = vault());
            VAULT.with(|(_, v)| {
                assert_eq!(broken_at(v), None, "the chain starts intact");
                v.conn.execute_batch(
                    "BEGIN; DROP TRIGGER events_append_only_update; DROP TRIGGER events_append_only_delete;",
                ).expect("begin");
                if column == TEXT_COLUMNS.len() {
                    v.conn.execute("UPDATE events SET at = (at | ?1) - (at & ?1) WHERE id = ?2", (i64::from(xor), row)).expect("at");
                } else {
                    let name = TEXT_COLUMNS[column];
                    let old: Option<Vec<u8>> = v
                        .conn
                        .query_row(&format!("SELECT CAST({name} AS BLOB) FROM events WHERE id = ?1"), [row], |r| r.get(0))
                        .expect("read");
                    let mut bytes = old.unwrap_or_default();
                    if bytes.is_empty() {
                        bytes.push(xor);
                    } else {
                        let i = at.index(bytes.len());
                        bytes[i] ^= xor;
                    }
                    v.conn
                        .execute(&format!("UPDATE events SET {name} = CAST(?1 AS TEXT) WHERE id = ?2"), (bytes, row))
                        .expect("tamper");
                }
                let found = broken_at(v);
                v.conn.execute_batch("ROLLBACK").expect("rollback");
                prop_assert_eq!(found, Some(row), "column {}", column);
                Ok(())
            })?;
        }
    }
}
