//! serve's reads of a PostgreSQL vault: every key held in memory by its
//! secret's hash, kept current by following the activity log on one
//! listening connection.
//!
//! Every change to a key is an event naming it (`key_id`, and
//! `related_key_id` for a rotation's successor), with an id one above the
//! event before, written under the vault's advisory lock: ids commit in
//! order, so "the events after the last one applied" is a complete change
//! feed, also after a reconnect. The listener keeps that id; at every
//! [`PING_EVERY`], and at once when a write transaction's NOTIFY on
//! [`CHANGES`](super::CHANGES) wakes it, it reads the events after it,
//! re-reads only the keys they name, puts them in the map (keys are never
//! deleted) and advances the id. Last-used touches, usage counts and
//! settings (no verdict depends on one) name no key, so they cost no
//! re-read. The whole vault is read only at start, or when the event held
//! is no longer in the log (another vault put in its place).
//!
//! A catch-up that has read every event committed before it started has
//! brought the memory up to that moment. Lookups refuse to answer from
//! memory that has not been confirmed so for [`FRESHNESS`]: a lost
//! connection turns into errors (serve's 503), not into stale verdicts. A
//! catch-up in progress does not block lookups: keys are re-read outside
//! the map's lock and put in under it. A long backlog (a mass revoke of
//! thousands of keys) is read in one go, the keys it names fetched
//! distinct: a burst costs one catch-up, not one per event, and lookups
//! wait for it rather than answer from memory that lacks part of it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::{
    CHANGES, KEY_COLUMNS, KEYS_FROM, KEYS_PER_FETCH, Named, Pg, PgUrl, Postgres, connect, failed,
};
use keyward_core::error::Result;
use keyward_core::key::{Brief, Key, KeyId};
use keyward_core::store::memory::Held;
use keyward_core::store::{NotNow, Read, Verifier};

/// The oldest state a verdict may come from.
pub const FRESHNESS: Duration = Duration::from_secs(1);

/// How often the listener reads the log for changes it was not told of.
const PING_EVERY: Duration = Duration::from_millis(200);

/// How long the listener waits between attempts to reconnect (the first
/// attempt after a loss is made at once).
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// Connections kept open for reading full records (`/v1/verify`).
const READERS: usize = 4;

pub struct PgVerifier {
    shared: Arc<Shared>,
    url: PgUrl,
    /// Idle connections for reading full records, opened when needed.
    readers: Mutex<Vec<Postgres>>,
}

struct Shared {
    keys: RwLock<Held>,
    /// Milliseconds after `epoch` at which the memory was last known to
    /// hold every commit.
    confirmed_ms: AtomicU64,
    epoch: Instant,
    /// Why the listener is not confirming, for /readyz and the 503s.
    trouble: Mutex<Option<String>>,
    /// Keys read again after the first load, for `/metrics`.
    reloaded: AtomicU64,
    stop: AtomicBool,
}

/// Where the memory stands in the log: the last event applied (id and
/// hash, so that a log put in place of this one is noticed), if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Position {
    last: Option<(i64, String)>,
}

