//! Rows as the engines read them (keys, events), in plain values, and their decoding into
//! keyward's types: what a stored value must be and what is said when it
//! is not, written once for every engine. An engine reads each column in
//! its own types (and refuses a value its column type cannot hold); this
//! checks what the values mean.

use crate::event::{Details, Event, EventKind};
use crate::key::{Key, KeyId};
use crate::quota::{self, MAX_COUNT, MAX_DURATION_MS, MIN_DURATION_MS, Quota, Ratelimit, Refill};
use crate::text::{Actor, Env, Meta, Name, Owner, Scope};
use crate::when::{POLICY_RANGE, Timestamp};

/// The columns of a key row, in the order every engine selects them (from
/// [`keys_with_quotas`]), then its quota's ([`QUOTA_COLUMNS`], columns 20
/// to 25); the secret's hash, where a query needs it, follows as column 26.
pub const KEY_COLUMNS: [&str; 20] = [
    "id",
    "name",
    "env",
    "prefix",
    "hint",
    "scopes",
    "is_default",
    "created_at",
    "expires_at",
    "revoked_at",
    "revoke_reason",
    "last_used_at",
    "rotated_from",
    "rotated_to",
    "own_expires_at",
    "note",
    "rotate_every",
    "quota_id",
    "owner",
    "meta",
];

/// Where a query that needs a key's secret hash has it.
pub const SECRET_HASH_COLUMN: usize = 26;

/// Where a key row's quota columns start.
pub const QUOTA_FROM: usize = 20;

/// What every key query reads from (`keys`, `quotas` in the engine's
/// schema): a key and the quota it draws from, if any.
pub fn keys_with_quotas(keys: &str, quotas: &str) -> String {
    format!("{keys} LEFT JOIN {quotas} ON {quotas}.lineage = {keys}.quota_id")
}

/// A stored value keyward never writes: which column, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    pub column: usize,
    pub problem: String,
}

impl BadValue {
    fn new(column: usize, problem: &str) -> Self {
        BadValue {
            column,
            problem: problem.to_string(),
        }
    }
}

/// A key row's values as the engine read them ([`KEY_COLUMNS`]); times are
/// seconds since the epoch.
#[derive(Debug, Clone, Default)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub env: String,
    pub prefix: String,
    pub hint: String,
    /// A JSON list of text.
    pub scopes: String,
    pub is_default: bool,
    pub created_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
    pub last_used_at: Option<i64>,
    pub rotated_from: Option<String>,
    pub rotated_to: Option<String>,
    pub own_expires_at: Option<i64>,
    pub note: Option<String>,
    /// Seconds.
    pub rotate_every: Option<i64>,
    pub quota_id: Option<String>,
    pub owner: Option<String>,
    /// A JSON object, as text.
    pub meta: Option<String>,
    /// The quota's row, when the key has one and it was found.
    pub quota: Option<QuotaRow>,
}

/// A time column's value, checked to be a time keyward writes.
pub fn time(column: usize, secs: Option<i64>) -> Result<Option<Timestamp>, BadValue> {
    match secs {
        None => Ok(None),
        Some(secs) => Timestamp::checked_from_unix(secs)
            .map(Some)
            .ok_or_else(|| BadValue {
                column,
                problem: format!(
                    "its {} holds a value keyward never writes",
                    KEY_COLUMNS.get(column).copied().unwrap_or("time")
                ),
            }),
    }
}

/// A secret's stored hash, checked to be a SHA-256.
pub fn secret_hash(bytes: Vec<u8>) -> Result<[u8; 32], BadValue> {
    bytes
        .try_into()
        .map_err(|_| BadValue::new(SECRET_HASH_COLUMN, "its secret hash is not 32 bytes"))
}

impl KeyRow {
    /// The row a label names in messages: `key key_…`.
    pub fn label(&self) -> String {
        format!("key {}", self.id)
    }

