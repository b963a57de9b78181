//! serve's usage counts: per key and UTC day, by outcome. Bookkeeping
//! beside the keys, outside the activity log.

use rusqlite::Connection;

use super::{Conn, Sql};
use keyward_core::error::Result;
use keyward_core::key::KeyId;
use keyward_core::store::{DailyUsage, UsageBatch, day_text, parse_day};
use keyward_core::when::Timestamp;

pub(super) fn read<C: Conn>(s: &Sql<C>, id: &KeyId, since: time::Date) -> Result<Vec<DailyUsage>> {
    let rows = query(
        s,
        "SELECT key_id, day, valid, invalid FROM usage WHERE key_id = ?1 AND day >= ?2 \
         ORDER BY day",
        (id.as_str(), day_text(since)),
    )?;
    Ok(rows.into_iter().map(|(_, u)| u).collect())
}

/// Every usage row, for `copy`.
pub(super) const DUMP: &str = "SELECT key_id, day, valid, invalid FROM usage ORDER BY key_id, day";

/// Rows of (key_id, day, valid, invalid), checked to be what keyward writes.
fn query<C: Conn>(
    s: &Sql<C>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<(KeyId, DailyUsage)>> {
    let mut stmt = s.c().prepare_cached(sql)?;
    let rows = stmt.query_map(params, raw)?;
    let mut all = Vec::new();
    for row in rows {
        all.push(checked(s, row?)?);
    }
    Ok(all)
}

/// Raw (key_id, day, valid, invalid), checked to be what keyward writes.
pub(super) fn checked<C: Conn>(
    s: &Sql<C>,
    (id, day, valid, invalid): (String, String, i64, i64),
) -> Result<(KeyId, DailyUsage)> {
    let bad = || {
        s.corrupt(
            format!("usage of {id} on {day}"),
            "it holds a count keyward never writes",
        )
    };
    let usage = DailyUsage {
        day: parse_day(&day).ok_or_else(bad)?,
        valid: u64::try_from(valid).map_err(|_| bad())?,
        invalid: u64::try_from(invalid).map_err(|_| bad())?,
    };
    Ok((KeyId::stored(id), usage))
}

/// A row of [`DUMP`], raw.
pub(super) fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, i64, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

pub(super) fn add(conn: &Connection, id: &KeyId, u: &DailyUsage) -> Result<()> {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "INSERT INTO usage (key_id, day, valid, invalid)
         SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM keys WHERE id = ?1)
         ON CONFLICT (key_id, day) DO UPDATE
         SET valid = valid + excluded.valid, invalid = invalid + excluded.invalid",
    )?
    .execute((
        id.as_str(),
        day_text(u.day),
        count(u.valid),
        count(u.invalid),
    ))?;
    Ok(())
}

fn last_used(conn: &Connection, id: &KeyId, at: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "UPDATE keys SET last_used_at = ?1 WHERE id = ?2
         AND (last_used_at IS NULL OR last_used_at < ?1)",
    )?
    .execute((at.unix(), id.as_str()))?;
    Ok(())
}

/// Adds a batch inside the caller's transaction. Counts for a key the
/// vault does not hold (it was replaced under serve) are dropped, so that
/// they never hold up the others.
pub(super) fn record(conn: &Connection, batch: &UsageBatch) -> Result<()> {
    for (id, u) in &batch.counts {
        add(conn, id, u)?;
    }
    for (id, at) in &batch.last_used {
        last_used(conn, id, *at)?;
    }
    Ok(())
}
