//! State that many threads write on every request, kept apart per thread:
//! a [`Striped`] value holds one copy (a stripe) per thread, each on its
//! own cache lines, so a thread updating its stripe never takes a cache
//! line from another core. Whoever reads the whole (a metrics scrape, a
//! flush) goes over every stripe. Threads past [`STRIPES`] share stripes
//! (still correct: a stripe is a lock or an atomic like any other, only
//! shared).

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many stripes a value has: more than the threads that write on a
/// request path (serve's workers, one per core, and a few others).
pub const STRIPES: usize = 32;

/// One stripe, alone on its cache lines (128 bytes: two lines, as Intel's
/// prefetcher pairs them).
#[repr(align(128))]
struct Padded<T>(T);

/// A value kept per thread.
pub struct Striped<T> {
    stripes: Box<[Padded<T>]>,
}

impl<T: Default> Default for Striped<T> {
    fn default() -> Self {
        Striped {
            stripes: (0..STRIPES).map(|_| Padded(T::default())).collect(),
        }
    }
}

impl<T> Striped<T> {
    /// This thread's stripe.
    pub fn mine(&self) -> &T {
        &self.stripes[thread_index() % self.stripes.len()].0
    }

    /// Every stripe, for whoever reads or empties the whole.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.stripes.iter().map(|p| &p.0)
    }
}

/// A number of this thread's own, given in the order threads first ask.
fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|i| *i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn each_thread_writes_its_own_stripe_and_the_sum_is_exact() {
        let counts = Striped::<AtomicU64>::default();
        let mut used = [0u64; STRIPES];
        std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        for _ in 0..10_000 {
                            counts.mine().fetch_add(1, Ordering::Relaxed);
                        }
                        thread_index() % STRIPES
                    })
                })
                .collect();
            for t in threads {
                used[t.join().unwrap_or(0)] += 10_000;
            }
        });
        let written: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        assert_eq!(written, used);
        assert_eq!(written.iter().sum::<u64>(), 40_000);
    }

    #[test]
    fn stripes_do_not_share_cache_lines() {
        let s = Striped::<u8>::default();
        let a = std::ptr::from_ref(s.iter().next().unwrap_or(&0)) as usize;
        let b = std::ptr::from_ref(s.iter().nth(1).unwrap_or(&0)) as usize;
        assert!(b - a >= 128);
    }
}
