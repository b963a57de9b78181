//! Bulk-fills a new vault for benchmarks and load tests, through the same
//! vault operations as the commands (in batches, so a million keys do not
//! cost a million fsyncs).
//!
//! Each environment keeps `max-keys` (3) active keys; the rest of the keys
//! are their predecessors, rotated with a ten-year grace, so every secret
//! verifies. Events beyond one per key are expiry changes on active keys.

use crate::error::Result;
use crate::intents::{self, NewKey, Rotation};
use crate::key::KeyId;
use crate::secret::Secret;
use crate::settings::Setting;
use crate::text::{Actor, Env, Name, Scope};
use crate::vault::Vault;
use crate::when::{Expiry, Moment};

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
    mut on_secret: impl FnMut(u64, &Secret) -> Result<()>,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64> {
    anyhow::ensure!(
        plan.keys > 0 && plan.envs > 0,
        "keys and envs must be at least 1"
    );
    let actor = Actor::parse(ACTOR)?;
    vault.write(|tx, now| {
        crate::intents::set_setting(
            tx,
            Setting::MaxKeys,
            &ACTIVE_PER_ENV.to_string(),
            &actor,
            now,
        )
    })?;
    let slots = plan.envs * ACTIVE_PER_ENV;
    let env_of = |n: u64| Env::stored(format!("env{:03}", (n % slots) % plan.envs));
    // The active key of each (environment, slot), by id.
    let mut current: Vec<Option<KeyId>> = vec![None; usize::try_from(slots)?];
    let extra = plan.events.saturating_sub(plan.keys + 1);
    let total = plan.keys + extra;
    let mut done = 0u64;
    while done < total {
        let end = (done + BATCH).min(total);
        vault.write(|tx, now| {
            for n in done..end {
                let slot = usize::try_from(n % slots)?;
                if n >= plan.keys {
                    if let Some(id) = &current[slot] {
                        let days = 30 + i64::try_from(n % 300)?;
                        let expires = Expiry::At(Moment::After(86_400 * days));
                        intents::change_expiry(tx, id, expires, &actor, now)?;
                    }
                    continue;
                }
                let (key, secret) = match &current[slot] {
                    None => {
                        let new = NewKey {
                            name: Some(Name::parse(&format!("svc-{slot}"))?),
                            env: env_of(n),
                            expires: Expiry::Never,
                            scopes: vec![Scope::parse("read")?],
                            prefix: None,
                            note: None,
                            rotate_every: None,
                            quota: Default::default(),
                            owner: None,
                            meta: None,
                        };
                        let created = intents::create(tx, &new, &actor, now)?;
                        (created.key, created.secret)
                    }
                    Some(id) => {
                        let r = Rotation {
                            grace: Moment::After(3650 * 86_400),
                            expires: None,
                            name: None,
                            rotate_every: None,
                            reason: None,
                            quota: Default::default(),
                        };
                        let rotated = intents::rotate(tx, id, &r, &actor, now)?;
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
