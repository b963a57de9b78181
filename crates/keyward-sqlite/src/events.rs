//! The activity log in SQLite: append, read with filters (newest first,
//! paged by id), and walk the chain to check it.

use rusqlite::{Connection, OptionalExtension, Row, types::Value as SqlValue};

use super::{Conn, Sql, bad_row, column, time_column};
use keyward_core::error::{Error, Result};
use keyward_core::event::{ChainWalk, Event, Head, Link};

use keyward_core::store::row::EventRow;
use keyward_core::store::{EventFilter, StoredEvent, page};

pub(super) const LAST_EVENT: &str =
    "SELECT id, hash, at FROM events WHERE id = (SELECT max(id) FROM events)";

const EVENT_COLUMNS: &str =
    "e.id, e.at, e.event, e.key_id, e.related_key_id, e.env, e.actor, e.details, k.name";

impl<C: Conn> Sql<C> {
    pub(super) fn read_events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        let (sql, params) = page_query(filter);
        let run = || -> rusqlite::Result<Vec<Event>> {
            let mut stmt = self.c().prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(params), event_from_row)?;
            rows.collect()
        };
        run().map_err(|e| self.explain(e))
    }
}

impl<C: Conn> Sql<C> {
    pub(super) fn read_head(&self) -> Result<Option<Head>> {
        self.c()
            .prepare_cached(LAST_EVENT)
            .and_then(|mut s| {
                s.query_row([], |r| {
                    let id: i64 = column(r, 0, "the newest event")?;
                    let row = format!("event {id}");
                    Ok(Head {
                        id,
                        hash: column(r, 1, &row)?,
                        at: time_column(r, 2, &row)?
                            .ok_or_else(|| bad_row(2, row.clone(), "it has no time"))?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.explain(e))
    }
}

/// The SQL and parameters for a page of the log, as core's
/// [`page::conditions`] means it.
pub(super) fn page_query(filter: &EventFilter) -> (String, Vec<SqlValue>) {
    let (conditions, params) = page::conditions(filter);
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e LEFT JOIN keys k ON k.id = e.key_id WHERE {}",
        page::numbered(&conditions, |n| format!("?{n}"))
    );
    let params = params
        .into_iter()
        .map(|p| match p {
            page::Param::Text(t) => SqlValue::Text(t),
            page::Param::Int(i) => SqlValue::Integer(i),
        })
        .collect();
    (sql, params)
}

/// An event row's values in SQLite's types, decoded by the core.
fn event_from_row(r: &Row<'_>) -> rusqlite::Result<Event> {
    let id: i64 = column(r, 0, "an event")?;
    let label = format!("event {id}");
    let maybe = |i: usize| column::<Option<String>>(r, i, &label);
    let values = EventRow {
        id,
        at: column(r, 1, &label)?,
        kind: column(r, 2, &label)?,
        key_id: maybe(3)?,
        related_key_id: maybe(4)?,
        env: maybe(5)?,
        actor: column(r, 6, &label)?,
        details: column(r, 7, &label)?,
        key_name: maybe(8)?,
    };
    values
        .decode()
        .map_err(|b| bad_row(b.column, label, b.problem))
}

/// Every event as stored, oldest first (the chain is checked before).
pub(super) const DUMP: &str = "SELECT id, at, event, key_id, related_key_id, env, actor, details, \
     prev_hash, hash FROM events ORDER BY id";

/// A row of [`DUMP`].
pub(super) fn dumped_from_row(r: &Row<'_>) -> rusqlite::Result<keyward_core::store::DumpedEvent> {
    let id: i64 = column(r, 0, "an event")?;
    let row = format!("event {id}");
    let kind: String = column(r, 2, &row)?;
    Ok(keyward_core::store::DumpedEvent {
        id,
        at: time_column(r, 1, &row)?.ok_or_else(|| bad_row(1, row.clone(), "it has no time"))?,
        kind: kind
            .parse()
            .map_err(|_| bad_row(2, row.clone(), "its type is not one keyward writes"))?,
        key_id: column(r, 3, &row)?,
        related_key_id: column(r, 4, &row)?,
        env: column(r, 5, &row)?,
        actor: column(r, 6, &row)?,
        details: column(r, 7, &row)?,
        prev_hash: column(r, 8, &row)?,
        hash: column(r, 9, &row)?,
    })
}

pub(super) fn insert(conn: &Connection, e: &StoredEvent<'_>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (id, at, event, key_id, related_key_id, env, actor, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(rusqlite::params![
        e.id,
        e.at.unix(),
        e.kind.as_str(),
        e.key_id,
        e.related_key_id,
        e.env,
        e.actor,
        e.details,
        e.prev_hash,
        e.hash
    ])?;
    Ok(())
}

pub(super) fn verify_chain(conn: &Connection) -> Result<u64> {
    let mut stmt = conn.prepare(
        "SELECT id, at, event, key_id, related_key_id, env, actor, details, prev_hash, hash
         FROM events ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut walk = ChainWalk::default();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        walk.expect(id)?;
        // Read as raw values: a tampered column may hold anything.
        let text = |i: usize| -> Result<Option<&str>, Error> {
            match r.get_ref(i).map(|v| v.as_str_or_null()) {
                Ok(Ok(v)) => Ok(v),
                _ => Err(ChainWalk::not_text(id)),
            }
        };
        walk.step(&Link {
            id,
            kind: text(2)?,
            key_id: text(3)?,
            related_key_id: text(4)?,
            env: text(5)?,
            actor: text(6)?,
            details: text(7)?,
            prev_hash: text(8)?,
            hash: text(9)?,
            at: r.get::<_, i64>(1).ok(),
        })?;
    }
    Ok(walk.checked())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use std::sync::Arc;

    use super::*;
    use crate::Sqlite;
    use keyward_core::intents::NewKey;
    use keyward_core::settings::Setting;
    use keyward_core::store::{Access, Read};
    use keyward_core::text::{Actor, Env, Name, Scope};
    use keyward_core::vault::Vault;
    use keyward_core::when::Expiry;
    use keyward_core::when::Timestamp;

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
    fn vault() -> (tempfile::TempDir, Sqlite) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v.db");
        let (store, created) = crate::Sqlite::open_reporting(&path, Access::Create).expect("open");
        let mut v = Vault::new(Box::new(store), created, "v.db".into(), Arc::new(NOW));
        let actor = Actor::parse("setup\u{e9}").expect("actor");
        v.write(|tx, now| {
            keyward_core::intents::set_setting(tx, Setting::MaxKeys, "50", &actor, now)
        })
        .expect("config");
        for i in 0..6 {
            let new = NewKey {
                name: Some(Name::parse(&format!("k{i}")).expect("name")),
                env: Env::parse(&format!("env{}", i % 2)).expect("env"),
                expires: Expiry::Never,
                scopes: vec![Scope::parse("read").expect("scope")],
                prefix: None,
                note: None,
                rotate_every: None,
                quota: Default::default(),
                owner: None,
                meta: None,
            };
            v.create(&new, &actor).expect("create");
        }
        drop(v);
        (dir, Sqlite::open(&path, Access::Write).expect("reopen"))
    }

    fn broken_at(v: &Sqlite) -> Option<i64> {
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
            thread_local!(static VAULT: (tempfile::TempDir, Sqlite) = vault());
            VAULT.with(|(_, v)| {
                assert_eq!(broken_at(v), None, "the chain starts intact");
                v.connection().execute_batch(
                    "BEGIN; DROP TRIGGER events_append_only_update; DROP TRIGGER events_append_only_delete;",
                ).expect("begin");
                if column == TEXT_COLUMNS.len() {
                    v.connection().execute("UPDATE events SET at = (at | ?1) - (at & ?1) WHERE id = ?2", (i64::from(xor), row)).expect("at");
                } else {
                    let name = TEXT_COLUMNS[column];
                    let old: Option<Vec<u8>> = v
                        .connection()
                        .query_row(&format!("SELECT CAST({name} AS BLOB) FROM events WHERE id = ?1"), [row], |r| r.get(0))
                        .expect("read");
                    let mut bytes = old.unwrap_or_default();
                    if bytes.is_empty() {
                        bytes.push(xor);
                    } else {
                        let i = at.index(bytes.len());
                        bytes[i] ^= xor;
                    }
                    v.connection()
                        .execute(&format!("UPDATE events SET {name} = CAST(?1 AS TEXT) WHERE id = ?2"), (bytes, row))
                        .expect("tamper");
                }
                let found = broken_at(v);
                v.connection().execute_batch("ROLLBACK").expect("rollback");
                prop_assert_eq!(found, Some(row), "column {}", column);
                Ok(())
            })?;
        }
    }
}
