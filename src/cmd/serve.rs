//! `keyward serve`: reads its flags into a [`crate::serve::Config`], checks
//! the vault while it has it open, and hands over to the server.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::{Ctx, Report, env_filter};
use crate::cli::{LogFormat, ServeArgs};
use crate::error::{Error, Result};
use crate::serve::{self, Config};
use crate::shown::quote;
use crate::store::Access;

pub fn run(args: &ServeArgs, ctx: &mut Ctx) -> Result<Report> {
    let listen = listen_address(&args.listen)?;
    let root_key = match &args.root_key_env {
        None => None,
        Some(var) => Some(root_key(var)?),
    };
    let env = env_filter(args.env.as_deref())?;
    let location = ctx.location().clone();
    let (shown, engine) = (location.shown(), location.engine());
    // Opening checks the vault exists and is keyward's, and brings an
    // older schema up to date where it may. serve keeps no connection of
    // its own start: it watches those it uses.
    let found = serve::inspect(ctx.vault(Access::Read)?, env.as_ref(), &shown)?;
    ctx.close_vault();
    let clock = ctx.clock();
    let for_flushes = Arc::clone(&clock);
    let config = Config {
        listen,
        root_key,
        env,
        log_format: match args.log_format {
            LogFormat::Text => serve::logs::Format::Text,
            LogFormat::Json => serve::logs::Format::Json,
        },
        verifier: location.verifier()?,
        open_vault: Arc::new(move || location.open(Access::Read, Arc::clone(&for_flushes))),
        admin_env: args
            .admin_env
            .as_deref()
            .map(crate::text::Env::parse)
            .transpose()?,
        admin_plain_http: args.admin_allow_plain_http,
        github_keys: args.github_keys.clone(),
        gitlab_token: match &args.gitlab_token_env {
            None => None,
            Some(var) => Some(secret_from(
                var,
                "--gitlab-token-env",
                "the token GitLab will send",
            )?),
        },
        shown,
        engine,
        clock,
    };
    let requests = serve::run(config, found)?;
    Ok(Report::Stopped { requests })
}

/// `--listen`: an address and port, e.g. 127.0.0.1:8080, [::1]:8080,
/// 0.0.0.0:8080 or localhost:8080 (port 0 picks a free port).
fn listen_address(given: &str) -> Result<SocketAddr> {
    let usage = || {
        Error::usage(format!(
            "--listen '{}' is not an address and port: try 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080",
            quote(given)
        ))
    };
    if let Ok(addr) = given.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if !given.contains(':') {
        return Err(usage().into());
    }
    match given.to_socket_addrs() {
        Ok(mut addrs) => addrs.next().ok_or_else(|| usage().into()),
        Err(_) => Err(usage().into()),
    }
}

/// The root key, from the variable `--root-key-env` names.
fn root_key(var: &str) -> Result<Zeroizing<Vec<u8>>> {
    secret_from(
        var,
        "--root-key-env",
        "the root key Unkey clients will send",
    )
}

/// A secret serve is given by the variable a flag names (never argv).
fn secret_from(var: &str, flag: &str, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    if var.is_empty() || var.contains('=') || var.contains('\0') {
        return Err(Error::usage(format!(
            "'{}' is not an environment variable name: try {flag} KEYWARD_TOKEN",
            quote(var)
        ))
        .into());
    }
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Ok(Zeroizing::new(v.into_encoded_bytes())),
        Some(_) => Err(Error::usage(format!(
            "the environment variable {} is empty: set it to {what}",
            quote(var)
        ))
        .into()),
        None => Err(Error::usage(format!(
            "the environment variable {} is not set: export {what} \
             (e.g. {}=$(openssl rand -hex 32))",
            quote(var),
            quote(var)
        ))
        .into()),
    }
}
