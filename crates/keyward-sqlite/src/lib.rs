//! The SQLite engine: one file holding keys, events and settings. This
//! module owns opening it (permissions, pragmas, refusing what is not ours,
//! reading a read-only vault) and is, with its siblings, the only place in
//! keyward with SQLite's SQL.

mod events;
mod keys;
mod plans;
mod quotas;
mod replaced;
mod schema;
mod usage;
pub mod verifier;

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, ErrorCode, MAIN_DB, OpenFlags, OptionalExtension, Transaction};

use keyward_core::error::{Error, Result};
use keyward_core::key::KeyId;
use keyward_core::settings::{Setting, Settings};
use keyward_core::store::{Access, Store, WriteTx};
use keyward_core::text::Env;
use keyward_core::when::Timestamp;

pub use schema::CURRENT as SCHEMA_VERSION;

/// How much of the vault file reads may map into memory.
const MMAP_SIZE: i64 = 1 << 30;

/// How long a writer waits for another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long recording last-used may wait for another writer: it never
/// delays a verdict by more than this.
const TOUCH_TIMEOUT: Duration = Duration::from_millis(5);

/// How long opening waits for another process to let go of a vault file
/// that was replaced under it (see [`replaced`]) before refusing.
pub const REPLACED_WAIT: Duration = Duration::from_secs(3);

/// How long opening waits for a `-wal` without a `-shm` to go away (see
/// [`Sqlite::open_waiting`]); after a crash it stays, and is recovered.
const LOG_ALONE_WAIT: Duration = Duration::from_millis(50);

/// How long emptying the write-ahead log after a commit may wait for
/// readers and writers: it is done when the vault is quiet, and skipped
/// (the next writer does it) otherwise.
const SETTLE_TIMEOUT: Duration = Duration::from_millis(20);

use keyward_core::store::LAST_USED_RESOLUTION;

/// A connection, or a transaction on one: [`Read`] works on both.
pub trait Conn {
    fn conn(&self) -> &Connection;
}

impl Conn for Connection {
    fn conn(&self) -> &Connection {
        self
    }
}

impl Conn for Owned {
    fn conn(&self) -> &Connection {
        &self.conn
    }
}

/// A connection that cleans up after a vault file replaced under it.
/// SQLite, closing a connection whose file is no longer at its path, leaves
/// that file's `-wal` and `-shm` at the path (it will not delete or
/// checkpoint what it thinks may be another file's), where the next
/// process to open the path would pair them with the new file. So before
/// the connection closes, its file's log is checkpointed into it (the file
/// may live on under another name) and the log and index it used are
/// removed from the path, if they are still the ones it used: the new file
/// then starts with its own.
pub struct Owned {
    conn: Connection,
    path: PathBuf,
    held: Option<Held>,
}

/// The files a connection used, as found when it was opened.
#[derive(Clone, Copy)]
struct Held {
    db: replaced::FileId,
    wal: Option<replaced::FileId>,
    shm: Option<replaced::FileId>,
}

impl Owned {
    fn new(conn: Connection, path: &Path) -> Self {
        Owned {
            conn,
            path: path.to_path_buf(),
            held: None,
        }
    }
}

impl std::ops::Deref for Owned {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::ops::DerefMut for Owned {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        let Some(held) = self.held else { return };
        let now = replaced::identity(&self.path);
        if now == Some(held.db) {
            // Still there: a log left full by a write that overlapped a
            // reader is emptied by whoever closes next.
            if fs::metadata(replaced::wal_path(&self.path)).is_ok_and(|m| m.len() > 0) {
                empty_log(&self.conn);
            }
            return;
        }
        // The file is no longer at the path (moved away, or replaced):
        // its log goes into it (it may live on elsewhere, or come back),
        // so that what SQLite leaves at the path holds nothing.
        let _ = self.conn.busy_timeout(SETTLE_TIMEOUT);
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        if now.is_none() {
            return;
        }
        // Another file is at the path: the log and index this connection
        // used go, if they are still those, so the new file starts with its
        // own. The log first: openers wait for an index someone holds.
        replaced::remove_if_still(&self.path, held.wal, held.shm);
    }
}

