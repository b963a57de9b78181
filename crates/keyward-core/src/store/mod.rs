//! The storage contract: what the key rules ([`crate::intents`]) and the
//! commands need from a vault, with no SQL and no engine type in sight.
//! Each engine (`sqlite`, and `postgres` with the feature of that name)
//! implements it in its own folder, with its own schema and migrations.
//!
//! A [`WriteTx`] is one transaction that holds the vault's write lock from
//! [`Store::begin`] to [`WriteTx::commit`]: every check made through it and
//! every write it does see no other writer in between. Dropping it without
//! committing leaves nothing behind.

pub mod location;
pub mod memory;
pub mod page;
pub mod row;

pub use location::shown_path;

use crate::error::{Error, Result};
use crate::event::{Event, EventKind, Head};
use crate::key::{Brief, Key, KeyId};
use crate::quota::Quota;
use crate::settings::{Setting, Settings};
use crate::text::{Actor, Env};
use crate::when::Timestamp;

/// Minimum seconds between two last-used writes for one key, on every
/// engine.
pub const LAST_USED_RESOLUTION: i64 = 60;

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

/// What opening found where a vault should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Nothing yet: the schema is to be created.
    Empty,
    Older(i64),
    Current,
    Newer(i64),
    /// Data keyward did not make: left alone.
    Foreign(&'static str),
}

impl Found {
    /// The refusal every engine gives, whatever the access: a schema newer
    /// than this keyward knows (`known`), or data that is not keyward's.
    pub fn refusal(self, shown: &str, known: i64) -> Option<Error> {
        match self {
            Found::Newer(found) => Some(Error::VaultTooNew {
                path: shown.to_string(),
                found,
                known,
            }),
            Found::Foreign(reason) => Some(Error::NotAVault {
                path: shown.to_string(),
                reason: reason.to_string(),
            }),
            Found::Empty | Found::Older(_) | Found::Current => None,
        }
    }
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
pub fn day_text(day: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

pub fn parse_day(text: &str) -> Option<time::Date> {
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
    /// The quota named `id` (a lineage's, see [`Key::quota_id`]).
    fn quota(&self, id: &KeyId) -> Result<Option<Quota>>;
    /// What rate limit `name` of quota `id` admitted, by slot
    /// ([`crate::quota`]): `(slot, count)`, any order.
    fn quota_use(&self, id: &KeyId, name: &str) -> Result<Vec<(i64, u64)>>;
}

/// The quotas of a copied chunk's keys (each key carries its lineage's;
/// what rate limits admitted is not copied: a copy starts its windows
/// afresh).
pub fn put_quotas(tx: &(impl WriteTx + ?Sized), part: &Dump) -> Result<()> {
    for (key, _) in &part.keys {
        if let (Some(id), Some(quota)) = (&key.quota_id, &key.quota) {
            tx.put_quota(id, quota)?;
        }
    }
    Ok(())
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
    /// The vault's own clock in milliseconds, where it has one apart from
    /// the host's (a database server's): what quotas' windows and refills
    /// run on, so that every host sharing the vault agrees. None: the
    /// host's clock is the vault's.
    fn now_ms(&self) -> Result<Option<i64>> {
        Ok(None)
    }
    /// Creates or replaces quota `id`.
    fn put_quota(&self, id: &KeyId, quota: &Quota) -> Result<()>;
    /// Counts `n` more admissions of rate limit `name` in `slot`.
    fn add_quota_use(&self, id: &KeyId, name: &str, slot: i64, n: u64) -> Result<()>;
    /// Takes back `n` of what rate limit `name` counted in `slot` (units a
    /// process reserved and did not admit); never below 0.
    fn take_back_quota_use(&self, id: &KeyId, name: &str, slot: i64, n: u64) -> Result<()>;
    /// Forgets what rate limit `name` admitted in the slots before `slot`
    /// (`i64::MAX`: all of it).
    fn forget_quota_use(&self, id: &KeyId, name: &str, before: i64) -> Result<()>;
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
        put_quotas(self, part)?;
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

/// Why a verifier gives no answer now.
#[derive(Debug, thiserror::Error)]
pub enum NotNow {
    /// The vault is locked by another process right now: a verifier says
    /// so at once instead of waiting, and the caller may try again shortly.
    #[error("the vault is locked by another process: {0:#}")]
    Busy(anyhow::Error),
    /// A verifier following a shared vault is waiting for the server's
    /// answer to its latest read, with no error known: its memory is not
    /// confirmed current, and the caller may wait a little for the answer
    /// (a loaded host can delay it) before calling the vault unavailable.
    #[error("{0}: the server has not answered yet")]
    Unconfirmed(String),
    /// The vault cannot be read; the error says why.
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for NotNow {
    fn from(e: anyhow::Error) -> Self {
        NotNow::Failed(e)
    }
}

/// Where `serve` reads verdicts from, shared by all its request threads.
/// Every answer comes from a state of the vault no older than the engine's
/// promise: SQLite reads the file on each call (every commit before the
/// call is seen); PostgreSQL answers from memory kept current by following
/// the activity log (woken early by LISTEN/NOTIFY) and refuses to answer
/// once it has not caught up with the server for `keyward_postgres::FRESHNESS`.
pub trait Verifier: Send + Sync {
    /// What a verdict needs of the key whose secret has this SHA-256,
    /// whatever its status.
    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Brief>, NotNow>;
    /// A key's full record, read from the vault now: for a response that
    /// shows more than a verdict needs.
    fn key(&self, id: &KeyId) -> Result<Option<Key>, NotNow>;
    /// Whether the vault answers now; the error says why not.
    fn ready(&self) -> Result<(), NotNow>;
    /// How many keys were read again since start to follow changes (serve's
    /// `keyward_keys_reloaded_total`). SQLite holds no keys in memory: 0.
    fn keys_reloaded(&self) -> u64 {
        0
    }
    /// Which vault the location holds now, as a number that changes when
    /// another vault is put in its place (a SQLite file replaced): what a
    /// process holds reserved in one vault is nothing in another.
    fn vault_id(&self) -> u64 {
        0
    }
}
