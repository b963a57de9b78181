//! The storage contract: what the key rules ([`crate::intents`]) and the
//! commands need from a vault, with no SQL and no engine type in sight.
//! Each engine (today [`sqlite`]) implements it in its own folder, with its
//! own schema and migrations.
//!
//! A [`WriteTx`] is one transaction that holds the vault's write lock from
//! [`Store::begin`] to [`WriteTx::commit`]: every check made through it and
//! every write it does see no other writer in between. Dropping it without
//! committing leaves nothing behind.

pub mod memory;
pub mod postgres;
pub mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::Result;
use crate::event::{Event, EventKind, Head};
use crate::key::{Brief, Key, KeyId};
use crate::settings::{Setting, Settings};
use crate::text::{Actor, Env};
use crate::when::Timestamp;

/// Where a vault is: a SQLite file, or the schema `keyward` of a
/// PostgreSQL database (a `postgres://` or `postgresql://` URL, or a libpq
/// `key=value` string).
#[derive(Debug, Clone)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(Box<postgres::PgUrl>),
}

impl Location {
    /// The location a `--vault` value or `$KEYWARD_VAULT` names.
    pub fn parse(raw: PathBuf) -> Result<Self> {
        refuse_lookalike(&raw.to_string_lossy())?;
        match raw.to_str() {
            Some(text) if postgres::names_postgres(text) => {
                let pgpass = std::env::var_os("PGPASSFILE")
                    .map(PathBuf::from)
                    .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")));
                Ok(Location::Postgres(Box::new(postgres::PgUrl::parse(
                    text,
                    pgpass.as_deref(),
                )?)))
            }
            _ => Ok(Location::Sqlite(raw)),
        }
    }

    /// The location as messages show it: a path (with anything shaped like
    /// a secret as its hint, hidden characters escaped), or a URL without
    /// password.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => shown_path(path),
            Location::Postgres(url) => url.shown().to_string(),
        }
    }

    pub fn engine(&self) -> &'static str {
        match self {
            Location::Sqlite(_) => "sqlite",
            Location::Postgres(_) => "postgres",
        }
    }
}

/// A SQLite path as messages show it: anything in it shaped like a secret
/// as its hint, and hidden characters escaped.
pub fn shown_path(path: &std::path::Path) -> String {
    crate::text::escape(&crate::secret::mask(&path.display().to_string()))
}

/// Refuses a location that would otherwise be taken for a SQLite file name
/// although it is plainly none, most often a PostgreSQL location written
/// another way, with its password in it: quotes or blanks around it (as
/// docker's `--env-file` keeps them), a `://` that is not where a
/// `postgres://` URL has it, or a `password=`. The message says what looks
/// wrong and never quotes the location.
fn refuse_lookalike(text: &str) -> Result<()> {
    let quote = |c: char| matches!(c, '"' | '\'' | '`');
    let edge = |c: char| c.is_whitespace() || quote(c);
    // A key=value string may end with a quoted value: `password='a b'`.
    let conninfo = postgres::url::looks_like_conninfo(text);
    let why = if text.starts_with(edge)
        || text.ends_with(char::is_whitespace)
        || (text.ends_with(quote) && !conninfo)
    {
        "the vault location starts or ends with a quote or a blank: give it without them \
         (docker --env-file and systemd's EnvironmentFile keep quotes as they are)"
    } else if postgres::names_postgres(text) {
        return Ok(());
    } else if text.contains("://") {
        "the vault location holds :// but is no postgres:// or postgresql:// URL, the only \
         URLs keyward reads (a JDBC URL is written without its jdbc: for libpq)"
    } else if holds_password(text) {
        "the vault location holds password=, so it is no file name: a libpq key=value string \
         starts with an option (host=…, dbname=…), a URL with postgres://, and nothing \
         comes before either"
    } else {
        return Ok(());
    };
    Err(crate::error::Error::usage(why.to_string()).into())
}

/// Whether `text` has `password` in any letter case, then `=` (blanks
/// between allowed).
fn holds_password(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.match_indices("password").any(|(at, word)| {
        lower[at + word.len()..]
            .trim_start_matches(char::is_whitespace)
            .starts_with('=')
    })
}

/// Whether opening may create the vault, and whether it will be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read commands and `verify`: never create, convert or migrate
    /// anything that is not already a keyward vault; a read-only vault is
    /// fine.
    Read,
    /// Commands that change an existing vault.
    Write,
    /// `create` and `config set`: create the vault when it does not exist.
    Create,
}

