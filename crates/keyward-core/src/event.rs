//! Events of the activity log and the hash that chains them: each event's
//! hash is SHA-256 over the previous event's hash and its own canonical
//! fields, so editing, inserting or removing an event breaks the chain.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::key::KeyId;
use crate::text::{Actor, Env, Name};
use crate::when::Timestamp;

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Rotated,
    GraceChanged,
    ExpiryChanged,
    Revoked,
    Updated,
    ConfigChanged,
    QuotaChanged,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::Created,
        EventKind::Rotated,
        EventKind::GraceChanged,
        EventKind::ExpiryChanged,
        EventKind::Revoked,
        EventKind::Updated,
        EventKind::ConfigChanged,
        EventKind::QuotaChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Rotated => "rotated",
            EventKind::GraceChanged => "grace_changed",
            EventKind::ExpiryChanged => "expiry_changed",
            EventKind::Revoked => "revoked",
            EventKind::Updated => "updated",
            EventKind::ConfigChanged => "config_changed",
            EventKind::QuotaChanged => "quota_changed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown event type (one of {})", names.join(", "))
            })
    }
}

/// What an event says beyond who and when, one shape per kind. Fields are
/// in alphabetical order, so the stored JSON is the same on every engine
/// and in every version; times are RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Details {
    Created(Created),
    Rotated(Rotated),
    GraceChanged(GraceChanged),
    ExpiryChanged(ExpiryChanged),
    Revoked(Revoked),
    Updated(Updated),
    ConfigChanged(ConfigChanged),
    QuotaChanged(QuotaChanged),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub default: bool,
    pub expires_at: Option<String>,
    pub name: String,
    /// Who it belongs to; left out when nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub prefix: String,
    /// The rotation policy; left out when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_every: Option<String>,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rotated {
    pub grace_ends_at: String,
    pub grace_seconds: i64,
    pub new_expires_at: Option<String>,
    pub new_name: String,
    /// The successor's rotation policy; left out when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_rotate_every: Option<String>,
    pub old_expires_at: Option<String>,
    /// Why, when given: `leaked` (`revoke --leaked` rotating a default key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraceChanged {
    pub new_ends_at: String,
    pub old_ends_at: Option<String>,
    /// Why, when keyward decided it: `quiet` (`retire`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiryChanged {
    pub new_expires_at: Option<String>,
    pub old_expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revoked {
    /// Where a code host's scanner found the secret (a report's URL or
    /// location), when one reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub reason: Option<String>,
    pub status_before: String,
}

/// `update`: the name, scopes and note before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Updated {
    /// The metadata before and after, when either is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_meta: Option<serde_json::Value>,
    pub new_name: String,
    pub new_note: Option<String>,
    /// The owner before and after, when either is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_owner: Option<String>,
    pub new_scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_meta: Option<serde_json::Value>,
    pub old_name: String,
    pub old_note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_owner: Option<String>,
    pub old_scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigChanged {
    pub new: String,
    pub old: String,
    pub setting: String,
}

/// A quota's terms as an event holds them: credits left (null =
/// unlimited), rate limits as `NAME=LIMIT/DUR`, the refill as `N/daily`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaTerms {
    pub credits: Option<u64>,
    pub ratelimits: Vec<String>,
    pub refill: Option<String>,
}

impl QuotaTerms {
    pub fn of(q: &crate::quota::Quota) -> QuotaTerms {
        QuotaTerms {
            credits: q.credits,
            ratelimits: q.ratelimits.iter().map(ToString::to_string).collect(),
            refill: q.refill.map(|r| r.to_string()),
        }
    }
}

/// `create`, `rotate` or `update` changed a lineage's quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaChanged {
    pub new: QuotaTerms,
    pub old: QuotaTerms,
    pub quota_id: String,
}

