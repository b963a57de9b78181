//! `verify`: is this secret a key that works now? The secret comes from
//! stdin or an environment variable, never from argv (typed at a terminal,
//! it is not echoed); its form and checksum are checked before the vault is
//! opened.

use std::io::{BufRead, Read};

use super::{Ctx, Report, prompt, validate_all};
use crate::cli::VerifyArgs;
use crate::error::{Error, Result};
use crate::key::{Key, KeyRef, VerifyCode};
use crate::secret;
use crate::text::Field;
use crate::vault::Access;

/// Longer input than this cannot be a secret; it is not read further.
const MAX_INPUT: u64 = 4096;

#[derive(Debug)]
pub struct Verdict {
    pub code: VerifyCode,
    /// The key, when the secret is valid.
    pub key: Option<Key>,
    /// Set when last-used could not be recorded; the verdict stands.
    pub warning: Option<String>,
}

impl Verdict {
    fn invalid(code: VerifyCode) -> Self {
        Verdict {
            code,
            key: None,
            warning: None,
        }
    }
}

pub fn run(args: &VerifyArgs, ctx: &mut Ctx) -> Result<Report> {
    if !args.refused_secret.is_empty() {
        return Err(Error::usage(
            "verify does not take the secret as an argument (arguments end up in shell history \
             and process lists): pipe it on stdin, e.g. printf '%s\\n' \"$KEY\" | keyward verify, \
             or name a variable with --key-env VAR",
        )
        .into());
    }
    validate_all(Field::Scope, &args.require_scopes)?;
    let presented = match args.key_env {
        None if ctx.interactive() => zeroize::Zeroizing::new(prompt::secret()?.as_bytes().to_vec()),
        _ => zeroize::Zeroizing::new(read_presented(args.key_env.as_deref())?),
    };
    let Some(text) = std::str::from_utf8(&presented).ok().map(str::trim) else {
        return Ok(Report::Verified(Verdict::invalid(VerifyCode::Invalid)));
    };
    if text.is_empty() {
        let source = match &args.key_env {
            Some(var) => format!("the variable {} is empty", crate::text::escape(var)),
            None => "stdin is empty".to_string(),
        };
        return Err(Error::usage(format!(
            "no secret to verify: {source}; pipe one, e.g. printf '%s\\n' \"$KEY\" | keyward verify"
        ))
        .into());
    }
    let Ok(secret) = secret::parse(text) else {
        return Ok(Report::Verified(Verdict::invalid(VerifyCode::Invalid)));
    };
    let now = ctx.now();
    let vault = ctx.vault(Access::Existing)?;
    let check = vault.check(&secret, &args.require_scopes, now)?;
    let (Some(id), VerifyCode::Valid) = (&check.key_id, check.code) else {
        return Ok(Report::Verified(Verdict::invalid(check.code)));
    };
    let warning = match vault.touch(&check, now) {
        Ok(_) => None,
        Err(e) => Some(format!(
            "the key is valid, but its last use could not be recorded: {e:#}"
        )),
    };
    let key = vault.find(&KeyRef::Id(id.clone()), "", now)?;
    Ok(Report::Verified(Verdict {
        code: check.code,
        key: Some(key),
        warning,
    }))
}

/// The first line of stdin, or the named variable, as bytes. At most
/// `MAX_INPUT` bytes are read: anything longer is not a secret anyway.
fn read_presented(key_env: Option<&str>) -> Result<Vec<u8>> {
    if let Some(var) = key_env {
        if var.is_empty() || var.contains('=') || var.contains('\0') {
            return Err(Error::usage(format!(
                "'{}' is not an environment variable name: try --key-env API_KEY",
                crate::text::escape(var)
            ))
            .into());
        }
        return match std::env::var_os(var) {
            Some(v) => Ok(v.into_encoded_bytes()),
            None => Err(Error::usage(format!(
                "the environment variable {} is not set: export it, or pipe the secret on stdin",
                crate::text::escape(var)
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
