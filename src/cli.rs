//! Every clap type of keyward: the global flags, one Args struct per
//! subcommand, their help and examples. The same definitions produce
//! `--help`, the man pages and the shell completions. Nothing else in the
//! crate is imported here, so the generator example can include this file.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueHint};

/// The clap command, for the completion and man page generators.
pub fn command() -> clap::Command {
    Cli::command()
}

/// The completion script for `shell`: clap's, plus what clap's does not
/// say. fish learns the values of `completions` and `config set` (instead
/// of offering file names); bash, zsh and fish complete KEY arguments and
/// `--env` with the names in the vault (through `keyward __complete`, which
/// reads `--vault`, `$KEYWARD_VAULT` or the default vault), and bash and
/// zsh offer the grace and expiry presets.
pub fn completion(shell: clap_complete::Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut command(), "keyward", &mut buf);
    match shell {
        clap_complete::Shell::Fish => buf.extend_from_slice(FISH_EXTRA.as_bytes()),
        clap_complete::Shell::Bash => {
            let takes = options_taking_values().join(" ");
            let extra = BASH_EXTRA
                .replace("@TAKES_VALUE@", &takes)
                .replace("@GRACE@", GRACE_PRESETS)
                .replace("@EXPIRY@", EXPIRY_PRESETS);
            buf.extend_from_slice(extra.as_bytes());
        }
        clap_complete::Shell::Zsh => buf = zsh(&String::from_utf8_lossy(&buf)).into_bytes(),
        _ => {}
    }
    buf
}

