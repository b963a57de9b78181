//! Quotas in SQLite: a lineage's rate limits and credits (`quotas`), and
//! what each rate limit admitted, by slot (`quota_use`).

use rusqlite::{Connection, OptionalExtension};

use super::{Conn, Sql};
use keyward_core::error::Result;
use keyward_core::key::KeyId;
use keyward_core::quota::Quota;
use keyward_core::store::row::{QUOTA_COLUMNS, QuotaRow};

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<QuotaRow> {
    Ok(QuotaRow {
        ratelimits: r.get(0)?,
        credits: r.get(1)?,
        refill_amount: r.get(2)?,
        refill_interval: r.get(3)?,
        refilled_at: r.get(4)?,
        epoch: r.get(5)?,
    })
}

fn decode<C: Conn>(s: &Sql<C>, id: &str, row: QuotaRow) -> Result<Quota> {
    row.decode()
        .map_err(|problem| s.corrupt(format!("quota {id}"), &problem))
}

pub(super) fn read<C: Conn>(s: &Sql<C>, id: &KeyId) -> Result<Option<Quota>> {
    let sql = format!(
        "SELECT {} FROM quotas WHERE lineage = ?1",
        QUOTA_COLUMNS.join(", ")
    );
    let row = s
        .c()
        .prepare_cached(&sql)?
        .query_row([id.as_str()], raw)
        .optional()?;
    row.map(|r| decode(s, id.as_str(), r)).transpose()
}

pub(super) fn uses<C: Conn>(s: &Sql<C>, id: &KeyId, name: &str) -> Result<Vec<(i64, u64)>> {
    let mut stmt = s
        .c()
        .prepare_cached("SELECT slot, used FROM quota_use WHERE quota_id = ?1 AND name = ?2")?;
    let rows = stmt.query_map((id.as_str(), name), |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut all = Vec::new();
    for row in rows {
        let (slot, used) = row?;
        let used = u64::try_from(used).map_err(|_| {
            s.corrupt(
                format!("quota {id}"),
                "what a rate limit admitted is a count keyward never writes",
            )
        })?;
        all.push((slot, used));
    }
    Ok(all)
}

pub(super) fn put(c: &Connection, id: &KeyId, q: &Quota) -> Result<()> {
    let row = QuotaRow::of(q);
    c.prepare_cached(
        "INSERT INTO quotas (lineage, ratelimits, credits, refill_amount, refill_interval, refilled_at, epoch)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(lineage) DO UPDATE SET ratelimits = excluded.ratelimits, credits = excluded.credits,
             refill_amount = excluded.refill_amount, refill_interval = excluded.refill_interval,
             refilled_at = excluded.refilled_at, epoch = excluded.epoch",
    )?
    .execute(rusqlite::params![
        id.as_str(),
        row.ratelimits,
        row.credits,
        row.refill_amount,
        row.refill_interval,
        row.refilled_at,
        row.epoch,
    ])?;
    Ok(())
}

pub(super) fn add_use(c: &Connection, id: &KeyId, name: &str, slot: i64, n: u64) -> Result<()> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    c.prepare_cached(
        "INSERT INTO quota_use (quota_id, name, slot, used) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(quota_id, name, slot) DO UPDATE SET used = used + excluded.used",
    )?
    .execute((id.as_str(), name, slot, n))?;
    Ok(())
}

pub(super) fn take_back_use(
    c: &Connection,
    id: &KeyId,
    name: &str,
    slot: i64,
    n: u64,
) -> Result<()> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    c.prepare_cached(
        "UPDATE quota_use SET used = max(used - ?4, 0) WHERE quota_id = ?1 AND name = ?2 AND slot = ?3",
    )?
    .execute((id.as_str(), name, slot, n))?;
    Ok(())
}

pub(super) fn forget_use(c: &Connection, id: &KeyId, name: &str, before: i64) -> Result<()> {
    c.prepare_cached("DELETE FROM quota_use WHERE quota_id = ?1 AND name = ?2 AND slot < ?3")?
        .execute((id.as_str(), name, before))?;
    Ok(())
}
