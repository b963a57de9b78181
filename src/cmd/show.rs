use super::{Ctx, Report};
use crate::cli::ShowArgs;
use crate::error::Result;
use crate::key::KeyRef;
use crate::vault::{Access, EventFilter};

/// How many of a key's events `show` lists, newest first.
const RECENT_EVENTS: usize = 20;

pub fn run(args: &ShowArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    let vault = ctx.vault(Access::Existing)?;
    let key = vault.find(&KeyRef::parse(&args.key.key), &args.key.env, now)?;
    let events = vault.events(&EventFilter {
        key_id: Some(key.id.clone()),
        limit: RECENT_EVENTS,
        ..EventFilter::default()
    })?;
    Ok(Report::Key { key, events })
}