impl Details {
    pub fn kind(&self) -> EventKind {
        match self {
            Details::Created(_) => EventKind::Created,
            Details::Rotated(_) => EventKind::Rotated,
            Details::GraceChanged(_) => EventKind::GraceChanged,
            Details::ExpiryChanged(_) => EventKind::ExpiryChanged,
            Details::Revoked(_) => EventKind::Revoked,
            Details::Updated(_) => EventKind::Updated,
            Details::ConfigChanged(_) => EventKind::ConfigChanged,
            Details::QuotaChanged(_) => EventKind::QuotaChanged,
        }
    }

    /// The stored form: a JSON object in text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Reads stored details of an event of `kind`; an error means the
    /// stored text is not what keyward wrote.
    pub fn parse(kind: EventKind, text: &str) -> serde_json::Result<Self> {
        Ok(match kind {
            EventKind::Created => Details::Created(serde_json::from_str(text)?),
            EventKind::Rotated => Details::Rotated(serde_json::from_str(text)?),
            EventKind::GraceChanged => Details::GraceChanged(serde_json::from_str(text)?),
            EventKind::ExpiryChanged => Details::ExpiryChanged(serde_json::from_str(text)?),
            EventKind::Revoked => Details::Revoked(serde_json::from_str(text)?),
            EventKind::Updated => Details::Updated(serde_json::from_str(text)?),
            EventKind::ConfigChanged => Details::ConfigChanged(serde_json::from_str(text)?),
            EventKind::QuotaChanged => Details::QuotaChanged(serde_json::from_str(text)?),
        })
    }
}

/// An event about to be appended: the vault gives it its id and hashes.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at: Timestamp,
    pub key_id: Option<KeyId>,
    pub related_key_id: Option<KeyId>,
    pub env: Option<Env>,
    pub actor: Actor,
    pub details: Details,
}

/// An event as stored, checked on reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub at: Timestamp,
    pub kind: EventKind,
    pub key_id: Option<KeyId>,
    pub related_key_id: Option<KeyId>,
    pub env: Option<Env>,
    pub actor: Actor,
    pub details: Details,
    /// The name of the key at read time, for display.
    pub key_name: Option<Name>,
}

/// The newest event of the chain: what the next one links to, and the
/// time the next one may not precede.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: i64,
    pub hash: String,
    pub at: Timestamp,
}

/// An event id and its hash, kept outside the vault (`log --head`) and
/// checked with `log --verify --anchor ID:HASH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub id: i64,
    pub hash: String,
}

impl Anchor {
    /// `ID:HASH`, as `log --head` prints it.
    pub fn parse(text: &str) -> Result<Anchor, String> {
        let bad = || {
            format!(
                "--anchor '{}' is not ID:HASH (an event id and its 64-character SHA-256, as `keyward log --head` prints them)",
                crate::shown::quote(text)
            )
        };
        let (id, hash) = text.split_once(':').ok_or_else(bad)?;
        let id: i64 = id.parse().ok().filter(|&n| n >= 1).ok_or_else(bad)?;
        let hash = hash.to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Anchor { id, hash })
    }
}

/// The fields that the chain covers, in their canonical order.
pub struct Canonical<'a> {
    pub id: i64,
    pub at: i64,
    pub kind: &'a str,
    pub key_id: Option<&'a str>,
    pub related_key_id: Option<&'a str>,
    pub env: Option<&'a str>,
    pub actor: &'a str,
    pub details: &'a str,
}

/// SHA-256 (lowercase hex) over the previous hash and the event's fields
/// serialised as one JSON array, which is unambiguous whatever they contain.
pub fn chain_hash(prev_hash: &str, e: &Canonical<'_>) -> String {
    let fields = serde_json::json!([
        e.id,
        e.at,
        e.kind,
        e.key_id,
        e.related_key_id,
        e.env,
        e.actor,
        e.details
    ]);
    let mut input = Vec::with_capacity(prev_hash.len() + 256);
    input.extend_from_slice(prev_hash.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(fields.to_string().as_bytes());
    to_hex(&crate::secret::hash(&input))
}

fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// One event row as stored, for the chain walk: every column as the
/// engine found it (a tampered column may hold anything; `None` where it
/// holds no text, or for `at`, no number).
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    pub id: i64,
    pub at: Option<i64>,
    pub kind: Option<&'a str>,
    pub key_id: Option<&'a str>,
    pub related_key_id: Option<&'a str>,
    pub env: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub details: Option<&'a str>,
    pub prev_hash: Option<&'a str>,
    pub hash: Option<&'a str>,
}

