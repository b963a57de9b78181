use super::{Ctx, Report, prompt};
use crate::cli::RevokeArgs;
use crate::error::{Error, Result};
use crate::key::{Key, KeyRef};
use crate::lifecycle::{self, Revocation};
use crate::text::{Field, escape, validate_text, validate_text_len};
use crate::vault::Access;

/// Reasons are free text for the log, longer than names.
const MAX_REASON_LEN: usize = 500;

pub fn run(args: &RevokeArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    validate_text(Field::Env, &args.key.env)?;
    if let Some(reason) = &args.reason {
        validate_text_len(Field::Reason, reason, MAX_REASON_LEN)?;
    }
    let interactive = ctx.interactive();
    let key_ref = KeyRef::parse(&args.key.key);
    let vault = ctx.vault(Access::Existing)?;
    let key = vault.find(&key_ref, &args.key.env, now)?;
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
    let key_ref = KeyRef::Id(key.id.clone());
    let actor = ctx.actor().to_string();
    let (key, outcome) = ctx.vault(Access::Existing)?.revoke(
        &key_ref,
        &args.key.env,
        args.reason.as_deref(),
        &actor,
        now,
    )?;
    Ok(Report::Revoked {
        key,
        changed: outcome == Revocation::Revoke,
    })
}

fn question(key: &Key, now: crate::when::Timestamp) -> String {
    let last_used = key
        .last_used_at
        .map_or_else(|| "never".to_string(), |t| t.relative_to(now));
    format!(
        "Revoke '{}' ({}) in environment '{}', last used {last_used}? It stops working at once",
        escape(&key.name),
        key.id,
        escape(&key.env)
    )
}
