use super::{Ctx, Report};
use crate::cli::ExtendArgs;
use crate::error::{Error, Result};
use crate::intents;
use crate::key::KeyRef;
use crate::store::Access;
use crate::when::{parse_expiry, parse_span};

pub fn run(args: &ExtendArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    let env = super::env_or_default(args.key.env.as_deref())?;
    let actor = ctx.actor().clone();
    // Check the values before the vault is opened: bad input changes nothing.
    let grace = args
        .grace
        .as_deref()
        .map(|g| parse_span(g, now))
        .transpose()?;
    let expires = args
        .expires
        .as_deref()
        .map(|e| parse_expiry("--expires", e, now))
        .transpose()?;
    let vault = ctx.vault(Access::Write)?;
    let key = vault.resolve(&KeyRef::parse(&args.key.key), &env)?;
    match (grace, expires) {
        (Some(ends), None) => {
            let changed =
                vault.write(|tx, now| intents::change_grace(tx, &key.id, ends, &actor, now))?;
            Ok(Report::Extended {
                key: changed.key,
                capped: changed.capped,
            })
        }
        (None, Some(expires)) => Ok(Report::Extended {
            key: vault
                .write(|tx, now| intents::change_expiry(tx, &key.id, expires, &actor, now))?,
            capped: false,
        }),
        _ => Err(
            Error::usage("extend needs exactly one of --grace DUR or --expires DUR|never").into(),
        ),
    }
}
