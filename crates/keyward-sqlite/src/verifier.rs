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
//!   connections hold SQLite's locks on the index, so no other process
//!   deletes the `-wal` and `-shm` files (a writer that closes last does)
//!   or truncates the index under the mapping (SQLite reinitialises it only
//!   when no process has it open). The descriptor of the mapped index is
//!   closed only after every connection that uses it, since closing it
//!   would drop the locks (POSIX locks are per process). The paths of the
//!   vault and of its index are looked up again at most once a millisecond
//!   (see [`RECHECK_PATH`]), and by a thread of its own every
//!   [`WATCH_EVERY`].
//! - A vault file replaced at the path (`mv`, a restore) is let go of at
//!   once, connections, index and keys together, and the new file opened
//!   afresh: kept, the old file's `-wal`/`-shm` would stay at the path and
//!   be paired with the new file by whoever opens it next (see
//!   [`super::replaced`]). While another process still holds them, the new
//!   file is not opened and lookups are 503.
//! - Anything else (a key not found, a header mid-update, a vault without
//!   a WAL index, such as one this user can only read) is a query: a small
//!   pool of read connections, each lookup one statement in its own
//!   snapshot. A connection whose file is no longer the one at the path
//!   (the vault was replaced or removed) is dropped, never asked; so is one
//!   opened immutable, after one lookup.
//!
//! Memory holds at most the vault's keys: secrets that match no key are
//! never remembered.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, Instant};

use rusqlite::ErrorCode;

use super::Sqlite;
use super::replaced::{FileId, identity, shm_path};
use keyward_core::error::Result;
use keyward_core::key::{Brief, Key, KeyId};
use keyward_core::store::memory::Held;
use keyward_core::store::{Access, NotNow, Read, Verifier};

/// serve never lets a request thread wait on SQLite's lock: a busy vault
/// is reported at once, and the caller decides how long to retry.
const NO_WAIT: Duration = Duration::ZERO;

/// How long the file found at the path is trusted to still be there: a
/// `stat` per request costs more than the rest of a lookup. A vault file
/// replaced or removed under a running serve is noticed within this time;
/// commits to the file are seen at once (they change the WAL index).
const RECHECK_PATH: Duration = Duration::from_millis(1);

/// How often a thread of its own looks for a replaced vault file when no
/// request does, so that serve lets go of the old file (and its `-wal` and
/// `-shm`, which other processes wait for) soon after it was replaced.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// The WAL index header: two copies of 48 bytes.
const HEADER: usize = 96;

type Header = [u8; HEADER];

pub struct SqliteVerifier {
    path: PathBuf,
    /// The vault's WAL index file, `PATH-shm`.
    shm_path: PathBuf,
    /// The files last found at the path and at `PATH-shm`, and when.
    found: RwLock<(Instant, Option<FileId>, Option<FileId>)>,
    pool: Mutex<Vec<Pooled>>,
    anchor: Mutex<Option<Arc<Index>>>,
    memory: RwLock<Memory>,
    /// Why the last lookup failed, and in which file, until one succeeds
    /// or another file is at the path: readiness then says so too,
    /// whatever a probe of its own finds.
    failing: Mutex<Option<Failing>>,
}

/// A lookup that failed: in which file, why, and whether the file is
/// damaged (then only another file at the path makes it ready again: a
/// lookup of another key succeeding says nothing about this one's).
#[derive(Clone)]
struct Failing {
    file: Option<FileId>,
    why: String,
    damaged: bool,
}

struct Pooled {
    /// Dropped before `shm`: the index's descriptor is closed only after
    /// every connection that uses it.
    store: Sqlite,
    /// The device and inode the connection reads.
    file: FileId,
    /// The index this connection uses, where it has one.
    shm: Option<Arc<Index>>,
}

