use super::{Ctx, Report, env_filter};
use crate::cli::ListArgs;
use crate::error::Result;
use crate::shown::quote;
use crate::store::Access;
use crate::vault::KeyFilter;
use crate::when::{parse_moment, parse_since};

pub fn run(args: &ListArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    let filter = KeyFilter {
        env: env_filter(args.env.as_deref())?,
        all: args.all,
        expiring_by: args
            .expiring_within
            .as_deref()
            .map(|d| parse_moment(d, now))
            .transpose()?,
        unused_since: args
            .unused_for
            .as_deref()
            .map(|d| parse_since(d, now))
            .transpose()?,
        due_by: match (args.due, args.within.as_deref()) {
            (false, _) => None,
            (true, None) => Some(now),
            (true, Some(within)) => Some(parse_moment(within, now)?),
        },
        owner: args
            .owner
            .as_deref()
            .map(crate::text::Owner::parse)
            .transpose()?,
    };
    let (json, stream, say) = (ctx.json, ctx.stream_keys, ctx.say);
    let vault = ctx.vault(Access::Read)?;
    // One pass over many rows: pages read once need not stay mapped.
    vault.unmapped()?;
    // Printed as read where it can be: a large environment is never held.
    let (mut listed, mut loose, mut defaults) = (0u64, Vec::new(), Vec::new());
    let streamed = stream(
        json,
        now,
        &mut |k| {
            listed += 1;
            if k.has_loose_scope() {
                loose.push(k.clone());
            }
            if k.is_default {
                defaults.push(k.clone());
            }
        },
        &mut |passes| vault.each_key(&filter, passes),
    )?;
    let keys = match streamed {
        Some(()) => Vec::new(),
        None => {
            let keys = vault.keys(&filter)?;
            listed = u64::try_from(keys.len()).unwrap_or(u64::MAX);
            loose = keys
                .iter()
                .filter(|k| k.has_loose_scope())
                .cloned()
                .collect();
            defaults = keys.iter().filter(|k| k.is_default).cloned().collect();
            keys
        }
    };
    // An environment with keys listed has keys: only an empty list asks
    // which environments exist (a pass over the whole vault's index).
    if let Some(env) = filter.env.as_ref().filter(|_| listed == 0) {
        let envs = vault.envs()?;
        if !envs.contains(env) {
            let known: Vec<String> = envs
                .iter()
                .map(|e| format!("'{}'", quote(e.as_str())))
                .collect();
            say(&format!(
                "Environment '{}' has no keys. {}",
                quote(env.as_str()),
                match known.len() {
                    0 => "The vault has no keys yet.".to_string(),
                    _ => format!("Environments with keys: {}.", known.join(", ")),
                }
            ));
        }
    }
    if !json {
        super::warn_default_keys_ending(say, &defaults, now);
    }
    super::warn_loose_scopes(say, &loose);
    if listed == 0 && !json {
        say(if args.due {
            "No active key is due for rotation (see create --rotate-every)."
        } else if args.all {
            "No keys to show."
        } else {
            "No keys to show (keyward list --all includes expired and revoked keys)."
        });
    }
    Ok(match streamed {
        Some(()) => Report::Streamed,
        None => Report::Keys(keys),
    })
}
