//! One file per subcommand: each reads its arguments, makes typed values of
//! them, asks the vault, and returns a [`Report`] for output. Prompts live
//! here; printing does not.

pub mod complete;
mod completions;
mod config;
mod copy;
mod create;
mod extend;
mod leaked;
pub use leaked::LeakReport;
mod list;
mod log;
mod prompt;
mod quota;
mod retire;
mod revoke;
mod rotate;
#[cfg(feature = "serve")]
mod serve;
mod show;
mod update;
mod verify;

use std::io::IsTerminal;
use std::sync::Arc;

use crate::Location;
use crate::cli::Command;
use crate::error::Result;
use crate::event::Event;
use crate::intents::{Created, Rotated};
use crate::key::{Key, VerifyCode};
use crate::settings::Settings;
use crate::store::{Access, DailyUsage, KeyPass};
use crate::text::{Actor, Env};
use crate::vault::{Vault, Verdict};
use crate::when::{Clock, Timestamp};

/// What a command produced, for output to print.
#[derive(Debug)]
pub enum Report {
    Created(Created),
    Rotated(Box<Rotated>),
    /// A key after `extend`; `capped` when a grace was cut to its expiry.
    Extended {
        key: Key,
        capped: bool,
    },
    Revoked {
        key: Key,
        changed: bool,
    },
    Events(Vec<Event>),
    /// `log --verify`: how many events the intact chain holds.
    ChainIntact(u64),
    /// `log --head`: the newest event, if any.
    Head(Option<crate::event::Head>),
    Keys(Vec<Key>),
    Key {
        key: Key,
        events: Vec<Event>,
        /// serve's counts for the last [`show::USAGE_DAYS`] days.
        usage: Vec<DailyUsage>,
    },
    Verified(Verdict),
    Config {
        settings: Settings,
        changed: Option<bool>,
        /// Where the vault is, and whether it exists yet.
        location: Whereabouts,
    },
    /// A key after `update`, and whether anything changed.
    Updated {
        key: Key,
        changed: bool,
    },
    /// `copy`: where to, and what was copied.
    Copied {
        to: String,
        copied: crate::vault::Copied,
    },
    /// `retire`: the keys ended (or, on a dry run, that would be), each
    /// with when it was last used or rotated.
    Retired {
        keys: Vec<(Key, Timestamp)>,
        dry_run: bool,
    },
    /// `revoke --leaked`: what happened to each line.
    Leaked(LeakReport),
    /// `serve` stopped after answering this many requests.
    #[cfg(feature = "serve")]
    Stopped {
        requests: u64,
    },
    /// Text to print as it is (completion scripts).
    Text(String),
    /// Printed as it was read (`--json list`, by [`Ctx::stream_keys`]).
    Streamed,
}

impl Report {
    /// The exit code for a command that ran to the end.
    pub fn exit_code(&self) -> u8 {
        match self {
            Report::Verified(v) if v.code != VerifyCode::Valid => crate::error::exit::INVALID_KEY,
            Report::Leaked(r) if !r.all_matched() => crate::error::exit::NOT_FOUND,
            _ => crate::error::exit::OK,
        }
    }
}

/// The vault in use, as `config` shows it.
#[derive(Debug)]
pub struct Whereabouts {
    /// A path, or a URL without password.
    pub shown: String,
    pub engine: &'static str,
    pub exists: bool,
}

