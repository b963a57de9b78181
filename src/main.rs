//! Parse, build the context, run, print, and map the error to an exit code.

mod cli;
mod cmd;
mod output;

// The library's modules, under the names the binary's modules use.
use keyward::{
    Location, error, event, intents, key, lifecycle, quota, secret, settings, shown, store, text,
    vault, when,
};
#[cfg(feature = "serve")]
use keyward_serve as serve;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::Cli;
use crate::cmd::Ctx;
use crate::error::Result;
use crate::output::{Layout, Printer};
use crate::text::Actor;
use crate::when::{Clock, SystemClock};

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "__complete")
    {
        return cmd::complete::main();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(parse_error(&e)),
    };
    let json = cli.json;
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if output::is_quiet_exit(&e) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(output::error(&e, json)),
    }
}

fn run(cli: Cli) -> Result<u8> {
    let clock = clock()?;
    let actor = actor(cli.actor.as_deref())?;
    let (path, is_default) = vault_path(cli.vault)?;
    let location = Location::parse(path)?;
    let mut ctx = Ctx::new(
        location,
        actor,
        clock,
        cli.json,
        output::stream_keys,
        output::say,
    );
    if is_default {
        ctx = ctx.at_default_location();
    }
    let report = cmd::run(&cli.command, &mut ctx)?;
    let layout = Layout {
        color: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        width: None,
    };
    Printer {
        json: cli.json,
        now: ctx.now(),
        layout,
    }
    .print(&report)?;
    Ok(report.exit_code())
}

/// Help and version print as usual; other parse errors are usage errors
/// (exit 2), as JSON when `--json` was given. The values clap quotes are
/// shown as keyward quotes them: secret shapes masked, cut to 64 characters.
fn parse_error(e: &clap::Error) -> u8 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            error::exit::USAGE
        }
        _ if wants_json(std::env::args_os().skip(1)) => {
            let rendered = quote_values(&e.render().to_string());
            let first = rendered.lines().next().unwrap_or_default();
            output::usage_error_json(first.strip_prefix("error: ").unwrap_or(first))
        }
        _ => {
            use std::io::Write;
            let rendered = quote_values(&e.render().to_string());
            let _ = write!(std::io::stderr().lock(), "{rendered}");
            error::exit::USAGE
        }
    }
}

/// A clap message as keyward shows values: in its first line (the error)
/// every 'quoted' value goes through [`text::quote`]; the rest (usage and
/// tips) keeps its lines, with any secret shape masked.
fn quote_values(message: &str) -> String {
    let (first, rest) = message.split_once('\n').unwrap_or((message, ""));
    let first: Vec<String> = first
        .split('\'')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                shown::quote(part)
            } else {
                shown::escape(&secret::mask(part))
            }
        })
        .collect();
    let mut out = first.join("'");
    if message.contains('\n') {
        out.push('\n');
        out.push_str(&secret::mask(rest));
    }
    out
}

/// Whether `--json` stands among the arguments as the flag: not as the
/// value of an option that takes one (`--name --json`), and not after `--`.
/// Used only when clap could not parse them.
fn wants_json(args: impl Iterator<Item = OsString>) -> bool {
    let cmd = cli::command();
    let mut sub: Option<&clap::Command> = None;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            return false;
        }
        if text == "--json" {
            return true;
        }
        if let Some(long) = text.strip_prefix("--") {
            if long.contains('=') {
                continue;
            }
            let takes_value = |c: &clap::Command| {
                c.get_arguments()
                    .any(|a| a.get_long() == Some(long) && a.get_action().takes_values())
            };
            if takes_value(&cmd) || sub.is_some_and(takes_value) {
                args.next();
            }
        } else if sub.is_none() && !text.starts_with('-') {
            sub = cmd.find_subcommand(text);
        }
    }
    false
}

