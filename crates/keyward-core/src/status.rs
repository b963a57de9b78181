//! A key's status, as the log, JSON and messages name it. A leaf: how a
//! status follows from a key's fields is [`crate::key`]'s.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Usable, not superseded.
    Active,
    /// Superseded by a rotation, usable until its grace ends.
    Grace,
    /// Its expiry or grace end has passed.
    Expired,
    /// Revoked explicitly.
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Grace => "grace",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }

    /// Whether a secret of a key in this status verifies.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Active | Status::Grace)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
