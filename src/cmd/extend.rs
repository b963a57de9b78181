use super::{Ctx, Report};
use crate::cli::ExtendArgs;
use crate::error::{Error, Result};
use crate::key::KeyRef;
use crate::text::{Field, validate_text};
use crate::vault::Access;
use crate::when::{parse_deadline, parse_moment};

pub fn run(args: &ExtendArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    validate_text(Field::Env, &args.key.env)?;
    let key = KeyRef::parse(&args.key.key);
    let actor = ctx.actor().to_string();
    let env = &args.key.env;
    let updated = match (&args.grace, &args.expires) {
        (Some(grace), None) => {
            let ends = parse_moment(grace, now)?;
            ctx.vault(Access::Existing)?
                .change_grace(&key, env, ends, &actor, now)?
        }
        (None, Some(expires)) => {
            let deadline = parse_deadline(expires, now)?;
            ctx.vault(Access::Existing)?
                .change_expiry(&key, env, deadline, &actor, now)?
        }
        _ => {
            return Err(Error::usage(
                "extend needs exactly one of --grace DUR or --expires DUR|never",
            )
            .into());
        }
    };
    Ok(Report::Updated(updated))
}
