//! Spending keys' quotas. Most verdicts are decided in memory, from what
//! this process holds reserved in the vault ([`intents::reserve`]):
//! credits, and units of each rate limit for the current slot. When what is
//! held does not cover a verification, one thread (which holds the vault
//! open for writing) reserves more in one write transaction, counted in the
//! vault at once; so credits are never overspent and a rate limit never
//! admits more than its limit in any window, across every serve and CLI
//! `verify` on the vault. Units held for a slot that ended go back to the
//! window with the next reservation; what is held is void when the quota
//! changes (its epoch, seen on the key), when another vault is put in its
//! place, or (credits) when they refill; what is still held at shutdown is
//! given back.
//!
//! Verifications that name limits of their own (Unkey's `ratelimits`) or
//! cost nothing are spent exactly, in the vault, one at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use compact_str::CompactString;
use keyward_core::error::Result;
use keyward_core::intents::{self, Ask, Holding};
use keyward_core::key::{KeyId, QuotaRef};
use keyward_core::quota::{LimitState, Ratelimit, Spent};
use keyward_core::vault::Vault;
use tokio::sync::oneshot;

use super::usage::Opener;

/// How long giving back what is held may take at shutdown.
const GIVE_BACK_WITHIN: Duration = Duration::from_secs(2);

/// How long a verification waits for a reservation before it is a 503:
/// long enough for other writers' commits (serves and CLIs sharing a
/// SQLite file take turns), short of a vault held locked.
const RESERVE_WAIT: Duration = Duration::from_secs(2);

/// A batch spent faster than this asks for twice as much next time; one
/// that lasts longer than [`SLOW`], half as much.
const FAST: Duration = Duration::from_millis(250);
const SLOW: Duration = Duration::from_secs(2);

/// The next batch to ask for, from the last and how long it lasted.
fn next_batch(last: u64, lasted: Duration, least: u64, most: u64) -> u64 {
    let next = if lasted < FAST {
        last.saturating_mul(2)
    } else if lasted > SLOW {
        last / 2
    } else {
        last
    };
    next.clamp(least, most.max(least))
}

/// One rate limit's units held for one slot.
#[derive(Debug, Clone)]
struct Units {
    limit: Ratelimit,
    /// When the slot ends, in the vault's milliseconds (its name).
    slot: i64,
    units: u64,
    /// When the slot ends, here.
    until: Instant,
    room: u64,
    reset_at: Instant,
    /// The batch to ask for next.
    want: u64,
}

/// What this process holds of one quota.
#[derive(Debug, Clone)]
struct Held {
    /// The vault it was reserved in ([`Verifier::vault_id`]): in another
    /// vault put in its place, it is nothing.
    ///
    /// [`Verifier::vault_id`]: keyward_core::store::Verifier::vault_id
    vault: u64,
    epoch: u64,
    /// None: unlimited.
    credits: Option<u64>,
    vault_credits: Option<u64>,
    credits_until: Option<Instant>,
    limits: Vec<Units>,
    /// When this was reserved, and how many credits to ask for next.
    reserved_at: Instant,
    want_credits: u64,
}

impl Held {
    /// Spends `cost` if what is held covers it now (`timely`: or covers
    /// it at all, for the request a reservation was just made for: what
    /// the vault counted for it may be spent even if its slot has just
    /// ended).
    fn spend(&mut self, cost: u64, now: Instant, timely: bool) -> Option<Spent> {
        let late = |t: Instant| timely && now >= t;
        if self.credits_until.is_some_and(late) {
            return None;
        }
        if self.credits.is_some_and(|c| c < cost) {
            return None;
        }
        if self.limits.iter().any(|u| late(u.until) || u.units < cost) {
            return None;
        }
        if let Some(c) = &mut self.credits {
            *c -= cost;
        }
        let mut states = Vec::with_capacity(self.limits.len());
        for u in &mut self.limits {
            u.units -= cost;
            states.push(LimitState {
                limit: u.limit.clone(),
                exceeded: false,
                remaining: u.units.saturating_add(u.room),
                reset_ms: millis(u.reset_at.saturating_duration_since(now)),
                retry_ms: None,
                auto_apply: true,
            });
        }
        Some(Spent {
            admitted: true,
            out_of_credits: false,
            limits: states,
            credits: self
                .credits
                .map(|c| c.saturating_add(self.vault_credits.unwrap_or(0))),
            unknown_limit: None,
        })
    }

