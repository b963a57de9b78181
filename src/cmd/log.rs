use super::{Ctx, Report};
use crate::cli::LogArgs;
use crate::error::Result;
use crate::key::KeyRef;
use crate::text::{Field, validate_text};
use crate::vault::{Access, EventFilter};
use crate::when::parse_since;

pub fn run(args: &LogArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    if args.verify {
        return Ok(Report::ChainIntact(
            ctx.vault(Access::Existing)?.verify_chain()?,
        ));
    }
    if let Some(env) = &args.env {
        validate_text(Field::Env, env)?;
    }
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, now))
        .transpose()?;
    let vault = ctx.vault(Access::Existing)?;
    let key_id = match &args.key {
        Some(k) => {
            let env = args.env.as_deref().unwrap_or("default");
            Some(vault.find(&KeyRef::parse(k), env, now)?.id)
        }
        None => None,
    };
    let filter = EventFilter {
        // A key's events are all in its environment; --env only names where to look it up.
        env: if key_id.is_some() {
            None
        } else {
            args.env.clone()
        },
        key_id,
        kinds: args.events.clone(),
        since,
        before_id: args.before,
        limit: usize::try_from(args.limit).unwrap_or(usize::MAX),
    };
    Ok(Report::Events(vault.events(&filter)?))
}
