//! serve's reads of a SQLite vault: a small pool of read connections, each
//! lookup one statement in its own snapshot, so every commit made before
//! it is seen. A connection whose file is no longer the one at the path
//! (the vault was replaced or removed) is dropped, never asked; so is one
//! opened immutable (a vault this user can only read), after one lookup.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::ErrorCode;

use super::Sqlite;
use crate::error::Result;
use crate::key::Key;
use crate::store::{Access, Busy, Read, Verifier};

/// serve never lets a request thread wait on SQLite's lock: a busy vault
/// is reported at once, and the caller decides how long to retry.
const NO_WAIT: Duration = Duration::ZERO;

pub struct SqliteVerifier {
    path: PathBuf,
    pool: Mutex<Vec<Pooled>>,
}

struct Pooled {
    store: Sqlite,
    /// The device and inode the connection reads.
    file: (u64, u64),
}

impl SqliteVerifier {
    pub fn new(path: &Path) -> Result<Self> {
        let verifier = SqliteVerifier {
            path: path.to_path_buf(),
            pool: Mutex::new(Vec::new()),
        };
        let first = verifier.open()?;
        verifier.pool().push(first);
        Ok(verifier)
    }

    fn pool(&self) -> MutexGuard<'_, Vec<Pooled>> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self) -> Result<Pooled> {
        let store = Sqlite::open(&self.path, Access::Read)?;
        store.conn.busy_timeout(NO_WAIT)?;
        let file = identity(&self.path).unwrap_or_default();
        Ok(Pooled { store, file })
    }

    /// Runs `f` on a connection to the file now at the path.
    fn with<T>(&self, f: impl FnOnce(&Sqlite) -> Result<T>) -> Result<T> {
        let current = identity(&self.path);
        let pooled = {
            let mut pool = self.pool();
            loop {
                match pool.pop() {
                    Some(p) if Some(p.file) == current => break Some(p),
                    Some(_) => continue,
                    None => break None,
                }
            }
        };
        let pooled = match pooled {
            Some(p) => p,
            None => self.open()?,
        };
        match f(&pooled.store) {
            // An immutable connection (a vault this user cannot write, with
            // no WAL) would keep answering from the file as it was: it
            // serves this one lookup only.
            Ok(value) if pooled.store.immutable() => Ok(value),
            Ok(value) => {
                self.pool().push(pooled);
                Ok(value)
            }
            Err(e) if is_busy(&e) => {
                self.pool().push(pooled);
                Err(e.context(Busy))
            }
            // A connection that failed otherwise is not reused.
            Err(e) => Err(e),
        }
    }
}

impl Verifier for SqliteVerifier {
    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Key>> {
        self.with(|store| store.key_by_secret(hash))
    }

    fn ready(&self) -> Result<()> {
        self.with(|store| store.settings().map(drop))
    }
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            .is_some_and(|c| matches!(c, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
    })
}
