//! Quotas in `keyward.quotas` and `keyward.quota_use`, as the SQLite
//! engine's `quotas.rs`: a lineage's rate limits and credits, and what each
//! rate limit admitted, by slot.

use postgres::{GenericClient, Row};

use super::Pg;
use keyward_core::error::Result;
use keyward_core::key::KeyId;
use keyward_core::quota::Quota;
use keyward_core::store::row::{QUOTA_COLUMNS, QuotaRow};

fn raw(r: &Row) -> Result<QuotaRow> {
    Ok(QuotaRow {
        ratelimits: r.try_get(0)?,
        credits: r.try_get(1)?,
        refill_amount: r.try_get(2)?,
        refill_interval: r.try_get(3)?,
        refilled_at: r.try_get(4)?,
        epoch: r.try_get(5)?,
    })
}

fn decode<C: GenericClient>(pg: &Pg<C>, id: &str, row: QuotaRow) -> Result<Quota> {
    row.decode()
        .map_err(|problem| pg.corrupt(format!("quota {id}"), problem))
}

pub(super) fn read<C: GenericClient>(pg: &Pg<C>, id: &KeyId) -> Result<Option<Quota>> {
    let sql = format!(
        "SELECT {} FROM keyward.quotas WHERE lineage = $1",
        QUOTA_COLUMNS.join(", ")
    );
    match pg.query(&sql, &[&id.as_str()])?.first() {
        None => Ok(None),
        Some(r) => decode(pg, id.as_str(), raw(r)?).map(Some),
    }
}

pub(super) fn uses<C: GenericClient>(
    pg: &Pg<C>,
    id: &KeyId,
    name: &str,
) -> Result<Vec<(i64, u64)>> {
    let rows = pg.query(
        "SELECT slot, used FROM keyward.quota_use WHERE quota_id = $1 AND name = $2",
        &[&id.as_str(), &name],
    )?;
    rows.iter()
        .map(|r| {
            let used: i64 = r.try_get(1)?;
            let used = u64::try_from(used).map_err(|_| {
                pg.corrupt(
                    format!("quota {id}"),
                    "what a rate limit admitted is a count keyward never writes",
                )
            })?;
            Ok((r.try_get(0)?, used))
        })
        .collect()
}

pub(super) fn put<C: GenericClient>(pg: &Pg<C>, id: &KeyId, q: &Quota) -> Result<()> {
    let row = QuotaRow::of(q);
    pg.execute(
        "INSERT INTO keyward.quotas (lineage, ratelimits, credits, refill_amount, refill_interval, refilled_at, epoch) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (lineage) DO UPDATE SET ratelimits = excluded.ratelimits, credits = excluded.credits, \
             refill_amount = excluded.refill_amount, refill_interval = excluded.refill_interval, \
             refilled_at = excluded.refilled_at, epoch = excluded.epoch",
        &[
            &id.as_str(),
            &row.ratelimits,
            &row.credits,
            &row.refill_amount,
            &row.refill_interval,
            &row.refilled_at,
            &row.epoch,
        ],
    )?;
    Ok(())
}

pub(super) fn add_use<C: GenericClient>(
    pg: &Pg<C>,
    id: &KeyId,
    name: &str,
    slot: i64,
    n: u64,
) -> Result<()> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    pg.execute(
        "INSERT INTO keyward.quota_use (quota_id, name, slot, used) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (quota_id, name, slot) DO UPDATE SET used = keyward.quota_use.used + excluded.used",
        &[&id.as_str(), &name, &slot, &n],
    )?;
    Ok(())
}

pub(super) fn take_back_use<C: GenericClient>(
    pg: &Pg<C>,
    id: &KeyId,
    name: &str,
    slot: i64,
    n: u64,
) -> Result<()> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    pg.execute(
        "UPDATE keyward.quota_use SET used = GREATEST(used - $4, 0) \
         WHERE quota_id = $1 AND name = $2 AND slot = $3",
        &[&id.as_str(), &name, &slot, &n],
    )?;
    Ok(())
}

pub(super) fn forget_use<C: GenericClient>(
    pg: &Pg<C>,
    id: &KeyId,
    name: &str,
    before: i64,
) -> Result<()> {
    pg.execute(
        "DELETE FROM keyward.quota_use WHERE quota_id = $1 AND name = $2 AND slot < $3",
        &[&id.as_str(), &name, &before],
    )?;
    Ok(())
}