/// Walks the log's hash chain oldest first, one row at a time (an engine
/// reads its rows in pages or a cursor, never the whole log at once): each
/// id is the one after the last, links to the hash before it, and hashes
/// to what it stores.
#[derive(Debug, Clone)]
pub struct ChainWalk {
    prev: String,
    expected: i64,
}

impl Default for ChainWalk {
    fn default() -> Self {
        ChainWalk {
            prev: GENESIS.to_string(),
            expected: 1,
        }
    }
}

impl ChainWalk {
    /// The id the next row must have.
    pub fn expected(&self) -> i64 {
        self.expected
    }

    /// How many events have been checked.
    pub fn checked(&self) -> u64 {
        u64::try_from(self.expected - 1).unwrap_or(0)
    }

    /// Checks that the next row is the one after the last.
    pub fn expect(&self, id: i64) -> Result<(), Error> {
        if id == self.expected {
            return Ok(());
        }
        Err(Error::BrokenChain {
            id: self.expected,
            reason: format!("it is missing (the next event found is {id})"),
        })
    }

    /// The error for a row with a column of a type keyward never writes.
    pub fn not_text(id: i64) -> Error {
        broken(
            id,
            "it holds a value that is not text (it was changed after it was written)",
        )
    }

    /// Checks the next row and moves past it.
    pub fn step(&mut self, row: &Link<'_>) -> Result<(), Error> {
        self.expect(row.id)?;
        if row.prev_hash != Some(self.prev.as_str()) {
            return Err(broken(row.id, "it does not link to the event before it"));
        }
        let Some(at) = row.at else {
            return Err(broken(
                row.id,
                "its time is not a number (it was changed after it was written)",
            ));
        };
        let computed = chain_hash(
            &self.prev,
            &Canonical {
                id: row.id,
                at,
                kind: row.kind.unwrap_or_default(),
                key_id: row.key_id,
                related_key_id: row.related_key_id,
                env: row.env,
                actor: row.actor.unwrap_or_default(),
                details: row.details.unwrap_or_default(),
            },
        );
        if row.hash != Some(computed.as_str()) {
            return Err(broken(
                row.id,
                "its contents do not match its hash (it was changed after it was written)",
            ));
        }
        self.prev = computed;
        self.expected += 1;
        Ok(())
    }
}

fn broken(id: i64, reason: &str) -> Error {
    Error::BrokenChain {
        id,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical<'a>(details: &'a str, actor: &'a str) -> Canonical<'a> {
        Canonical {
            id: 1,
            at: 1_800_000_000,
            kind: "created",
            key_id: Some("key_aaaaaaaaaaaaaaaa"),
            related_key_id: None,
            env: Some("default"),
            actor,
            details,
        }
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = chain_hash(GENESIS, &canonical("{}", "ci"));
        assert_eq!(base.len(), 64);
        assert_eq!(base, chain_hash(GENESIS, &canonical("{}", "ci")));
        assert_ne!(base, chain_hash(GENESIS, &canonical("{ }", "ci")));
        assert_ne!(base, chain_hash(GENESIS, &canonical("{}", "cj")));
        assert_ne!(base, chain_hash(&base, &canonical("{}", "ci")));
        let mut other = canonical("{}", "ci");
        other.related_key_id = Some("");
        assert_ne!(base, chain_hash(GENESIS, &other), "None and empty differ");
    }

    #[test]
    fn event_kinds_round_trip_through_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
        }
        assert!("deleted".parse::<EventKind>().is_err());
    }
}