/// Which events to read. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Events about this key, or naming it as the related key.
    pub key_id: Option<KeyId>,
    pub env: Option<Env>,
    pub kinds: Vec<EventKind>,
    pub actor: Option<Actor>,
    pub since: Option<Timestamp>,
    /// Only events older than this id (the next page after it).
    pub before_id: Option<i64>,
    pub limit: usize,
}

/// An event with its place in the chain, as it is stored.
#[derive(Debug, Clone)]
pub struct StoredEvent<'a> {
    pub id: i64,
    pub at: Timestamp,
    pub kind: EventKind,
    pub key_id: Option<&'a str>,
    pub related_key_id: Option<&'a str>,
    pub env: Option<&'a str>,
    pub actor: &'a str,
    pub details: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

/// A part of a vault, as `copy` moves it between engines a chunk at a
/// time: settings, keys with their secrets' hashes, events with their
/// stored hashes, and serve's usage counts.
#[derive(Debug, Default)]
pub struct Dump {
    pub settings: Vec<(Setting, String)>,
    pub keys: Vec<(Key, [u8; 32])>,
    pub events: Vec<DumpedEvent>,
    pub usage: Vec<(KeyId, DailyUsage)>,
}

/// How often one key was verified on one UTC day, by outcome: `valid`, or
/// refused (expired, revoked, missing a scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyUsage {
    pub day: time::Date,
    pub valid: u64,
    pub invalid: u64,
}

/// What `serve` has counted since its last flush: counts to add, and the
/// newest use of each key that verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageBatch {
    pub counts: Vec<(KeyId, DailyUsage)>,
    pub last_used: Vec<(KeyId, Timestamp)>,
}

impl UsageBatch {
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.last_used.is_empty()
    }
}

