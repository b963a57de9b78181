use super::{Ctx, Report};
use crate::cli::ShowArgs;
use crate::error::Result;
use crate::key::KeyRef;
use crate::store::{Access, EventFilter};

/// How many of a key's events `show` lists, newest first.
const RECENT_EVENTS: usize = 20;

/// How many UTC days of serve's usage counts `show` gives.
pub const USAGE_DAYS: u16 = 30;

pub fn run(args: &ShowArgs, ctx: &mut Ctx) -> Result<Report> {
    let env = super::env_or_default(args.key.env.as_deref())?;
    let (json, say) = (ctx.json, ctx.say);
    let vault = ctx.vault(Access::Read)?;
    let key = vault.find(&KeyRef::parse(&args.key.key), &env)?;
    let events = vault.events(&EventFilter {
        key_id: Some(key.id.clone()),
        limit: RECENT_EVENTS,
        ..EventFilter::default()
    })?;
    let usage = vault.usage(&key.id, USAGE_DAYS)?;
    super::warn_loose_scopes(say, std::slice::from_ref(&key));
    if !json {
        super::warn_default_keys_ending(say, &vault.active_in_env(&key.env)?, vault.now());
    }
    Ok(Report::Key { key, events, usage })
}