    /// What is still held, as [`intents::reserve`] counts it (units of
    /// ended slots too: they go back), and the batches to ask for next.
    fn holding(&self, now: Instant) -> Holding {
        let live = self.credits_until.is_none_or(|t| now < t);
        let lasted = now.saturating_duration_since(self.reserved_at);
        Holding {
            epoch: self.epoch,
            credits: self.credits.filter(|_| live).unwrap_or(0),
            units: self
                .limits
                .iter()
                .filter(|u| u.units > 0)
                .map(|u| (u.limit.name.clone(), u.slot, u.units))
                .collect(),
            want_credits: next_batch(
                self.want_credits,
                lasted,
                intents::MIN_RESERVED_CREDITS,
                intents::MAX_RESERVED_CREDITS,
            ),
            want_units: self
                .limits
                .iter()
                .map(|u| {
                    // Ran out within its slot: twice as many; a new slot:
                    // as many as the last.
                    let want = match now < u.until {
                        true => next_batch(u.want, Duration::ZERO, 1, u64::MAX),
                        false => u.want,
                    };
                    (u.limit.name.clone(), want)
                })
                .collect(),
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn after(now: Instant, ms: i64) -> Instant {
    now + Duration::from_millis(u64::try_from(ms.max(0)).unwrap_or(0))
}

type Holdings = Arc<Mutex<HashMap<KeyId, Held>>>;

type Answer = oneshot::Sender<Result<Spent>>;

enum Job {
    Reserve {
        key: KeyId,
        quota: QuotaRef,
        vault: u64,
        cost: u64,
        answer: Answer,
    },
    Exact {
        key: KeyId,
        quota: Option<QuotaRef>,
        ask: Ask,
        answer: Answer,
    },
    /// Give back what is held in vault `.0`, then stop.
    Finish(u64, mpsc::Sender<()>),
}

pub struct Spender {
    jobs: Mutex<mpsc::Sender<Job>>,
    held: Holdings,
    /// Credits held reserved, for the metric.
    reserved: Arc<AtomicU64>,
}

fn lock(held: &Holdings) -> MutexGuard<'_, HashMap<KeyId, Held>> {
    held.lock().unwrap_or_else(|e| e.into_inner())
}

impl Spender {
    /// Starts the thread that writes to the vault; it ends with
    /// [`finish`](Self::finish) or when the spender is dropped.
    pub fn start(open: Opener) -> std::io::Result<Spender> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let held: Holdings = Arc::default();
        let reserved = Arc::new(AtomicU64::new(0));
        let (for_thread, count) = (Arc::clone(&held), Arc::clone(&reserved));
        std::thread::Builder::new()
            .name("keyward-quota".into())
            .spawn(move || Writer::new(open, for_thread, count).run(&queue))?;
        Ok(Spender {
            jobs: Mutex::new(jobs),
            held,
            reserved,
        })
    }

    /// Credits this process holds reserved.
    pub fn reserved(&self) -> u64 {
        self.reserved.load(Ordering::Relaxed)
    }

    /// Spends what one verification of key `key` (drawing from `quota`,
    /// if any, in vault `vault`) costs; None when the writing thread is
    /// gone or did not answer within [`RESERVE_WAIT`] (the request's
    /// verdict is then a 503, and nothing is spent for it).
    pub async fn spend(
        &self,
        key: &KeyId,
        quota: Option<&QuotaRef>,
        vault: u64,
        ask: &Ask,
    ) -> Option<Result<Spent>> {
        let (answer, answered) = oneshot::channel();
        let job = match quota {
            Some(q) if ask.limits.is_empty() && ask.cost > 0 => {
                {
                    let mut held = lock(&self.held);
                    if let Some(h) = held.get_mut(&q.id) {
                        if h.vault != vault {
                            // Another vault: what is held is nothing there.
                            held.remove(&q.id);
                        } else if h.epoch < q.epoch {
                            // The quota changed: the writer reserves
                            // afresh and gives back what was held.
                        } else if let Some(spent) = h.spend(ask.cost, Instant::now(), true) {
                            count(&self.reserved, &held);
                            return Some(Ok(spent));
                        }
                    }
                }
                Job::Reserve {
                    key: key.clone(),
                    quota: q.clone(),
                    vault,
                    cost: ask.cost,
                    answer,
                }
            }
            _ => Job::Exact {
                key: key.clone(),
                quota: quota.cloned(),
                ask: ask.clone(),
                answer,
            },
        };
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job)
            .ok()?;
        tokio::time::timeout(RESERVE_WAIT, answered)
            .await
            .ok()?
            .ok()
    }