impl Conn for Transaction<'_> {
    fn conn(&self) -> &Connection {
        self
    }
}

/// The SQLite vault at `path`: opened ([`Sqlite`]) or in a write
/// transaction ([`SqliteTx`]).
pub struct Sql<C> {
    conn: C,
    path: PathBuf,
    /// The file the connection reads: the one at the path before and after
    /// it was opened. A write commits only while the path still names it.
    file: Option<replaced::FileId>,
    access: Access,
    /// Opened with `immutable=1`: SQLite then assumes the file never
    /// changes, so such a connection must not be kept for later reads.
    immutable: bool,
}

pub type Sqlite = Sql<Owned>;
pub type SqliteTx<'a> = Sql<Transaction<'a>>;

impl<C> std::fmt::Debug for Sql<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite").field("path", &self.path).finish()
    }
}

impl<C: Conn> Sql<C> {
    fn c(&self) -> &Connection {
        self.conn.conn()
    }

    /// Whether the path still names the file this connection reads.
    fn still_at_path(&self) -> bool {
        self.file.is_none() || replaced::identity(&self.path) == self.file
    }

    /// Turns a row that does not hold what keyward wrote into a sentence
    /// naming the vault and the row.
    fn explain(&self, err: rusqlite::Error) -> anyhow::Error {
        if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &err
            && let Some(bad) = inner.downcast_ref::<BadRow>()
        {
            return Error::Corrupt {
                path: self.path.display().to_string(),
                row: bad.row.clone(),
                problem: bad.problem.clone(),
            }
            .into();
        }
        err.into()
    }

    fn corrupt(&self, row: String, problem: impl Into<String>) -> anyhow::Error {
        Error::Corrupt {
            path: self.path.display().to_string(),
            row,
            problem: problem.into(),
        }
        .into()
    }
}

/// A stored value that is not what keyward wrote, carried out of a row
/// conversion to [`Sql::explain`].
#[derive(Debug)]
struct BadRow {
    row: String,
    problem: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.row, self.problem)
    }
}

impl std::error::Error for BadRow {}

/// Column `i` of a row about `row` ("key key_…", "event 7"): a value of
/// the wrong type, or a time keyward could never have written, is a
/// [`BadRow`] naming the row and the column.
fn column<T: rusqlite::types::FromSql>(
    r: &rusqlite::Row<'_>,
    i: usize,
    row: &str,
) -> rusqlite::Result<T> {
    r.get(i).map_err(|e| match e {
        rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => bad_column(r, i, row),
        other => other,
    })
}

/// A time column (seconds since the epoch), checked to be a time.
fn time_column(r: &rusqlite::Row<'_>, i: usize, row: &str) -> rusqlite::Result<Option<Timestamp>> {
    match column::<Option<i64>>(r, i, row)? {
        None => Ok(None),
        Some(secs) => Timestamp::checked_from_unix(secs)
            .map(Some)
            .ok_or_else(|| bad_column(r, i, row)),
    }
}

fn bad_column(r: &rusqlite::Row<'_>, i: usize, row: &str) -> rusqlite::Error {
    let name = r.as_ref().column_name(i).unwrap_or("a column").to_string();
    bad_row(
        i,
        row.to_string(),
        format!("its {name} holds a value keyward never writes"),
    )
}

fn bad_row(column: usize, row: String, problem: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        Box::new(BadRow {
            row,
            problem: problem.into(),
        }),
    )
}

impl Sqlite {
    /// Opens the vault at `path`. Only a regular file with one link is a
    /// vault. [`Access::Create`] creates it (file 0600, new directories
    /// 0700); [`Access::Read`] never writes to anything that is not
    /// already a keyward vault, and reads a vault it cannot write.
    pub fn open(path: &Path, access: Access) -> Result<Self> {
        Self::open_reporting(path, access).map(|(vault, _)| vault)
    }

