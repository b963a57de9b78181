use super::{Ctx, Report, prompt};
use crate::cli::RotateArgs;
use crate::error::{Error, Result};
use crate::key::KeyRef;
use crate::text::{Field, validate_text};
use crate::vault::{Access, Rotation};
use crate::when::{Deadline, parse_deadline, parse_moment};

pub fn run(args: &RotateArgs, ctx: &mut Ctx) -> Result<Report> {
    let now = ctx.now();
    if let Some(name) = &args.name {
        validate_text(Field::Name, name)?;
    }
    validate_text(Field::Env, &args.key.env)?;
    let expires = args
        .expires
        .as_deref()
        .map(|e| parse_deadline(e, now))
        .transpose()?;
    if expires == Some(Deadline::At(now)) {
        return Err(Error::usage(
            "--expires now would make the new key expired at once: try 30d, 90d or never",
        )
        .into());
    }
    let key = KeyRef::parse(&args.key.key);
    let grace_ends = match &args.grace {
        Some(g) => parse_moment(g, now)?,
        None if ctx.interactive() => {
            // Say which key before asking, and fail before asking if there is none.
            let old = ctx
                .vault(Access::Existing)?
                .find(&key, &args.key.env, now)?;
            crate::lifecycle::may_rotate(&old, now)?;
            prompt::grace(now)?
        }
        None => return Err(missing_grace().into()),
    };
    let rotation = Rotation {
        grace_ends,
        expires,
        name: args.name.clone(),
    };
    let actor = ctx.actor().to_string();
    let rotated =
        ctx.vault(Access::Existing)?
            .rotate(&key, &args.key.env, rotation, &actor, now)?;
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
