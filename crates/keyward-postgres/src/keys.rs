//! Keys: their columns, their rows read back and checked, and the reads
//! every engine answers ([`Read`]), as the SQLite engine's `keys.rs`.

use postgres::{GenericClient, Row};

use super::events::CHAIN_PAGE;
use super::{Pg, usage};
use keyward_core::error::Result;
use keyward_core::event::{ChainWalk, Event, Head, Link};
use keyward_core::key::{Key, KeyId};
use keyward_core::settings::{Setting, Settings};
use keyward_core::store::row::{self, KeyRow};
use keyward_core::store::{EventFilter, Read, page};
use keyward_core::text::Env;
use keyward_core::when::Timestamp;

pub(super) const KEY_COLUMNS: &str = "id, name, env, prefix, hint, scopes, is_default, created_at, expires_at, \
    revoked_at, revoke_reason, last_used_at, rotated_from, rotated_to, own_expires_at, note, \
    rotate_every, quota_id, owner, meta, ratelimits, credits, refill_amount, refill_interval, refilled_at, epoch";

/// Keys and the quotas they draw from: what every key query reads.
pub(super) const KEYS_FROM: &str =
    "keyward.keys LEFT JOIN keyward.quotas ON quotas.lineage = keys.quota_id";

impl<C: GenericClient> Pg<C> {
    pub(super) fn keys_where(
        &self,
        tail: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Key>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM {KEYS_FROM} {tail}");
        self.query(&sql, params)?
            .iter()
            .map(|r| self.key_from_row(r))
            .collect()
    }

    /// The keys `tail` selects and orders, with their secrets' hashes.
    pub(super) fn keys_with_hashes(
        &self,
        tail: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<(Key, [u8; 32])>> {
        let sql = format!("SELECT {KEY_COLUMNS}, secret_sha256 FROM {KEYS_FROM} {tail}");
        self.query(&sql, params)?
            .iter()
            .map(|r| self.key_and_hash(r))
            .collect()
    }

    /// A key row with its secret's hash as column 17.
    pub(super) fn key_and_hash(&self, r: &Row) -> Result<(Key, [u8; 32])> {
        let key = self.key_from_row(r)?;
        let hash: Vec<u8> = r.try_get(row::SECRET_HASH_COLUMN)?;
        let hash = row::secret_hash(hash)
            .map_err(|b| self.corrupt(format!("key {}", key.id), b.problem))?;
        Ok((key, hash))
    }

    /// A key row's values in PostgreSQL's types, decoded by the core.
    pub(super) fn key_from_row(&self, r: &Row) -> Result<Key> {
        let values = KeyRow {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            env: r.try_get(2)?,
            prefix: r.try_get(3)?,
            hint: r.try_get(4)?,
            scopes: r.try_get(5)?,
            is_default: r.try_get(6)?,
            created_at: r.try_get(7)?,
            expires_at: r.try_get(8)?,
            revoked_at: r.try_get(9)?,
            revoke_reason: r.try_get(10)?,
            last_used_at: r.try_get(11)?,
            rotated_from: r.try_get(12)?,
            rotated_to: r.try_get(13)?,
            own_expires_at: r.try_get(14)?,
            note: r.try_get(15)?,
            rotate_every: r.try_get(16)?,
            quota_id: r.try_get(17)?,
            owner: r.try_get(18)?,
            meta: r.try_get(19)?,
            quota: match r.try_get::<_, Option<String>>(row::QUOTA_FROM)? {
                None => None,
                Some(ratelimits) => Some(row::QuotaRow {
                    ratelimits,
                    credits: r.try_get(21)?,
                    refill_amount: r.try_get(22)?,
                    refill_interval: r.try_get(23)?,
                    refilled_at: r.try_get(24)?,
                    epoch: r.try_get::<_, Option<i64>>(25)?.unwrap_or(0),
                }),
            },
        };
        let label = values.label();
        values.decode().map_err(|b| self.corrupt(label, b.problem))
    }
}

impl<C: GenericClient> Read for Pg<C> {
    fn key(&self, id: &KeyId) -> Result<Option<Key>> {
        Ok(self
            .keys_where("WHERE id = $1", &[&id.as_str()])?
            .into_iter()
            .next())
    }

    fn keys_by_id_prefix(&self, prefix: &str) -> Result<Vec<Key>> {
        self.keys_where(
            "WHERE id >= $1 AND id < $1 || '~' ORDER BY id LIMIT 10",
            &[&prefix],
        )
    }

    fn current_by_name(&self, env: &Env, name: &str) -> Result<Vec<Key>> {
        self.keys_where(
            "WHERE env = $1 AND name = $2 AND revoked_at IS NULL AND rotated_to IS NULL",
            &[&env.as_str(), &name],
        )
    }

    fn keys_named(&self, env: &Env, name: &str) -> Result<Vec<Key>> {
        self.keys_where(
            "WHERE env = $1 AND name = $2 ORDER BY created_at DESC, seq DESC LIMIT 20",
            &[&env.as_str(), &name],
        )
    }

    fn envs(&self) -> Result<Vec<Env>> {
        self.query("SELECT DISTINCT env FROM keyward.keys ORDER BY env", &[])?
            .iter()
            .map(|r| Ok(Env::stored(r.try_get(0)?)))
            .collect()
    }

