//! A vault as the commands use it: opened from its location, read through
//! the storage contract, and written through [`crate::intents`] inside one
//! transaction whose `now` is read from the clock once the write lock is
//! held (and never before the newest event's time, so the log's times
//! never go backwards).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::event::{Anchor, Event, Head};
use crate::intents::{self, Created, NewKey, Rotated, Rotation};
use crate::key::{self, Key, KeyId, KeyRef, Status, VerifyCode};
use crate::secret::Secret;
use crate::settings::Settings;
use crate::store::{DailyUsage, EventFilter, Store, UsageBatch, WriteTx};
use crate::text::{Actor, Env, Scope};
use crate::when::{Clock, Timestamp};

pub struct Vault {
    store: Box<dyn Store>,
    clock: Arc<dyn Clock>,
    location: String,
    /// Whether opening it created it.
    created: bool,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("location", &self.location)
            .finish()
    }
}

/// Which keys `list` shows.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    pub env: Option<Env>,
    /// Include expired and revoked keys.
    pub all: bool,
    /// Only keys whose expiry or grace ends after now and by this time.
    pub expiring_by: Option<Timestamp>,
    /// Only keys not used since this time (or never).
    pub unused_since: Option<Timestamp>,
    /// Only active keys whose rotation is due by this time.
    pub due_by: Option<Timestamp>,
    /// Only keys of this owner.
    pub owner: Option<crate::text::Owner>,
}

impl KeyFilter {
    fn matches(&self, k: &Key, now: Timestamp) -> bool {
        (self.all || k.status(now).is_live())
            && self
                .expiring_by
                .is_none_or(|by| k.expires_at.is_some_and(|t| t > now && t <= by))
            && self
                .unused_since
                .is_none_or(|since| k.last_used_at.is_none_or(|t| t <= since))
            && self
                .due_by
                .is_none_or(|by| k.rotation_due_at(now).is_some_and(|due| due <= by))
            && self
                .owner
                .as_ref()
                .is_none_or(|o| k.owner.as_ref() == Some(o))
    }
}

/// How many rows `copy` reads and writes at a time: memory holds one chunk.
const COPY_CHUNK: usize = 5_000;

/// What `copy` moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub keys: usize,
    pub events: u64,
    pub settings: usize,
}

/// The answer for a presented secret, from one read of the vault.
#[derive(Debug)]
pub struct Verdict {
    pub code: VerifyCode,
    /// The key the secret belongs to, whatever its status.
    pub key: Option<Key>,
    /// Set when last-used could not be recorded for a reason other than a
    /// busy or read-only vault; the verdict stands.
    pub warning: Option<String>,
    /// What the key's quota said, when it has one and was otherwise valid.
    pub spent: Option<crate::quota::Spent>,
}

impl Verdict {
    pub fn invalid() -> Self {
        Verdict {
            code: VerifyCode::Invalid,
            key: None,
            warning: None,
            spent: None,
        }
    }
}

/// A commit whose outcome is unknown names the key it would have made, so
/// that its secret, never shown, can be ended if the key exists.
fn name_uncommitted(e: anyhow::Error, what: &str, key: Option<&KeyId>) -> anyhow::Error {
    match (e.downcast_ref::<Error>(), key) {
        (Some(Error::CommitUnknown { .. }), Some(id)) => e.context(format!(
            "{id} may have been {what} without its secret being shown: check with \
             `keyward show {id}` and, if it exists, revoke it (or rotate it if it is the default key)"
        )),
        _ => e,
    }
}

/// A complete id names its key, whatever else matches.
fn exact(key: &KeyRef, candidates: &[Key]) -> Option<Key> {
    match key {
        KeyRef::Id(_) => candidates.first().cloned(),
        _ => None,
    }
}

impl Vault {
    /// A vault over an engine's store (the `keyward` crate's `Location`
    /// opens one); `shown` is its location as messages show it.
    pub fn new(store: Box<dyn Store>, created: bool, shown: String, clock: Arc<dyn Clock>) -> Self {
        Vault {
            store,
            clock,
            location: shown,
            created,
        }
    }