/// Where the time comes from. Debug builds let tests stop the clock with
/// `KEYWARD_NOW` (RFC 3339); release builds always use the system clock.
fn clock() -> Result<Arc<dyn Clock>> {
    #[cfg(debug_assertions)]
    if let Some(v) = std::env::var_os("KEYWARD_NOW") {
        let v = v.to_string_lossy();
        return match crate::when::Timestamp::parse_rfc3339(&v) {
            Some(t) => Ok(Arc::new(t)),
            None => Err(crate::error::Error::usage(format!(
                "KEYWARD_NOW '{v}' is not an RFC 3339 time"
            ))
            .into()),
        };
    }
    Ok(Arc::new(SystemClock))
}

/// `--actor`, else `$KEYWARD_ACTOR`, else `user@host`: the user from `USER`
/// or `LOGNAME`, else the account's name in /etc/passwd.
fn actor(given: Option<&str>) -> Result<Actor> {
    let actor = match given {
        Some(a) => a.to_string(),
        None => match env_value("KEYWARD_ACTOR")? {
            Some(a) => a,
            None => format!("{}@{}", user(), hostname()),
        },
    };
    Ok(Actor::parse(&actor)?)
}

/// A variable keyward reads: unset or empty is None; not UTF-8 is an error.
fn env_value(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) if v.is_empty() => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(error::Error::usage(format!("${name} is not valid UTF-8")).into())
        }
    }
}

/// Who runs keyward: `USER`, `LOGNAME`, else this process's account.
fn user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(account)
}

/// The name of this process's account, from /etc/passwd; `uid-N` when it
/// has none (a container's arbitrary uid).
fn account() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".to_string();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let id = fields.nth(1)?.parse::<u32>().ok()?;
                (id == uid && !name.is_empty()).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid-{uid}"))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// `--vault`, else `$KEYWARD_VAULT`, else the platform data dir. (The
/// variables are read here, not by clap, so that usage lines never show a
/// flag as given when it came from the environment.) True when it is the
/// default location.
fn vault_path(given: Option<PathBuf>) -> Result<(PathBuf, bool)> {
    if let Some(p) = given {
        return Ok((p, false));
    }
    match std::env::var_os("KEYWARD_VAULT") {
        // An empty variable is most often a CI secret that is not set: never
        // fall back to another vault for it.
        Some(p) if p.is_empty() => {
            return Err(error::Error::usage(
                "KEYWARD_VAULT is set but empty: set it to the vault's path, or unset it",
            )
            .into());
        }
        Some(p) => return Ok((PathBuf::from(p), false)),
        None => {}
    }
    directories::ProjectDirs::from("", "", "keyward")
        .map(|d| (d.data_dir().join("vault.db"), true))
        .context("cannot find a data directory for the vault (is HOME set?); pass --vault PATH")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(args: &[&str]) -> bool {
        wants_json(args.iter().map(OsString::from))
    }

    #[test]
    fn clap_messages_quote_values_as_keyward_does() {
        let s = secret::generate("kw").expect("rng");
        let msg = format!("error: unexpected argument '{}' found\n", s.expose());
        let shown = quote_values(&msg);
        assert!(!shown.contains(&s.expose()[3..]), "{shown}");
        assert!(shown.contains(&format!("'kw_…{}'", s.hint())), "{shown}");
        let long = format!(
            "error: invalid value '{}' for '--before <ID>'",
            "y".repeat(300)
        );
        let shown = quote_values(&long);
        assert!(
            shown.len() < 150 && shown.contains("'--before <ID>'"),
            "{shown}"
        );
    }

    /// `--json` counts only where it is the flag.
    #[test]
    fn json_errors_only_when_json_is_the_flag() {
        assert!(json(&["--json", "create", "--bogus"]));
        assert!(json(&["create", "--json", "--bogus"]));
        assert!(json(&["create", "--name=x", "--json", "--bogus"]));
        assert!(!json(&["create", "--name", "--json"]));
        assert!(!json(&["--vault", "--json", "list", "--bogus"]));
        assert!(!json(&["verify", "--", "--json"]));
        assert!(!json(&["create", "--bogus"]));
    }
}
