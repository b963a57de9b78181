use super::{Ctx, Report, validate_all};
use crate::cli::CreateArgs;
use crate::error::{Error, Result};
use crate::secret::validate_prefix;
use crate::text::{Field, validate_text};
use crate::vault::{Access, NewKey};
use crate::when::{Deadline, parse_deadline};

pub fn run(args: &CreateArgs, ctx: &mut Ctx) -> Result<Report> {
    if let Some(name) = &args.name {
        validate_text(Field::Name, name)?;
    }
    validate_text(Field::Env, &args.env)?;
    validate_all(Field::Scope, &args.scopes)?;
    if let Some(prefix) = &args.prefix {
        validate_prefix(prefix)?;
    }
    let expires = parse_deadline(&args.expires, ctx.now())?;
    if expires == Deadline::At(ctx.now()) {
        return Err(Error::usage(format!(
            "--expires '{}' would create a key that is already expired: try 30d, 90d or never",
            crate::text::escape(&args.expires)
        ))
        .into());
    }
    let new = NewKey {
        name: args.name.clone(),
        env: args.env.clone(),
        expires,
        scopes: dedup(&args.scopes),
        prefix: args.prefix.clone(),
    };
    let (actor, now) = (ctx.actor().to_string(), ctx.now());
    let (key, secret) = ctx.vault(Access::OrCreate)?.create(new, &actor, now)?;
    Ok(Report::Created { key, secret })
}

/// Scopes in the order given, each once.
fn dedup(scopes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for s in scopes {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}
