//! Spending keys' quotas: one thread holds the vault open for writing and
//! spends each verification's cost in one write transaction, so credits
//! and rate limits are exact across every serve and CLI `verify` on the
//! vault. A request waits for its answer; a vault that cannot be written
//! makes it a 503, never a 200.

use std::sync::mpsc;

use keyward_core::error::Result;
use keyward_core::intents::Ask;
use keyward_core::key::KeyId;
use keyward_core::quota::Spent;
use keyward_core::vault::Vault;
use tokio::sync::oneshot;

use super::usage::Opener;

type Job = (KeyId, Ask, oneshot::Sender<Result<Spent>>);

pub struct Spender {
    jobs: mpsc::Sender<Job>,
}

impl Spender {
    /// Starts the thread; it ends when the spender is dropped.
    pub fn start(open: Opener) -> std::io::Result<Spender> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("keyward-quota".into())
            .spawn(move || {
                let mut held: Option<Vault> = None;
                for (id, ask, answer) in queue {
                    // A vault file replaced under serve: the new one is written.
                    if held.as_ref().is_some_and(Vault::replaced) {
                        held = None;
                    }
                    let spent = match held.as_mut() {
                        Some(v) => v.spend(&id, &ask),
                        None => open().and_then(|v| {
                            let vault = held.insert(v);
                            vault.spend(&id, &ask)
                        }),
                    };
                    if spent.is_err() {
                        held = None;
                    }
                    let _ = answer.send(spent);
                }
            })?;
        Ok(Spender { jobs })
    }

    /// Spends what one verification of key `id` costs; None when the
    /// thread is gone.
    pub async fn spend(&self, id: &KeyId, ask: &Ask) -> Option<Result<Spent>> {
        let (answer, answered) = oneshot::channel();
        self.jobs.send((id.clone(), ask.clone(), answer)).ok()?;
        answered.await.ok()
    }
}
