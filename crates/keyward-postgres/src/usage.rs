//! serve's usage counts in `keyward.usage`: per key and UTC day, by
//! outcome. Bookkeeping beside the keys, outside the activity log, written
//! without the vault's advisory lock (it changes no rule's inputs).

use postgres::{GenericClient, Row};

use super::Pg;
use keyward_core::error::Result;
use keyward_core::key::KeyId;
use keyward_core::store::{DailyUsage, UsageBatch, day_text, parse_day};

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_row<C: GenericClient>(
    pg: &Pg<C>,
    id: &str,
    day: &str,
    valid: i64,
    invalid: i64,
) -> Result<DailyUsage> {
    let bad = || {
        pg.corrupt(
            format!("usage of {id} on {day}"),
            "it holds a count keyward never writes",
        )
    };
    Ok(DailyUsage {
        day: parse_day(day).ok_or_else(bad)?,
        valid: u64::try_from(valid).map_err(|_| bad())?,
        invalid: u64::try_from(invalid).map_err(|_| bad())?,
    })
}

pub(super) fn read<C: GenericClient>(
    pg: &Pg<C>,
    id: &KeyId,
    since: time::Date,
) -> Result<Vec<DailyUsage>> {
    pg.query(
        "SELECT day, valid, invalid FROM keyward.usage WHERE key_id = $1 AND day >= $2 \
         ORDER BY day",
        &[&id.as_str(), &day_text(since)],
    )?
    .iter()
    .map(|r| {
        from_row(
            pg,
            id.as_str(),
            &r.try_get::<_, String>(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
        )
    })
    .collect()
}

pub(super) fn add<C: GenericClient>(pg: &Pg<C>, id: &KeyId, u: &DailyUsage) -> Result<()> {
    pg.execute(
        "INSERT INTO keyward.usage (key_id, day, valid, invalid) \
         SELECT $1::text, $2::text, $3::bigint, $4::bigint \
         WHERE EXISTS (SELECT 1 FROM keyward.keys WHERE id = $1::text) \
         ON CONFLICT (key_id, day) DO UPDATE SET valid = keyward.usage.valid + excluded.valid, \
         invalid = keyward.usage.invalid + excluded.invalid",
        &[
            &id.as_str(),
            &day_text(u.day),
            &count(u.valid),
            &count(u.invalid),
        ],
    )?;
    Ok(())
}

/// Adds a batch of counts and last uses. Rows are locked in one order
/// (by key id, then day) whoever writes: serve replicas flushing counts
/// for the same keys at once then wait for each other instead of
/// deadlocking (PostgreSQL would abort one of them, and a flush that fails
/// at shutdown loses its counts).
pub(super) fn record<C: GenericClient>(pg: &Pg<C>, batch: &UsageBatch) -> Result<()> {
    let mut counts: Vec<&(KeyId, DailyUsage)> = batch.counts.iter().collect();
    counts.sort_by(|(a, x), (b, y)| a.cmp(b).then(x.day.cmp(&y.day)));
    let mut last_used: Vec<&(KeyId, keyward_core::when::Timestamp)> =
        batch.last_used.iter().collect();
    last_used.sort_by(|(a, _), (b, _)| a.cmp(b));
    for (id, u) in counts {
        add(pg, id, u)?;
    }
    for (id, at) in last_used {
        pg.execute(
            "UPDATE keyward.keys SET last_used_at = $1 WHERE id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $1)",
            &[&at.unix(), &id.as_str()],
        )?;
    }
    Ok(())
}

/// Every usage row, for `copy`.
pub(super) const DUMP: &str =
    "SELECT key_id, day, valid, invalid FROM keyward.usage ORDER BY key_id, day";

/// A row of [`DUMP`], checked.
pub(super) fn from_dump_row<C: GenericClient>(pg: &Pg<C>, r: &Row) -> Result<(KeyId, DailyUsage)> {
    let id: String = r.try_get(0)?;
    let usage = from_row(
        pg,
        &id,
        &r.try_get::<_, String>(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
    )?;
    Ok((KeyId::stored(id), usage))
}
