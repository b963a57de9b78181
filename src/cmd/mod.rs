//! One file per subcommand: each reads its arguments, asks the vault, and
//! returns a [`Report`] for output. Prompts live here; printing does not.

mod completions;
mod config;
mod create;
mod extend;
mod list;
mod log;
mod prompt;
mod revoke;
mod rotate;
mod show;
mod verify;

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::Command;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::key::Key;
use crate::secret::Secret;
use crate::vault::{Access, Rotated, Settings, Vault};
use crate::when::Timestamp;

pub use verify::Verdict;

/// What a command produced, for output to print.
#[derive(Debug)]
pub enum Report {
    Created {
        key: Key,
        secret: Secret,
    },
    Rotated(Box<Rotated>),
    /// A key after `extend`.
    Updated(Key),
    Revoked {
        key: Key,
        changed: bool,
    },
    Events(Vec<Event>),
    /// `log --verify`: how many events the intact chain holds.
    ChainIntact(u64),
    Keys(Vec<Key>),
    Key {
        key: Key,
        events: Vec<Event>,
    },
    Verified(Verdict),
    Config {
        settings: Settings,
        changed: Option<bool>,
    },
    /// Text to print as it is (completion scripts).
    Text(String),
}

impl Report {
    /// The exit code for a command that ran to the end.
    pub fn exit_code(&self) -> u8 {
        match self {
            Report::Verified(v) if v.code != crate::key::VerifyCode::Valid => {
                crate::error::exit::INVALID_KEY
            }
            _ => crate::error::exit::OK,
        }
    }
}

/// What every command may need: the vault (opened on first use), the actor,
/// the time, and whether a person is at a terminal.
pub struct Ctx {
    vault_path: PathBuf,
    vault: Option<Vault>,
    actor: String,
    now: Timestamp,
    pub json: bool,
}

impl Ctx {
    pub fn new(vault_path: PathBuf, actor: String, now: Timestamp, json: bool) -> Self {
        Ctx {
            vault_path,
            vault: None,
            actor,
            now,
            json,
        }
    }

    /// The vault, opened once. `Access::OrCreate` creates it when missing.
    pub fn vault(&mut self, access: Access) -> Result<&mut Vault> {
        let vault = match self.vault.take() {
            Some(v) => v,
            None => Vault::open(&self.vault_path, access)?,
        };
        Ok(self.vault.insert(vault))
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Whether prompts may be shown: stdin and stderr are terminals and the
    /// output is not JSON.
    pub fn interactive(&self) -> bool {
        !self.json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }
}

pub fn run(command: &Command, ctx: &mut Ctx) -> Result<Report> {
    match command {
        Command::Create(args) => create::run(args, ctx),
        Command::List(args) => list::run(args, ctx),
        Command::Show(args) => show::run(args, ctx),
        Command::Rotate(args) => rotate::run(args, ctx),
        Command::Extend(args) => extend::run(args, ctx),
        Command::Revoke(args) => revoke::run(args, ctx),
        Command::Log(args) => log::run(args, ctx),
        Command::Verify(args) => verify::run(args, ctx),
        Command::Config(args) => config::run(args, ctx),
        Command::Completions(args) => completions::run(args),
    }
}

/// Checks each value of a repeated text flag.
fn validate_all(field: crate::text::Field, values: &[String]) -> Result<(), Error> {
    values
        .iter()
        .try_for_each(|v| crate::text::validate_text(field, v))
}
