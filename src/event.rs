//! Events of the activity log and the hash that chains them: each event's
//! hash is SHA-256 over the previous event's hash and its own canonical
//! fields, so editing, inserting or removing an event breaks the chain.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

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
    ConfigChanged,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::Created,
        EventKind::Rotated,
        EventKind::GraceChanged,
        EventKind::ExpiryChanged,
        EventKind::Revoked,
        EventKind::ConfigChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Rotated => "rotated",
            EventKind::GraceChanged => "grace_changed",
            EventKind::ExpiryChanged => "expiry_changed",
            EventKind::Revoked => "revoked",
            EventKind::ConfigChanged => "config_changed",
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

/// An event about to be appended: the vault gives it its id and hashes.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at: Timestamp,
    pub kind: EventKind,
    pub key_id: Option<String>,
    pub related_key_id: Option<String>,
    pub env: Option<String>,
    pub actor: String,
    pub details: Map<String, Value>,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub at: Timestamp,
    pub kind: String,
    pub key_id: Option<String>,
    pub related_key_id: Option<String>,
    pub env: Option<String>,
    pub actor: String,
    /// The details as stored: a JSON object in text.
    pub details: String,
    /// The name of the key at read time, for display.
    pub key_name: Option<String>,
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