    /// Whether opening it created the vault (docs/reference.md "Vault file": a new vault is never a
    /// surprise, so the commands say so).
    pub fn created(&self) -> bool {
        self.created
    }

    /// The time for a read.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The one key a KEY argument names for a command that changes it: an
    /// id, a unique id prefix, or the name of a key in `env` that is active
    /// now. Commands resolve once, at the start, and then act on the id.
    /// When a name only belongs to keys that are no longer active, the
    /// error says so and names the newest of them.
    pub fn resolve(&self, key: &KeyRef, env: &Env) -> Result<Key> {
        let now = self.now();
        let mut candidates = self.by_id(key)?;
        if let Some(k) = exact(key, &candidates) {
            return Ok(k);
        }
        let named = self.store.current_by_name(env, key.text())?;
        candidates.extend(
            named
                .into_iter()
                .filter(|k| k.status(now) == Status::Active),
        );
        match key::pick(key, env, candidates) {
            Err(Error::NotFound {
                key: k,
                env: e,
                note,
            }) if note.is_empty() => {
                let note = match self.store.keys_named(env, key.text())?.first() {
                    // Its grace can still be changed, by id.
                    Some(newest) if newest.status(now) == Status::Grace => format!(
                        "; the newest key of that name is in grace ({}): a name finds a key \
                         to change only while it is active, so give the id",
                        newest.id
                    ),
                    // Nothing can change an ended key: no id to suggest.
                    Some(newest) => format!(
                        "; the newest key of that name is {} ({}), and no active key has that name",
                        newest.status(now),
                        newest.id
                    ),
                    None => note,
                };
                let note = note + &self.active_elsewhere(key, env)?;
                Err(Error::NotFound {
                    key: k,
                    env: e,
                    note,
                }
                .into())
            }
            other => Ok(other?),
        }
    }

    /// The one key a KEY argument names for `show` and `log`: as
    /// [`resolve`](Self::resolve), but a name finds the newest key of that
    /// name in `env`, whatever its status.
    pub fn find(&self, key: &KeyRef, env: &Env) -> Result<Key> {
        let mut candidates = self.by_id(key)?;
        if let Some(k) = exact(key, &candidates) {
            return Ok(k);
        }
        if let Some(newest) = self.store.keys_named(env, key.text())?.into_iter().next() {
            candidates.push(newest);
        }
        match key::pick(key, env, candidates) {
            Err(Error::NotFound {
                key: k,
                env: e,
                note,
            }) => Err(Error::NotFound {
                key: k,
                env: e,
                note: note + &self.active_elsewhere(key, env)?,
            }
            .into()),
            other => Ok(other?),
        }
    }