/// The mapped WAL index and the connection that keeps it valid. They go
/// together, the connection first (it may be the last of this process on
/// the file, and SQLite then checkpoints and removes the `-wal`/`-shm`),
/// the mapping next, the descriptor last: closing a descriptor of the file
/// drops every POSIX lock this process holds on it, SQLite's among them,
/// so it is closed only once no connection of this process uses the file.
struct Index {
    conn: Mutex<Sqlite>,
    map: WalIndex,
    /// The vault file the index belongs to.
    db: FileId,
    /// The device and inode of the mapped `-shm` file.
    file: FileId,
    _fd: File,
}

#[derive(Default)]
struct Memory {
    file: Option<FileId>,
    shm: Option<Arc<Index>>,
    /// The header every key below was read under.
    header: Option<Header>,
    keys: Held,
}

impl SqliteVerifier {
    /// The verifier for the vault at `path`, with a thread that lets go of
    /// the vault file once another has been put at the path.
    pub fn start(path: &Path) -> Result<Arc<Self>> {
        let verifier = SqliteVerifier {
            path: path.to_path_buf(),
            shm_path: shm_path(path),
            found: RwLock::new((Instant::now(), identity(path), None)),
            pool: Mutex::new(Vec::new()),
            anchor: Mutex::new(None),
            memory: RwLock::new(Memory::default()),
            failing: Mutex::new(None),
        };
        // The vault must open now; the connection is not kept, since no
        // index is held for it yet.
        verifier.open(None)?;
        let verifier = Arc::new(verifier);
        let weak: Weak<Self> = Arc::downgrade(&verifier);
        std::thread::Builder::new()
            .name("keyward-vault-watch".into())
            .spawn(move || {
                while let Some(v) = weak.upgrade() {
                    v.let_go_if_replaced();
                    v.empty_a_full_log();
                    drop(v);
                    std::thread::sleep(WATCH_EVERY);
                }
            })?;
        Ok(verifier)
    }

    /// The device and inode of the file at the path, looked up at most
    /// once per [`RECHECK_PATH`].
    fn current(&self) -> (Option<FileId>, Option<FileId>) {
        let (at, file, shm) = *self.found.read().unwrap_or_else(|e| e.into_inner());
        if at.elapsed() < RECHECK_PATH {
            return (file, shm);
        }
        self.look()
    }

    /// The files at the path and at `PATH-shm` now.
    fn look(&self) -> (Option<FileId>, Option<FileId>) {
        let (file, shm) = (identity(&self.path), identity(&self.shm_path));
        *self.found.write().unwrap_or_else(|e| e.into_inner()) = (Instant::now(), file, shm);
        (file, shm)
    }

