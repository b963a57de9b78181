//! Every ```console block of the README and of the docs pages it continues
//! in ([`PAGES`]) runs as shown, top to bottom, as one shell session on a
//! scratch vault at a pinned clock: each `$ ` line is run and what it prints
//! (stdout and stderr, as a terminal shows them) must be what the page says,
//! but for what is random (key ids, secrets, hints).
//!
//! The blocks use jq, and "Sharing a vault" a PostgreSQL database: the test
//! starts a throwaway server (tests/cli/common/pg.rs) and gives its URL as
//! `$SHARED_VAULT`, shown in the README as the example URL; "Verifying keys
//! in your service" runs `keyward serve` on a free port in place of 8080 and
//! asks it with curl; "When a key leaks" runs detect-secrets from a
//! virtual environment the test makes. Without jq, curl, detect-secrets or
//! PostgreSQL the test prints one line saying it was skipped; with
//! KEYWARD_NO_SKIP=1 (set by .ci/run) that is a failure.
//!
//! The README tours serve and a shared vault: this test needs the default
//! features (`serve`, `postgres`).
#![cfg(all(feature = "serve", feature = "postgres"))]

#[allow(dead_code)]
#[path = "cli/common/host.rs"]
mod host;
#[allow(dead_code)]
#[path = "cli/common/pg.rs"]
mod pg;

use std::path::Path;
use std::process::Command;

use regex::Regex;

const NOW: &str = "2026-11-23T12:00:00Z";
/// How the README shows the shared vault's URL.
const EXAMPLE_URL: &str = "postgres://keyward:***@db.example.com:5432/keys";
/// Where the README's `keyward serve` listens.
const SERVE_ADDRESS: &str = "127.0.0.1:8080";
const END: &str = "@@@ keyward readme: end of command @@@";

/// The pages whose console blocks run, in order, as one session: the
/// README, then the pages its sections continue in, in the order the
/// README names them (each goes on from the state the one before left).
const PAGES: [&str; 5] = [
    "README.md",
    "docs/recipes.md",
    "docs/postgres.md",
    "docs/serve.md",
    "docs/operations.md",
];

struct Step {
    page: &'static str,
    line: usize,
    command: String,
    expected: Vec<String>,
}

fn steps_of(page: &'static str, text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            in_console = line == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                page,
                line: i + 1,
                command: command.to_string(),
                expected: Vec::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.to_string());
        }
    }
    steps
}

/// An expected line as a pattern: literal, but for key ids, secrets, hints
/// and `mktemp -d`'s directory, which are random in every run.
fn pattern(line: &str) -> Regex {
    let random = Regex::new(
        r"key_[a-z2-7]{16}|kw_[0-9A-Za-z]{38}|kw_…[0-9A-Za-z]{4}|/tmp/tmp\.[0-9A-Za-z]{10}",
    )
    .expect("random parts");
    let mut out = String::from("^");
    let mut last = 0;
    for m in random.find_iter(line) {
        out.push_str(&regex::escape(&line[last..m.start()]));
        out.push_str(match m.as_str() {
            s if s.starts_with("key_") => r"key_[a-z2-7]{16}",
            s if s.contains('…') => r"kw_…[0-9A-Za-z]{4}",
            s if s.starts_with("/tmp/") => r"/tmp/tmp\.[0-9A-Za-z]{10}",
            _ => r"kw_[0-9A-Za-z]{38}",
        });
        last = m.end();
    }
    out.push_str(&regex::escape(&line[last..]));
    out.push('$');
    Regex::new(&out).expect("pattern")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_readme_console_blocks_run_as_shown() {
    if !have("jq") || !have("curl") || !have("openssl") {
        host::skip(
            "the README's console blocks",
            "they need jq, curl and openssl; apt install jq curl openssl to run them",
        );
        return;
    }
    let Some(shared) = pg::new_database() else {
        return;
    };
    let shown = shared
        .replace(&format!(":{}@", pg::PASSWORD), ":***@")
        .replace("?sslmode=disable", "");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut steps = Vec::new();
    for page in PAGES {
        let text = std::fs::read_to_string(root.join(page)).expect(page);
        let found = steps_of(page, &text);
        assert!(!found.is_empty(), "{page} has console blocks");
        steps.extend(found);
    }
    assert!(steps.len() > 20, "the pages have their console blocks");
    // serve listens where the README says, unless that port is taken here.
    let port = host::free_port();
    let mut script = String::from("exec 2>&1\n");
    for step in &steps {
        script.push_str(
            &step
                .command
                .replace(SERVE_ADDRESS, &format!("127.0.0.1:{port}")),
        );
        script.push_str(&format!(
            "\n__rc=$?; printf '\\n%s\\n' '{END}'; (exit $__rc)\n"
        ));
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let bin = Path::new(env!("CARGO_BIN_EXE_keyward"));
    // "When a key leaks" runs detect-secrets and the plugin from contrib/,
    // as a reader does from a clone with detect-secrets installed.
    let Some(detect_secrets) = detect_secrets() else {
        return;
    };
    let path = format!(
        "{}:{}:{}",
        bin.parent().expect("bin dir").display(),
        detect_secrets.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .current_dir(scratch.path())
        .env("PATH", path)
        .env("HOME", scratch.path())
        .env("TMPDIR", scratch.path())
        .env("KEYWARD_NOW", NOW)
        .env("USER", "ops")
        .env("SHARED_VAULT", &shared)
        .env("REPO", root)
        .env_remove("KEYWARD_VAULT")
        .env_remove("KEYWARD_ACTOR")
        .env_remove("KEYWARD_ENV")
        .env_remove("NO_COLOR")
        .output()
        .expect("run bash");
    // `mktemp -d` makes its directory in the scratch TMPDIR; a reader's is in /tmp.
    let output = String::from_utf8_lossy(&out.stdout)
        .replace(&scratch.path().display().to_string(), "/tmp")
        .replace(&format!("{shown}?sslmode=disable"), EXAMPLE_URL)
        .replace(&shown, EXAMPLE_URL);
    let outputs: Vec<&str> = output.split(&format!("\n{END}\n")).collect();
    let mut failures = Vec::new();
    for (step, got) in steps.iter().zip(&outputs) {
        let got: Vec<&str> = got
            .trim_start_matches('\n')
            .lines()
            .map(str::trim_end)
            .collect();
        let matches = got.len() == step.expected.len()
            && got
                .iter()
                .zip(&step.expected)
                .all(|(g, e)| pattern(e.trim_end()).is_match(g));
        if !matches {
            failures.push(format!(
                "{}:{}: $ {}\n--- the page shows:\n{}\n--- it printed:\n{}",
                step.page,
                step.line,
                step.command,
                step.expected.join("\n"),
                got.join("\n")
            ));
        }
    }
    assert_eq!(
        outputs.len(),
        steps.len() + 1,
        "every command ran: {output}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The bin directory of a virtual environment with detect-secrets (the
/// one tests/cli/leaks.rs makes, or made here); None after saying why.
fn detect_secrets() -> Option<std::path::PathBuf> {
    match host::venv("detect-secrets", &["detect-secrets"]) {
        Ok(venv) => Some(venv.join("bin")),
        Err(why) => {
            host::skip(
                "the README's console blocks",
                &format!(
                    "they need detect-secrets, and a virtual environment with it cannot be made (python3-venv and PyPI): {why}"
                ),
            );
            None
        }
    }
}
