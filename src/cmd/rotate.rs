use super::{Ctx, Report, prompt, stdout_must_be_open};
use crate::cli::RotateArgs;
use crate::error::{Error, Result};
use crate::intents::Rotation;
use crate::key::KeyRef;
use crate::store::Access;
use crate::text::Name;
use crate::when::{parse_expiry, parse_policy, parse_span};

pub fn run(args: &RotateArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    let name = args.name.as_deref().map(Name::parse).transpose()?;
    let rotate_every = args
        .rotate_every
        .as_deref()
        .map(|v| parse_policy("--rotate-every", v))
        .transpose()?;
    let env = super::env_or_default(args.key.env.as_deref())?;
    let expires = args
        .expires
        .as_deref()
        .map(|e| parse_expiry("--expires", e, now))
        .transpose()?;
    let grace = args
        .grace
        .as_deref()
        .map(|g| parse_span(g, now))
        .transpose()?;
    if grace.is_none() && !ctx.interactive() {
        return Err(missing_grace().into());
    }
    super::quota::change(&args.quota)?;
    stdout_must_be_open()?;
    // The KEY is resolved once, here; if another process rotates or
    // revokes that key before this write takes the lock, it is refused.
    let old = ctx
        .vault(Access::Write)?
        .resolve(&KeyRef::parse(&args.key.key), &env)?;
    let grace = match grace {
        Some(g) => g,
        None => {
            // Say which key before asking, and fail before asking if it cannot be rotated.
            crate::lifecycle::may_rotate(&old, ctx.now())?;
            prompt::grace(&old, ctx.now())?
        }
    };
    let rotation = Rotation {
        grace,
        expires,
        name,
        rotate_every,
        reason: None,
        quota: super::quota::change(&args.quota)?,
    };
    let actor = ctx.actor().clone();
    let rotated = ctx
        .vault(Access::Write)?
        .rotate(&old.id, &rotation, &actor)?;
    Ok(Report::Rotated(Box::new(rotated)))
}

fn missing_grace() -> Error {
    let presets: Vec<&str> = prompt::GRACE_PRESETS.iter().map(|(_, v)| *v).collect();
    Error::usage(format!(
        "rotate needs --grace without a terminal to ask on: how long the old key keeps working \
         ({}, or any duration such as 36h), e.g. --grace 24h",
        presets.join(", ")
    ))
}
