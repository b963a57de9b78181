use super::{Ctx, Report};
use crate::cli::ListArgs;
use crate::error::Result;
use crate::text::{Field, validate_text};
use crate::vault::{Access, KeyFilter};
use crate::when::{parse_moment, parse_since};

pub fn run(args: &ListArgs, ctx: &mut Ctx) -> Result<Report> {
    if let Some(env) = &args.env {
        validate_text(Field::Env, env)?;
    }
    let now = ctx.now();
    let filter = KeyFilter {
        env: args.env.clone(),
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
    };
    Ok(Report::Keys(
        ctx.vault(Access::Existing)?.keys(&filter, now)?,
    ))
}
