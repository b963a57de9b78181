//! `keyward __complete keys|envs [--vault V] [--env E]`: what the
//! completion scripts offer for a KEY or an `--env`, read from the vault.
//! Not a clap subcommand, so that it appears in no help, man page or
//! completion. Prints nothing, and exits 0, when there is nothing to read:
//! completion never shows an error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::env_or_default;
use crate::Location;
use crate::error::Result;
use crate::store::Access;
use crate::text::Env;
use crate::vault::KeyFilter;
use crate::when::SystemClock;

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(2).collect();
    let mut words = words(&args).unwrap_or_default();
    words.sort();
    words.dedup();
    for word in words {
        println!("{word}");
    }
    ExitCode::SUCCESS
}

fn words(args: &[String]) -> Result<Vec<String>> {
    let what = args.first().map(String::as_str).unwrap_or("keys");
    let flag = |name: &str| args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone());
    let vault = match flag("--vault").or_else(|| std::env::var("KEYWARD_VAULT").ok()) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => directories::ProjectDirs::from("", "", "keyward")
            .map(|d| d.data_dir().join("vault.db"))
            .unwrap_or_default(),
    };
    let env = match flag("--env") {
        Some(e) => Env::parse(&e)?,
        None => env_or_default(None)?,
    };
    let vault = Location::parse(vault)?.open(Access::Read, Arc::new(SystemClock))?;
    Ok(match what {
        "envs" => vault.envs()?.iter().map(ToString::to_string).collect(),
        _ => {
            let live = KeyFilter {
                env: Some(env),
                ..KeyFilter::default()
            };
            vault
                .keys(&live)?
                .iter()
                .filter(|k| k.rotated_to.is_none())
                .map(|k| k.name.to_string())
                .collect()
        }
    })
}
