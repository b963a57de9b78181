//! Usage, counted off the request path: a request adds to counters in
//! memory; a thread of its own writes them to the vault every
//! [`FLUSH_EVERY`] and at shutdown, so a busy vault never delays a
//! verdict. The counters grow with the vault's keys and the days, never
//! with the requests: only keys the vault holds are counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use keyward_core::error::Result;
use keyward_core::key::KeyId;
use keyward_core::store::{DailyUsage, UsageBatch};
use keyward_core::striped::Striped;
use keyward_core::vault::Vault;
use keyward_core::when::Timestamp;

/// Opens the vault to write a flush (for reading and writing, never creating it).
pub type Opener = Arc<dyn Fn() -> Result<Vault> + Send + Sync>;

/// How often what was counted reaches the vault.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// How long the flush at shutdown keeps trying, and how often: within
/// serve's stop deadline, which bounds it anyway.
const LAST_TRIES_FOR: Duration = Duration::from_secs(2);
const LAST_TRY_EVERY: Duration = Duration::from_millis(100);

/// What one key was used for since the last flush: its counts by day
/// (valid, invalid; a day or two at most), and its latest valid use.
#[derive(Default)]
struct KeyUsage {
    days: Vec<(time::Date, u64, u64)>,
    last_used: Option<Timestamp>,
}

impl KeyUsage {
    fn add(&mut self, day: time::Date, valid: u64, invalid: u64) {
        match self.days.iter_mut().find(|(d, _, _)| *d == day) {
            Some((_, v, i)) => {
                *v = v.saturating_add(valid);
                *i = i.saturating_add(invalid);
            }
            None => self.days.push((day, valid, invalid)),
        }
    }

    fn used(&mut self, at: Timestamp) {
        self.last_used = Some(self.last_used.map_or(at, |t| t.max(at)));
    }
}

/// FNV-1a: key ids are the vault's own (random, never a request's text),
/// so a hash that no request can steer needs no key; this one costs a
/// tenth of SipHash's on a 20-character id.
#[derive(Clone, Copy)]
struct IdHasher(u64);

impl Default for IdHasher {
    fn default() -> Self {
        IdHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type ById = HashMap<KeyId, KeyUsage, std::hash::BuildHasherDefault<IdHasher>>;

/// What was counted, per thread (a request counts in its own thread's
/// stripe, so two workers never wait on one lock), emptied by the flush.
#[derive(Default)]
pub struct Usage {
    pending: Striped<Mutex<ById>>,
}

fn locked(stripe: &Mutex<ById>) -> MutexGuard<'_, ById> {
    stripe.lock().unwrap_or_else(|e| e.into_inner())
}

impl Usage {
    /// Counts one verification of `id` at `at` (one lookup of the key).
    pub fn record(&self, id: &KeyId, at: Timestamp, valid: bool) {
        let mut p = locked(self.pending.mine());
        let key = match p.get_mut(id) {
            Some(key) => key,
            None => p.entry(id.clone()).or_default(),
        };
        key.add(at.date(), u64::from(valid), u64::from(!valid));
        if valid {
            key.used(at);
        }
    }

    /// Everything counted so far, leaving nothing behind.
    fn take(&self) -> UsageBatch {
        let mut all = ById::default();
        for stripe in self.pending.iter() {
            let taken = std::mem::take(&mut *locked(stripe));
            for (id, key) in taken {
                match all.get_mut(&id) {
                    None => {
                        all.insert(id, key);
                    }
                    Some(into) => {
                        for (day, valid, invalid) in key.days {
                            into.add(day, valid, invalid);
                        }
                        if let Some(at) = key.last_used {
                            into.used(at);
                        }
                    }
                }
            }
        }
        let mut batch = UsageBatch::default();
        for (id, key) in all {
            for (day, valid, invalid) in key.days {
                batch.counts.push((
                    id.clone(),
                    DailyUsage {
                        day,
                        valid,
                        invalid,
                    },
                ));
            }
            if let Some(at) = key.last_used {
                batch.last_used.push((id, at));
            }
        }
        batch
    }

    /// Puts back a batch the vault did not take, to try again later (the
    /// lock taken for each key, so that requests are not held up behind a
    /// large batch).
    fn put_back(&self, batch: UsageBatch) {
        let stripe = self.pending.mine();
        for (id, u) in batch.counts {
            locked(stripe)
                .entry(id)
                .or_default()
                .add(u.day, u.valid, u.invalid);
        }
        for (id, at) in batch.last_used {
            locked(stripe).entry(id).or_default().used(at);
        }
    }
}

/// The thread that writes usage to the vault.
pub struct Flusher {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
    /// How many keys' counts the thread holds while it writes them.
    unwritten: Arc<AtomicUsize>,
}

impl Flusher {
    pub fn start(usage: Arc<Usage>, open: Opener) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel();
        let unwritten = Arc::new(AtomicUsize::new(0));
        let pending = Arc::clone(&unwritten);
        let thread = std::thread::Builder::new()
            .name("keyward-usage".into())
            .spawn(move || {
                let mut trouble = None;
                loop {
                    let last = !matches!(
                        stopped.recv_timeout(FLUSH_EVERY),
                        Err(RecvTimeoutError::Timeout)
                    );
                    let mut written =
                        flush(&usage, &mut trouble, &open, &pending, last);
                    if last {
                        // A failure may pass (a deadlock between replicas,
                        // a lock held a moment): try again for a while.
                        let give_up = Instant::now() + LAST_TRIES_FOR;
                        while !written && Instant::now() < give_up {
                            std::thread::sleep(LAST_TRY_EVERY);
                            written = flush(&usage, &mut trouble, &open, &pending, last);
                        }
                        if !written {
                            tracing::error!(
                                keys = pending.load(Ordering::Relaxed),
                                error = trouble.as_deref().unwrap_or("unknown"),
                                "stopping with usage counts that could not be written: they are lost"
                            );
                        }
                        break;
                    }
                }
            })?;
        Ok(Flusher {
            stop,
            thread,
            unwritten,
        })
    }

