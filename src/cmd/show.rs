use super::{Ctx, Report};
use crate::cli::ShowArgs;
use crate::error::Result;
use crate::key::KeyRef;
use crate::store::{Access, EventFilter};

/// How many of a key's events `show` lists, newest first.
const RECENT_EVENTS: usize = 20;

pub fn run(args: &ShowArgs, ctx: &mut Ctx) -> Result<Report> {
    let env = super::env_or_default(args.key.env.as_deref())?;
    let vault = ctx.vault(Access::Read)?;
    let key = vault.find(&KeyRef::parse(&args.key.key), &env)?;
    let events = vault.events(&EventFilter {
        key_id: Some(key.id.clone()),
        limit: RECENT_EVENTS,
        ..EventFilter::default()
    })?;
    Ok(Report::Key { key, events })
}
