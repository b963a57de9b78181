//! serve's reads of a SQLite vault. Every answer reflects every commit made
//! before the request started, without a query per request where that can
//! be proven unnecessary:
//!
//! - A key found is kept in memory, tagged with the WAL index header (the
//!   first 96 bytes of the `-shm` file, two copies of 48, mapped read-only
//!   as SQLite maps it, so reading it is no syscall) read just before
//!   the query that found it. SQLite rewrites that header on every commit
//!   and every WAL reset, and itself decides from it whether its page cache
//!   is still good. A lookup answers from memory only when the header read
//!   now equals the tag byte for byte (both copies equal: no writer is
//!   half-way): then no commit happened since the key was read. Any change,
//!   and the memory is dropped.
//! - One connection (the anchor) stays open with the index mapped. Open
//!   connections hold SQLite's locks on the vault and its index, so no
//!   other process deletes the `-wal` and `-shm` files (a writer that
//!   closes last does) or truncates the index under the mapping (SQLite
//!   reinitialises it only when no process has it open). Nothing here
//!   ever closes a descriptor of those files, which would drop the locks
//!   (POSIX locks are per process). As a second line, the paths of the
//!   vault and of its index are looked up again at most once a millisecond
//!   (see [`RECHECK_PATH`]), and a changed file is re-anchored.
//! - Anything else (a key not found, a header mid-update, a vault without
//!   a WAL index, such as one this user can only read) is a query: a small
//!   pool of read connections, each lookup one statement in its own
//!   snapshot. A connection whose file is no longer the one at the path
//!   (the vault was replaced or removed) is dropped, never asked; so is one
//!   opened immutable, after one lookup.
//!
//! Memory holds at most the vault's keys: secrets that match no key are
//! never remembered.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use rusqlite::ErrorCode;

use super::Sqlite;
use crate::error::Result;
use crate::key::Key;
use crate::store::{Access, Busy, Read, Verifier};

/// serve never lets a request thread wait on SQLite's lock: a busy vault
/// is reported at once, and the caller decides how long to retry.
const NO_WAIT: Duration = Duration::ZERO;

/// How long the file found at the path is trusted to still be there: a
/// `stat` per request costs more than the rest of a lookup. A vault file
/// replaced or removed under a running serve is noticed within this time;
/// commits to the file are seen at once (they change the WAL index).
const RECHECK_PATH: Duration = Duration::from_millis(1);

/// The WAL index header: two copies of 48 bytes.
const HEADER: usize = 96;

type Header = [u8; HEADER];

/// A file's device and inode: which file a path names.
type FileId = (u64, u64);

pub struct SqliteVerifier {
    path: PathBuf,
    /// The vault's WAL index file, `PATH-shm`.
    shm_path: PathBuf,
    /// The files last found at the path and at `PATH-shm`, and when.
    found: RwLock<(Instant, Option<FileId>, Option<FileId>)>,
    pool: Mutex<Vec<Pooled>>,
    anchor: Mutex<Option<Anchor>>,
    retired: Mutex<Vec<Arc<Index>>>,
    memory: RwLock<Memory>,
}

struct Pooled {
    store: Sqlite,
    /// The device and inode the connection reads.
    file: (u64, u64),
}

/// The connection that keeps the WAL index alive, and that index.
struct Anchor {
    file: (u64, u64),
    shm: Arc<Index>,
}

/// The mapped WAL index and the connection that keeps it valid, dropped
/// together, the mapping first.
struct Index {
    map: WalIndex,
    /// The device and inode of the mapped `-shm` file.
    file: (u64, u64),
    /// Kept open: closing a descriptor of the file would drop every POSIX
    /// lock this process holds on it, SQLite's among them.
    _fd: File,
    _anchor: Mutex<Sqlite>,
}

#[derive(Default)]
struct Memory {
    file: Option<(u64, u64)>,
    shm: Option<Arc<Index>>,
    /// The header every key below was read under.
    header: Option<Header>,
    keys: HashMap<[u8; 32], Key>,
}

impl SqliteVerifier {
    pub fn new(path: &Path) -> Result<Self> {
        let mut shm_path = path.as_os_str().to_owned();
        shm_path.push("-shm");
        let verifier = SqliteVerifier {
            path: path.to_path_buf(),
            shm_path: PathBuf::from(shm_path),
            found: RwLock::new((Instant::now(), identity(path), None)),
            pool: Mutex::new(Vec::new()),
            anchor: Mutex::new(None),
            retired: Mutex::new(Vec::new()),
            memory: RwLock::new(Memory::default()),
        };
        let first = verifier.open()?;
        verifier.pool().push(first);
        Ok(verifier)
    }