    /// Flushes what is left, waiting for the thread to end until
    /// `deadline` at most: a vault that another process keeps locked never
    /// holds up the shutdown past it. Counts not written by then are
    /// reported, once.
    pub fn finish(self, deadline: Instant) {
        let _ = self.stop.send(());
        while !self.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !self.thread.is_finished() && self.unwritten.load(Ordering::Relaxed) > 0 {
            tracing::error!(
                keys = self.unwritten.load(Ordering::Relaxed),
                "stopping with usage counts that could not be written in time (the vault stayed \
                 locked): they are lost"
            );
            return;
        }
        if self.thread.join().is_err() {
            tracing::error!("the usage thread panicked; the last counts were not written");
        }
    }
}

/// Writes what was counted; a failure keeps it for the next attempt and is
/// logged when it first happens (or changes), not every 10 s. Returns
/// whether nothing is left unwritten.
fn flush(
    usage: &Usage,
    trouble: &mut Option<String>,
    open: &Opener,
    pending: &AtomicUsize,
    last: bool,
) -> bool {
    let batch = usage.take();
    if batch.is_empty() {
        return true;
    }
    pending.store(batch.last_used.len(), Ordering::Relaxed);
    // Opened anew each time (every 10 s): a vault file replaced under serve
    // is then the one written, never the old file.
    let result = open().and_then(|mut v| {
        // A flush touches pages all over a large vault: not kept mapped.
        v.unmapped()?;
        v.record_usage(&batch)
    });
    match result {
        Ok(()) => {
            pending.store(0, Ordering::Relaxed);
            if trouble.take().is_some() {
                tracing::info!("usage counts are written again");
            }
            true
        }
        Err(e) => {
            let why = format!("{e:#}");
            // The last attempts' failure is reported once, by the caller.
            if !last && trouble.as_ref() != Some(&why) {
                tracing::warn!(error = %why, "cannot write usage counts to the vault; keeping them for the next attempt");
            }
            *trouble = Some(why);
            usage.put_back(batch);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_key_and_day_and_survive_a_failed_flush() {
        let usage = Usage::default();
        let id = KeyId::stored("key_aaaaaaaaaaaaaaaa".into());
        let day1 = Timestamp::from_unix(1_800_000_000);
        let day2 = day1.plus_secs(86_400);
        usage.record(&id, day1, true);
        usage.record(&id, day1, false);
        usage.record(&id, day2, true);
        usage.record(&id, day1.plus_secs(10), true);
        let mut batch = usage.take();
        batch.counts.sort_by_key(|(_, u)| u.day);
        let counts: Vec<_> = batch
            .counts
            .iter()
            .map(|(_, u)| (u.valid, u.invalid))
            .collect();
        assert_eq!(counts, vec![(2, 1), (1, 0)]);
        assert_eq!(batch.last_used, vec![(id.clone(), day2)]);
        assert!(usage.take().is_empty());
        usage.put_back(batch.clone());
        usage.record(&id, day1, false);
        let mut again = usage.take();
        again.counts.sort_by_key(|(_, u)| u.day);
        let counts: Vec<_> = again
            .counts
            .iter()
            .map(|(_, u)| (u.valid, u.invalid))
            .collect();
        assert_eq!(counts, vec![(2, 2), (1, 0)]);
    }

    #[test]
    fn counts_from_many_threads_reach_one_batch_whole() {
        let usage = Usage::default();
        let id = KeyId::stored("key_aaaaaaaaaaaaaaaa".into());
        let day = Timestamp::from_unix(1_800_000_000);
        std::thread::scope(|s| {
            for t in 0..4i64 {
                let (usage, id) = (&usage, &id);
                s.spawn(move || {
                    for n in 0..1_000 {
                        usage.record(id, day.plus_secs(t * 1_000 + n), n % 4 != 0);
                    }
                });
            }
        });
        let batch = usage.take();
        let counts: Vec<_> = batch
            .counts
            .iter()
            .map(|(k, u)| (k.as_str(), u.valid, u.invalid))
            .collect();
        assert_eq!(counts, vec![(id.as_str(), 3_000, 1_000)]);
        assert_eq!(batch.last_used, vec![(id.clone(), day.plus_secs(3_999))]);
        assert!(usage.take().is_empty());
    }
}