    /// As [`open`](Self::open), and whether this call created the vault
    /// (its schema, in a new or empty file): exactly one of several
    /// processes that start on a missing vault at once.
    pub fn open_reporting(path: &Path, access: Access) -> Result<(Self, bool)> {
        Self::open_waiting(path, access, REPLACED_WAIT)
    }

    /// [`Sqlite::open`], waiting at most `wait` for a process that still
    /// uses a replaced file's `-wal`/`-shm` to let go of them. Never opens
    /// the file now at the path together with another file's.
    pub fn open_waiting(path: &Path, access: Access, wait: Duration) -> Result<(Self, bool)> {
        let started = std::time::Instant::now();
        loop {
            check_file(path, access)?;
            if let Some(stale) = replaced::stale_index_holder(path) {
                let pid = stale.pid;
                if pid != std::process::id()
                    && let Some(aside) = replaced::move_aside(path, &stale)
                {
                    eprintln!(
                        "keyward: {} was replaced while process {pid} still had the old file \
                         open; the old file's log is now {} and the new file starts with its own",
                        keyward_core::store::shown_path(path),
                        keyward_core::store::shown_path(&aside)
                    );
                    continue;
                }
                if started.elapsed() < wait {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let holder = if pid == std::process::id() {
                    format!("this process (pid {pid})")
                } else {
                    format!("process {pid}")
                };
                return Err(Error::VaultReplaced {
                    path: path.display().to_string(),
                    holder,
                }
                .into());
            }
            // A log without its index is what the last process out leaves
            // for a moment while it removes both (the index first): wait
            // for it to finish rather than read the log into a new index.
            if replaced::log_without_index(path) && started.elapsed() < LOG_ALONE_WAIT {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let before = replaced::identity(path);
            let (mut vault, created) = match Self::open_once(path, access) {
                Ok(opened) => opened,
                // Replaced while it was being opened (SQLite may then have
                // read one file through the other's index): again.
                Err(_) if replaced::identity(path) != before && started.elapsed() < wait => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(db) = before
                && replaced::identity(path) == before
            {
                vault.file = before;
                if !vault.immutable {
                    vault.conn.held = Some(Held {
                        db,
                        wal: replaced::identity(&replaced::wal_path(path)),
                        shm: replaced::identity(&replaced::shm_path(path)),
                    });
                }
                return Ok((vault, created));
            }
            // Replaced while it was being opened: the connection may have
            // paired the new file with the old one's index, so it closes
            // without the checkpoint that would write one into the other.
            let _ = vault.conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            );
            drop(vault);
            if started.elapsed() >= wait {
                return Err(Error::VaultReplacedMidWrite(path.display().to_string()).into());
            }
        }
    }

    fn open_once(path: &Path, access: Access) -> Result<(Self, bool)> {
        check_file(path, access)?;
        // A reader that cannot write the file must not make the -wal and
        // -shm files either: SQLite would give them the file's read-only
        // mode, and every later writer would fail on them.
        let immutable = access == Access::Read && !writable(path) && !has_wal(path);
        let conn = if immutable {
            open_immutable(path)?
        } else {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            Connection::open_with_flags(path, flags)
                .with_context(|| format!("cannot open {}", path.display()))?
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mut vault = Sql {
            conn: Owned::new(conn, path),
            path: path.to_path_buf(),
            file: None,
            access,
            immutable,
        };
        let found = match schema::inspect(vault.c()) {
            Ok(found) => found,
            Err(e) if access == Access::Read && cannot_share_memory(&e) && !has_wal(path) => {
                vault.conn = Owned::new(open_immutable(path)?, path);
                vault.immutable = true;
                schema::inspect(vault.c()).map_err(|e| vault.explain_open(e))?
            }
            Err(e) => return Err(read_only(path, vault.explain_open(e))),
        };
        let created = vault
            .prepare(found, access)
            .map_err(|e| read_only(path, vault.explain_open(e)))?;
        Ok((vault, created))
    }

    /// Brings the schema up to date where that is allowed, and sets the
    /// connection's pragmas. Returns whether it created the schema.
    fn prepare(&mut self, found: schema::Found, access: Access) -> Result<bool> {
        if let Some(refusal) = found.refusal(&self.path.display().to_string(), schema::CURRENT) {
            return Err(refusal.into());
        }
        match found {
            // Refused above.
            schema::Found::Foreign(_) | schema::Found::Newer(_) => {}
            schema::Found::Empty if access != Access::Create => {
                return Err(not_a_vault(
                    &self.path,
                    "it holds no keyward data (an empty file or an empty database)",
                )
                .into());
            }
            schema::Found::Older(_) if self.read_only() => {
                return Err(Error::VaultNeedsUpgrade(self.path.display().to_string()).into());
            }
            schema::Found::Current => {}
            schema::Found::Empty => {
                // An empty file someone else made (`copy --to` one) becomes
                // as private as a new vault, before its -wal and -shm exist.
                fs::set_permissions(&self.path, fs::Permissions::from_mode(0o600)).with_context(
                    || format!("cannot make {} private (mode 0600)", self.path.display()),
                )?;
                enable_wal(self.c())?;
            }
            schema::Found::Older(_) => enable_wal(self.c())?,
        }
        if !self.read_only() {
            self.c().pragma_update(None, "synchronous", "FULL")?;
            self.c().pragma_update(None, "foreign_keys", "ON")?;
        }
        // Reads map the file rather than copy pages through read(2): a lookup
        // in a large vault then costs page-table hits instead of syscalls.
        self.c().pragma_update(None, "mmap_size", MMAP_SIZE)?;
        let mut created = false;
        if found != schema::Found::Current {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            // Under the lock: another process may have created it meanwhile.
            created = tx.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? == 0;
            schema::migrate(&tx)?;
            tx.commit()?;
            self.settle_log();
        }
        Ok(created)
    }

    /// Whether this connection reads the file as it was when opened.
    pub(crate) fn immutable(&self) -> bool {
        self.immutable
    }

    fn read_only(&self) -> bool {
        self.c().is_readonly(MAIN_DB).unwrap_or(true)
    }

    /// Turns SQLite's "not a database" and "malformed" into a sentence naming the file.
    fn explain_open(&self, err: anyhow::Error) -> anyhow::Error {
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

    /// The connection, for the query-plan and tamper tests.
    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Sqlite {
    /// A write transaction: `BEGIN IMMEDIATE`, waiting for other writers up
    /// to the busy timeout.
    ///
    /// A vault file replaced since it was opened is let go of and the file
    /// now at the path opened instead, so that the write lands in the vault
    /// the path names, never in a file nobody will read again.
    fn immediate(&mut self) -> Result<(Transaction<'_>, Option<replaced::FileId>)> {
        if self.read_only() {
            return Err(Error::VaultReadOnly(self.path.display().to_string()).into());
        }
        let path = self.path.clone();
        for _ in 0..3 {
            if self.still_at_path() {
                break;
            }
            // The old connection goes first, so that this process holds
            // nothing of the old file when the new one is opened.
            self.conn = Owned::new(Connection::open_in_memory()?, &path);
            *self = Sqlite::open(&path, self.access)?;
        }
        let file = self.file;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| read_only(&path, anyhow::Error::new(e)))
            .context("cannot start a write transaction on the vault")?;
        // Replaced between the look and the lock: nothing was done yet.
        if file.is_some() && replaced::identity(&path) != file {
            return Err(Error::VaultReplacedMidWrite(path.display().to_string()).into());
        }
        Ok((tx, file))
    }
}

impl Store for Sqlite {
    fn begin(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        let path = self.path.clone();
        let access = self.access;
        let (tx, file) = self.immediate()?;
        Ok(Box::new(Sql {
            conn: tx,
            path,
            file,
            access,
            immutable: false,
        }))
    }

    fn dump(
        &self,
        rows: usize,
        each: &mut dyn FnMut(keyward_core::store::Dump) -> Result<()>,
    ) -> Result<()> {
        self.dump_all(rows, each)
    }

    fn each_key(
        &self,
        env: Option<&Env>,
        passes: &mut [&mut keyward_core::store::KeyPass<'_>],
    ) -> Result<()> {
        // One read transaction: every pass sees the same snapshot.
        let tx = self.c().unchecked_transaction()?;
        for pass in passes {
            self.stream_keys(env, &mut **pass)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn unmapped(&self) -> Result<()> {
        self.c().pragma_update(None, "mmap_size", 0)?;
        Ok(())
    }

    fn record_usage(&mut self, batch: &keyward_core::store::UsageBatch) -> Result<()> {
        let path = self.path.clone();
        let (tx, file) = self.immediate()?;
        usage::record(&tx, batch)?;
        if file.is_some() && replaced::identity(&path) != file {
            return Err(Error::VaultReplacedMidWrite(path.display().to_string()).into());
        }
        tx.commit()?;
        self.settle_log();
        Ok(())
    }

    fn settle(&mut self) {
        self.settle_log();
    }

    fn replaced(&self) -> bool {
        !self.still_at_path()
    }

    fn touch(&mut self, id: &KeyId, now: Timestamp) -> Result<bool> {
        if self.read_only() || !self.still_at_path() {
            return Ok(false);
        }
        self.conn.busy_timeout(TOUCH_TIMEOUT)?;
        let result = self
            .conn
            .prepare_cached(
                "UPDATE keys SET last_used_at = ?1 WHERE id = ?2
                 AND (last_used_at IS NULL OR last_used_at <= ?1 - ?3)",
            )
            .and_then(|mut s| {
                s.execute(rusqlite::params![
                    now.unix(),
                    id.as_str(),
                    LAST_USED_RESOLUTION
                ])
            });
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        match result {
            Ok(changed) => {
                if changed > 0 {
                    self.settle_log();
                }
                Ok(changed > 0)
            }
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::ReadOnly)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Sqlite {
    /// Empties the write-ahead log into the vault file (a TRUNCATE
    /// checkpoint) when no other connection is reading or writing, waiting
    /// [`SETTLE_TIMEOUT`] at most. A vault at rest then has an empty log,
    /// so a log left at the path by a process that had the file open when
    /// it was replaced (SQLite leaves it there when the file has moved)
    /// holds nothing to read into the new file. Best effort: the next
    /// writer tries again.
    fn settle_log(&self) {
        if self.immutable || self.read_only() {
            return;
        }
        empty_log(self.c());
    }

    /// [`Sqlite::settle_log`] when the log holds anything (serve's watch
    /// thread: a write that overlapped a reader left it full).
    pub(crate) fn settle_log_if_full(&self) {
        if fs::metadata(replaced::wal_path(&self.path)).is_ok_and(|m| m.len() > 0) {
            self.settle_log();
        }
    }

    /// Everything, read in one transaction so that it is one snapshot,
    /// a chunk of `rows` rows at a time.
    fn dump_all(
        &self,
        rows: usize,
        each: &mut dyn FnMut(keyward_core::store::Dump) -> Result<()>,
    ) -> Result<()> {
        use keyward_core::store::Dump;
        let tx = self.c().unchecked_transaction()?;
        let mut settings = Vec::new();
        let mut stmt = tx.prepare("SELECT name, value FROM settings ORDER BY name")?;
        let found = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in found {
            let (name, value) = row?;
            if let Ok(setting) = name.parse::<Setting>() {
                settings.push((setting, value));
            }
        }
        each(Dump {
            settings,
            ..Dump::default()
        })?;
        let explain = |e| self.explain(e);
        chunks(
            &tx,
            keys::KEYS_WITH_HASHES,
            rows,
            |r| keys::key_and_hash_from_row(r).map_err(explain),
            &mut |keys| {
                each(Dump {
                    keys,
                    ..Dump::default()
                })
            },
        )?;
        chunks(
            &tx,
            events::DUMP,
            rows,
            |r| events::dumped_from_row(r).map_err(explain),
            &mut |events| {
                each(Dump {
                    events,
                    ..Dump::default()
                })
            },
        )?;
        chunks(
            &tx,
            usage::DUMP,
            rows,
            |r| usage::checked(self, usage::raw(r).map_err(explain)?),
            &mut |usage| {
                each(Dump {
                    usage,
                    ..Dump::default()
                })
            },
        )?;
        Ok(())
    }
}

/// The rows `sql` selects, read one at a time and handed to `each` in
/// chunks of at most `size` (never an empty one).
fn chunks<T>(
    conn: &Connection,
    sql: &str,
    size: usize,
    read: impl Fn(&rusqlite::Row<'_>) -> Result<T>,
    each: &mut dyn FnMut(Vec<T>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut chunk = Vec::with_capacity(size);
    while let Some(r) = rows.next()? {
        chunk.push(read(r)?);
        if chunk.len() >= size {
            each(std::mem::replace(&mut chunk, Vec::with_capacity(size)))?;
        }
    }
    if !chunk.is_empty() {
        each(chunk)?;
    }
    Ok(())
}

impl WriteTx for SqliteTx<'_> {
    fn insert_key(&self, key: &keyward_core::key::Key, secret_hash: &[u8; 32]) -> Result<()> {
        keys::insert(self.c(), key, secret_hash)
    }

    fn update_key(&self, key: &keyward_core::key::Key) -> Result<()> {
        keys::update(self.c(), key)
    }

    fn put_setting(&self, setting: Setting, value: &str) -> Result<()> {
        self.c().execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (setting.as_str(), value),
        )?;
        Ok(())
    }

    fn insert_event(&self, event: &keyward_core::store::StoredEvent<'_>) -> Result<()> {
        events::insert(self.c(), event)
    }

    fn add_usage(
        &self,
        id: &keyward_core::key::KeyId,
        u: &keyward_core::store::DailyUsage,
    ) -> Result<()> {
        usage::add(self.c(), id, u)
    }

    fn put_quota(
        &self,
        id: &keyward_core::key::KeyId,
        q: &keyward_core::quota::Quota,
    ) -> Result<()> {
        quotas::put(self.c(), id, q)
    }

    fn add_quota_use(
        &self,
        id: &keyward_core::key::KeyId,
        name: &str,
        slot: i64,
        n: u64,
    ) -> Result<()> {
        quotas::add_use(self.c(), id, name, slot, n)
    }

    fn take_back_quota_use(
        &self,
        id: &keyward_core::key::KeyId,
        name: &str,
        slot: i64,
        n: u64,
    ) -> Result<()> {
        quotas::take_back_use(self.c(), id, name, slot, n)
    }

    fn forget_quota_use(
        &self,
        id: &keyward_core::key::KeyId,
        name: &str,
        before: i64,
    ) -> Result<()> {
        quotas::forget_use(self.c(), id, name, before)
    }

    /// Keys go in with their links set only once both ends are there:
    /// while any deferred foreign key is unresolved, SQLite checks every
    /// new key against the whole table (no index on the links), which
    /// makes a large copy quadratic. A link to a key still to come waits
    /// in a temporary table, for that key or for the commit.
    fn load(&self, part: &keyward_core::store::Dump) -> Result<()> {
        let c = self.c();
        for (setting, value) in &part.settings {
            self.put_setting(*setting, value)?;
        }
        if !part.keys.is_empty() {
            c.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS copy_links \
                 (source TEXT PRIMARY KEY, target TEXT NOT NULL); \
                 CREATE INDEX IF NOT EXISTS temp.copy_links_by_target ON copy_links (target);",
            )?;
        }
        let link = |source: &str, target: &str| -> Result<()> {
            c.prepare_cached("UPDATE keys SET rotated_to = ?2 WHERE id = ?1")?
                .execute((source, target))?;
            Ok(())
        };
        for (key, hash) in &part.keys {
            let unlinked = keyward_core::key::Key {
                rotated_to: None,
                ..key.clone()
            };
            keys::insert(c, &unlinked, hash)?;
            let id = key.id.as_str();
            if let Some(target) = &key.rotated_to {
                let there = c
                    .prepare_cached("SELECT 1 FROM keys WHERE id = ?1")?
                    .exists([target.as_str()])?;
                if there {
                    link(id, target.as_str())?;
                } else {
                    c.prepare_cached(
                        "INSERT INTO temp.copy_links (source, target) VALUES (?1, ?2)",
                    )?
                    .execute((id, target.as_str()))?;
                }
            }
            let waiting: Vec<String> = c
                .prepare_cached("DELETE FROM temp.copy_links WHERE target = ?1 RETURNING source")?
                .query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for source in waiting {
                link(&source, id)?;
            }
        }
        for event in &part.events {
            events::insert(c, &event.stored())?;
        }
        for (id, usage) in &part.usage {
            usage::add(c, id, usage)?;
        }
        keyward_core::store::put_quotas(self, part)?;
        Ok(())
    }

    fn is_empty(&self) -> Result<bool> {
        Ok(self.c().query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM keys) AND NOT EXISTS (SELECT 1 FROM events) \
             AND NOT EXISTS (SELECT 1 FROM settings)",
            [],
            |r| r.get(0),
        )?)
    }

    fn defer_checks(&self) -> Result<()> {
        self.c().pragma_update(None, "defer_foreign_keys", "ON")?;
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        // Replaced while the change was being made: it would be committed
        // to a file the path no longer names. Rolled back (on drop) instead.
        if !self.still_at_path() {
            return Err(Error::VaultReplacedMidWrite(self.path.display().to_string()).into());
        }
        // Links still waiting name a key that never came: set them, for
        // the foreign key check to refuse the commit.
        let loaded: bool = self.c().query_row(
            "SELECT EXISTS (SELECT 1 FROM temp.sqlite_master WHERE name = 'copy_links')",
            [],
            |r| r.get(0),
        )?;
        if loaded {
            self.c().execute_batch(
                "UPDATE keys SET rotated_to = \
                 (SELECT target FROM temp.copy_links WHERE source = keys.id) \
                 WHERE id IN (SELECT source FROM temp.copy_links); \
                 DROP TABLE temp.copy_links;",
            )?;
        }
        let path = self.path;
        self.conn
            .commit()
            .map_err(|e| read_only(&path, anyhow::Error::new(e)))
            .context("cannot commit the change to the vault")
    }
}

impl<C: Conn> Sql<C> {
    fn read_settings(&self, skip: Option<Setting>) -> Result<Settings> {
        let get = |name: &str| -> Result<Option<String>> {
            self.c()
                .prepare_cached("SELECT value FROM settings WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()
                .map_err(|e| self.explain(e))
        };
        let mut settings = Settings::default();
        for setting in Setting::ALL.into_iter().filter(|s| Some(*s) != skip) {
            if let Some(value) = get(setting.as_str())? {
                settings.set(setting, &value).map_err(|_| {
                    self.corrupt(
                        format!("setting {setting}"),
                        format!(
                            "'{}' is not a valid value (set it again with `keyward config set {setting} VALUE`)",
                            keyward_core::shown::quote(&value)
                        ),
                    )
                })?;
            }
        }
        Ok(settings)
    }
}

/// The file checks SQLite cannot make: what kind of file it is, how many
/// names it has, and creating it with the right permissions.
fn check_file(path: &Path, access: Access) -> Result<()> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return match access {
                Access::Read | Access::Write => {
                    Err(Error::VaultMissing(path.display().to_string()).into())
                }
                Access::Create => create_file(path),
            };
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let kind = meta.file_type();
    let not_regular = if kind.is_dir() {
        Some("it is a directory")
    } else if kind.is_fifo() {
        Some("it is a FIFO (only regular files are vaults)")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("it is a device (only regular files are vaults)")
    } else if kind.is_socket() {
        Some("it is a socket (only regular files are vaults)")
    } else {
        None
    };
    if let Some(reason) = not_regular {
        return Err(not_a_vault(path, reason).into());
    }
    if meta.nlink() > 1 {
        return Err(Error::VaultLinked {
            path: path.display().to_string(),
            links: meta.nlink(),
        }
        .into());
    }
    Ok(())
}

/// A TRUNCATE checkpoint, waiting [`SETTLE_TIMEOUT`] at most for readers
/// and writers; best effort.
fn empty_log(c: &Connection) {
    let _ = c.busy_timeout(SETTLE_TIMEOUT);
    let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    let _ = c.busy_timeout(BUSY_TIMEOUT);
}

/// SQLite answers a read of a WAL vault whose directory it cannot write
/// (so that it cannot make the shared-memory file) with READONLY_CANTINIT
/// or CANTOPEN.
fn cannot_share_memory(err: &anyhow::Error) -> bool {
    err.downcast_ref::<rusqlite::Error>()
        .and_then(rusqlite::Error::sqlite_error_code)
        .is_some_and(|c| matches!(c, ErrorCode::ReadOnly | ErrorCode::CannotOpen))
}

/// Whether this process may write the file (permissions, read-only mount).
/// Opening it for writing changes nothing.
/// Whether this user may write the file, asked without opening it: closing
/// any descriptor of a file drops every POSIX lock this process holds on it,
/// including those of open SQLite connections (serve keeps several), which
/// would let another process delete the WAL files under them.
fn writable(path: &Path) -> bool {
    rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok()
}

/// Whether the vault has a write-ahead log with content: then the main file
/// alone is not the whole vault, and it cannot be read as immutable.
fn has_wal(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

/// Opens a vault that this user cannot write as immutable: SQLite then
/// needs no shared-memory file and creates none. The write-ahead log is
/// empty, so the main file holds the whole vault.
fn open_immutable(path: &Path) -> Result<Connection> {
    let uri = format!("file:{}?immutable=1", uri_path(path));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    Connection::open_with_flags(uri, flags)
        .with_context(|| format!("cannot open {} for reading", path.display()))
}

/// A path as a URI path: everything but unreserved characters and `/`
/// percent-encoded.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    abs.as_os_str()
        .as_bytes()
        .iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
    let code = err
        .chain()
        .filter_map(|e| e.downcast_ref::<rusqlite::Error>())
        .find_map(rusqlite::Error::sqlite_error_code);
    match code {
        Some(ErrorCode::ReadOnly) => Error::VaultReadOnly(path.display().to_string()).into(),
        // The busy handler waited BUSY_TIMEOUT for the write lock.
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::VaultBusy {
            path: path.display().to_string(),
            secs: BUSY_TIMEOUT.as_secs(),
        }
        .into(),
        _ => err,
    }
}

fn not_a_vault(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotAVault {
        path: path.display().to_string(),
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
        // A symbolic link to a file not there yet: the file is made where
        // the link points (O_CREAT without O_EXCL follows it).
        Err(e) if e.kind() == ErrorKind::AlreadyExists && fs::metadata(path).is_err() => {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create the vault {}", path.display()))?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot set the permissions of {}", path.display()))
        }
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
