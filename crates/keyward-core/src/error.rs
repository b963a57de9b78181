//! The situations a user can be in when keyward refuses or fails, each with
//! its exit code (docs/reference.md "Exit codes") and a stable code for `--json` errors.
//! Every value a message quotes has gone through [`crate::shown::quote`]:
//! escaped, secret shapes masked, cut to 64 characters.

use crate::id::KeyId;
use crate::status::Status;

/// Exit codes, named once. docs/reference.md "Exit codes" is the contract.
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

    #[error("no key matches '{key}' in environment '{env}'{note} (see `keyward list --all`)")]
    NotFound {
        key: String,
        env: String,
        note: String,
    },

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

    #[error(
        "owner '{owner}' already has {max} active keys in environment '{env}' \
         (max-keys-per-owner is {max}); revoke or rotate one of theirs, or raise the limit \
         with `keyward config set max-keys-per-owner N`"
    )]
    OwnerLimitReached {
        owner: String,
        env: String,
        max: u32,
    },

    #[error(
        "an active key in environment '{env}' is already named '{name}' ({holder}): \
         rotate it, or choose another --name"
    )]
    NameTaken {
        env: String,
        name: String,
        holder: KeyId,
    },

    /// Rotating (or otherwise changing as active) a key that another
    /// rotation already replaced: the successor is named.
    #[error("{id} was already rotated: its successor is {successor}; use that one instead")]
    AlreadyRotated { id: KeyId, successor: KeyId },

    #[error(
        "{id} is the default key of environment '{env}' and cannot be {action}: \
         rotate it first (`keyward rotate {id} --grace now`), then end the old key if need be"
    )]
    DefaultKey {
        id: KeyId,
        env: String,
        action: &'static str,
    },

    /// The key is not in the state the operation needs.
    #[error("{id} is {status}, so it cannot be {action}{hint}")]
    WrongState {
        id: KeyId,
        status: Status,
        action: &'static str,
        hint: String,
    },

    #[error(
        "{0} is not empty: copy only fills an empty or new vault (choose another destination, \
         or empty this one first)"
    )]
    DestinationNotEmpty(String),

    #[error("no vault at {0} (create a key first, or pass --vault PATH)")]
    VaultMissing(String),

    /// A `--vault`, `$KEYWARD_VAULT` or `copy --to` path in a directory
    /// that does not exist: most likely a typo, so nothing is made.
    #[error(
        "the directory {dir} does not exist, so there is no vault at {path}: check the path, \
         or create the directory first (keyward makes directories only for its default location)"
    )]
    VaultDirectoryMissing { dir: String, path: String },

    #[error("{path} is not a keyward vault: {reason}")]
    NotAVault { path: String, reason: String },

    #[error(
        "{path} was written by a newer keyward (schema version {found}, this keyward knows up to {known}); \
         upgrade keyward to use it (the vault was not modified)"
    )]
    VaultTooNew {
        path: String,
        found: i64,
        known: i64,
    },

    #[error(
        "{0} was written by an older keyward and must be upgraded once, which needs write access \
         (run any write command, e.g. `keyward config set max-keys N`, as a user who can write it)"
    )]
    VaultNeedsUpgrade(String),

    #[error(
        "cannot change {0}: it is read-only for this user \
         (check the permissions of the file and of its directory)"
    )]
    VaultReadOnly(String),

    /// Another process held the vault's write lock for the whole wait.
    #[error(
        "{path} is busy: another process has held its write lock for {secs} s; nothing was \
         changed: try again, or find the process that holds it (e.g. an open sqlite3 session)"
    )]
    VaultBusy { path: String, secs: u64 },

    /// A PostgreSQL vault this role or session may not change.
    #[error("cannot change {path}: {why}")]
    VaultDenied { path: String, why: String },

    /// SQLite's locks are per path: two names for one file would let two
    /// writers in at once.
    #[error(
        "{path} has {links} hard links: a vault must be reachable by one path only \
         (remove the other links, or copy the vault)"
    )]
    VaultLinked { path: String, links: u64 },

    /// The file at the vault's path is not the one whose `-wal`/`-shm`
    /// another process still uses: SQLite would pair the two.
    #[error(
        "{path} was replaced while {holder} still had the old file open, and the vault's -wal \
         and -shm files still belong to the old file: opening it now could mix the two, so \
         keyward left it alone. Run the command again in a moment (a keyward serve lets go of \
         a replaced vault within a second)"
    )]
    VaultReplaced { path: String, holder: String },

    /// The file at the path changed while a write was under way.
    #[error(
        "{0} was replaced by another file while this command was writing to it: nothing was \
         written; run the command again"
    )]
    VaultReplacedMidWrite(String),

    #[error("{path} holds corrupt data: {row}: {problem}")]
    Corrupt {
        path: String,
        row: String,
        problem: String,
    },

    /// The connection broke at commit: the change may or may not be there.
    #[error(
        "lost the connection to {path} while committing ({cause}): the change may or may not \
         have been made; look before trying again"
    )]
    CommitUnknown { path: String, cause: String },

    #[error("the activity log is broken at event {id}: {reason}")]
    BrokenChain { id: i64, reason: String },

    /// The change was committed, but its secret never reached anyone.
    #[error(
        "{action} {id} '{name}' in environment '{env}', but its secret could not be written \
         to stdout ({cause}): nobody has it. {remedy}"
    )]
    SecretNotDelivered {
        action: &'static str,
        id: KeyId,
        name: String,
        env: String,
        cause: std::io::ErrorKind,
        /// What to do: revoke it, or (a default key) rotate it again.
        remedy: String,
    },

    /// Ctrl-C or Esc at a prompt.
    #[error("cancelled, nothing was changed")]
    Cancelled,
}

