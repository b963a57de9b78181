//! The SQLite engine: one file holding keys, events and settings. This
//! module owns opening it (permissions, pragmas, refusing what is not ours,
//! reading a read-only vault) and is, with its siblings, the only place in
//! keyward with SQLite's SQL.

mod events;
mod keys;
mod plans;
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

use super::{Access, Store, WriteTx};
use crate::error::{Error, Result};
use crate::key::KeyId;
use crate::settings::{Setting, Settings};
use crate::when::Timestamp;

pub use schema::CURRENT as SCHEMA_VERSION;

/// How much of the vault file reads may map into memory.
const MMAP_SIZE: i64 = 1 << 30;

/// How long a writer waits for another writer before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long recording last-used may wait for another writer: it never
/// delays a verdict by more than this.
const TOUCH_TIMEOUT: Duration = Duration::from_millis(5);

/// Minimum seconds between two last-used writes for one key.
pub const LAST_USED_RESOLUTION: i64 = 60;

/// A connection, or a transaction on one: [`Read`] works on both.
pub trait Conn {
    fn conn(&self) -> &Connection;
}

impl Conn for Connection {
    fn conn(&self) -> &Connection {
        self
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
    /// Opened with `immutable=1`: SQLite then assumes the file never
    /// changes, so such a connection must not be kept for later reads.
    immutable: bool,
}

pub type Sqlite = Sql<Connection>;
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
            conn,
            path: path.to_path_buf(),
            immutable,
        };
        let found = match schema::inspect(vault.c()) {
            Ok(found) => found,
            Err(e) if access == Access::Read && cannot_share_memory(&e) && !has_wal(path) => {
                vault.conn = open_immutable(path)?;
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
        match found {
            schema::Found::Foreign(reason) => return Err(not_a_vault(&self.path, reason).into()),
            schema::Found::Newer(version) => {
                return Err(Error::VaultTooNew {
                    path: self.path.display().to_string(),
                    found: version,
                    known: schema::CURRENT,
                }
                .into());
            }
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
    fn immediate(&mut self) -> Result<Transaction<'_>> {
        if self.read_only() {
            return Err(Error::VaultReadOnly(self.path.display().to_string()).into());
        }
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| read_only(&path, anyhow::Error::new(e)))
            .context("cannot start a write transaction on the vault")
    }
}

impl Store for Sqlite {
    fn begin(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        let path = self.path.clone();
        let tx = self.immediate()?;
        Ok(Box::new(Sql {
            conn: tx,
            path,
            immutable: false,
        }))
    }

    fn dump(&self) -> Result<super::Dump> {
        self.dump_all()
    }

    fn record_usage(&mut self, batch: &super::UsageBatch) -> Result<()> {
        let tx = self.immediate()?;
        usage::record(&tx, batch)?;
        tx.commit()?;
        Ok(())
    }

    fn touch(&mut self, id: &KeyId, now: Timestamp) -> Result<bool> {
        if self.read_only() {
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
            Ok(changed) => Ok(changed > 0),
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
    /// Everything, read in one transaction so that it is one snapshot.
    fn dump_all(&self) -> Result<super::Dump> {
        let tx = self.c().unchecked_transaction()?;
        let mut dump = super::Dump::default();
        let mut stmt = tx.prepare("SELECT name, value FROM settings ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (name, value) = row?;
            if let Ok(setting) = name.parse::<Setting>() {
                dump.settings.push((setting, value));
            }
        }
        let keys = tx
            .prepare(keys::KEYS_WITH_HASHES)
            .and_then(|mut s| {
                s.query_map([], keys::key_and_hash_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| self.explain(e))?;
        dump.keys = keys;
        dump.events = events::dump(&tx)?;
        dump.usage = usage::dump(self)?;
        Ok(dump)
    }
}

impl WriteTx for SqliteTx<'_> {
    fn insert_key(&self, key: &crate::key::Key, secret_hash: &[u8; 32]) -> Result<()> {
        keys::insert(self.c(), key, secret_hash)
    }

    fn update_key(&self, key: &crate::key::Key) -> Result<()> {
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

    fn insert_event(&self, event: &super::StoredEvent<'_>) -> Result<()> {
        events::insert(self.c(), event)
    }

    fn add_usage(&self, id: &crate::key::KeyId, u: &super::DailyUsage) -> Result<()> {
        usage::add(self.c(), id, u)
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
                            crate::text::quote(&value)
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
    let is_read_only = err
        .chain()
        .filter_map(|e| e.downcast_ref::<rusqlite::Error>())
        .any(|e| e.sqlite_error_code() == Some(ErrorCode::ReadOnly));
    if is_read_only {
        Error::VaultReadOnly(path.display().to_string()).into()
    } else {
        err
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