    fn keys(&self, env: Option<&Env>) -> Result<Vec<Key>> {
        match env {
            Some(env) => self.keys_where(
                "WHERE env = $1 ORDER BY env, created_at, seq",
                &[&env.as_str()],
            ),
            None => self.keys_where("ORDER BY env, created_at, seq", &[]),
        }
    }

    /// See the SQLite engine's query: the same superset.
    fn keys_with_loose_scopes(&self) -> Result<Vec<Key>> {
        self.keys_where(
            "WHERE position(',' in replace(scopes, '\",\"', '')) > 0 \
             OR position(' ' in scopes) > 0 OR scopes ~ '[^ -~]' \
             ORDER BY env, created_at, seq",
            &[],
        )
    }

    fn active_in_env(&self, env: &Env, now: Timestamp) -> Result<Vec<Key>> {
        self.keys_where(
            "WHERE env = $1 AND revoked_at IS NULL AND rotated_to IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)",
            &[&env.as_str(), &now.unix()],
        )
    }

    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Key>> {
        Ok(self
            .keys_where("WHERE secret_sha256 = $1", &[&&hash[..]])?
            .into_iter()
            .next())
    }

    fn settings_but(&self, skip: Option<Setting>) -> Result<Settings> {
        let mut settings = Settings::default();
        for r in self.query("SELECT name, value FROM keyward.settings", &[])? {
            let (name, value): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            let Ok(setting) = name.parse::<Setting>() else {
                continue;
            };
            if Some(setting) == skip {
                continue;
            }
            settings.set(setting, &value).map_err(|_| {
                self.corrupt(
                    format!("setting {setting}"),
                    format!(
                        "'{}' is not a valid value",
                        keyward_core::shown::quote(&value)
                    ),
                )
            })?;
        }
        Ok(settings)
    }

    fn head(&self) -> Result<Option<Head>> {
        let rows = self.query(
            "SELECT id, hash, at FROM keyward.events ORDER BY id DESC LIMIT 1",
            &[],
        )?;
        rows.first()
            .map(|r| {
                Ok(Head {
                    id: r.try_get(0)?,
                    hash: r.try_get(1)?,
                    at: Timestamp::from_unix(r.try_get(2)?),
                })
            })
            .transpose()
    }

    fn event_hash(&self, id: i64) -> Result<Option<String>> {
        self.query("SELECT hash FROM keyward.events WHERE id = $1", &[&id])?
            .first()
            .map(|r| r.try_get(0).map_err(anyhow::Error::from))
            .transpose()
    }

    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        let (conditions, params) = page::conditions(filter);
        let sql = format!(
            "SELECT e.id, e.at, e.event, e.key_id, e.related_key_id, e.env, e.actor, e.details, \
             k.name FROM keyward.events e LEFT JOIN keyward.keys k ON k.id = e.key_id WHERE {}",
            page::numbered(&conditions, |n| format!("${n}"))
        );
        let params: Vec<Box<dyn postgres::types::ToSql + Sync>> = params
            .into_iter()
            .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
                match p {
                    page::Param::Text(t) => Box::new(t),
                    page::Param::Int(i) => Box::new(i),
                }
            })
            .collect();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref()).collect();
        self.query(&sql, &refs)?
            .iter()
            .map(|r| self.event_from_row(r))
            .collect()
    }

    fn verify_chain(&self) -> Result<u64> {
        let mut walk = ChainWalk::default();
        loop {
            // A page at a time by id: the log is append-only, so pages read
            // at different moments still make one chain.
            let rows = self.query(
                "SELECT id, at, event, key_id, related_key_id, env, actor, details, prev_hash, \
                 hash FROM keyward.events WHERE id >= $1 ORDER BY id LIMIT $2",
                &[&walk.expected(), &CHAIN_PAGE],
            )?;
            for r in &rows {
                walk.step(&Link {
                    id: r.try_get(0)?,
                    at: Some(r.try_get(1)?),
                    kind: Some(r.try_get(2)?),
                    key_id: r.try_get(3)?,
                    related_key_id: r.try_get(4)?,
                    env: r.try_get(5)?,
                    actor: Some(r.try_get(6)?),
                    details: Some(r.try_get(7)?),
                    prev_hash: Some(r.try_get(8)?),
                    hash: Some(r.try_get(9)?),
                })?;
            }
            if rows.len() < CHAIN_PAGE as usize {
                return Ok(walk.checked());
            }
        }
    }

    fn usage(&self, id: &KeyId, since: time::Date) -> Result<Vec<keyward_core::store::DailyUsage>> {
        usage::read(self, id, since)
    }

    fn quota(&self, id: &KeyId) -> Result<Option<keyward_core::quota::Quota>> {
        super::quotas::read(self, id)
    }

    fn quota_use(&self, id: &KeyId, name: &str) -> Result<Vec<(i64, u64)>> {
        super::quotas::uses(self, id, name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_key_columns_are_the_cores_in_its_order() {
        assert_eq!(
            super::KEY_COLUMNS,
            keyward_core::store::row::KEY_COLUMNS
                .iter()
                .chain(keyward_core::store::row::QUOTA_COLUMNS.iter())
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