    fn pool(&self) -> MutexGuard<'_, Vec<Pooled>> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn anchor(&self) -> MutexGuard<'_, Option<Arc<Index>>> {
        self.anchor.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets go of every connection, index and key read from a vault file
    /// (or index) that is no longer the one at the path, so that other
    /// processes may open the new file: SQLite would pair it with the old
    /// one's `-wal`/`-shm` while this process keeps them.
    fn let_go_if_replaced(&self) {
        let (current, shm_now) = (identity(&self.path), identity(&self.shm_path));
        let held = self.anchor().as_ref().map(|a| (a.db, a.file));
        if let Some((db, shm)) = held
            && (Some(db) != current || Some(shm) != shm_now)
        {
            self.let_go();
        }
    }

    /// Empties the vault's log when a write that overlapped a reader left
    /// it full, so that the vault is at rest with an empty log (see
    /// [`super::replaced`]).
    fn empty_a_full_log(&self) {
        let anchor = self.anchor().as_ref().map(Arc::clone);
        if let Some(index) = anchor
            && Some(index.db) == identity(&self.path)
        {
            index
                .conn
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .settle_log_if_full();
        }
    }

    fn let_go(&self) {
        let memory = std::mem::take(&mut *self.memory.write().unwrap_or_else(|e| e.into_inner()));
        let pool = std::mem::take(&mut *self.pool());
        let anchor = self.anchor().take();
        // Connections first; the index (the last holder drops it) after.
        drop(pool);
        drop(memory);
        drop(anchor);
    }

    /// A read connection to the file now at the path, which uses `shm`
    /// where that index belongs to the same file.
    fn open(&self, shm: Option<&Arc<Index>>) -> Result<Pooled> {
        let (store, _) = Sqlite::open_waiting(&self.path, Access::Read, NO_WAIT)?;
        store.conn.busy_timeout(NO_WAIT)?;
        keyward_core::store::Store::unmapped(&store)?;
        let file = store.file.unwrap_or_default();
        let shm = shm.filter(|i| i.db == file).cloned();
        Ok(Pooled { store, file, shm })
    }

    /// Runs `f` on a connection to the file now at the path.
    fn with<T>(
        &self,
        current: Option<FileId>,
        shm: Option<&Arc<Index>>,
        f: impl FnOnce(&Sqlite) -> Result<T>,
    ) -> Result<T, NotNow> {
        let same = |p: &Pooled| match (&p.shm, shm) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        let pooled = {
            let mut pool = self.pool();
            loop {
                match pool.pop() {
                    Some(p) if Some(p.file) == current && same(&p) => break Some(p),
                    Some(_) => continue,
                    None => break None,
                }
            }
        };
        let pooled = match pooled {
            Some(p) => p,
            None => self.open(shm)?,
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
                Err(NotNow::Busy(e))
            }
            // A connection that failed otherwise is not reused.
            Err(e) => Err(NotNow::Failed(e)),
        }
    }

    /// The WAL index of the file now at the path, kept open by the anchor;
    /// None where there is none to rely on.
    fn wal_index(&self, current: FileId, shm_now: Option<FileId>) -> Option<Arc<Index>> {
        {
            let anchor = self.anchor();
            match anchor.as_ref() {
                Some(a) if a.db == current && Some(a.file) == shm_now => {
                    return Some(Arc::clone(a));
                }
                Some(_) => {}
                None => return self.anchor_index(anchor, current),
            }
        }
        // The vault or its index was replaced: nothing of the old file is
        // kept while the new one is opened.
        self.let_go();
        self.anchor_index(self.anchor(), current)
    }

    fn anchor_index(
        &self,
        mut anchor: MutexGuard<'_, Option<Arc<Index>>>,
        current: FileId,
    ) -> Option<Arc<Index>> {
        let (store, _) = Sqlite::open_waiting(&self.path, Access::Read, NO_WAIT).ok()?;
        if store.immutable() || store.file != Some(current) {
            return None;
        }
        // Reading once maps the WAL index, which the connection then holds.
        store.settings().ok()?;
        let shm_file = File::open(&self.shm_path).ok()?;
        let kept = |fd: File| {
            // Never closed: that would drop the locks the connections of
            // this process hold on the index (rare: the index is too short
            // or cannot be mapped).
            std::mem::forget(fd);
            None
        };
        let Ok(meta) = shm_file.metadata() else {
            return kept(shm_file);
        };
        let Some(map) = WalIndex::open(&shm_file) else {
            return kept(shm_file);
        };
        // Connections opened before there was an index are not reused:
        // the index's descriptor must outlive every connection using it.
        self.pool().retain(|p| p.shm.is_some());
        let shm = Arc::new(Index {
            conn: Mutex::new(store),
            map,
            db: current,
            file: (meta.dev(), meta.ino()),
            _fd: shm_file,
        });
        *anchor = Some(Arc::clone(&shm));
        Some(shm)
    }

