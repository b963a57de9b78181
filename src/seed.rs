//! Bulk-fills a new vault for benchmarks and load tests, through the same
//! vault operations as the commands (in batches, so a million keys do not
//! cost a million fsyncs).
//!
//! Each environment keeps `max-keys` (3) active keys; the rest of the keys
//! are their predecessors, rotated with a ten-year grace, so every secret
//! verifies. Events beyond one per key are expiry changes on active keys.

use crate::error::Result;
use crate::key::KeyRef;
use crate::secret::Secret;
use crate::vault::{NewKey, Rotation, Setting, Vault};
use crate::when::{Deadline, Timestamp};

pub const ACTIVE_PER_ENV: u64 = 3;
const BATCH: u64 = 5_000;
const ACTOR: &str = "seed@bench";

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub keys: u64,
    pub envs: u64,
    /// About this many events in all (at least one per key).
    pub events: u64,
}

/// Fills `vault` by `plan`, calling `on_secret(n, secret)` for every key
/// and `progress(done, total)` after each batch. Returns the event count.
pub fn fill(
    vault: &mut Vault,
    plan: Plan,
    now: Timestamp,
    mut on_secret: impl FnMut(u64, &Secret) -> Result<()>,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64> {
    anyhow::ensure!(
        plan.keys > 0 && plan.envs > 0,
        "keys and envs must be at least 1"
    );
    vault.set_setting(Setting::MaxKeys, &ACTIVE_PER_ENV.to_string(), ACTOR, now)?;
    let slots = plan.envs * ACTIVE_PER_ENV;
    let env_of = |n: u64| format!("env{:03}", (n % slots) % plan.envs);
    // The active key of each (environment, slot), by id.
    let mut current: Vec<Option<String>> = vec![None; usize::try_from(slots)?];
    let extra = plan.events.saturating_sub(plan.keys + 1);
    let total = plan.keys + extra;
    let mut done = 0u64;
    while done < total {
        let end = (done + BATCH).min(total);
        vault.batch(|b| {
            for n in done..end {
                let slot = usize::try_from(n % slots)?;
                let env = env_of(n);
                if n >= plan.keys {
                    if let Some(id) = &current[slot] {
                        let days = 30 + i64::try_from(n % 300)?;
                        let expires = Deadline::At(now.plus_secs(86_400 * days));
                        b.change_expiry(&KeyRef::Id(id.clone()), &env, expires, ACTOR, now)?;
                    }
                    continue;
                }
                let (key, secret) = match &current[slot] {
                    None => {
                        let new = NewKey {
                            name: Some(format!("svc-{slot}")),
                            env,
                            expires: Deadline::Never,
                            scopes: vec!["read".into()],
                            prefix: None,
                        };
                        b.create(new, ACTOR, now)?
                    }
                    Some(id) => {
                        let r = Rotation {
                            grace_ends: now.plus_secs(3650 * 86_400),
                            expires: None,
                            name: None,
                        };
                        let rotated = b.rotate(&KeyRef::Id(id.clone()), &env, r, ACTOR, now)?;
                        (rotated.key, rotated.secret)
                    }
                };
                on_secret(n, &secret)?;
                current[slot] = Some(key.id);
            }
            Ok(())
        })?;
        done = end;
        progress(done, total);
    }
    vault.verify_chain()
}
