//! `retire`: ends the grace of keys in grace that nothing uses any more,
//! in one transaction; `--dry-run` lists them instead.

use super::{Ctx, Report, env_filter, prompt};
use crate::cli::RetireArgs;
use crate::error::{Error, Result};
use crate::intents;
use crate::shown::quote;
use crate::store::Access;
use crate::when::parse_duration;

/// The shortest quiet time: twice the resolution of last use, so that a
/// key used at least once a minute is never taken for quiet.
const MIN_QUIET_FOR: i64 = 2 * crate::store::LAST_USED_RESOLUTION;

pub fn run(args: &RetireArgs, ctx: &mut Ctx) -> Result<Report> {
    let quiet_for = parse_duration(
        &args.quiet_for,
        "--quiet-for takes a duration of at least 2m, how long nothing has used a key \
         (try 30m, 1h or 1d)",
    )?;
    if quiet_for < MIN_QUIET_FOR {
        return Err(Error::usage(format!(
            "--quiet-for '{}' is too short: it must be at least 2m, because last use is recorded \
             at most once a minute (verify) and every 10 s (serve), so a key in use can look \
             quiet for up to a minute; try --quiet-for 1h",
            quote(&args.quiet_for)
        ))
        .into());
    }
    let env = env_filter(args.env.as_deref())?;
    let interactive = ctx.interactive();
    let actor = ctx.actor().clone();
    if args.dry_run {
        let vault = ctx.vault(Access::Read)?;
        let keys = vault.quiet(env.as_ref(), quiet_for)?;
        return Ok(Report::Retired {
            keys,
            dry_run: true,
        });
    }
    let vault = ctx.vault(Access::Write)?;
    let mut confirmed = None;
    if !args.yes {
        if !interactive {
            return Err(Error::usage(
                "retire needs --yes without a terminal to confirm on (the keys it ends stop working at once); \
                 see which ones with --dry-run",
            )
            .into());
        }
        let candidates = vault.quiet(env.as_ref(), quiet_for)?;
        if candidates.is_empty() {
            return Ok(Report::Retired {
                keys: candidates,
                dry_run: false,
            });
        }
        let names: Vec<String> = candidates
            .iter()
            .map(|(k, _)| format!("{} '{}'", k.id, quote(k.name.as_str())))
            .collect();
        let question = format!(
            "End the grace of {} key(s) now ({})? They stop working at once",
            names.len(),
            names.join(", ")
        );
        if !prompt::confirm(&question)? {
            return Err(Error::Cancelled.into());
        }
        confirmed = Some(
            candidates
                .into_iter()
                .map(|(k, _)| k.id)
                .collect::<Vec<_>>(),
        );
    }
    // Judged again under the lock: a key used or rotated since the
    // question was asked is left alone, and only keys the person confirmed
    // are ended.
    let keys = vault.write(|tx, now| {
        intents::retire(
            tx,
            env.as_ref(),
            quiet_for,
            confirmed.as_deref(),
            &actor,
            now,
        )
    })?;
    Ok(Report::Retired {
        keys,
        dry_run: false,
    })
}