    /// Notes how a lookup ended, for readiness.
    fn note<T>(&self, file: Option<FileId>, result: &Result<T, NotNow>) {
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(_)
                if failing
                    .as_ref()
                    .is_some_and(|f| f.damaged && f.file == file) => {}
            Ok(_) => *failing = None,
            Err(NotNow::Busy(_) | NotNow::Unconfirmed(_)) => {}
            Err(NotNow::Failed(e)) => {
                *failing = Some(Failing {
                    file,
                    why: format!("{e:#}"),
                    damaged: is_damage(e),
                })
            }
        }
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
        // A mapping starts on a page: the header is read a word at a time.
        (map.len() >= HEADER && map.as_ptr().align_offset(8) == 0).then_some(WalIndex { map })
    }

    /// The header's bytes now. Other processes write them concurrently, so
    /// they are read with volatile reads, as SQLite reads them with memcpy
    /// between memory barriers; a torn read shows as two copies that
    /// disagree.
    fn header(&self) -> Header {
        let mut h = [0u8; HEADER];
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let words = self.map.as_ptr().cast::<u64>();
        for (i, chunk) in h.chunks_exact_mut(8).enumerate() {
            // SAFETY: (i + 1) * 8 <= HEADER <= map.len() and the mapping is
            // 8-aligned (both checked in `open`); the pointer is valid for
            // reads for the mapping's lifetime, which `&self` spans.
            let word = unsafe { std::ptr::read_volatile(words.add(i)) };
            chunk.copy_from_slice(&word.to_ne_bytes());
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
    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Brief>, NotNow> {
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
                return Ok(Some(key));
            }
        }
        let index = current.and_then(|c| self.wal_index(c, shm_now));
        let before = index.as_ref().and_then(|shm| header(&shm.map));
        let found = self.with(current, index.as_ref(), |store| store.key_by_secret(hash));
        self.note(current, &found);
        let found = found?.as_ref().map(Brief::from);
        if let (Some(key), Some(shm), Some(before)) = (&found, index, before) {
            let mut memory = self.memory.write().unwrap_or_else(|e| e.into_inner());
            if memory.file != Some(shm.db) || memory.header != Some(before) {
                *memory = Memory {
                    file: Some(shm.db),
                    shm: Some(shm),
                    header: Some(before),
                    keys: Held::default(),
                };
            }
            memory.keys.insert(*hash, key);
        }
        Ok(found)
    }

    fn vault_id(&self) -> u64 {
        // The file's device and inode, as the last look found them.
        self.current()
            .0
            .map_or(0, |(dev, ino)| dev.rotate_left(32) ^ ino)
    }

    fn key(&self, id: &KeyId) -> Result<Option<Key>, NotNow> {
        let (current, shm_now) = self.current();
        let index = current.and_then(|c| self.wal_index(c, shm_now));
        let found = self.with(current, index.as_ref(), |store| store.key(id));
        self.note(current, &found);
        found
    }

    /// Ready when the file at the path opens and answers a lookup as a
    /// request's would, and the last request's lookup in that file did not
    /// fail.
    fn ready(&self) -> Result<(), NotNow> {
        let (current, shm_now) = self.look();
        let index = current.and_then(|c| self.wal_index(c, shm_now));
        self.with(current, index.as_ref(), |store| {
            store.settings()?;
            store.key_by_secret(&[0; 32]).map(drop)
        })?;
        let mut failing = self.failing.lock().unwrap_or_else(|e| e.into_inner());
        match failing.clone() {
            Some(f) if f.file == current && f.damaged => Err(NotNow::Failed(anyhow::anyhow!(
                "a lookup found the vault damaged ({}); restore it from a backup",
                f.why
            ))),
            Some(f) if f.file == current => Err(NotNow::Failed(anyhow::anyhow!(
                "the last lookup failed: {}",
                f.why
            ))),
            _ => {
                *failing = None;
                Ok(())
            }
        }
    }
}

/// Whether an error says the file is damaged (it stays so until another
/// file is put at the path).
fn is_damage(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            .is_some_and(|c| matches!(c, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase))
            || matches!(
                cause.downcast_ref::<keyward_core::error::Error>(),
                Some(
                    keyward_core::error::Error::Corrupt { .. }
                        | keyward_core::error::Error::NotAVault { .. }
                )
            )
    })
}

fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            .is_some_and(|c| matches!(c, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
    })
}
