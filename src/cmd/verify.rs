//! `verify`: is this secret a key that works now? The secret comes from
//! stdin or an environment variable, never from argv (typed at a terminal,
//! it is not echoed); a malformed secret or a bad checksum is invalid
//! without a lookup.

use std::io::{BufRead, Read};

use super::{Ctx, Report, prompt};
use crate::cli::VerifyArgs;
use crate::error::{Error, Result};
use crate::secret;
use crate::shown::quote;
use crate::store::Access;
use crate::text::{Scope, parse_all};
use crate::vault::Verdict;

/// Longer input than this cannot be a secret; it is not read further.
const MAX_INPUT: u64 = 4096;

pub fn run(args: &VerifyArgs, ctx: &mut Ctx) -> Result<Report> {
    if let Some(option) = args.refused_secret.first().filter(|a| a.starts_with('-')) {
        return Err(Error::usage(format!(
            "verify has no option '{}': see keyward verify --help",
            quote(option)
        ))
        .into());
    }
    if !args.refused_secret.is_empty() {
        return Err(Error::usage(
            "verify does not take the secret as an argument (arguments end up in shell history \
             and process lists): pipe it on stdin, e.g. printf '%s\\n' \"$KEY\" | keyward verify, \
             or name a variable with --key-env VAR",
        )
        .into());
    }
    let required = parse_all(&args.require_scopes, Scope::parse)?;
    let ask = crate::intents::Ask {
        cost: super::quota::count("--cost", &args.cost, "a number")?,
        limits: Vec::new(),
    };
    let env = super::env_filter(args.env.as_deref())?;
    let presented = match args.key_env {
        None if ctx.interactive() => zeroize::Zeroizing::new(prompt::secret()?.as_bytes().to_vec()),
        _ => zeroize::Zeroizing::new(read_presented(args.key_env.as_deref())?),
    };
    let text = std::str::from_utf8(&presented).ok().map(str::trim);
    if text == Some("") {
        let source = match &args.key_env {
            Some(var) => format!("the variable {} is empty", quote(var)),
            None => "stdin is empty".to_string(),
        };
        return Err(Error::usage(format!(
            "no secret to verify: {source}; pipe one, e.g. printf '%s\\n' \"$KEY\" | keyward verify"
        ))
        .into());
    }
    // The vault is opened even for a malformed secret, so that a wrong
    // --vault is always exit 1, never a quiet API_KEY_INVALID.
    let vault = ctx.vault(Access::Read)?;
    let Some(Ok(secret)) = text.map(secret::parse) else {
        return Ok(Report::Verified(Verdict::invalid()));
    };
    Ok(Report::Verified(vault.verify(
        &secret,
        &required,
        env.as_ref(),
        &ask,
    )?))
}

/// The first line of stdin, or the named variable, as bytes. At most
/// `MAX_INPUT` bytes are read: anything longer is not a secret anyway.
fn read_presented(key_env: Option<&str>) -> Result<Vec<u8>> {
    if let Some(var) = key_env {
        if var.is_empty() || var.contains('=') || var.contains('\0') {
            return Err(Error::usage(format!(
                "'{}' is not an environment variable name: try --key-env API_KEY",
                quote(var)
            ))
            .into());
        }
        return match std::env::var_os(var) {
            Some(v) => Ok(v.into_encoded_bytes()),
            None => Err(Error::usage(format!(
                "the environment variable {} is not set: export it, or pipe the secret on stdin",
                quote(var)
            ))
            .into()),
        };
    }
    let mut line = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_INPUT)
        .read_until(b'\n', &mut line)
        .map_err(|e| anyhow::anyhow!("cannot read the secret from stdin: {e}"))?;
    Ok(line)
}
