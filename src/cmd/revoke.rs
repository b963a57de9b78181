use super::{Ctx, Report, prompt};
use crate::cli::RevokeArgs;
use crate::error::{Error, Result};
use crate::intents;
use crate::key::{Key, KeyRef};
use crate::lifecycle::{self, Revocation};
use crate::shown::escape;
use crate::store::Access;
use crate::text::Reason;
use crate::when::Timestamp;

pub fn run(args: &RevokeArgs, ctx: &mut Ctx) -> Result<Report> {
    let reason = args.reason.as_deref().map(Reason::parse).transpose()?;
    let Some(key_arg) = args.key.as_deref() else {
        return super::leaked::run(args, reason, ctx);
    };
    let env = super::env_or_default(args.env.as_deref())?;
    let interactive = ctx.interactive();
    let now = ctx.now();
    let key = ctx
        .vault(Access::Write)?
        .resolve(&KeyRef::parse(key_arg), &env)?;
    if lifecycle::may_revoke(&key, now)? == Revocation::AlreadyRevoked {
        return Ok(Report::Revoked {
            key,
            changed: false,
        });
    }
    if !args.yes {
        if !interactive {
            return Err(Error::usage(
                "revoke needs --yes without a terminal to confirm on (a revoked key stops working at once and cannot be restored)",
            )
            .into());
        }
        if !prompt::confirm(&question(&key, now))? {
            return Err(Error::Cancelled.into());
        }
    }
    let actor = ctx.actor().clone();
    let (key, outcome) = ctx
        .vault(Access::Write)?
        .write(|tx, now| intents::revoke(tx, &key.id, reason.as_ref(), &actor, now))?;
    Ok(Report::Revoked {
        key,
        changed: outcome == Revocation::Revoke,
    })
}

fn question(key: &Key, now: Timestamp) -> String {
    let last_used = key
        .last_used_at
        .map_or_else(|| "never".to_string(), |t| t.relative_to(now));
    format!(
        "Revoke '{}' ({}) in environment '{}', last used {last_used}? It stops working at once",
        escape(key.name.as_str()),
        key.id,
        escape(key.env.as_str())
    )
}
