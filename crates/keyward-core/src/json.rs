//! The JSON shapes of keys, events, usage and verdicts, field for field as
//! docs/reference.md "JSON" lists them: the CLI's `--json` output and
//! serve's `/v1/verify` answer print the same documents. Field names are
//! snake_case and stable: scripts depend on them.

use serde::Serialize;

use crate::event::{Details, Event};
use crate::key::{Key, KeyId, Status, VerifyCode};
use crate::quota::Ratelimit;
use crate::store::DailyUsage;
use crate::text::{Actor, Env, Name, Scope};
use crate::vault::Verdict;
use crate::when::Timestamp;

#[derive(Debug, Serialize)]
pub struct KeyJson<'a> {
    pub id: &'a KeyId,
    pub name: &'a Name,
    pub env: &'a Env,
    pub prefix: &'a str,
    pub hint: &'a str,
    pub status: Status,
    pub default: bool,
    pub scopes: &'a [Scope],
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    pub rotated_from: Option<&'a KeyId>,
    pub rotated_to: Option<&'a KeyId>,
    pub note: Option<&'a str>,
    pub rotate_every: Option<String>,
    pub rotation_due_at: Option<String>,
    /// The rate limits the key's lineage shares.
    pub ratelimits: Vec<RatelimitJson>,
    /// Credits left; null = unlimited.
    pub credits: Option<u64>,
    pub refill: Option<RefillJson>,
    /// Who the key belongs to (null: nobody).
    pub owner: Option<&'a crate::text::Owner>,
    /// The key's metadata object (null: none).
    pub meta: Option<&'a crate::text::Meta>,
}

#[derive(Debug, Serialize)]
pub struct RatelimitJson {
    pub name: String,
    pub limit: u64,
    /// As `--ratelimit` takes it: `1m`, `10s`.
    pub duration: String,
}

#[derive(Debug, Serialize)]
pub struct RefillJson {
    pub amount: u64,
    /// `daily`, `monthly` or `monthly@DAY`.
    pub interval: String,
}

impl RatelimitJson {
    pub fn new(r: &Ratelimit) -> Self {
        RatelimitJson {
            name: r.name.to_string(),
            limit: r.limit,
            duration: crate::quota::duration_text(r.duration_ms),
        }
    }
}

/// A rate limit's state after a verification (`verify`, `/v1/verify`).
#[derive(Debug, Serialize)]
pub struct LimitJson {
    pub name: String,
    pub limit: u64,
    pub duration: String,
    pub exceeded: bool,
    pub remaining: u64,
    /// Seconds until the window has room again (rounded up).
    pub reset_seconds: i64,
}

impl<'a> KeyJson<'a> {
    pub fn new(k: &'a Key, now: Timestamp) -> Self {
        KeyJson {
            id: &k.id,
            name: &k.name,
            env: &k.env,
            prefix: &k.prefix,
            hint: &k.hint,
            status: k.status(now),
            default: k.is_default,
            scopes: &k.scopes,
            created_at: k.created_at.rfc3339(),
            expires_at: k.expires_at.map(Timestamp::rfc3339),
            revoked_at: k.revoked_at.map(Timestamp::rfc3339),
            last_used_at: k.last_used_at.map(Timestamp::rfc3339),
            rotated_from: k.rotated_from.as_ref(),
            rotated_to: k.rotated_to.as_ref(),
            note: k.note.as_deref(),
            rotate_every: k.rotate_every.map(crate::when::policy_text),
            rotation_due_at: k.rotation_due_at(now).map(Timestamp::rfc3339),
            ratelimits: k
                .quota
                .iter()
                .flat_map(|q| q.ratelimits.iter().map(RatelimitJson::new))
                .collect(),
            credits: k.quota.as_ref().and_then(|q| q.credits_at(now.unix())),
            refill: k.quota.as_ref().and_then(|q| q.refill).map(|r| RefillJson {
                amount: r.amount,
                interval: r.interval_text(),
            }),
            owner: k.owner.as_ref(),
            meta: k.meta.as_ref(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EventJson<'a> {
    pub id: i64,
    pub at: String,
    pub event: &'static str,
    pub key_id: Option<&'a KeyId>,
    pub related_key_id: Option<&'a KeyId>,
    pub actor: &'a Actor,
    pub details: &'a Details,
}

impl<'a> EventJson<'a> {
    pub fn new(e: &'a Event) -> Self {
        EventJson {
            id: e.id,
            at: e.at.rfc3339(),
            event: e.kind.as_str(),
            key_id: e.key_id.as_ref(),
            related_key_id: e.related_key_id.as_ref(),
            actor: &e.actor,
            details: &e.details,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Created<'a> {
    pub key: KeyJson<'a>,
    pub secret: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Rotated<'a> {
    pub key: KeyJson<'a>,
    pub secret: &'a str,
    pub previous: KeyJson<'a>,
}

#[derive(Debug, Serialize)]
pub struct ChainIntact {
    pub intact: bool,
    pub events: u64,
}

#[derive(Debug, Serialize)]
pub struct Shown<'a> {
    #[serde(flatten)]
    pub key: KeyJson<'a>,
    pub events: Vec<EventJson<'a>>,
    /// Only once serve has recorded any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<UsageJson>,
}

#[derive(Debug, Serialize)]
pub struct UsageJson {
    pub day: String,
    pub valid: u64,
    pub invalid: u64,
}

impl UsageJson {
    pub fn new(u: &DailyUsage) -> Self {
        UsageJson {
            day: u.day.to_string(),
            valid: u.valid,
            invalid: u.invalid,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Verified<'a> {
    pub valid: bool,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyJson<'a>>,
    /// For a key with a quota: each rate limit after this verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimits: Option<Vec<LimitJson>>,
    /// For a key with a quota: the credits left (null = unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<Option<u64>>,
}

impl<'a> Verified<'a> {
    pub fn new(v: &'a Verdict, now: Timestamp) -> Self {
        Verified {
            valid: v.code == VerifyCode::Valid,
            code: v.code.as_str(),
            key: v
                .key
                .as_ref()
                .filter(|_| v.code == VerifyCode::Valid)
                .map(|k| KeyJson::new(k, now)),
            ratelimits: v.spent.as_ref().map(|s| {
                s.limits
                    .iter()
                    .map(|l| LimitJson {
                        name: l.limit.name.to_string(),
                        limit: l.limit.limit,
                        duration: crate::quota::duration_text(l.limit.duration_ms),
                        exceeded: l.exceeded,
                        remaining: l.remaining,
                        reset_seconds: (l.reset_ms + 999) / 1000,
                    })
                    .collect()
            }),
            credits: v.spent.as_ref().map(|s| s.credits),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

#[derive(Debug, Serialize)]
pub struct ErrorDoc<'a> {
    pub error: ErrorBody<'a>,
}