    /// The key this row holds, or what about it keyward never writes.
    pub fn decode(self) -> Result<Key, BadValue> {
        let scopes: Vec<String> = serde_json::from_str(&self.scopes)
            .map_err(|_| BadValue::new(5, "its scopes are not a JSON list of text"))?;
        let quota = match self.quota {
            None => None,
            Some(q) => Some(q.decode().map_err(|problem| BadValue {
                column: QUOTA_FROM,
                problem,
            })?),
        };
        let rotate_every = match self.rotate_every {
            Some(secs) if !POLICY_RANGE.contains(&secs) => {
                return Err(BadValue::new(
                    16,
                    "its rotation policy is not a duration from 1m to 10 years",
                ));
            }
            secs => secs,
        };
        Ok(Key {
            name: Name::stored(self.name),
            env: Env::stored(self.env),
            prefix: self.prefix,
            hint: self.hint,
            scopes: scopes.into_iter().map(Scope::stored).collect(),
            is_default: self.is_default,
            created_at: time(7, self.created_at)?
                .ok_or_else(|| BadValue::new(7, "it has no creation time"))?,
            expires_at: time(8, self.expires_at)?,
            revoked_at: time(9, self.revoked_at)?,
            revoke_reason: self.revoke_reason,
            last_used_at: time(11, self.last_used_at)?,
            rotated_from: self.rotated_from.map(KeyId::stored),
            rotated_to: self.rotated_to.map(KeyId::stored),
            own_expires_at: time(14, self.own_expires_at)?,
            note: self.note,
            rotate_every,
            quota_id: self.quota_id.map(KeyId::stored),
            quota,
            owner: self.owner.map(Owner::stored),
            meta: match self.meta {
                None => None,
                Some(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(v) if v.is_object() => Some(Meta::stored(text)),
                    _ => return Err(BadValue::new(19, "its metadata is not a JSON object")),
                },
            },
            id: KeyId::stored(self.id),
        })
    }
}

/// The columns of a quota row, in the order every engine selects them.
pub const QUOTA_COLUMNS: [&str; 6] = [
    "ratelimits",
    "credits",
    "refill_amount",
    "refill_interval",
    "refilled_at",
    "epoch",
];

/// A quota row's values as the engine read them ([`QUOTA_COLUMNS`]).
#[derive(Debug, Clone, Default)]
pub struct QuotaRow {
    /// A JSON list of `{"name","limit","duration_ms"}`.
    pub ratelimits: String,
    pub credits: Option<i64>,
    pub refill_amount: Option<i64>,
    pub refill_interval: Option<String>,
    pub refilled_at: Option<i64>,
    pub epoch: i64,
}

impl QuotaRow {
    /// The row an engine writes for `q`.
    pub fn of(q: &Quota) -> QuotaRow {
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        QuotaRow {
            ratelimits: serde_json::to_string(&q.ratelimits).unwrap_or_else(|_| "[]".into()),
            credits: q.credits.map(int),
            refill_amount: q.refill.map(|r| int(r.amount)),
            refill_interval: q.refill.map(|r| r.interval_text()),
            refilled_at: q.refilled_at,
            epoch: int(q.epoch),
        }
    }

    /// The quota this row holds, or what about it keyward never writes.
    pub fn decode(self) -> Result<Quota, String> {
        let ratelimits: Vec<Ratelimit> = serde_json::from_str(&self.ratelimits)
            .map_err(|_| "its rate limits are not a JSON list of limits".to_string())?;
        if ratelimits.iter().any(|r| {
            r.limit == 0
                || r.limit > MAX_COUNT
                || !(MIN_DURATION_MS..=MAX_DURATION_MS).contains(&r.duration_ms)
                || quota::limit_name(&r.name).is_err()
        }) {
            return Err("a rate limit holds a value keyward never writes".into());
        }
        let count = |n: i64| u64::try_from(n).ok().filter(|n| *n <= MAX_COUNT);
        let credits = match self.credits {
            None => None,
            Some(n) => Some(count(n).ok_or("its credits hold a value keyward never writes")?),
        };
        let refill = match (self.refill_amount, self.refill_interval) {
            (None, None) => None,
            (Some(amount), Some(interval)) => {
                let amount =
                    count(amount).ok_or("its refill holds a value keyward never writes")?;
                Some(
                    Refill::parse(&format!("{amount}/{interval}"))
                        .map_err(|_| "its refill holds a value keyward never writes".to_string())?,
                )
            }
            _ => return Err("its refill holds a value keyward never writes".into()),
        };
        Ok(Quota {
            ratelimits,
            credits,
            refill,
            refilled_at: self.refilled_at,
            epoch: u64::try_from(self.epoch)
                .map_err(|_| "its epoch holds a value keyward never writes".to_string())?,
        })
    }
}