/// A day as the vaults store it: `YYYY-MM-DD`.
pub(crate) fn day_text(day: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

pub(crate) fn parse_day(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok()
}

/// An event as stored, owned.
#[derive(Debug, Clone)]
pub struct DumpedEvent {
    pub id: i64,
    pub at: Timestamp,
    pub kind: EventKind,
    pub key_id: Option<String>,
    pub related_key_id: Option<String>,
    pub env: Option<String>,
    pub actor: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl DumpedEvent {
    pub fn stored(&self) -> StoredEvent<'_> {
        StoredEvent {
            id: self.id,
            at: self.at,
            kind: self.kind,
            key_id: self.key_id.as_deref(),
            related_key_id: self.related_key_id.as_deref(),
            env: self.env.as_deref(),
            actor: &self.actor,
            details: &self.details,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

/// One pass over keys read one at a time (see [`Store::each_key`]).
pub type KeyPass<'a> = dyn FnMut(Key) -> Result<()> + 'a;

/// What every engine answers, inside a write transaction or outside one.
pub trait Read {
    fn key(&self, id: &KeyId) -> Result<Option<Key>>;
    /// At most a few keys whose id starts with `prefix`.
    fn keys_by_id_prefix(&self, prefix: &str) -> Result<Vec<Key>>;
    /// The keys of `env` named `name` that are neither rotated nor revoked
    /// (possibly expired: the caller judges at its `now`).
    fn current_by_name(&self, env: &Env, name: &str) -> Result<Vec<Key>>;
    /// The newest keys of `env` named `name`, whatever their status.
    fn keys_named(&self, env: &Env, name: &str) -> Result<Vec<Key>>;
    /// The environments that have keys, in order.
    fn envs(&self) -> Result<Vec<Env>>;
    /// Every key, or those of one environment, oldest first.
    fn keys(&self, env: Option<&Env>) -> Result<Vec<Key>>;
    /// Keys that may hold a scope with a comma or whitespace inside (stored
    /// by an older keyward): at least every such key, perhaps more, for the
    /// caller to check with [`Scope::is_token`](crate::text::Scope::is_token).
    /// The engines narrow it in SQL, so that serve's check at start does
    /// not load a large vault.
    fn keys_with_loose_scopes(&self) -> Result<Vec<Key>> {
        self.keys(None)
    }
    /// The keys of `env` that are active at `now` (they count against max-keys).
    fn active_in_env(&self, env: &Env, now: Timestamp) -> Result<Vec<Key>>;
    /// The key whose secret has this SHA-256, whatever its status.
    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Key>>;
    fn settings(&self) -> Result<Settings> {
        self.settings_but(None)
    }
    /// The settings, with `skip` (if any) left at its default whatever is
    /// stored: how `config set` repairs a stored value that is corrupt.
    fn settings_but(&self, skip: Option<Setting>) -> Result<Settings>;
    /// The newest event, if any.
    fn head(&self) -> Result<Option<Head>>;
    /// The stored hash of event `id`, if the log holds it.
    fn event_hash(&self, id: i64) -> Result<Option<String>>;
    /// A page of the log, newest first.
    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>>;
    /// Walks the whole chain, oldest first: how many events it holds, or
    /// the first event whose link or hash does not hold.
    fn verify_chain(&self) -> Result<u64>;
    /// A key's usage counts from `since` on, oldest day first.
    fn usage(&self, id: &KeyId, since: time::Date) -> Result<Vec<DailyUsage>>;
}

/// One write transaction holding the vault's write lock.
pub trait WriteTx: Read {
    /// Stores a key with every field but `rotated_to` (set by
    /// [`update_key`](Self::update_key) once its successor exists).
    fn insert_key(&self, key: &Key, secret_hash: &[u8; 32]) -> Result<()>;
    /// Writes the fields that change after creation: expiry, own expiry,
    /// rotated to, default flag, revocation, name, scopes, note.
    fn update_key(&self, key: &Key) -> Result<()>;
    fn put_setting(&self, setting: Setting, value: &str) -> Result<()>;
    /// Adds counts to a key's usage on a day.
    fn add_usage(&self, id: &KeyId, usage: &DailyUsage) -> Result<()>;
    fn insert_event(&self, event: &StoredEvent<'_>) -> Result<()>;
    /// Writes a chunk of a copied vault, after [`defer_checks`](Self::defer_checks):
    /// keys as they were (a key's `rotated_to` may name one of a later
    /// chunk), events and counts as stored. Engines with a bulk path
    /// (PostgreSQL's COPY) override it.
    fn load(&self, part: &Dump) -> Result<()> {
        for (setting, value) in &part.settings {
            self.put_setting(*setting, value)?;
        }
        for (key, hash) in &part.keys {
            if key.rotated_to.is_some() {
                let unlinked = Key {
                    rotated_to: None,
                    ..key.clone()
                };
                self.insert_key(&unlinked, hash)?;
                self.update_key(key)?;
            } else {
                self.insert_key(key, hash)?;
            }
        }
        for event in &part.events {
            self.insert_event(&event.stored())?;
        }
        for (id, usage) in &part.usage {
            self.add_usage(id, usage)?;
        }
        Ok(())
    }
    /// Whether the vault holds nothing: no settings, keys or events.
    fn is_empty(&self) -> Result<bool>;
    /// Checks references between keys at commit instead of at each insert,
    /// for a bulk load whose keys refer to each other.
    fn defer_checks(&self) -> Result<()>;
    fn commit(self: Box<Self>) -> Result<()>;
}

/// An opened vault.
pub trait Store: Read {
    /// Takes the write lock (waiting for other writers up to a bound) and
    /// starts a transaction.
    fn begin(&mut self) -> Result<Box<dyn WriteTx + '_>>;
    /// Records that a key was used at `now`, at most once a minute per key,
    /// without waiting for other writers and without failing on a read-only
    /// vault. Returns whether it wrote.
    fn touch(&mut self, id: &KeyId, now: Timestamp) -> Result<bool>;
    /// Everything the vault holds, oldest first, read from one snapshot
    /// and handed to `each` in chunks of at most `rows` rows (settings,
    /// then keys, then events, then usage), so that memory holds one chunk.
    fn dump(&self, rows: usize, each: &mut dyn FnMut(Dump) -> Result<()>) -> Result<()>;
    /// Every key, or those of one environment, oldest first (as
    /// [`Read::keys`]), handed to each pass in turn as they are read, so
    /// that memory holds a chunk of them, not the list. Every pass reads
    /// the same rows: all come from one snapshot.
    fn each_key(&self, env: Option<&Env>, passes: &mut [&mut KeyPass<'_>]) -> Result<()>;
    /// About to read or write the whole vault once (`copy`): an engine
    /// that maps the vault into memory stops, so that a pass over a large
    /// vault does not keep every page it touched resident.
    fn unmapped(&self) -> Result<()> {
        Ok(())
    }
    /// Adds serve's counts and last uses in one transaction. Not an event:
    /// usage is bookkeeping, and takes no part in the chain.
    fn record_usage(&mut self, batch: &UsageBatch) -> Result<()>;
    /// After a commit: leaves the vault at rest (SQLite: its write-ahead
    /// log emptied into the file, where no other process is reading).
    fn settle(&mut self) {}
    /// Whether the vault this store opened is no longer the one its
    /// location names (a SQLite file replaced meanwhile).
    fn replaced(&self) -> bool {
        false
    }
}

/// The vault is locked by another process right now: a verifier reports
/// it at once instead of waiting, and the caller may try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the vault is locked by another process")]
pub struct Busy;

impl Busy {
    /// Whether an error is (or was caused by) a busy vault.
    pub fn caused(e: &anyhow::Error) -> bool {
        e.chain().any(|c| c.downcast_ref::<Busy>().is_some())
    }
}

/// A verifier following a shared vault is waiting for the server's answer
/// to its latest read of the log, with no error known: its memory is not
/// confirmed current, and the caller may wait a little for the answer
/// (a loaded host can delay it) before calling the vault unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server has not answered yet")]
pub struct Unconfirmed;

impl Unconfirmed {
    /// Whether an error is (or was caused by) memory awaiting confirmation.
    pub fn caused(e: &anyhow::Error) -> bool {
        e.chain().any(|c| c.downcast_ref::<Unconfirmed>().is_some())
    }
}

/// Where `serve` reads verdicts from, shared by all its request threads.
/// Every answer comes from a state of the vault no older than the engine's
/// promise: SQLite reads the file on each call (every commit before the
/// call is seen); PostgreSQL answers from memory kept current by following
/// the activity log (woken early by LISTEN/NOTIFY) and refuses to answer
/// once it has not caught up with the server for [`postgres::FRESHNESS`].
pub trait Verifier: Send + Sync {
    /// What a verdict needs of the key whose secret has this SHA-256,
    /// whatever its status.
    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Brief>>;
    /// A key's full record, read from the vault now: for a response that
    /// shows more than a verdict needs.
    fn key(&self, id: &KeyId) -> Result<Option<Key>>;
    /// Whether the vault answers now; the error says why not.
    fn ready(&self) -> Result<()>;
    /// How many keys were read again since start to follow changes (serve's
    /// `keyward_keys_reloaded_total`). SQLite holds no keys in memory: 0.
    fn keys_reloaded(&self) -> u64 {
        0
    }
}

/// The verifier for a vault, which must exist and be current (open it
/// first with [`crate::vault::Vault::open`] to migrate or refuse it).
pub fn verifier(location: &Location) -> Result<Arc<dyn Verifier>> {
    Ok(match location {
        Location::Sqlite(path) => sqlite::verifier::SqliteVerifier::start(path)?,
        Location::Postgres(url) => Arc::new(postgres::verifier::PgVerifier::start(url)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(location: &str) -> Option<String> {
        Location::parse(PathBuf::from(location))
            .err()
            .map(|e| e.to_string())
    }

    /// Found by a tester: these were SQLite file names (some created), and
    /// each holds a password.
    #[test]
    fn a_location_that_is_plainly_no_file_name_is_refused_unquoted() {
        for location in [
            "\"postgres://u:QQpw@h/kw\"",
            "'postgres://u:QQpw@h/kw'",
            "postgres://u:QQpw@h/kw\"",
            "jdbc:postgresql://h/kw?user=u&password=QQpw",
            "DATABASE_URL=postgres://u:QQpw@h/kw",
            "psql host=127.0.0.1 password=QQpw",
            "dbname:kw password=QQpw",
            "./x PASSWORD =QQpw",
            "dir/sslpassword=QQpw",
            " ",
            " vault.db",
            "vault.db\t",
            "host=h password=QQpw ",
        ] {
            let err = refused(location).unwrap_or_else(|| panic!("{location} taken"));
            assert!(!err.contains("QQpw"), "{location}: {err}");
        }
        for path in [
            "vault.db",
            "./a=b",
            "/tmp/it's/v.db",
            "C:\\v.db",
            "a:b",
            "my password.db",
        ] {
            assert!(
                matches!(
                    Location::parse(PathBuf::from(path)),
                    Ok(Location::Sqlite(_))
                ),
                "{path}"
            );
        }
        assert!(refused("host=h password='a QQpw'").is_none());
        assert!(refused("postgres://u:pw@h/kw?password=x").is_none());
    }

    #[test]
    fn a_path_is_shown_with_a_secret_as_its_hint() {
        let secret = crate::secret::generate("kw").expect("rng");
        let secret = secret.expose();
        let path = PathBuf::from(format!("/tmp/{secret}"));
        let shown = Location::Sqlite(path).shown();
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.starts_with("/tmp/kw_…"), "{shown}");
        assert_eq!(Location::Sqlite("a\nb".into()).shown(), "a\\nb");
    }
}
