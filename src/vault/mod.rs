//! The vault: one SQLite file holding keys, events and settings. This module
//! owns opening it (permissions, pragmas, refusing what is not ours) and is
//! the only place in keyward with SQL.

mod events;
mod keys;
mod lifecycle;
mod plans;
mod schema;
mod settings;

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::error::{Error, Result};
use crate::key::{Key, KeyRef};
use crate::secret::Secret;
use crate::when::{Deadline, Timestamp};

pub use events::{EventFilter, EventPage};
pub use keys::{Check, KeyFilter, NewKey};
pub use lifecycle::{Rotated, Rotation};
pub use settings::{Setting, Settings};

/// How much of the vault file reads may map into memory.
const MMAP_SIZE: i64 = 1 << 30;

/// How long a writer waits for another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether opening may create the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A missing vault is an error naming the path: read commands, and
    /// commands that act on a key that must already exist.
    Existing,
    /// `create` and `config set` create the vault when it does not exist.
    OrCreate,
}

pub struct Vault {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("path", &self.path).finish()
    }
}

impl Vault {
    /// Opens the vault at `path`, creating it (file 0600, new directories
    /// 0700) for [`Access::OrCreate`]. A directory, a file that is not a keyward
    /// vault, or a vault from a newer keyward is refused and left untouched.
    pub fn open(path: &Path, access: Access) -> Result<Self> {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => return Err(not_a_vault(path, "it is a directory").into()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => match access {
                Access::Existing => return Err(Error::VaultMissing(path.to_path_buf()).into()),
                Access::OrCreate => create_file(path)?,
            },
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .with_context(|| format!("cannot open {}", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mut vault = Vault {
            conn,
            path: path.to_path_buf(),
        };
        vault
            .prepare()
            .map_err(|e| read_only(path, vault.explain(e)))?;
        Ok(vault)
    }

    /// Checks what the file is, then brings its schema up to date (a vault
    /// from an older keyward needs write access once, for its migration).
    fn prepare(&mut self) -> Result<()> {
        let found = schema::inspect(&self.conn)?;
        match found {
            schema::Found::Foreign(reason) => return Err(not_a_vault(&self.path, reason).into()),
            schema::Found::Newer(version) => {
                return Err(Error::VaultTooNew {
                    path: self.path.clone(),
                    found: version,
                    known: schema::CURRENT,
                }
                .into());
            }
            schema::Found::Current => {}
            schema::Found::Empty | schema::Found::Older(_) => enable_wal(&self.conn)?,
        }
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        // Reads map the file rather than copy pages through read(2): a lookup
        // in a large vault then costs page-table hits instead of syscalls. Only
        // the pages a command touches become resident.
        self.conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        if found != schema::Found::Current {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            schema::migrate(&tx)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Turns SQLite's "not a database" and "malformed" into a sentence naming the file.
    fn explain(&self, err: anyhow::Error) -> anyhow::Error {
        let code = err
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code);
        match code {
            Some(ErrorCode::NotADatabase) => {
                not_a_vault(&self.path, "the file is not an SQLite database").into()
            }
            Some(ErrorCode::DatabaseCorrupt) => {
                not_a_vault(&self.path, "the database is corrupt (truncated or damaged)").into()
            }
            _ => err,
        }
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: its checks and writes
    /// see no other writer between them, and an error leaves nothing behind.
    fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let run = |conn: &mut Connection| -> Result<T> {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context("cannot start a write transaction on the vault")?;
            let value = f(&tx)?;
            tx.commit()
                .context("cannot commit the change to the vault")?;
            Ok(value)
        };
        run(&mut self.conn).map_err(|e| read_only(&self.path, e))
    }
}

/// Several writes in one transaction, for bulk loads such as the seed tool:
/// all or nothing, each with the same checks as on its own.
pub struct Batch<'a> {
    conn: &'a Connection,
}

impl Batch<'_> {
    pub fn create(&self, new: NewKey, actor: &str, now: Timestamp) -> Result<(Key, Secret)> {
        keys::create(self.conn, new, actor, now)
    }

    pub fn rotate(
        &self,
        key: &KeyRef,
        env: &str,
        r: Rotation,
        actor: &str,
        now: Timestamp,
    ) -> Result<Rotated> {
        lifecycle::rotate(self.conn, key, env, r, actor, now)
    }

    pub fn change_expiry(
        &self,
        key: &KeyRef,
        env: &str,
        expires: Deadline,
        actor: &str,
        now: Timestamp,
    ) -> Result<Key> {
        lifecycle::change_expiry(self.conn, key, env, expires, actor, now)
    }
}

impl Vault {
    /// Runs `f` in one write transaction; see [`Batch`].
    pub fn batch<T>(&mut self, f: impl FnOnce(&Batch<'_>) -> Result<T>) -> Result<T> {
        self.write(|tx| f(&Batch { conn: tx }))
    }
}

/// Switches to WAL (a no-op when already on). The switch needs an exclusive
/// lock, and SQLite answers BUSY at once there instead of calling the busy
/// handler, so parallel first uses retry here, within `BUSY_TIMEOUT`. Only a
/// new or older vault takes this path.
fn enable_wal(conn: &Connection) -> Result<()> {
    let start = std::time::Instant::now();
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context("cannot switch the vault to WAL mode"));
            }
        }
    }
}

/// SQLite's "attempt to write a readonly database", as a sentence naming the file.
fn read_only(path: &Path, err: anyhow::Error) -> anyhow::Error {
    let is_read_only = err
        .chain()
        .filter_map(|e| e.downcast_ref::<rusqlite::Error>())
        .any(|e| e.sqlite_error_code() == Some(ErrorCode::ReadOnly));
    if is_read_only {
        Error::VaultReadOnly(path.to_path_buf()).into()
    } else {
        err
    }
}

fn not_a_vault(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotAVault {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Creates the vault file 0600 and any missing parent directories 0700,
/// whatever the umask. Safe to race: another process may create them first.
fn create_file(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dirs(parent)?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot set the permissions of {}", path.display())),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create the vault {}", path.display())),
    }
}

fn create_private_dirs(dir: &Path) -> Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    for d in missing.into_iter().rev() {
        match DirBuilder::new().mode(0o700).create(d) {
            Ok(()) => fs::set_permissions(d, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot set the permissions of {}", d.display()))?,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create the directory {}", d.display()));
            }
        }
    }
    Ok(())
}