impl Error {
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::NotFound { .. } | Error::Ambiguous { .. } => exit::NOT_FOUND,
            Error::LimitReached { .. }
            | Error::OwnerLimitReached { .. }
            | Error::NameTaken { .. }
            | Error::AlreadyRotated { .. }
            | Error::DefaultKey { .. }
            | Error::WrongState { .. }
            | Error::DestinationNotEmpty(_) => exit::REFUSED,
            Error::VaultMissing(_)
            | Error::VaultDirectoryMissing { .. }
            | Error::NotAVault { .. }
            | Error::VaultTooNew { .. }
            | Error::VaultNeedsUpgrade(_)
            | Error::VaultReadOnly(_)
            | Error::VaultBusy { .. }
            | Error::VaultDenied { .. }
            | Error::VaultLinked { .. }
            | Error::VaultReplaced { .. }
            | Error::VaultReplacedMidWrite(_)
            | Error::Corrupt { .. }
            | Error::BrokenChain { .. }
            | Error::CommitUnknown { .. }
            | Error::SecretNotDelivered { .. }
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
            Error::OwnerLimitReached { .. } => "OWNER_LIMIT_REACHED",
            Error::NameTaken { .. } => "NAME_TAKEN",
            Error::AlreadyRotated { .. } => "ALREADY_ROTATED",
            Error::DefaultKey { .. } => "DEFAULT_KEY",
            Error::WrongState { .. } => "WRONG_STATE",
            Error::DestinationNotEmpty(_) => "DESTINATION_NOT_EMPTY",
            Error::VaultMissing(_) | Error::VaultDirectoryMissing { .. } => "VAULT_MISSING",
            Error::NotAVault { .. } => "VAULT_INVALID",
            Error::VaultTooNew { .. } => "VAULT_TOO_NEW",
            Error::VaultNeedsUpgrade(_) => "VAULT_NEEDS_UPGRADE",
            Error::VaultReadOnly(_) | Error::VaultDenied { .. } => "VAULT_READ_ONLY",
            Error::VaultBusy { .. } => "VAULT_BUSY",
            Error::VaultLinked { .. } => "VAULT_LINKED",
            Error::VaultReplaced { .. } | Error::VaultReplacedMidWrite(_) => "VAULT_REPLACED",
            Error::Corrupt { .. } => "VAULT_CORRUPT",
            Error::BrokenChain { .. } => "LOG_BROKEN",
            Error::CommitUnknown { .. } => "COMMIT_UNKNOWN",
            Error::SecretNotDelivered { .. } => "SECRET_NOT_DELIVERED",
            Error::Cancelled => "CANCELLED",
        }
    }
}

pub type Result<T, E = anyhow::Error> = std::result::Result<T, E>;