    /// For a name not found in `env`: the other environments where an
    /// active key has it, as a note for the "no key matches" error.
    fn active_elsewhere(&self, key: &KeyRef, env: &Env) -> Result<String> {
        if matches!(key, KeyRef::Id(_)) {
            return Ok(String::new());
        }
        let now = self.now();
        let mut found = Vec::new();
        for other in self.store.envs()?.into_iter().filter(|e| e != env) {
            let named = self.store.current_by_name(&other, key.text())?;
            if named.iter().any(|k| k.status(now) == Status::Active) {
                found.push(other);
            }
        }
        Ok(match found.as_slice() {
            [] => String::new(),
            [one] => format!(
                "; environment '{}' has an active key of that name (add --env {})",
                crate::shown::quote(one.as_str()),
                crate::shown::quote(one.as_str())
            ),
            many => format!(
                "; environments {} have active keys of that name (add --env ENV)",
                many.iter()
                    .map(|e| format!("'{}'", crate::shown::quote(e.as_str())))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// The keys a KEY argument names by id or id prefix.
    fn by_id(&self, key: &KeyRef) -> Result<Vec<Key>> {
        Ok(match key {
            KeyRef::Id(id) => self
                .store
                .key(&KeyId::stored(id.clone()))?
                .into_iter()
                .collect(),
            KeyRef::IdPrefixOrName(prefix) => self.store.keys_by_id_prefix(prefix)?,
            KeyRef::Name(_) => Vec::new(),
        })
    }

    /// The environments that have keys.
    pub fn envs(&self) -> Result<Vec<Env>> {
        self.store.envs()
    }

    pub fn keys(&self, filter: &KeyFilter) -> Result<Vec<Key>> {
        let now = self.now();
        let mut keys = self.store.keys(filter.env.as_ref())?;
        keys.retain(|k| filter.matches(k, now));
        Ok(keys)
    }

    /// The keys that hold a scope that is not a token (a comma or
    /// whitespace inside, stored by an older keyward), oldest first.
    /// The keys [`keys`](Self::keys) returns, handed to `each` as they are
    /// read from one snapshot: memory holds a chunk, not the list.
    pub fn each_key(
        &self,
        filter: &KeyFilter,
        passes: &mut [&mut crate::store::KeyPass<'_>],
    ) -> Result<()> {
        let now = self.now();
        let mut filtered: Vec<Box<crate::store::KeyPass<'_>>> = passes
            .iter_mut()
            .map(|pass| -> Box<crate::store::KeyPass<'_>> {
                Box::new(move |k: Key| {
                    if filter.matches(&k, now) {
                        pass(k)?;
                    }
                    Ok(())
                })
            })
            .collect();
        let mut refs: Vec<&mut crate::store::KeyPass<'_>> =
            filtered.iter_mut().map(|p| &mut **p).collect();
        self.store.each_key(filter.env.as_ref(), &mut refs)
    }

    /// The keys of `env` active now: at most the environment's max-keys,
    /// read through an index of current keys however long its history.
    pub fn active_in_env(&self, env: &Env) -> Result<Vec<Key>> {
        self.store.active_in_env(env, self.now())
    }

    pub fn keys_with_loose_scopes(&self) -> Result<Vec<Key>> {
        let mut keys = self.store.keys_with_loose_scopes()?;
        keys.retain(Key::has_loose_scope);
        Ok(keys)
    }

    pub fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        self.store.events(filter)
    }

    pub fn settings(&self) -> Result<Settings> {
        self.store.settings()
    }

    pub fn verify_chain(&self) -> Result<u64> {
        self.store.verify_chain()
    }

    /// The newest event's id and hash, to keep outside the vault.
    pub fn head(&self) -> Result<Option<Head>> {
        self.store.head()
    }

    /// [`verify_chain`](Self::verify_chain), then each anchor (an event id
    /// and the hash it had when the anchor was taken) checked against the
    /// log: a log cut short, or rebuilt from scratch with hashes that hold
    /// together, no longer has the anchored event.
    pub fn verify_anchored(&self, anchors: &[Anchor]) -> Result<u64> {
        let events = self.verify_chain()?;
        for anchor in anchors {
            let reason = match self.store.event_hash(anchor.id)? {
                Some(hash) if hash == anchor.hash => continue,
                Some(_) => format!(
                    "its hash is no longer the anchored {}: the log was rewritten",
                    short(&anchor.hash)
                ),
                None => format!(
                    "the anchored event is missing ({events} events remain): the log was cut short"
                ),
            };
            return Err(Error::BrokenChain {
                id: anchor.id,
                reason,
            }
            .into());
        }
        Ok(events)
    }

    /// A key's usage counts (from `serve`) for the `days` UTC days up to
    /// today, oldest first; days without verifications are left out.
    pub fn usage(&self, id: &KeyId, days: u16) -> Result<Vec<DailyUsage>> {
        let today = self.now().date();
        let since = today
            .checked_sub(time::Duration::days(i64::from(days.saturating_sub(1))))
            .unwrap_or(today);
        let mut usage = self.store.usage(id, since)?;
        // Days after today (a serve host's clock ahead) are not shown.
        usage.retain(|u| u.day <= today);
        Ok(usage)
    }

    /// Adds what `serve` counted; see [`Store::record_usage`].
    pub fn record_usage(&mut self, batch: &UsageBatch) -> Result<()> {
        self.store.record_usage(batch)
    }

    /// Is this secret a key that works now, with these scopes, in `env`
    /// (if given: a key of another environment is not a key here)? One
    /// read gives the key and the verdict; nothing is written.
    pub fn check(&self, secret: &Secret, required: &[Scope], env: Option<&Env>) -> Result<Verdict> {
        let now = self.now();
        let found = self
            .store
            .key_by_secret(&secret.hash())?
            .filter(|k| env.is_none_or(|e| k.env == *e));
        Ok(match found {
            None => Verdict::invalid(),
            Some(key) => Verdict {
                code: VerifyCode::for_key(&key, required, now),
                key: Some(key),
                warning: None,
                spent: None,
            },
        })
    }

    /// [`check`](Self::check), then last-used recorded for a valid key
    /// without waiting for other writers (skipped when the vault is busy or
    /// read-only): the verdict never waits for it.
    pub fn verify(
        &mut self,
        secret: &Secret,
        required: &[Scope],
        env: Option<&Env>,
        ask: &crate::intents::Ask,
    ) -> Result<Verdict> {
        let mut verdict = self.check(secret, required, env)?;
        if let (VerifyCode::Valid, Some(key)) = (verdict.code, &verdict.key)
            && (key.quota_id.is_some() || !ask.limits.is_empty())
        {
            let id = key.id.clone();
            let spent = self.spend(&id, ask)?;
            // The key as this verification left it.
            if let Some(q) = verdict.key.as_mut().and_then(|k| k.quota.as_mut()) {
                q.credits = spent.credits;
            }
            if !spent.admitted {
                verdict.code = match spent.out_of_credits {
                    true => VerifyCode::UsageExceeded,
                    false => VerifyCode::RateLimited,
                };
            }
            verdict.spent = Some(spent);
        }
        let now = self.now();
        if let (VerifyCode::Valid, Some(key)) = (verdict.code, &verdict.key) {
            let recent = key
                .last_used_at
                .is_some_and(|t| now.unix() - t.unix() < crate::store::LAST_USED_RESOLUTION);
            if !recent && let Err(e) = self.store.touch(&key.id, now) {
                verdict.warning = Some(format!(
                    "the key is valid, but its last use could not be recorded: {e:#}"
                ));
            }
        }
        Ok(verdict)
    }

    /// Whether the vault at the location is no longer the one this opened
    /// (a file replaced under it): a long-lived holder opens it again.
    pub fn replaced(&self) -> bool {
        self.store.replaced()
    }

    /// Judges one verification of key `id` (otherwise valid) against its
    /// quota and spends what it costs, in one write transaction: credits
    /// are never spent twice, however many processes verify at once. Rate
    /// limits' windows run on the clock in milliseconds, never behind the
    /// newest event.
    pub fn spend(&mut self, id: &KeyId, ask: &crate::intents::Ask) -> Result<crate::quota::Spent> {
        self.write_ms(|tx, now_ms| match tx.key(id)? {
            Some(key) => crate::intents::spend(tx, &key, ask, now_ms),
            None => Ok(crate::quota::Spent::default()),
        })
    }

    /// [`write`](Self::write) with the time in milliseconds, what quotas'
    /// windows and refills run on: the vault's own clock where it has one
    /// (a PostgreSQL server's, so that every host agrees), else the clock;
    /// never behind the newest event.
    pub fn write_ms<T>(&mut self, f: impl FnOnce(&dyn WriteTx, i64) -> Result<T>) -> Result<T> {
        let clock = Arc::clone(&self.clock);
        self.write(|tx, _| {
            let ms = match tx.now_ms()? {
                Some(ms) if !clock.pinned() => ms,
                _ => clock.now_ms(),
            };
            let newest = tx
                .head()?
                .map_or(i64::MIN, |h| h.at.unix().saturating_mul(1000));
            f(tx, ms.max(newest))
        })
    }

    /// Runs `f` in one write transaction, with the time read once the write
    /// lock is held: the clock, or the newest event's time if the clock is
    /// behind it.
    pub fn write<T>(&mut self, f: impl FnOnce(&dyn WriteTx, Timestamp) -> Result<T>) -> Result<T> {
        let result: Result<T> = (|| {
            let tx = self.store.begin()?;
            let now = match tx.head()? {
                Some(head) => self.clock.now().max(head.at),
                None => self.clock.now(),
            };
            let value = f(tx.as_ref(), now)?;
            tx.commit()?;
            Ok(value)
        })();
        match result {
            // Replaced between the last look and the commit: the change
            // may have gone into the file that is no longer at the path.
            Ok(_) if self.store.replaced() => Err(Error::CommitUnknown {
                path: self.location.clone(),
                cause: "the vault file was replaced by another at that moment".into(),
            }
            .into()),
            Ok(value) => {
                self.store.settle();
                Ok(value)
            }
            // What a file replaced mid-write makes SQLite say (a malformed
            // page, a missing row) is not the vault's fault: nothing was
            // written, and the command may simply run again.
            Err(e) if self.store.replaced() && e.downcast_ref::<Error>().is_none() => {
                Err(e.context(Error::VaultReplacedMidWrite(self.location.clone())))
            }
            Err(e) => Err(e),
        }
    }

    pub fn create(&mut self, new: &NewKey, actor: &Actor) -> Result<Created> {
        let mut made = None;
        self.write(|tx, now| {
            let created = intents::create(tx, new, actor, now)?;
            made = Some(created.key.id.clone());
            Ok(created)
        })
        .map_err(|e| name_uncommitted(e, "created", made.as_ref()))
    }

    pub fn rotate(&mut self, id: &KeyId, r: &Rotation, actor: &Actor) -> Result<Rotated> {
        let mut made = None;
        self.write(|tx, now| {
            let rotated = intents::rotate(tx, id, r, actor, now)?;
            made = Some(rotated.key.id.clone());
            Ok(rotated)
        })
        .map_err(|e| name_uncommitted(e, "rotated into", made.as_ref()))
    }

    /// The keys in grace nothing has used for more than `quiet_for`
    /// seconds, with when they were last used (or rotated).
    pub fn quiet(&self, env: Option<&Env>, quiet_for: i64) -> Result<Vec<(Key, Timestamp)>> {
        intents::quiet(self.store.as_ref(), env, quiet_for, self.now())
    }

    /// About to read or write the whole vault once: stop mapping it into
    /// memory (SQLite), so that the pass keeps one chunk resident, not
    /// every page it touched.
    pub fn unmapped(&self) -> Result<()> {
        self.store.unmapped()
    }

    /// Copies this whole vault into the one `open` opens, which must be
    /// empty, in one transaction. The source's chain is checked first, so
    /// that a source whose log is broken is refused before the destination
    /// is made (a failed copy leaves nothing behind), and the destination's
    /// after. Returns how many keys and events were copied.
    pub fn copy_to(&self, open: impl FnOnce() -> Result<Vault>) -> Result<Copied> {
        self.unmapped()?;
        self.verify_chain()?;
        let mut dest = open()?;
        dest.unmapped()?;
        let shown = dest.location.clone();
        let mut keys = 0;
        let mut settings = 0;
        dest.write(|tx, _| {
            if !tx.is_empty()? {
                return Err(Error::DestinationNotEmpty(shown).into());
            }
            tx.defer_checks()?;
            self.store.dump(COPY_CHUNK, &mut |part| {
                keys += part.keys.len();
                settings += part.settings.len();
                tx.load(&part)
            })
        })?;
        let events = dest.verify_chain()?;
        Ok(Copied {
            keys,
            events,
            settings,
        })
    }
}

/// The first 12 characters of a hash, for messages.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