/// Prints keys as they are read (`list`) where the output allows it, or
/// says `None` (nothing read) where it needs every row first. The binary's
/// `output` gives it, so that the commands never reach up to the printer.
pub type KeyStream = fn(
    json: bool,
    now: Timestamp,
    seen: &mut dyn FnMut(&Key),
    read: &mut dyn FnMut(&mut [&mut KeyPass<'_>]) -> Result<()>,
) -> Result<Option<()>>;

/// Says a note or warning on stderr, at once (before any prompt that
/// follows it). The binary's `output` gives it, as it gives [`KeyStream`].
pub type Say = fn(&str);

/// What every command may need: the vault (opened on first use), the actor,
/// the clock, whether a person is at a terminal, and the printer's
/// functions for what a command says while it runs.
pub struct Ctx {
    location: Location,
    /// The platform's default location, whose directories keyward may make.
    default_location: bool,
    vault: Option<Vault>,
    actor: Actor,
    clock: Arc<dyn Clock>,
    pub json: bool,
    pub stream_keys: KeyStream,
    pub say: Say,
}

impl Ctx {
    pub fn new(
        location: Location,
        actor: Actor,
        clock: Arc<dyn Clock>,
        json: bool,
        stream_keys: KeyStream,
        say: Say,
    ) -> Self {
        Ctx {
            location,
            default_location: false,
            vault: None,
            actor,
            clock,
            json,
            stream_keys,
            say,
        }
    }

    /// Closes the vault opened by [`Ctx::vault`]. A long-running command
    /// (serve) must not keep a connection it does not watch: it would hold
    /// the file (and its `-wal`/`-shm`) open after the file is replaced.
    #[cfg(feature = "serve")]
    pub fn close_vault(&mut self) {
        self.vault = None;
    }

    /// The location is the platform's default one (not `--vault` or
    /// `$KEYWARD_VAULT`): its missing directories may be made.
    pub fn at_default_location(mut self) -> Self {
        self.default_location = true;
        self
    }

    /// The vault, opened once.
    pub fn vault(&mut self, access: Access) -> Result<&mut Vault> {
        let vault = match self.vault.take() {
            Some(v) => v,
            None => open_vault(
                &self.location,
                access,
                self.default_location,
                Arc::clone(&self.clock),
                self.say,
            )?,
        };
        Ok(self.vault.insert(vault))
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The time now, for checking what the user typed. Writes judge by the
    /// time they read once they hold the vault's lock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
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
        Command::Retire(args) => retire::run(args, ctx),
        Command::Log(args) => log::run(args, ctx),
        Command::Verify(args) => verify::run(args, ctx),
        Command::Config(args) => config::run(args, ctx),
        Command::Update(args) => update::run(args, ctx),
        Command::Copy(args) => copy::run(args, ctx),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(args, ctx),
        #[cfg(not(feature = "serve"))]
        Command::Serve { .. } => Err(crate::error::Error::usage(
            "this keyward was built without serve (cargo feature `serve`): install a build \
             with it to answer verifications over HTTP"
                .to_string(),
        )
        .into()),
        Command::Completions(args) => completions::run(args),
    }
}

/// Opens a vault; one that this creates is announced on stderr (docs/reference.md "Vault file": a
/// new vault is never a surprise, so a mistyped path shows at once). Only
/// the default location gets missing directories made: a `--vault`,
/// `$KEYWARD_VAULT` or `copy --to` path in a directory that does not exist
/// is most likely a typo.
fn open_vault(
    location: &Location,
    access: Access,
    make_directories: bool,
    clock: Arc<dyn Clock>,
    say: Say,
) -> Result<Vault> {
    if let Location::Sqlite(path) = location
        && access == Access::Create
        && !make_directories
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(crate::error::Error::VaultDirectoryMissing {
            dir: crate::store::shown_path(dir),
            path: crate::store::shown_path(path),
        }
        .into());
    }
    let vault = location.open(access, clock)?;
    if vault.created() {
        // A relative path in full: where it landed is the point.
        let shown = match location {
            Location::Sqlite(path) => crate::store::shown_path(
                &std::path::absolute(path).unwrap_or_else(|_| path.clone()),
            ),
            #[cfg(feature = "postgres")]
            Location::Postgres(_) => location.shown(),
        };
        say(&format!("created a new vault at {shown}"));
    }
    Ok(vault)
}

/// The environment a key is looked up or created in: `--env`, else
/// `$KEYWARD_ENV`, else `default`.
fn env_or_default(given: Option<&str>) -> Result<Env> {
    Ok(env_filter(given)?.unwrap_or_else(Env::default_env))
}

/// The environment `list` and `log` narrow to: `--env`, else
/// `$KEYWARD_ENV`, else none (all environments).
///
/// A `$KEYWARD_ENV` that is set but empty or not UTF-8 is refused (exit
/// 2), never read as unset: `KEYWARD_ENV=$APP_ENV` with `APP_ENV` unset
/// would otherwise widen `serve` and `verify` to every environment.
pub(crate) fn env_filter(given: Option<&str>) -> Result<Option<Env>> {
    match given {
        Some(env) => Ok(Some(Env::parse(env)?)),
        None => match std::env::var("KEYWARD_ENV") {
            Ok(env) if !env.is_empty() => Env::parse(&env)
                .map(Some)
                .map_err(|e| anyhow::Error::new(e).context("in $KEYWARD_ENV")),
            Ok(_) => Err(crate::error::Error::usage(
                "$KEYWARD_ENV is set but empty: name an environment, or unset it (unset KEYWARD_ENV)",
            )
            .into()),
            Err(std::env::VarError::NotUnicode(_)) => Err(crate::error::Error::usage(
                "$KEYWARD_ENV is not UTF-8 text: name an environment, or unset it",
            )
            .into()),
            Err(std::env::VarError::NotPresent) => Ok(None),
        },
    }
}

/// How soon before it ends a default key is warned about.
const DEFAULT_KEY_WARNING_SECS: i64 = 7 * 86_400;

/// Warns on stderr about each environment's default key among `keys` that
/// ends within 7 days: when it has expired, the environment's next key
/// becomes its default, so ending it unawares changes which key that is.
fn warn_default_keys_ending(say: Say, keys: &[Key], now: Timestamp) {
    for k in keys
        .iter()
        .filter(|k| k.is_default && k.status(now) == crate::key::Status::Active)
    {
        if let Some(end) = k.expires_at
            && end.unix() - now.unix() <= DEFAULT_KEY_WARNING_SECS
        {
            say(&format!(
                "warning: {} '{}', the default key of environment '{}', expires {} ({}): \
                 rotate it in time (keyward rotate {} --env {} --grace 24h)",
                k.id,
                crate::shown::escape(k.name.as_str()),
                crate::shown::escape(k.env.as_str()),
                end,
                end.relative_to(now),
                k.id,
                crate::shown::quote(k.env.as_str())
            ));
        }
    }
}

/// Warns on stderr, naming each key, about scopes that are not tokens (a
/// comma or whitespace inside, stored by an older keyward): they are kept
/// as they are, never split or joined, and so meet no requirement.
fn warn_loose_scopes(say: Say, keys: &[Key]) {
    for k in keys {
        for s in k.scopes.iter().filter(|s| !s.is_token()) {
            say(&format!(
                "warning: {} '{}' has the scope '{}', which holds a comma or whitespace: \
                 it meets no requirement and serve leaves it out of X-Keyward-Scopes; \
                 replace it with one scope per token (keyward update {} --remove-scope '{}' \
                 --add-scope ...)",
                k.id,
                crate::shown::escape(k.name.as_str()),
                crate::shown::escape(s.as_str()),
                k.id,
                crate::shown::quote(s.as_str()),
            ));
        }
    }
}

/// A secret is printed once, on stdout: when stdout is closed, nothing is
/// created that nobody could ever use. Rust reopens a closed stdout on
/// /dev/null, read-write, before main; a shell's `> /dev/null` opens it
/// write-only, which is the user's choice and is left alone.
fn stdout_must_be_open() -> Result<()> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let closed = match std::io::stdout().as_fd().try_clone_to_owned() {
        Err(_) => true,
        Ok(fd) => {
            let out = std::fs::File::from(fd).metadata();
            let null = std::fs::metadata("/dev/null");
            let is_null = matches!((out, null), (Ok(o), Ok(n)) if o.file_type() == n.file_type() && o.rdev() == n.rdev());
            is_null && opened_read_write(1)
        }
    };
    if closed {
        anyhow::bail!(
            "stdout is closed, so the new secret would be lost: nothing was changed \
             (keep stdout open, e.g. KEY=$(keyward create ...))"
        );
    }
    Ok(())
}

/// Whether file descriptor `fd` was opened read-write (Linux: from
/// /proc/self/fdinfo; elsewhere unknown, taken as no).
fn opened_read_write(fd: u32) -> bool {
    const O_ACCMODE: u32 = 0o3;
    const O_RDWR: u32 = 0o2;
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        })
        .is_some_and(|flags| flags & O_ACCMODE == O_RDWR)
}
