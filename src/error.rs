//! The situations a user can be in when keyward refuses or fails, each with
//! its exit code (SPEC "Exit codes") and a stable code for `--json` errors.

use std::path::PathBuf;

/// Exit codes, named once. SPEC.md "Exit codes" is the contract.
pub mod exit {
    pub const OK: u8 = 0;
    pub const RUNTIME: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    pub const REFUSED: u8 = 4;
    pub const INVALID_KEY: u8 = 5;
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Error {
    /// A flag or argument value that cannot be used; the message quotes it.
    #[error("{0}")]
    Usage(String),

    #[error("no key matches '{key}'{note} (see `keyward list --all`)")]
    NotFound { key: String, note: String },

    #[error("'{key}' matches more than one key: {}; give more of the id", candidates.join(", "))]
    Ambiguous {
        key: String,
        candidates: Vec<String>,
    },

    #[error(
        "environment '{env}' already has {max} active keys (max-keys is {max}); \
         revoke or rotate one, or raise the limit with `keyward config set max-keys N`"
    )]
    LimitReached { env: String, max: u32 },

    /// The key is in the wrong state for the operation, or it is protected.
    #[error("{0}")]
    Refused(String),

    #[error("no vault at {} (create a key first, or pass --vault PATH)", .0.display())]
    VaultMissing(PathBuf),

    #[error("{} is not a keyward vault: {reason}", path.display())]
    NotAVault { path: PathBuf, reason: String },

    #[error(
        "{} was written by a newer keyward (schema version {found}, this keyward knows up to {known}); \
         upgrade keyward to use it (the vault was not modified)",
        path.display()
    )]
    VaultTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error(
        "cannot change {}: it is read-only for this user \
         (check the permissions of the file and of its directory)",
        .0.display()
    )]
    VaultReadOnly(PathBuf),

    #[error("the activity log is broken at event {id}: {reason}")]
    BrokenChain { id: i64, reason: String },

    /// Ctrl-C or Esc at a prompt.
    #[error("cancelled, nothing was changed")]
    Cancelled,
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    pub fn refused(msg: impl Into<String>) -> Self {
        Error::Refused(msg.into())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::NotFound { .. } | Error::Ambiguous { .. } => exit::NOT_FOUND,
            Error::LimitReached { .. } | Error::Refused(_) => exit::REFUSED,
            Error::VaultMissing(_)
            | Error::NotAVault { .. }
            | Error::VaultTooNew { .. }
            | Error::VaultReadOnly(_)
            | Error::BrokenChain { .. }
            | Error::Cancelled => exit::RUNTIME,
        }
    }

    /// The stable `code` of `{"error":{"code":…}}` in `--json` mode.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Usage(_) => "USAGE",
            Error::NotFound { .. } => "KEY_NOT_FOUND",
            Error::Ambiguous { .. } => "KEY_AMBIGUOUS",
            Error::LimitReached { .. } => "LIMIT_REACHED",
            Error::Refused(_) => "REFUSED",
            Error::VaultMissing(_) => "VAULT_MISSING",
            Error::NotAVault { .. } => "VAULT_INVALID",
            Error::VaultTooNew { .. } => "VAULT_TOO_NEW",
            Error::VaultReadOnly(_) => "VAULT_READ_ONLY",
            Error::BrokenChain { .. } => "LOG_BROKEN",
            Error::Cancelled => "CANCELLED",
        }
    }
}

pub type Result<T, E = anyhow::Error> = std::result::Result<T, E>;