/// An event row's values as the engine read them (`id, at, event, key_id,
/// related_key_id, env, actor, details, key_name`).
#[derive(Debug, Clone, Default)]
pub struct EventRow {
    pub id: i64,
    pub at: Option<i64>,
    pub kind: String,
    pub key_id: Option<String>,
    pub related_key_id: Option<String>,
    pub env: Option<String>,
    pub actor: String,
    pub details: String,
    pub key_name: Option<String>,
}

impl EventRow {
    /// The row as messages name it: `event N`.
    pub fn label(&self) -> String {
        format!("event {}", self.id)
    }

    /// The event this row holds, checked: a time, a kind keyward writes,
    /// details of that kind's shape.
    pub fn decode(self) -> Result<Event, BadValue> {
        let bad = |column: usize, problem: String| BadValue { column, problem };
        let kind: EventKind = self
            .kind
            .parse()
            .map_err(|_| bad(2, "its type is not one keyward writes".into()))?;
        let details = Details::parse(kind, &self.details)
            .map_err(|_| bad(7, format!("its details are not those of a {kind} event")))?;
        let at = match self.at {
            None => return Err(bad(1, "it has no time".into())),
            Some(secs) => Timestamp::checked_from_unix(secs)
                .ok_or_else(|| bad(1, "its time is not a time".into()))?,
        };
        Ok(Event {
            id: self.id,
            at,
            kind,
            key_id: self.key_id.map(KeyId::stored),
            related_key_id: self.related_key_id.map(KeyId::stored),
            env: self.env.map(Env::stored),
            actor: Actor::stored(self.actor),
            details,
            key_name: self.key_name.map(Name::stored),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> KeyRow {
        KeyRow {
            id: "key_abcdefghijklmnop".into(),
            name: "web".into(),
            env: "prod".into(),
            prefix: "kw".into(),
            hint: "a1B2".into(),
            scopes: r#"["read"]"#.into(),
            created_at: Some(1_800_000_000),
            ..KeyRow::default()
        }
    }

    #[test]
    fn a_row_keyward_writes_decodes_to_its_key() {
        let key = row().decode().expect("decodes");
        assert_eq!(key.id.as_str(), "key_abcdefghijklmnop");
        assert_eq!(key.scopes, vec![Scope::stored("read".into())]);
        assert_eq!(key.created_at.unix(), 1_800_000_000);
    }

    #[test]
    fn a_value_keyward_never_writes_names_its_column() {
        let bad = |r: KeyRow| r.decode().expect_err("refused");
        assert_eq!(
            bad(KeyRow {
                scopes: "read".into(),
                ..row()
            })
            .column,
            5
        );
        assert_eq!(
            bad(KeyRow {
                created_at: None,
                ..row()
            })
            .column,
            7
        );
        let far = bad(KeyRow {
            expires_at: Some(i64::MAX),
            ..row()
        });
        assert_eq!(far.column, 8);
        assert!(far.problem.contains("expires_at"), "{}", far.problem);
        assert_eq!(
            bad(KeyRow {
                rotate_every: Some(1),
                ..row()
            })
            .column,
            16
        );
        assert_eq!(secret_hash(vec![0; 31]).expect_err("short").column, 26);
        assert!(secret_hash(vec![0; 32]).is_ok());
    }
}