    /// Gives what is still held in vault `vault` (the one at the location
    /// now) back, and stops the thread (waiting at most
    /// [`GIVE_BACK_WITHIN`]).
    pub fn finish(&self, vault: u64) {
        let (done, finished) = mpsc::channel();
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Job::Finish(vault, done));
        if sent.is_ok() {
            let _ = finished.recv_timeout(GIVE_BACK_WITHIN);
        }
    }
}

fn count(reserved: &AtomicU64, held: &HashMap<KeyId, Held>) {
    let n = held
        .values()
        .filter_map(|h| h.credits)
        .fold(0u64, u64::saturating_add);
    reserved.store(n, Ordering::Relaxed);
}

/// The thread that writes: reservations, exact spends, and the give-back.
struct Writer {
    open: Opener,
    vault: Option<Vault>,
    held: Holdings,
    reserved: Arc<AtomicU64>,
}

impl Writer {
    fn new(open: Opener, held: Holdings, reserved: Arc<AtomicU64>) -> Self {
        Writer {
            open,
            vault: None,
            held,
            reserved,
        }
    }

    fn run(mut self, queue: &mpsc::Receiver<Job>) {
        for job in queue {
            match job {
                Job::Reserve {
                    key,
                    quota,
                    vault,
                    cost,
                    answer,
                } => {
                    // A request that stopped waiting is not charged.
                    if answer.is_closed() {
                        continue;
                    }
                    let spent = self.reserve(&key, &quota, vault, cost, &answer);
                    let _ = answer.send(spent);
                }
                Job::Exact {
                    key,
                    quota,
                    ask,
                    answer,
                } => {
                    if answer.is_closed() {
                        continue;
                    }
                    let spent = self.write(|v| v.spend(&key, &ask)).map(|mut s| {
                        // What is left counts the credits this serve holds.
                        let mine = quota
                            .and_then(|q| {
                                lock(&self.held)
                                    .get(&q.id)
                                    .filter(|h| h.epoch >= q.epoch)
                                    .and_then(|h| h.credits)
                            })
                            .unwrap_or(0);
                        s.credits = s.credits.map(|c| c.saturating_add(mine));
                        s
                    });
                    let _ = answer.send(spent);
                }
                Job::Finish(vault, done) => {
                    self.give_back(vault);
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    /// Runs `f` on the vault, opened on first use and again after a
    /// failure or once the file at the path was replaced.
    fn write<T>(&mut self, f: impl FnOnce(&mut Vault) -> Result<T>) -> Result<T> {
        if self.vault.as_ref().is_some_and(Vault::replaced) {
            self.vault = None;
        }
        let vault = match self.vault.as_mut() {
            Some(v) => v,
            None => self.vault.insert((self.open)()?),
        };
        let done = f(vault);
        if done.is_err() {
            self.vault = None;
        }
        done
    }

    fn reserve(
        &mut self,
        key: &KeyId,
        quota: &QuotaRef,
        vault: u64,
        cost: u64,
        answer: &Answer,
    ) -> Result<Spent> {
        let holding = {
            let mut held = lock(&self.held);
            let now = Instant::now();
            match held.get_mut(&quota.id) {
                // A reservation made for a request queued before this one
                // may cover it already.
                Some(h) if h.epoch >= quota.epoch && h.vault == vault => {
                    match h.spend(cost, now, true) {
                        Some(spent) => return Ok(spent),
                        None => h.holding(now),
                    }
                }
                // Reserved under terms since changed: given back with the
                // next reservation.
                Some(h) if h.vault == vault => h.holding(now),
                _ => Holding {
                    want_credits: intents::MIN_RESERVED_CREDITS,
                    ..Holding::default()
                },
            }
        };
        let got = self.write(|v| {
            v.write_ms(|tx, now_ms| intents::reserve(tx, key, &holding, cost, now_ms))
        })?;
        let now = Instant::now();
        let mut held = lock(&self.held);
        let spent = match (got.refused, got.quota_id) {
            (Some(mut refused), Some(id)) => {
                // What is held stays (its units are given back by the next
                // reservation); what is left counts the credits it holds
                // in this epoch.
                let mine = held
                    .get(&id)
                    .filter(|h| h.epoch == got.epoch && h.vault == vault)
                    .and_then(|h| h.credits)
                    .unwrap_or(0);
                refused.credits = refused.credits.map(|c| c.saturating_add(mine));
                refused
            }
            // The key has no quota (any more): nothing to spend.
            (_, None) => Spent {
                admitted: true,
                ..Spent::default()
            },
            (None, Some(id)) => {
                let want = |name: &CompactString, l: &Ratelimit| {
                    holding
                        .want_units
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or_else(|| intents::first_units(l), |(_, n)| *n)
                };
                let mut h = Held {
                    vault,
                    reserved_at: now,
                    want_credits: holding.want_credits,
                    epoch: got.epoch,
                    credits: got.credits,
                    vault_credits: got.vault_credits,
                    credits_until: got.refill_in_ms.map(|ms| after(now, ms)),
                    limits: got
                        .limits
                        .into_iter()
                        .map(|u| Units {
                            until: after(now, u.ends_in_ms),
                            reset_at: after(now, u.reset_ms),
                            want: want(&u.limit.name, &u.limit),
                            limit: u.limit,
                            slot: u.slot,
                            units: u.units,
                            room: u.room,
                        })
                        .collect(),
                };
                // Reserved for this very request: covered, unless it
                // stopped waiting meanwhile (then it is not charged).
                let spent = match answer.is_closed() {
                    true => Spent::default(),
                    false => h.spend(cost, now, false).unwrap_or_default(),
                };
                held.insert(id, h);
                spent
            }
        };
        count(&self.reserved, &held);
        Ok(spent)
    }

    /// Gives back what is held in vault `vault` (what was reserved in a
    /// vault no longer at the location is nothing in this one), where the
    /// quota did not change since.
    fn give_back(&mut self, vault: u64) {
        let all: Vec<(KeyId, Held)> = lock(&self.held).drain().collect();
        count(&self.reserved, &HashMap::new());
        let now = Instant::now();
        for (id, h) in all.into_iter().filter(|(_, h)| h.vault == vault) {
            let holding = h.holding(now);
            if holding.credits == 0 && holding.units.is_empty() {
                continue;
            }
            let credits = holding.credits;
            if let Err(e) = self.write(|v| v.write(|tx, _| intents::give_back(tx, &id, &holding))) {
                tracing::warn!(
                    quota = %id,
                    credits,
                    error = %format!("{e:#}"),
                    "cannot give what was reserved back to the vault: it stays spent"
                );
            }
        }
    }
}
