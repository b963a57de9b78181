use super::{Ctx, Report};
use crate::cli::ListArgs;
use crate::error::Result;
use crate::store::Access;
use crate::text::Env;
use crate::vault::KeyFilter;
use crate::when::{parse_moment, parse_since};

pub fn run(args: &ListArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    let filter = KeyFilter {
        env: args.env.as_deref().map(Env::parse).transpose()?,
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
    Ok(Report::Keys(ctx.vault(Access::Read)?.keys(&filter)?))
}