    /// The device and inode of the file at the path, looked up at most
    /// once per [`RECHECK_PATH`].
    fn current(&self) -> (Option<FileId>, Option<FileId>) {
        let (at, file, shm) = *self.found.read().unwrap_or_else(|e| e.into_inner());
        if at.elapsed() < RECHECK_PATH {
            return (file, shm);
        }
        let (file, shm) = (identity(&self.path), identity(&self.shm_path));
        *self.found.write().unwrap_or_else(|e| e.into_inner()) = (Instant::now(), file, shm);
        (file, shm)
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
    fn with<T>(
        &self,
        current: Option<(u64, u64)>,
        f: impl FnOnce(&Sqlite) -> Result<T>,
    ) -> Result<T> {
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

    /// The WAL index of the file now at the path, kept open by the anchor;
    /// None where there is none to rely on.
    fn wal_index(&self, current: (u64, u64)) -> Option<Arc<Index>> {
        let mut anchor = self.anchor.lock().unwrap_or_else(|e| e.into_inner());
        let shm_now = identity(&self.shm_path);
        if let Some(a) = anchor
            .as_ref()
            .filter(|a| a.file == current && Some(a.shm.file) == shm_now)
        {
            return Some(Arc::clone(&a.shm));
        }
        let store = Sqlite::open(&self.path, Access::Read).ok()?;
        if store.immutable() {
            return None;
        }
        // Reading once maps the WAL index, which the connection then holds.
        store.settings().ok()?;
        let shm_file = File::open(&self.shm_path).ok()?;
        let meta = shm_file.metadata().ok()?;
        let map = WalIndex::open(&shm_file)?;
        // The anchor must read the file that was checked.
        if identity(&self.path) != Some(current) {
            return None;
        }
        let shm = Arc::new(Index {
            map,
            file: (meta.dev(), meta.ino()),
            _fd: shm_file,
            _anchor: Mutex::new(store),
        });
        // An index replaced is kept, never closed, for the same reason as
        // its descriptor (replacements are rare: see `key_by_secret`).
        if let Some(old) = anchor.take() {
            self.retired
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(old.shm);
        }
        *anchor = Some(Anchor {
            file: current,
            shm: Arc::clone(&shm),
        });
        Some(shm)
    }
}

/// The WAL index, mapped read-only as SQLite maps it: reading its header
/// is then a memory read, not a syscall (which costs more than the whole
/// rest of a lookup).
pub struct WalIndex {
    map: memmap2::Mmap,
}

impl WalIndex {
    fn open(shm: &File) -> Option<WalIndex> {
        if shm.metadata().ok()?.len() < HEADER as u64 {
            return None;
        }
        // SAFETY: the mapping is read-only and outlives no file: it lives in
        // the same `Index` as the anchor connection, which holds SQLite's
        // shared DMS lock on this file for as long as the mapping exists.
        // SQLite truncates or reinitialises a WAL index only while holding
        // that lock exclusively (recovery with no other connection open), so
        // the mapped header stays backed by the file and never shrinks.
        let map = unsafe { memmap2::Mmap::map(shm) }.ok()?;
        (map.len() >= HEADER).then_some(WalIndex { map })
    }

    /// The header's bytes now. Other processes write them concurrently, so
    /// they are read with volatile reads, as SQLite reads them with memcpy
    /// between memory barriers; a torn read shows as two copies that
    /// disagree.
    fn header(&self) -> Header {
        let mut h = [0u8; HEADER];
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        for (i, byte) in h.iter_mut().enumerate() {
            // SAFETY: i < HEADER <= map.len() (checked in `open`); the pointer
            // is valid for reads for the mapping's lifetime, which `&self`
            // spans.
            *byte = unsafe { std::ptr::read_volatile(self.map.as_ptr().add(i)) };
        }
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        h
    }
}

/// Both copies of the header, if they agree (else a writer is mid-commit)
/// and the index is initialised.
fn header(shm: &WalIndex) -> Option<Header> {
    let h = shm.header();
    let (a, b) = h.split_at(HEADER / 2);
    // isInit, at byte 12 of each copy.
    (a == b && a[12] == 1).then_some(h)
}

impl Verifier for SqliteVerifier {
    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Key>> {
        let (current, shm_now) = self.current();
        {
            let memory = self.memory.read().unwrap_or_else(|e| e.into_inner());
            if current.is_some()
                && memory.file == current
                && let (Some(shm), Some(tag)) = (&memory.shm, &memory.header)
                && Some(shm.file) == shm_now
                && let Some(key) = memory.keys.get(hash)
                && header(&shm.map).as_ref() == Some(tag)
            {
                return Ok(Some(key.clone()));
            }
        }
        let index = current.and_then(|c| self.wal_index(c).map(|shm| (c, shm)));
        let before = index.as_ref().and_then(|(_, shm)| header(&shm.map));
        let found = self.with(current, |store| store.key_by_secret(hash))?;
        if let (Some(key), Some((file, shm)), Some(before)) = (&found, index, before) {
            let mut memory = self.memory.write().unwrap_or_else(|e| e.into_inner());
            if memory.file != Some(file) || memory.header != Some(before) {
                *memory = Memory {
                    file: Some(file),
                    shm: Some(shm),
                    header: Some(before),
                    keys: HashMap::new(),
                };
            }
            memory.keys.insert(*hash, key.clone());
        }
        Ok(found)
    }

    fn ready(&self) -> Result<()> {
        self.with(identity(&self.path), |store| store.settings().map(drop))
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
