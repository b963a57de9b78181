//! Every clap type of keyward: the global flags, one Args struct per
//! subcommand, their help and examples. The same definitions produce
//! `--help`, the man pages and the shell completions. Nothing else in the
//! crate is imported here.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// The clap command, for the completion and man page generators.
pub fn command() -> clap::Command {
    Cli::command()
}

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Issue and administer API keys in a local SQLite vault",
    long_about = "Issue and administer API keys in a local SQLite vault.\n\n\
        Secrets are shown once and never stored: the vault keeps only their SHA-256, \
        prefix and last four characters. Every change is recorded in a tamper-evident \
        activity log with the actor who made it.",
    after_help = "Examples:\n  \
        KEY=$(keyward create --name web --env prod)\n  \
        keyward list --env prod\n  \
        printf '%s\\n' \"$KEY\" | keyward verify\n  \
        keyward --json list | jq -r '.[].id'\n\n\
        Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 no such key, \
        4 refused, 5 key not valid (verify)."
)]
pub struct Cli {
    /// The vault file [default: the platform data dir, e.g. ~/.local/share/keyward/vault.db]
    #[arg(long, global = true, value_name = "PATH", env = "KEYWARD_VAULT")]
    pub vault: Option<PathBuf>,

    /// Print one JSON document on stdout (errors as JSON on stderr)
    #[arg(long, global = true)]
    pub json: bool,

    /// Who is acting, for the activity log [default: user@host]
    #[arg(long, global = true, value_name = "NAME", env = "KEYWARD_ACTOR")]
    pub actor: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a key and print its secret, once
    #[command(after_help = CREATE_EXAMPLES)]
    Create(CreateArgs),
    /// List keys with their status, expiry and last use
    #[command(after_help = LIST_EXAMPLES)]
    List(ListArgs),
    /// Show one key in full: fields, lineage, last use and recent events
    #[command(after_help = SHOW_EXAMPLES)]
    Show(ShowArgs),
    /// Check a presented secret, read from stdin or an environment variable
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Show or change the vault's settings (max-keys, prefix)
    #[command(after_help = CONFIG_EXAMPLES)]
    Config(ConfigArgs),
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
}

const CREATE_EXAMPLES: &str = "Examples:\n  \
    KEY=$(keyward create --name web)                 # the secret alone goes to stdout\n  \
    keyward create --name ci --env prod --expires 90d --scope deploy\n  \
    keyward create --name partner --prefix sk_live --expires 2027-01-01T00:00:00Z\n  \
    keyward --json create --name web | jq -r .secret";

const LIST_EXAMPLES: &str = "Examples:\n  \
    keyward list\n  \
    keyward list --env prod --all\n  \
    keyward --json list | jq '.[] | select(.status == \"grace\")'";

const SHOW_EXAMPLES: &str = "Examples:\n  \
    keyward show web\n  \
    keyward show key_7f3k                             # a unique id prefix\n  \
    keyward --json show web --env prod | jq .events";

const VERIFY_EXAMPLES: &str = "Examples:\n  \
    printf '%s\\n' \"$KEY\" | keyward verify\n  \
    API_KEY=... keyward verify --key-env API_KEY --require-scope deploy\n  \
    keyward --json verify < secret.txt | jq -r .code\n\n\
    The secret is never taken as an argument: arguments end up in shell history and \
    process lists. Exit 0 when valid, 5 when not.";

const CONFIG_EXAMPLES: &str = "Examples:\n  \
    keyward config\n  \
    keyward config set max-keys 5\n  \
    keyward config set prefix uspl";

const COMPLETIONS_EXAMPLES: &str = "Examples:\n  \
    keyward completions bash > ~/.local/share/bash-completion/completions/keyward\n  \
    keyward completions zsh > ~/.zfunc/_keyward\n  \
    keyward completions fish > ~/.config/fish/completions/keyward.fish";

/// Duration syntax shared by the flags that take one.
const DURATION_HELP: &str =
    "now, never, a duration (90s, 15m, 24h, 3d, 1w, '1h 30m') or an RFC 3339 time";

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The key's name, unique among the environment's active keys [default: its id]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// The environment the key belongs to
    #[arg(long, value_name = "ENV", default_value = "default")]
    pub env: String,

    /// When the key stops verifying
    #[arg(long, value_name = "DUR|never", default_value = "never", long_help = DURATION_HELP, allow_hyphen_values = true)]
    pub expires: String,

    /// A scope the key grants (repeat for several)
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,

    /// The secret's prefix, e.g. sk_live [default: the vault's prefix setting]
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only keys of this environment [default: all]
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,

    /// Include expired and revoked keys
    #[arg(long)]
    pub all: bool,
}

/// A KEY argument: an id, a unique id prefix (key_ + at least 4 characters),
/// or the name of an active key in --env.
#[derive(Debug, Args)]
pub struct KeyArg {
    /// Key id, unique id prefix, or name of an active key in --env
    #[arg(value_name = "KEY")]
    pub key: String,

    /// The environment in which a key name is looked up
    #[arg(long, value_name = "ENV", default_value = "default")]
    pub env: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub key: KeyArg,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Read the secret from this environment variable instead of stdin
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,

    /// Fail with INSUFFICIENT_SCOPE unless the key has this scope (repeatable)
    #[arg(long = "require-scope", value_name = "SCOPE")]
    pub require_scopes: Vec<String>,

    /// Refused: a secret must not be passed as an argument.
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub refused_secret: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: Option<ConfigAction>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Change a setting: max-keys (active keys per environment) or prefix
    Set {
        /// max-keys or prefix
        #[arg(value_name = "NAME", value_parser = ["max-keys", "prefix"])]
        name: String,
        /// The new value
        #[arg(value_name = "VALUE")]
        value: String,
    },
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_definition_is_consistent() {
        super::command().debug_assert();
    }
}
