use super::{Ctx, Report, env_filter};
use crate::cli::LogArgs;
use crate::error::Result;
use crate::event::{Anchor, EventKind};
use crate::key::KeyRef;
use crate::store::{Access, EventFilter};
use crate::text::{Actor, Env};
use crate::when::parse_since;

pub fn run(args: &LogArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    if args.verify {
        let anchors = args
            .anchors
            .iter()
            .map(|a| Anchor::parse(a).map_err(crate::error::Error::usage))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Report::ChainIntact(
            ctx.vault(Access::Read)?.verify_anchored(&anchors)?,
        ));
    }
    if args.head {
        return Ok(Report::Head(ctx.vault(Access::Read)?.head()?));
    }
    let env = env_filter(args.env.as_deref())?;
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, now))
        .transpose()?;
    let kinds = args
        .events
        .iter()
        .map(|e| e.parse::<EventKind>().map_err(crate::error::Error::usage))
        .collect::<Result<Vec<_>, _>>()?;
    let actor = args.by.as_deref().map(Actor::parse).transpose()?;
    let vault = ctx.vault(Access::Read)?;
    let key_id = match &args.key {
        Some(k) => {
            let lookup = env.clone().unwrap_or_else(Env::default_env);
            Some(vault.find(&KeyRef::parse(k), &lookup)?.id)
        }
        None => None,
    };
    let filter = EventFilter {
        // A key's events are all in its environment; --env only names where to look it up.
        env: if key_id.is_some() { None } else { env },
        key_id,
        kinds,
        actor,
        since,
        before_id: args.before,
        limit: usize::try_from(args.limit).unwrap_or(usize::MAX),
    };
    Ok(Report::Events(vault.events(&filter)?))
}
