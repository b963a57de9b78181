//! serve's reads of a PostgreSQL vault: every key held in memory by its
//! secret's hash, kept current by one listening connection. Every write
//! transaction notifies [`CHANGES`](super::CHANGES) at commit; the
//! listener reloads the keys when told, and pings the server every
//! [`PING_EVERY`]. A ping that returns has carried every notification
//! committed before it was sent, so once its answer is in, the memory is
//! known to hold every commit made before the ping started. Lookups refuse
//! to answer from memory that has not been confirmed so for
//! [`FRESHNESS`]: a lost connection turns into errors (serve's 503), not
//! into stale verdicts, and a reconnect reloads everything, since
//! notifications sent meanwhile are not replayed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::{CHANGES, Named, Pg, PgUrl, Postgres, connect, failed};
use crate::error::Result;
use crate::key::Key;
use crate::store::Verifier;

/// The oldest state a verdict may come from.
pub const FRESHNESS: Duration = Duration::from_secs(1);

/// How often the listener confirms it is still hearing every change.
const PING_EVERY: Duration = Duration::from_millis(200);

/// How long the listener waits between attempts to reconnect.
const RETRY_AFTER: Duration = Duration::from_millis(250);

type Keys = HashMap<[u8; 32], Key>;

pub struct PgVerifier {
    shared: Arc<Shared>,
}

struct Shared {
    keys: RwLock<Arc<Keys>>,
    /// Milliseconds after `epoch` at which the memory was last known to
    /// hold every commit.
    confirmed_ms: AtomicU64,
    epoch: Instant,
    /// Why the listener is not confirming, for /readyz and the 503s.
    trouble: Mutex<Option<String>>,
    stop: AtomicBool,
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

    fn fresh(&self) -> Result<()> {
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
            .clone()
            .unwrap_or_else(|| "the server has not answered".to_string());
        // The same words for as long as the trouble lasts, so that serve
        // logs it once, not at every look.
        Err(anyhow::anyhow!(
            "the vault's state is not known to be current (nothing confirmed for over {} ms): \
             {trouble}",
            FRESHNESS.as_millis()
        ))
    }
}

impl PgVerifier {
    /// Connects, loads every key, and starts the listener thread.
    pub fn start(url: &PgUrl) -> Result<Self> {
        let shared = Arc::new(Shared {
            keys: RwLock::new(Arc::new(HashMap::new())),
            confirmed_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            trouble: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let mut pg = listen(url)?;
        reload(&mut pg, &shared)?;
        let url = url.clone();
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("keyward-listen".into())
            .spawn(move || run(&url, pg, &thread_shared))?;
        Ok(PgVerifier { shared })
    }
}

impl Drop for PgVerifier {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
    }
}

impl Verifier for PgVerifier {
    fn key_by_secret(&self, hash: &[u8; 32]) -> Result<Option<Key>> {
        self.shared.fresh()?;
        let keys = Arc::clone(&self.shared.keys.read().unwrap_or_else(|e| e.into_inner()));
        Ok(keys.get(hash).cloned())
    }

    fn ready(&self) -> Result<()> {
        self.shared.fresh()
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

/// Reads every key; the memory then holds every commit made before the
/// read started.
fn reload(pg: &mut Postgres, shared: &Shared) -> Result<()> {
    let started = Instant::now();
    let keys: Keys = pg
        .keys_with_hashes("")?
        .into_iter()
        .map(|(key, hash)| (hash, key))
        .collect();
    *shared.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
    shared.confirm(started);
    Ok(())
}

/// The listener: follows the vault until told to stop, reconnecting (and
/// reloading everything) whenever the connection fails.
fn run(url: &PgUrl, first: Postgres, shared: &Shared) {
    let mut pg = Some(first);
    while !shared.stop.load(Ordering::Acquire) {
        let current = match pg.take() {
            Some(p) => Ok(p),
            None => listen(url).and_then(|mut p| reload(&mut p, shared).map(|()| p)),
        };
        let outcome = current.and_then(|mut p| follow(&mut p, shared));
        if let Err(e) = outcome {
            *shared.trouble.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{e:#}"));
            std::thread::sleep(RETRY_AFTER);
        }
    }
}

/// Pings, reloads on notifications, and waits for the next one, until the
/// connection fails or the verifier is dropped.
fn follow(pg: &mut Postgres, shared: &Shared) -> Result<()> {
    let shown = pg.shown.clone();
    let mut told = false;
    while !shared.stop.load(Ordering::Acquire) {
        let started = Instant::now();
        let client = pg.conn.get_mut();
        client
            .batch_execute("SELECT 1")
            .map_err(|e| failed(&shown, e))?;
        told |= drain(client, Duration::ZERO, &shown)?;
        if told {
            reload(pg, shared)?;
        } else {
            shared.confirm(started);
        }
        // Wake as soon as something changes, or in time for the next ping.
        told = drain(pg.conn.get_mut(), PING_EVERY, &shown)?;
    }
    Ok(())
}

/// Takes every pending notification, waiting up to `wait` for the first.
fn drain(client: &mut postgres::Client, wait: Duration, shown: &Named) -> Result<bool> {
    use postgres::fallible_iterator::FallibleIterator;
    let mut notifications = client.notifications();
    let first = if wait.is_zero() {
        notifications.iter().next()
    } else {
        notifications.timeout_iter(wait).next()
    };
    if first.map_err(|e| failed(shown, e))?.is_none() {
        return Ok(false);
    }
    while notifications
        .iter()
        .next()
        .map_err(|e| failed(shown, e))?
        .is_some()
    {}
    Ok(true)
}
