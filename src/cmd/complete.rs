//! `keyward __complete keys|envs`: what the completion scripts offer for a
//! KEY or an `--env`, read from the vault. Prints nothing when there is no
//! vault to read: completion never shows an error.

use super::{Ctx, Report, env_or_default};
use crate::cli::CompleteArgs;
use crate::error::Result;
use crate::store::Access;
use crate::vault::KeyFilter;

pub fn run(args: &CompleteArgs, ctx: &mut Ctx) -> Result<Report> {
    let words = words(&args.what, ctx).unwrap_or_default();
    let mut text = words.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    Ok(Report::Text(text))
}

fn words(what: &str, ctx: &mut Ctx) -> Result<Vec<String>> {
    if !ctx.vault_path().exists() {
        return Ok(Vec::new());
    }
    let env = env_or_default(None)?;
    let vault = ctx.vault(Access::Read)?;
    Ok(match what {
        "envs" => vault.envs()?.iter().map(ToString::to_string).collect(),
        _ => {
            let live = KeyFilter {
                env: Some(env),
                ..KeyFilter::default()
            };
            let mut names: Vec<String> = vault
                .keys(&live)?
                .iter()
                .filter(|k| k.rotated_to.is_none())
                .map(|k| k.name.to_string())
                .collect();
            names.sort();
            names.dedup();
            names
        }
    })
}