/// Every long option of any subcommand that takes a value, as `--name`:
/// the word after one is its value, never a KEY.
fn options_taking_values() -> Vec<String> {
    let mut cmd = command();
    cmd.build();
    let mut names: Vec<String> = std::iter::once(&cmd)
        .chain(cmd.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .filter(|a| a.get_action().takes_values() && !a.is_positional())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The grace presets a terminal offers (docs/reference.md "Words": DURATION), and
/// the expiry presets, as completions.
const GRACE_PRESETS: &str = "now 1h 24h 3d 7d";
const EXPIRY_PRESETS: &str = "never 7d 30d 60d 90d";

/// clap's zsh script, with KEY arguments and `--env` completed from the
/// vault and the grace and expiry presets offered: each spec's empty
/// action (`…:KEY:` or `…:ENV:`) is given one.
fn zsh(generated: &str) -> String {
    let grace = format!("({GRACE_PRESETS})");
    let expiry = format!("({EXPIRY_PRESETS})");
    let mut out = String::with_capacity(generated.len() + ZSH_EXTRA.len());
    for line in generated.split_inclusive('\n') {
        let spec = line.trim_end();
        let action = if spec.starts_with("':key -- ") || spec.starts_with("'::key -- ") {
            Some("_keyward_keys")
        } else if spec.contains("--env=[") && spec.ends_with(":ENV:' \\") {
            Some("_keyward_envs")
        } else if spec.contains("'--grace=[") && spec.ends_with(":DUR:' \\") {
            Some(grace.as_str())
        } else if spec.contains("'--expires=[") && spec.ends_with(":DUR|never:' \\") {
            Some(expiry.as_str())
        } else {
            None
        };
        match action {
            Some(action) if spec.ends_with(":' \\") => {
                out.push_str(&spec[..spec.len() - "' \\".len()]);
                out.push_str(action);
                out.push_str("' \\\n");
            }
            _ if line.starts_with("if [ \"$funcstack[1]\" = \"_keyward\" ]; then") => {
                out.push_str(ZSH_EXTRA);
                out.push_str(line);
            }
            _ if line == "_keyward() {\n" => {
                out.push_str(line);
                // The whole command line, before _arguments narrows `words`
                // to the subcommand's (a global --vault comes before it).
                out.push_str("    local -a _keyward_line; _keyward_line=(\"${words[@]:0:$((CURRENT - 1))}\")\n");
            }
            _ => out.push_str(line),
        }
    }
    out
}

const ZSH_EXTRA: &str = r#"# Added by keyward: KEY arguments and --env from the names in the vault
# (keyward __complete, told the --vault and --env already on the line).
(( $+functions[_keyward_names] )) ||
_keyward_names() {
    local what=$1 i
    local -a where names
    for (( i = 2; i <= ${#_keyward_line}; i++ )); do
        case ${_keyward_line[i]} in
            --env|--vault)
                (( i < ${#_keyward_line} )) && where+=(${_keyward_line[i]} ${(Q)_keyward_line[i+1]}) ;;
            --env=*|--vault=*)
                where+=(${_keyward_line[i]%%=*} ${(Q)${_keyward_line[i]#*=}}) ;;
        esac
    done
    names=(${(f)"$(keyward __complete $what $where 2>/dev/null)"})
    compadd -a names
}
(( $+functions[_keyward_keys] )) ||
_keyward_keys() { _keyward_names keys }
(( $+functions[_keyward_envs] )) ||
_keyward_envs() { _keyward_names envs }

"#;

const FISH_EXTRA: &str = r#"
# Added by keyward: values clap does not describe, and names from the vault
# (keyward __complete, told the --vault and --env already on the line).
function __keyward_names
    set -l words (commandline -opc)
    set -l args $argv[1]
    for i in (seq (count $words))
        switch $words[$i]
            case --env --vault
                set -l j (math $i + 1)
                if test $j -le (count $words)
                    set args $args $words[$i] $words[$j]
                end
        end
    end
    keyward __complete $args 2>/dev/null
end
complete -c keyward -n "__fish_keyward_using_subcommand completions" -f -a "bash zsh fish elvish powershell"
complete -c keyward -n "__fish_keyward_using_subcommand config; and __fish_seen_subcommand_from set" -f -a "max-keys prefix"
for sub in show rotate extend revoke update log
    complete -c keyward -n "__fish_keyward_using_subcommand $sub" -f -a "(__keyward_names keys)"
end
complete -c keyward -l env -f -r -a "(__keyward_names envs)"
"#;

/// The bash wrapper: it reads the line as clap's parser would (the word
/// after an option that takes a value is that value), completes KEY,
/// `--env` and the presets itself, and leaves everything else to clap's
/// script. Names, environments and presets never fall back to file names.
const BASH_EXTRA: &str = r#"
# Added by keyward: KEY arguments and --env from the names in the vault
# (keyward __complete, told the --vault and --env already on the line),
# and the grace and expiry presets. Names are read one a line and offered
# exactly, quoted: nothing in a name is ever expanded or run.
_keyward_offer() {
    local cur="$1" word quoted
    shift
    COMPREPLY=()
    for word in "$@"; do
        printf -v quoted '%q' "$word"
        if [[ "$word" == "$cur"* || "$quoted" == "$cur"* ]]; then
            COMPREPLY+=("$quoted")
        elif [[ ( "$cur" == \'* || "$cur" == \"* ) && "$word" == "${cur:1}"* ]]; then
            COMPREPLY+=("$quoted")
        fi
    done
}
# A word as the line has it (`'my vault.db'`, `my\ vault.db`, `~/v.db`)
# as the value it stands for, read without any expansion.
_keyward_dequote() {
    local w="$1" out="" i c
    if [[ ${#w} -ge 2 && ( ( "$w" == \'* && "$w" == *\' ) || ( "$w" == \"* && "$w" == *\" ) ) ]]; then
        out="${w:1:${#w}-2}"
    else
        for (( i = 0; i < ${#w}; i++ )); do
            c="${w:i:1}"
            if [[ "$c" == \\ ]]; then i=$((i + 1)); c="${w:i:1}"; fi
            out+="$c"
        done
    fi
    [[ "$out" == "~/"* && "$w" != [\'\"]* ]] && out="$HOME/${out:2}"
    printf '%s' "$out"
}
_keyward_names() {
    # `--opt=value` read as `--opt value`: bash splits it into `--opt`, `=`,
    # `value` (or keeps one word when `=` is not in COMP_WORDBREAKS).
    local -a line=()
    local j word lead="" cword=$COMP_CWORD
    for (( j = 0; j < ${#COMP_WORDS[@]}; j++ )); do
        word="${COMP_WORDS[j]}"
        if [[ "$word" == "=" && $j -gt 0 && "${COMP_WORDS[j-1]}" == --* ]]; then
            if [[ $j -eq $COMP_CWORD ]]; then line+=(""); else
                [[ $j -lt $COMP_CWORD ]] && cword=$((cword - 1))
            fi
        elif [[ "$word" == --*=* ]]; then
            line+=("${word%%=*}" "${word#*=}")
            [[ $j -lt $COMP_CWORD ]] && cword=$((cword + 1))
            [[ $j -eq $COMP_CWORD ]] && { cword=$((cword + 1)); lead="${word%%=*}="; }
        else
            line+=("$word")
        fi
    done
    local -a COMP_WORDS=("${line[@]}")
    local COMP_CWORD=$cword
    _keyward_line "$1"
    if [[ -n "$lead" ]]; then
        for (( j = 0; j < ${#COMPREPLY[@]}; j++ )); do COMPREPLY[j]="$lead${COMPREPLY[j]}"; done
    fi
    return 0
}
_keyward_line() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local takes=" @TAKES_VALUE@ "
    local i=1 sub="" positional=0 where=() word
    while [[ $i -lt $COMP_CWORD ]]; do
        word="${COMP_WORDS[i]}"
        case "$word" in
            --env|--vault)
                if [[ $((i + 1)) -lt $COMP_CWORD ]]; then
                    where+=("$word" "$(_keyward_dequote "${COMP_WORDS[i+1]}")")
                fi
                i=$((i + 2)); continue ;;
            -*)
                if [[ "$takes" == *" $word "* ]]; then i=$((i + 2)); continue; fi ;;
            *) if [[ -z "$sub" ]]; then sub="$word"; else positional=$((positional + 1)); fi ;;
        esac
        i=$((i + 1))
    done
    local -a words=()
    case "$prev" in
        --env) mapfile -t words < <(keyward __complete envs "${where[@]}" 2>/dev/null) ;;
        --grace) words=(@GRACE@) ;;
        --expires) words=(@EXPIRY@) ;;
        *)
            # The value of another option: clap's script knows what it takes.
            if [[ "$prev" == -* && "$takes" == *" $prev "* ]]; then
                _keyward "$1" "$cur" "$prev"
                return
            fi
            case "$sub" in
                show|rotate|extend|revoke|update|log)
                    if [[ "$cur" == -* || $positional -gt 0 ]]; then
                        _keyward "$1" "$cur" "$prev"
                        return
                    fi
                    mapfile -t words < <(keyward __complete keys "${where[@]}" 2>/dev/null) ;;
                *)
                    _keyward "$1" "$cur" "$prev"
                    return ;;
            esac ;;
    esac
    _keyward_offer "$cur" "${words[@]}"
    compopt +o default +o bashdefault 2>/dev/null
}
complete -F _keyward_names -o bashdefault -o default keyward
"#;

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "Issue and administer API keys, kept in a SQLite file or a PostgreSQL database",
    long_about = "Issue and administer API keys, kept in a vault: a SQLite file (the default) \
        or, where several hosts share it, a PostgreSQL database.\n\n\
        Secrets are shown once and never stored: the vault keeps only their SHA-256, \
        prefix and last four characters. Every change is recorded in a tamper-evident \
        activity log with the actor who made it.",
    after_help = "Examples:\n  \
        KEY=$(keyward create --name web --env prod)\n  \
        keyward list --env prod\n  \
        printf '%s\\n' \"$KEY\" | keyward verify\n  \
        keyward --json list | jq -r '.[].id'\n\n\
        Environment: KEYWARD_VAULT (the vault), KEYWARD_ACTOR (the actor), \
        KEYWARD_ENV (the default environment).\n\n\
        Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 no such key, \
        4 refused, 5 key not valid (verify).",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The vault: a SQLite file, or a postgres:// URL [default: $KEYWARD_VAULT, else the platform data dir, e.g. ~/.local/share/keyward/vault.db]
    #[arg(long, global = true, value_name = "PATH|URL", value_hint = ValueHint::FilePath, help_heading = GLOBAL)]
    pub vault: Option<PathBuf>,

    /// Print one JSON document on stdout (errors as JSON on stderr)
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Who is acting, for the activity log [default: $KEYWARD_ACTOR, else user@host]
    #[arg(long, global = true, value_name = "NAME", value_hint = ValueHint::Other, help_heading = GLOBAL)]
    pub actor: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// The heading of the flags every command takes.
const GLOBAL: &str = "Global options";

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
    /// Replace a key with zero downtime: the new key is live at once, the old one for a grace period
    #[command(after_help = ROTATE_EXAMPLES, long_about = ROTATE_ABOUT)]
    Rotate(RotateArgs),
    /// Change when a running grace period ends, or an active key's expiry
    #[command(after_help = EXTEND_EXAMPLES)]
    Extend(ExtendArgs),
    /// Make a key invalid at once (the record stays for audit)
    #[command(after_help = REVOKE_EXAMPLES)]
    Revoke(RevokeArgs),
    /// End the grace of keys that nothing has used for a while
    #[command(after_help = RETIRE_EXAMPLES, long_about = RETIRE_ABOUT)]
    Retire(RetireArgs),
    /// Rename an active key, add or remove scopes, or set its note
    #[command(after_help = UPDATE_EXAMPLES)]
    Update(UpdateArgs),
    /// Read the activity log, newest first, or check its hash chain
    #[command(after_help = LOG_EXAMPLES)]
    Log(LogArgs),
    /// Check a presented secret, read from stdin or an environment variable
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Show or change the vault's settings (max-keys, prefix, rotate-every)
    #[command(after_help = CONFIG_EXAMPLES)]
    Config(ConfigArgs),
    /// Copy the whole vault into an empty SQLite file or PostgreSQL database
    #[command(after_help = COPY_EXAMPLES)]
    Copy(CopyArgs),
    /// Answer verifications over HTTP for services and reverse proxies
    #[cfg(feature = "serve")]
    #[command(after_help = SERVE_EXAMPLES, long_about = SERVE_ABOUT)]
    Serve(ServeArgs),
    /// Not in this build: says so rather than "unrecognized subcommand".
    #[cfg(not(feature = "serve"))]
    #[command(hide = true, disable_help_flag = true)]
    Serve {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Print a shell completion script
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
}

#[cfg(feature = "serve")]
const SERVE_ABOUT: &str = "Answer verifications over HTTP/1.1 for services and reverse proxies, \
    from the same vault as the CLI (SQLite or PostgreSQL).\n\n\
    Routes: /v1/authz (forward auth for nginx auth_request, Traefik, Caddy, Envoy), \
    /v1/verify (keyward's JSON), /v2/keys.verifyKey (Unkey's v2 verify, with --root-key-env or \
    a root key), Unkey's key management routes (keys.createKey, keys.rerollKey, keys.updateKey, \
    keys.deleteKey, keys.getKey, keys.whoami, apis.listKeys, with --admin-env), leak reports \
    (/v1/leaks/github with --github-keys; /v1/revoke_tokens with --gitlab-token-env), /healthz, \
    /readyz, /metrics (Prometheus).\n\n\
    Plain HTTP: put TLS in the proxy in front. A revoke, rotate or extend is honoured by the \
    next request (SQLite) or within 1 s (PostgreSQL). SIGTERM or SIGINT stops accepting, \
    finishes requests in flight (at most 10 s), writes the usage counts and exits 0.";

#[cfg(feature = "serve")]
const SERVE_EXAMPLES: &str = "Examples:\n  \
    keyward serve                                    # 127.0.0.1:8080\n  \
    keyward serve --listen 127.0.0.1:9090 --log-format json   # loopback: a proxy in front\n  \
    KEYWARD_ROOT_KEY=$(openssl rand -hex 32) keyward serve --root-key-env KEYWARD_ROOT_KEY\n  \
    curl -H \"Authorization: Bearer $KEY\" 'http://127.0.0.1:8080/v1/authz?scope=deploy'";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address and port to listen on (port 0 picks a free one) [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080", hide_default_value = true, value_hint = ValueHint::Other)]
    pub listen: String,

    /// Only keys of this environment verify (a request's env may narrow, never widen) [default: $KEYWARD_ENV, else all]
    #[arg(long, value_name = "ENV", value_hint = ValueHint::Other)]
    pub env: Option<String>,

    /// Enable Unkey's /v2/keys.verifyKey, whose callers must send this variable's value as their root key
    #[arg(long = "root-key-env", value_name = "VAR", value_hint = ValueHint::Other)]
    pub root_key_env: Option<String>,

    /// Enable administration over HTTP in Unkey's shapes (keys.createKey, keys.rerollKey, …): keys of this environment are root keys, their scopes root permissions such as api.*.create_key
    #[arg(long = "admin-env", value_name = "ENV", value_hint = ValueHint::Other)]
    pub admin_env: Option<String>,

    /// Let the admin routes answer plain HTTP from other hosts too (TLS belongs to a proxy on this host)
    #[arg(long = "admin-allow-plain-http", requires = "admin_env")]
    pub admin_allow_plain_http: bool,

    /// Take GitHub's secret-scanning reports on POST /v1/leaks/github, checked against GitHub's key list from this file or https URL (read again hourly)
    #[arg(long = "github-keys", value_name = "FILE|URL", value_hint = ValueHint::Other)]
    pub github_keys: Option<String>,

    /// Take GitLab's token revocation calls on /v1/revoke_tokens, which must carry this variable's value
    #[arg(long = "gitlab-token-env", value_name = "VAR", value_hint = ValueHint::Other)]
    pub gitlab_token_env: Option<String>,

    /// The format of the log lines on stderr: text (one human-readable line per event) or json (one JSON object per line) [default: text]
    #[arg(
        long = "log-format",
        value_name = "FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        hide_default_value = true,
        hide_possible_values = true
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event
    Text,
    /// One JSON object per line
    Json,
}

const CREATE_EXAMPLES: &str = "Examples:\n  \
    KEY=$(keyward create --name web)                 # the secret alone goes to stdout\n  \
    keyward create --name ci --env prod --expires 90d --scope deploy\n  \
    keyward create --name partner --prefix sk_live --expires 2027-01-01T00:00:00Z\n  \
    keyward create --name billing --rotate-every 30d   # list --due says when to rotate it\n  \
    keyward --json create --name web | jq -r .secret";

const LIST_EXAMPLES: &str = "Examples:\n  \
    keyward list\n  \
    keyward list --env prod --all\n  \
    keyward list --expiring-within 7d                  # expiries and grace ends coming up\n  \
    keyward list --unused-for 30d                      # keys nobody has used lately\n  \
    keyward list --due --within 7d                     # rotations due within a week\n  \
    keyward --json list | jq '.[] | select(.status == \"grace\")'";

const SHOW_EXAMPLES: &str = "Examples:\n  \
    keyward show web\n  \
    keyward show key_7f3k                             # a unique id prefix\n  \
    keyward --json show web --env prod | jq .events";

const ROTATE_ABOUT: &str = "Replace a key with zero downtime.\n\n\
    The new key is active at once, with the old key's environment, name, prefix, scopes and \
    default flag; it takes the old key's place in the max-keys limit. The old key leaves \
    `active` and keeps verifying for the grace period (`now` ends it at once), so services can \
    move to the new secret before the old one stops working. Watch the old key's last use with \
    `keyward show OLD`, and end or lengthen its grace with `keyward extend OLD --grace DUR`.\n\n\
    Without --grace, keyward asks on a terminal (Now, 1 hour, 24 hours, 3 days, 7 days, or a \
    custom duration); a script without a terminal must say --grace (exit 2 otherwise).";

const ROTATE_EXAMPLES: &str = "Examples:\n  \
    NEW=$(keyward rotate web --grace 24h)             # old key valid for 24 more hours\n  \
    keyward rotate web --env prod --grace now          # old key invalid at once\n  \
    keyward rotate key_7f3k --grace 3d --expires 90d\n  \
    keyward rotate web --grace 1h --rotate-every 14d   # a new policy for the successor\n  \
    keyward --json rotate web --grace 1h | jq -r .secret";

const EXTEND_EXAMPLES: &str = "Examples:\n  \
    keyward extend key_7f3kq2 --grace now              # end a grace period early\n  \
    keyward extend key_7f3kq2 --grace 3d               # a partner needs longer\n  \
    keyward extend web --expires 30d                   # an active key's expiry\n  \
    keyward extend web --expires never";

const REVOKE_EXAMPLES: &str = "Examples:\n  \
    keyward revoke key_7f3kq2 --reason \"leaked in ticket 42\"\n  \
    keyward revoke partner --env prod --yes            # no terminal: --yes is required\n  \
    grep -ohE 'kw_[0-9A-Za-z]{38}' -r leaked/ | keyward revoke --leaked --yes\n\n\
    An environment's default key cannot be revoked: rotate it first.";

const RETIRE_ABOUT: &str = "End the grace of every key in grace that nothing has used for DUR: \
    whose last use (from verify or serve), or its rotation if it was not used since, is more than \
    DUR ago. One transaction, one grace_changed event each with the reason `quiet`. Run it hourly \
    from CI: old keys end as soon as the rollout is done, not at a fixed deadline.";

const RETIRE_EXAMPLES: &str = "Examples:\n  \
    keyward retire --quiet-for 1h --dry-run          # which keys, without ending them\n  \
    keyward retire --quiet-for 1h --yes              # in CI: no terminal, so --yes\n  \
    keyward retire --quiet-for 30m --env prod";

const UPDATE_EXAMPLES: &str = "Examples:\n  \
    keyward update web --name web-frontend\n  \
    keyward update web --add-scope deploy --remove-scope admin\n  \
    keyward update web --note \"owned by the payments team, ticket 42\"\n  \
    keyward update web --note \"\"                        # clear the note\n\n\
    Only an active key can be updated; a rotation carries the name, scopes and note over.";

const COPY_EXAMPLES: &str = "Examples:\n  \
    keyward copy --to 'postgres://keyward@db.example.com/keys?sslmode=verify-full'  # share\n  \
    keyward --vault \"$SHARED_URL\" copy --to backup-$(date +%F).db                 # a backup\n\n\
    The destination must be empty or absent (exit 4 otherwise). Keys, events with their \
    hashes, and settings are copied in one transaction; the copy's log is verified after.";

const LOG_EXAMPLES: &str = "Examples:\n  \
    keyward log --limit 20\n  \
    keyward log web --since 7d\n  \
    keyward log --env prod --event rotated --event revoked\n  \
    keyward log --by ci@deploy --since 24h\n  \
    keyward log --limit 50 --before 1234                # the next page after event 1234\n  \
    keyward log --verify                               # check the hash chain\n  \
    keyward log --head > anchor.txt                    # ID:HASH, to keep outside the vault\n  \
    keyward log --verify --anchor \"$(cat anchor.txt)\"   # also catches a cut or rebuilt log\n  \
    keyward --json log --event revoked --limit 10 | jq -r '.[].details.reason'";

const VERIFY_EXAMPLES: &str = "Examples:\n  \
    printf '%s\\n' \"$KEY\" | keyward verify\n  \
    API_KEY=... keyward verify --key-env API_KEY --require-scope deploy\n  \
    keyward --json verify < secret.txt | jq -r .code\n\n\
    The secret is never taken as an argument: arguments end up in shell history and \
    process lists. Exit 0 when valid, 5 when not.";

const CONFIG_EXAMPLES: &str = "Examples:\n  \
    keyward config\n  \
    keyward config set max-keys 5\n  \
    keyward config set prefix uspl\n  \
    keyward config set rotate-every 90d                # the policy new keys get (or never)";

const COMPLETIONS_EXAMPLES: &str = "Examples:\n  \
    mkdir -p ~/.local/share/bash-completion/completions\n  \
    keyward completions bash > ~/.local/share/bash-completion/completions/keyward\n  \
    mkdir -p ~/.zfunc && keyward completions zsh > ~/.zfunc/_keyward\n  \
    mkdir -p ~/.config/fish/completions\n  \
    keyward completions fish > ~/.config/fish/completions/keyward.fish\n\n\
    bash needs the bash-completion package; zsh needs ~/.zfunc in $fpath before compinit. \
    The bash, zsh and fish scripts complete key names and environments from the vault.";

/// Syntax of the flags that set an expiry.
const EXPIRES_HELP: &str = "When the key stops verifying: never, a duration (90s, 15m, 24h, 3d, \
    1w, '1h 30m') or a future RFC 3339 time, at most 10 years ahead. Without --expires, create \
    asks on a terminal (No expiration, 7, 30, 60 or 90 days) and uses never otherwise.";

/// Syntax of `rotate --expires`.
const ROTATE_EXPIRES_HELP: &str = "The new key's expiry: never, a duration (90s, 15m, 24h, 3d, \
    1w, '1h 30m') or a future RFC 3339 time, at most 10 years ahead [default: the old key's \
    lifetime again, else never]";

/// Rate limits and credits (`create`, `rotate`, `update`): shared by the key
/// and its successors.
#[derive(Debug, Args, Default)]
pub struct QuotaArgs {
    /// A rate limit NAME=LIMIT/DURATION, e.g. api=100/1m or burst=10/1s (DURATION 1s to 1d; repeatable; replaces one of that name)
    #[arg(long = "ratelimit", value_name = "NAME=LIMIT/DUR", value_hint = ValueHint::Other)]
    pub ratelimits: Vec<String>,

    /// Drop the rate limit of this name (repeatable)
    #[arg(long = "no-ratelimit", value_name = "NAME", value_hint = ValueHint::Other)]
    pub no_ratelimits: Vec<String>,

    /// Verifications left: a number, or unlimited
    #[arg(long, value_name = "N|unlimited", value_hint = ValueHint::Other, allow_hyphen_values = true)]
    pub credits: Option<String>,

    /// Add to the credits left
    #[arg(long = "add-credits", value_name = "N", value_hint = ValueHint::Other, allow_hyphen_values = true)]
    pub add_credits: Option<String>,

    /// Set the credits back to N every UTC day or month: N/daily, N/monthly (day 1) or N/monthly@DAY
    #[arg(long, value_name = "N/daily|monthly", value_hint = ValueHint::Other, allow_hyphen_values = true)]
    pub refill: Option<String>,

    /// Stop refilling the credits
    #[arg(long = "no-refill", conflicts_with = "refill")]
    pub no_refill: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The key's name, unique among the environment's active keys [default: its id]
    #[arg(long, value_hint = ValueHint::Other, value_name = "NAME")]
    pub name: Option<String>,

    /// The environment the key belongs to [default: $KEYWARD_ENV, else default]
    #[arg(long, value_name = "ENV", value_hint = ValueHint::Other)]
    pub env: Option<String>,

    /// When the key stops verifying [default: asked on a terminal, else never]
    #[arg(long, value_hint = ValueHint::Other, value_name = "DUR|never", long_help = EXPIRES_HELP, allow_hyphen_values = true)]
    pub expires: Option<String>,

    /// A scope the key grants (repeat for several)
    #[arg(long = "scope", value_hint = ValueHint::Other, value_name = "SCOPE")]
    pub scopes: Vec<String>,

    /// The secret's prefix, e.g. sk_live [default: the vault's prefix setting]
    #[arg(long, value_name = "PREFIX", value_hint = ValueHint::Other)]
    pub prefix: Option<String>,

    /// Rotate this key every DUR (30d, 90d, 12w) or never; `list --due` shows it when due [default: the rotate-every setting]
    #[arg(long = "rotate-every", value_name = "DUR|never", value_hint = ValueHint::Other)]
    pub rotate_every: Option<String>,

    /// A note for people: who owns the key, what it is for
    #[arg(long, value_name = "TEXT", value_hint = ValueHint::Other)]
    pub note: Option<String>,

    /// Who the key belongs to: an account id of your product (Unkey's externalId); max-keys-per-owner counts by it
    #[arg(long, value_name = "ID", value_hint = ValueHint::Other)]
    pub owner: Option<String>,

    /// Metadata for your product: a JSON object of at most 4 KiB, returned by verify
    #[arg(long, value_name = "JSON", value_hint = ValueHint::Other)]
    pub meta: Option<String>,

    #[command(flatten)]
    pub quota: QuotaArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only keys of this environment [default: $KEYWARD_ENV, else all]
    #[arg(long, value_name = "ENV", value_hint = ValueHint::Other)]
    pub env: Option<String>,

    /// Include expired and revoked keys
    #[arg(long)]
    pub all: bool,

    /// Only keys whose expiry or grace ends within DUR (e.g. 7d)
    #[arg(long, value_hint = ValueHint::Other, value_name = "DUR", allow_hyphen_values = true)]
    pub expiring_within: Option<String>,

    /// Only keys not verified for DUR, or never (e.g. 30d)
    #[arg(long, value_hint = ValueHint::Other, value_name = "DUR", allow_hyphen_values = true)]
    pub unused_for: Option<String>,

    /// Only active keys whose rotation policy says they are due (see create --rotate-every)
    #[arg(long)]
    pub due: bool,

    /// With --due: also keys that will be due within DUR (e.g. 7d)
    #[arg(long, value_hint = ValueHint::Other, value_name = "DUR", requires = "due", allow_hyphen_values = true)]
    pub within: Option<String>,

    /// Only keys of this owner (see create --owner)
    #[arg(long, value_name = "ID", value_hint = ValueHint::Other)]
    pub owner: Option<String>,
}

/// A KEY argument: an id, a unique id prefix (key_ + at least 4 characters),
/// or the name of an active key in --env.
#[derive(Debug, Args)]
pub struct KeyArg {
    /// Key id, unique id prefix, or name of an active key in --env
    #[arg(value_name = "KEY", value_hint = ValueHint::Other)]
    pub key: String,

    /// The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]
    #[arg(long, value_name = "ENV", value_hint = ValueHint::Other)]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub key: FoundKeyArg,
}

/// The KEY of `show`: a name finds the newest key of that name, whatever
/// its status.
#[derive(Debug, Args)]
pub struct FoundKeyArg {
    /// Key id, unique id prefix, or name: the newest key of that name in --env, whatever its status
    #[arg(value_name = "KEY", value_hint = ValueHint::Other)]
    pub key: String,

    /// The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]
    #[arg(long, value_name = "ENV", value_hint = ValueHint::Other)]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub key: KeyArg,

    /// How long the old key keeps verifying: now, 1h, 24h, 3d, 7d, any duration or an RFC 3339 time
    #[arg(long, value_hint = ValueHint::Other, value_name = "DUR", allow_hyphen_values = true)]
    pub grace: Option<String>,

    /// The new key's expiry [default: the old key's lifetime again, else never]
    #[arg(long, value_hint = ValueHint::Other, value_name = "DUR|never", long_help = ROTATE_EXPIRES_HELP, allow_hyphen_values = true)]
    pub expires: Option<String>,

    /// The new key's name [default: the old key's name]
    #[arg(long, value_hint = ValueHint::Other, value_name = "NAME")]
    pub name: Option<String>,

    /// The new key's rotation policy: DUR or never [default: the old key's]
    #[arg(long = "rotate-every", value_name = "DUR|never", value_hint = ValueHint::Other)]
    pub rotate_every: Option<String>,

    #[command(flatten)]
    pub quota: QuotaArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("change").required(true).args(["grace", "expires"]))]
pub struct ExtendArgs {
    #[command(flatten)]
    pub key: KeyArg,

    /// End a running grace period DUR from now instead (longer or shorter; now ends it)
    #[arg(long, value_hint = ValueHint::Other, value_name = "DUR", allow_hyphen_values = true)]
    pub grace: Option<String>,

    /// Set an active key's expiry to DUR from now, a future time, or never (to end a key now, revoke it)
    #[arg(long, value_hint = ValueHint::Other, value_name = "DUR|never", allow_hyphen_values = true)]
    pub expires: Option<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Key id, unique id prefix, or name of an active key in --env
    #[arg(value_name = "KEY", value_hint = ValueHint::Other, required_unless_present = "leaked", conflicts_with = "leaked")]
    pub key: Option<String>,

    /// The environment in which a key name is looked up [default: $KEYWARD_ENV, else default]
    #[arg(long, value_name = "ENV", value_hint = ValueHint::Other, conflicts_with = "leaked")]
    pub env: Option<String>,

    /// Read leaked secrets on stdin, one per line (a scanner's output), and end every key they belong to
    #[arg(long)]
    pub leaked: bool,

    /// Do not ask for confirmation (required without a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Why, for the activity log
    #[arg(long, value_hint = ValueHint::Other, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct RetireArgs {
    /// End keys in grace not used (nor rotated) for longer than this, e.g. 1h, 30m, 1d (at least 2m: last use is recorded at most once a minute)
    #[arg(long = "quiet-for", value_name = "DUR", value_hint = ValueHint::Other)]
    pub quiet_for: String,

    /// Only keys of this environment [default: $KEYWARD_ENV, else all]
    #[arg(long, value_name = "ENV", value_hint = ValueHint::Other)]
    pub env: Option<String>,

    /// List the keys that would be ended, and change nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Do not ask for confirmation (required without a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub key: KeyArg,

    /// A new name, unique among the environment's active keys
    #[arg(long, value_name = "NAME", value_hint = ValueHint::Other)]
    pub name: Option<String>,

    /// A scope to grant (repeatable)
    #[arg(long = "add-scope", value_name = "SCOPE", value_hint = ValueHint::Other)]
    pub add_scopes: Vec<String>,

    /// A scope to take away (repeatable; one the key lacks is ignored)
    #[arg(long = "remove-scope", value_name = "SCOPE", value_hint = ValueHint::Other)]
    pub remove_scopes: Vec<String>,

    /// A new note ("" clears it)
    #[arg(long, value_name = "TEXT", value_hint = ValueHint::Other)]
    pub note: Option<String>,

    /// A new owner ("" clears it): an account id of your product (Unkey's externalId); max-keys-per-owner counts by it
    #[arg(long, value_name = "ID", value_hint = ValueHint::Other)]
    pub owner: Option<String>,

    /// New metadata ("" clears it): a JSON object of at most 4 KiB, returned by verify
    #[arg(long, value_name = "JSON", value_hint = ValueHint::Other)]
    pub meta: Option<String>,

    #[command(flatten)]
    pub quota: QuotaArgs,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Only this key's events, including the rotation that created it
    #[arg(value_hint = ValueHint::Other, value_name = "KEY")]
    pub key: Option<String>,

    /// Only events of this environment (and where KEY is a name, look it up here) [default: $KEYWARD_ENV, else all]
    #[arg(long, value_name = "ENV", value_hint = ValueHint::Other)]
    pub env: Option<String>,

    /// Only events of this type (repeatable)
    #[arg(long = "event", value_name = "TYPE", value_parser = [
        "created", "rotated", "grace_changed", "expiry_changed", "revoked", "updated", "config_changed",
        "quota_changed",
    ])]
    pub events: Vec<String>,

    /// Only events by this actor
    #[arg(long = "by", value_name = "ACTOR", value_hint = ValueHint::Other)]
    pub by: Option<String>,

    /// Only events since this long ago (24h, 7d) or since this RFC 3339 time
    #[arg(long, value_hint = ValueHint::Other, value_name = "DUR|TIME", allow_hyphen_values = true)]
    pub since: Option<String>,

    /// Only events older than this event id: the next page after a page's last id
    #[arg(long, value_name = "ID", value_hint = ValueHint::Other, value_parser = clap::value_parser!(i64).range(1..))]
    pub before: Option<i64>,

    /// At most this many events
    #[arg(long, value_name = "N", value_hint = ValueHint::Other, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,

    /// Check the log's hash chain instead: exit 0 when intact, 1 naming the first bad event
    #[arg(long, conflicts_with_all = ["key", "env", "events", "by", "since", "before", "head"])]
    pub verify: bool,

    /// With --verify: also fail unless the log still holds this event with this hash (repeatable; from `log --head`)
    #[arg(long = "anchor", value_name = "ID:HASH", requires = "verify", conflicts_with = "head", value_hint = ValueHint::Other)]
    pub anchors: Vec<String>,

    /// Print the newest event's id and hash (ID:HASH), to keep outside the vault as an anchor
    #[arg(long, conflicts_with_all = ["key", "env", "events", "by", "since", "before", "limit"])]
    pub head: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Read the secret from this environment variable instead of stdin
    #[arg(long, value_name = "VAR", value_hint = ValueHint::Other)]
    pub key_env: Option<String>,

    /// Only a key of this environment is valid [default: $KEYWARD_ENV, else any]
    #[arg(long, value_name = "ENV", value_hint = ValueHint::Other)]
    pub env: Option<String>,

    /// Fail with INSUFFICIENT_SCOPE unless the key has this scope (repeatable)
    #[arg(long = "require-scope", value_name = "SCOPE", value_hint = ValueHint::Other)]
    pub require_scopes: Vec<String>,

    /// What this verification costs in credits and in each rate limit (0 checks without spending)
    #[arg(long, value_name = "N", default_value = "1", value_hint = ValueHint::Other, allow_hyphen_values = true)]
    pub cost: String,

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
    /// Change a setting: max-keys (active keys per environment), prefix, or rotate-every (new keys' rotation policy)
    Set {
        /// max-keys, prefix or rotate-every
        #[arg(value_name = "NAME", value_parser = ["max-keys", "prefix", "rotate-every", "max-keys-per-owner"])]
        name: String,
        /// The new value
        #[arg(value_name = "VALUE", value_hint = ValueHint::Other)]
        value: String,
    },
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Where to copy the vault: a file path, or a postgres:// URL
    #[arg(long, value_name = "PATH|URL", value_hint = ValueHint::AnyPath)]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_hint = ValueHint::Other, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_definition_is_consistent() {
        super::command().debug_assert();
    }
}
