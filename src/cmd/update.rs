use super::{Ctx, Report, env_or_default};
use crate::cli::UpdateArgs;
use crate::error::{Error, Result};
use crate::intents::{self, Update};
use crate::key::KeyRef;
use crate::store::Access;
use crate::text::{Meta, Name, Note, Owner, Scope, parse_all};

pub fn run(args: &UpdateArgs, ctx: &mut Ctx) -> Result<Report> {
    let env = env_or_default(args.key.env.as_deref())?;
    let update = Update {
        name: args.name.as_deref().map(Name::parse).transpose()?,
        add_scopes: parse_all(&args.add_scopes, Scope::parse)?,
        remove_scopes: parse_all(&args.remove_scopes, Scope::existing)?,
        note: match args.note.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(text) => Some(Some(Note::parse(text)?)),
        },
        quota: super::quota::change(&args.quota)?,
        owner: match args.owner.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(id) => Some(Some(Owner::parse(id)?)),
        },
        meta: match args.meta.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(json) => Some(Some(Meta::parse(json)?)),
        },
    };
    if let Some(both) = update
        .add_scopes
        .iter()
        .find(|s| update.remove_scopes.contains(s))
    {
        return Err(Error::usage(format!(
            "scope '{}' is both added and removed: give it once",
            crate::shown::quote(both.as_str())
        ))
        .into());
    }
    if update.name.is_none()
        && update.add_scopes.is_empty()
        && update.remove_scopes.is_empty()
        && update.note.is_none()
        && update.quota.is_empty()
        && update.owner.is_none()
        && update.meta.is_none()
    {
        return Err(Error::usage(
            "update needs something to change: --name, --add-scope, --remove-scope, --note, \
             --owner, --meta, --ratelimit, --no-ratelimit, --credits, --add-credits, --refill or \
             --no-refill",
        )
        .into());
    }
    let actor = ctx.actor().clone();
    let vault = ctx.vault(Access::Write)?;
    let key = vault.resolve(&KeyRef::parse(&args.key.key), &env)?;
    let (key, changed) =
        vault.write(|tx, now| intents::update(tx, &key.id, &update, &actor, now))?;
    Ok(Report::Updated { key, changed })
}
