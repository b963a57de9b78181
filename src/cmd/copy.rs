use super::{Ctx, Report};
use crate::Location;
use crate::cli::CopyArgs;
use crate::error::{Error, Result};
use crate::store::Access;

pub fn run(args: &CopyArgs, ctx: &mut Ctx) -> Result<Report> {
    let dest = Location::parse(args.to.clone())?;
    if dest.shown() == ctx.location().shown() {
        return Err(Error::usage(
            "copy --to names the vault being copied: give another destination",
        )
        .into());
    }
    let (clock, say) = (ctx.clock(), ctx.say);
    let source = ctx.vault(Access::Read)?;
    let copied = source.copy_to(|| super::open_vault(&dest, Access::Create, false, clock, say))?;
    Ok(Report::Copied {
        to: dest.shown(),
        copied,
    })
}
