use super::{Ctx, Report, prompt, stdout_must_be_open};
use crate::cli::CreateArgs;
use crate::error::Result;
use crate::intents::NewKey;
use crate::store::Access;
use crate::text::validate_prefix;
use crate::text::{Meta, Name, Note, Owner, Scope, parse_all};
use crate::when::{Expiry, parse_expiry, parse_policy};

pub fn run(args: &CreateArgs, ctx: &mut Ctx) -> Result<Report> {
    let name = args.name.as_deref().map(Name::parse).transpose()?;
    let env = super::env_or_default(args.env.as_deref())?;
    let scopes = parse_all(&args.scopes, Scope::parse)?;
    if let Some(prefix) = &args.prefix {
        validate_prefix(prefix)?;
    }
    let rotate_every = args
        .rotate_every
        .as_deref()
        .map(|v| parse_policy("--rotate-every", v))
        .transpose()?;
    let quota = super::quota::change(&args.quota)?;
    let expires = match &args.expires {
        Some(e) => parse_expiry("--expires", e, ctx.now())?,
        None if ctx.interactive() => prompt::expiry()?,
        None => Expiry::Never,
    };
    stdout_must_be_open()?;
    let new = NewKey {
        name,
        env,
        expires,
        scopes,
        prefix: args.prefix.clone(),
        note: args.note.as_deref().map(Note::parse).transpose()?,
        rotate_every,
        quota,
        owner: args.owner.as_deref().map(Owner::parse).transpose()?,
        meta: args.meta.as_deref().map(Meta::parse).transpose()?,
    };
    let actor = ctx.actor().clone();
    let created = ctx.vault(Access::Create)?.create(&new, &actor)?;
    Ok(Report::Created(created))
}
