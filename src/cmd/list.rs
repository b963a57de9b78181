use super::{Ctx, Report};
use crate::cli::ListArgs;
use crate::error::Result;
use crate::text::{Field, validate_text};
use crate::vault::{Access, KeyFilter};

pub fn run(args: &ListArgs, ctx: &mut Ctx) -> Result<Report> {
    if let Some(env) = &args.env {
        validate_text(Field::Env, env)?;
    }
    let filter = KeyFilter {
        env: args.env.clone(),
        all: args.all,
    };
    let now = ctx.now();
    Ok(Report::Keys(
        ctx.vault(Access::Existing)?.keys(&filter, now)?,
    ))
}