impl Shared {
    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn confirm(&self, started: Instant) {
        self.confirmed_ms
            .fetch_max(self.millis(started), Ordering::Release);
        *self.trouble.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn fresh(&self) -> Result<(), NotNow> {
        let confirmed = self.confirmed_ms.load(Ordering::Acquire);
        let now = self.millis(Instant::now());
        let limit = u64::try_from(FRESHNESS.as_millis()).unwrap_or(u64::MAX);
        if now.saturating_sub(confirmed) <= limit {
            return Ok(());
        }
        let trouble = self
            .trouble
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let stale = format!(
            "the vault's state is not known to be current (nothing confirmed for over {} ms)",
            FRESHNESS.as_millis()
        );
        // The same words for as long as the trouble lasts, so that serve
        // logs it once, not at every look.
        Err(match trouble {
            Some(trouble) => NotNow::Failed(anyhow::anyhow!("{stale}: {trouble}")),
            None => NotNow::Unconfirmed(stale),
        })
    }

    fn reloaded(&self, n: usize) {
        self.reloaded
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

impl PgVerifier {
    /// Connects, loads every key, and starts the listener thread.
    pub fn start(url: &PgUrl) -> Result<Self> {
        let shared = Arc::new(Shared {
            keys: RwLock::new(Held::default()),
            confirmed_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            trouble: Mutex::new(None),
            reloaded: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let mut pg = listen(url)?;
        let position = load_all(&mut pg, &shared, false)?;
        let thread_url = url.clone();
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("keyward-listen".into())
            .spawn(move || run(&thread_url, pg, position, &thread_shared))?;
        Ok(PgVerifier {
            shared,
            url: url.clone(),
            readers: Mutex::new(Vec::new()),
        })
    }
}

impl Drop for PgVerifier {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
    }
}

impl Verifier for PgVerifier {
    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Brief>, NotNow> {
        self.shared.fresh()?;
        let keys = self.shared.keys.read().unwrap_or_else(|e| e.into_inner());
        Ok(keys.get(hash))
    }

    fn key(&self, id: &KeyId) -> Result<Option<Key>, NotNow> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let pg = match idle {
            Some(pg) => pg,
            None => Pg {
                conn: std::cell::RefCell::new(connect(&self.url)?),
                shown: Named::new(&self.url),
            },
        };
        let found = pg.key(id)?;
        let mut readers = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if readers.len() < READERS {
            readers.push(pg);
        }
        Ok(found)
    }

    fn ready(&self) -> Result<(), NotNow> {
        self.shared.fresh()
    }

    fn keys_reloaded(&self) -> u64 {
        self.shared.reloaded.load(Ordering::Relaxed)
    }
}

fn listen(url: &PgUrl) -> Result<Postgres> {
    let mut client = connect(url)?;
    let shown = Named::new(url);
    client
        .batch_execute(&format!("LISTEN {CHANGES}"))
        .map_err(|e| failed(&shown, e))?;
    Ok(Pg {
        conn: std::cell::RefCell::new(client),
        shown,
    })
}

/// Reads every key and the newest event in one snapshot; the memory then
/// holds every commit made before the read started. `again`: not the
/// first load, so every key counts as re-read.
fn load_all(pg: &mut Postgres, shared: &Shared, again: bool) -> Result<Position> {
    let started = Instant::now();
    let shown = pg.shown.clone();
    pg.conn
        .get_mut()
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .map_err(|e| failed(&shown, e))?;
    let read = (|| -> Result<(Position, Held)> {
        let pg = &*pg;
        let head = pg.query(
            "SELECT id, hash FROM keyward.events ORDER BY id DESC LIMIT 1",
            &[],
        )?;
        let last = match head.first() {
            Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
            None => None,
        };
        // Read a chunk at a time, each key kept only as a verdict needs it:
        // the full records of a large vault never sit in memory at once.
        let mut keys = Held::default();
        pg.chunks(
            &format!("SELECT {KEY_COLUMNS}, secret_sha256 FROM {KEYS_FROM}"),
            KEYS_PER_FETCH,
            &mut |rows| {
                for r in &rows {
                    let (key, hash) = pg.key_and_hash(r)?;
                    keys.insert(hash, &Brief::from(&key));
                }
                Ok(())
            },
        )?;
        Ok((Position { last }, keys))
    })();
    let end = if read.is_ok() { "COMMIT" } else { "ROLLBACK" };
    pg.conn
        .get_mut()
        .batch_execute(end)
        .map_err(|e| failed(&shown, e))?;
    let (position, keys) = read?;
    if again {
        shared.reloaded(keys.len());
    }
    let old = std::mem::replace(
        &mut *shared.keys.write().unwrap_or_else(|e| e.into_inner()),
        keys,
    );
    // Freed once lookups may go on.
    drop(old);
    shared.confirm(started);
    Ok(position)
}

/// Brings the memory up to the end of the log, in one go however long the
/// backlog: finds the newest event (and that the event held is still
/// there), re-reads every key the events in between name (their ids, read
/// distinct in SQL, 5,000 keys a query), and only then confirms the memory,
/// as of the moment this started. No verdict comes from memory that lacks
/// a change committed before that moment: while a long catch-up runs,
/// lookups wait for it (see [`Unconfirmed`]).
fn catch_up(
    pg: &mut Postgres,
    queries: &Queries,
    shared: &Shared,
    position: &mut Position,
) -> Result<()> {
    let started = Instant::now();
    let held = position.last.as_ref().map_or(0, |(id, _)| *id);
    let rows = pg
        .conn
        .get_mut()
        .query(&queries.ends, &[&held])
        .map_err(|e| failed(&pg.shown, e))?;
    let mut newest: Option<(i64, String)> = None;
    let mut held_found = false;
    for r in &rows {
        let (id, hash): (i64, String) = (r.try_get(0)?, r.try_get(1)?);
        if let Some((held_id, held_hash)) = &position.last
            && id == *held_id
        {
            held_found = hash == *held_hash;
        }
        if newest.as_ref().is_none_or(|(n, _)| id > *n) {
            newest = Some((id, hash));
        }
    }
    if position.last.is_some() && !held_found {
        // Another log than the one followed: start again from it.
        *position = load_all(pg, shared, true)?;
        return Ok(());
    }
    if let Some((to, _)) = newest.as_ref().filter(|(to, _)| *to > held) {
        let named: Vec<String> = pg
            .conn
            .get_mut()
            .query(&queries.named, &[&held, to])
            .map_err(|e| failed(&pg.shown, e))?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        for ids in named.chunks(KEYS_PER_FETCH) {
            let keys = pg.keys_with_hashes("WHERE id = ANY($1)", &[&ids.to_vec()])?;
            shared.reloaded(keys.len());
            let mut map = shared.keys.write().unwrap_or_else(|e| e.into_inner());
            for (key, hash) in keys {
                map.insert(hash, &Brief::from(&key));
            }
        }
        // Only once applied: a connection lost before reads them again.
        position.last = newest;
    }
    shared.confirm(started);
    Ok(())
}

/// The follower's queries, prepared once per connection.
struct Queries {
    /// The event held (if still there) and the newest event: a ping with
    /// nothing new is one round trip.
    ends: postgres::Statement,
    /// The distinct keys named by the events after one id, up to another.
    named: postgres::Statement,
}

impl Queries {
    fn prepare(client: &mut postgres::Client, shown: &Named) -> Result<Self> {
        let prepare = |client: &mut postgres::Client, sql: &str| {
            client.prepare(sql).map_err(|e| failed(shown, e))
        };
        Ok(Queries {
            ends: prepare(
                client,
                "SELECT id, hash FROM keyward.events \
                 WHERE id = $1 OR id = (SELECT max(id) FROM keyward.events)",
            )?,
            named: prepare(
                client,
                "SELECT key_id FROM keyward.events \
                 WHERE id > $1 AND id <= $2 AND key_id IS NOT NULL \
                 UNION \
                 SELECT related_key_id FROM keyward.events \
                 WHERE id > $1 AND id <= $2 AND related_key_id IS NOT NULL",
            )?,
        })
    }
}

/// The listener: follows the vault until told to stop, reconnecting
/// whenever the connection fails and catching up from where it was.
fn run(url: &PgUrl, first: Postgres, mut position: Position, shared: &Shared) {
    let mut pg = Some(first);
    let mut failures = 0u32;
    while !shared.stop.load(Ordering::Acquire) {
        let current = match pg.take() {
            Some(p) => Ok(p),
            None => listen(url),
        };
        let outcome =
            current.and_then(|mut p| follow(&mut p, shared, &mut position, &mut failures));
        if let Err(e) = outcome {
            *shared.trouble.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{e:#}"));
            failures = failures.saturating_add(1);
            if failures > 1 {
                std::thread::sleep(RETRY_AFTER);
            }
        }
    }
}

/// Catches up, then waits for a notification or the next ping, until the
/// connection fails or the verifier is dropped.
fn follow(
    pg: &mut Postgres,
    shared: &Shared,
    position: &mut Position,
    failures: &mut u32,
) -> Result<()> {
    let shown = pg.shown.clone();
    let queries = Queries::prepare(pg.conn.get_mut(), &shown)?;
    while !shared.stop.load(Ordering::Acquire) {
        catch_up(pg, &queries, shared, position)?;
        *failures = 0;
        // Wake as soon as something changes, or in time for the next ping.
        drain(pg.conn.get_mut(), PING_EVERY, &shown)?;
    }
    Ok(())
}

/// Waits up to `wait` for a notification, then takes every pending one:
/// they only say "read the log now".
fn drain(client: &mut postgres::Client, wait: Duration, shown: &Named) -> Result<()> {
    use postgres::fallible_iterator::FallibleIterator;
    let mut notifications = client.notifications();
    let first = notifications.timeout_iter(wait).next();
    if first.map_err(|e| failed(shown, e))?.is_none() {
        return Ok(());
    }
    while notifications
        .iter()
        .next()
        .map_err(|e| failed(shown, e))?
        .is_some()
    {}
    Ok(())
}
