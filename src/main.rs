use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use clap::error::ErrorKind;

use keyward::cli::Cli;
use keyward::cmd::{self, Ctx};
use keyward::error::{Error, Result};
use keyward::output::{self, Layout, Printer};
use keyward::text::{Field, validate_text};
use keyward::when::Timestamp;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(parse_error(&e)),
    };
    let json = cli.json;
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(output::error(&e, json)),
    }
}

fn run(cli: Cli) -> Result<u8> {
    let now = clock()?;
    let actor = actor(cli.actor.as_deref())?;
    let mut ctx = Ctx::new(vault_path(cli.vault)?, actor, now, cli.json);
    let report = cmd::run(&cli.command, &mut ctx)?;
    let layout = Layout {
        color: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        width: None,
    };
    Printer {
        json: cli.json,
        now,
        layout,
    }
    .print(&report)?;
    Ok(report.exit_code())
}

/// Help and version print as usual; other parse errors are usage errors
/// (exit 2), as JSON when `--json` was given.
fn parse_error(e: &clap::Error) -> u8 {
    let wants_json = std::env::args_os().any(|a| a == "--json");
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        _ if wants_json => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            output::usage_error_json(first.strip_prefix("error: ").unwrap_or(first))
        }
        _ => {
            let _ = e.print();
            keyward::error::exit::USAGE
        }
    }
}

/// The time of this run, read once. Debug builds let tests set it with
/// `KEYWARD_NOW` (RFC 3339); release builds always use the system clock.
fn clock() -> Result<Timestamp> {
    #[cfg(debug_assertions)]
    if let Some(v) = std::env::var_os("KEYWARD_NOW") {
        let v = v.to_string_lossy();
        return Timestamp::parse_rfc3339(&v).ok_or_else(|| {
            Error::usage(format!("KEYWARD_NOW '{v}' is not an RFC 3339 time")).into()
        });
    }
    Ok(Timestamp::now_utc())
}

/// `--actor`, else `$KEYWARD_ACTOR` (both through clap), else `user@host`.
fn actor(given: Option<&str>) -> Result<String> {
    let actor = match given {
        Some(a) => a.to_string(),
        None => {
            let user = std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".to_string());
            format!("{user}@{}", hostname())
        }
    };
    validate_text(Field::Actor, &actor)?;
    Ok(actor)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// `--vault`, else `$KEYWARD_VAULT` (both through clap, which refuses an
/// empty value), else the platform data dir.
fn vault_path(given: Option<PathBuf>) -> Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None => directories::ProjectDirs::from("", "", "keyward")
            .map(|d| d.data_dir().join("vault.db"))
            .context(
                "cannot find a data directory for the vault (is HOME set?); pass --vault PATH",
            ),
    }
}
