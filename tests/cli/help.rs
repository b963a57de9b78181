//! --help and usage are part of the interface: every subcommand shows real
//! examples, global options have their own heading, no line ends in a blank,
//! and what help says agrees with the README; usage errors keep their lines
//! and never show flags that came from the environment; the man pages name
//! each other.

use crate::common::*;

#[test]
fn every_subcommand_has_an_examples_section() {
    let v = TestVault::new();
    let subcommands = [
        "create",
        "list",
        "show",
        "rotate",
        "extend",
        "revoke",
        "log",
        "verify",
        "config",
        "completions",
    ];
    for sub in subcommands {
        let out = stdout(&v.bare().args([sub, "--help"]).assert().success());
        assert!(
            out.contains("Examples:"),
            "{sub} --help has no examples:\n{out}"
        );
        assert!(
            out.contains(&format!("keyward {sub}"))
                || out.contains(&format!("keyward --json {sub}")),
            "{sub}: no invocation of itself"
        );
    }
    let top = stdout(&v.bare().arg("--help").assert().success());
    for sub in subcommands {
        assert!(top.contains(sub), "top-level help does not list {sub}");
    }
}

#[test]
fn rotate_help_explains_grace_and_its_presets() {
    let v = TestVault::new();
    let out = stdout(&v.bare().args(["rotate", "--help"]).assert().success());
    for needle in [
        "grace period",
        "Now, 1 hour, 24 hours, 3 days, 7 days",
        "--grace now",
        "exit 2",
    ] {
        assert!(out.contains(needle), "missing {needle:?}:\n{out}");
    }
}

#[test]
fn verify_help_shows_the_stdin_and_key_env_forms() {
    let v = TestVault::new();
    let out = stdout(&v.bare().args(["verify", "--help"]).assert().success());
    assert!(out.contains("| keyward verify"), "{out}");
    assert!(out.contains("--key-env API_KEY"), "{out}");
    assert!(out.contains("never taken as an argument"), "{out}");
}

/// --help says what the README says: the vault is a SQLite file or a
/// PostgreSQL database (`--vault <PATH|URL>`), not "a local SQLite vault";
/// `copy`'s example reaches PostgreSQL with `sslmode=verify-full`, never
/// `sslmode=disable`; serve's never suggests every interface (`0.0.0.0`);
/// show finds a key whatever its status, not only an active one.
#[cfg(all(feature = "serve", feature = "postgres"))]
#[test]
fn help_agrees_with_the_readme() {
    let v = TestVault::new();
    // Words as a reader sees them, whatever the wrapping.
    let help = |args: &[&str]| {
        let text = stdout(&v.bare().args(args).assert().success());
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let top = help(&["--help"]);
    assert!(
        !top.contains("local SQLite vault") && top.contains("PostgreSQL"),
        "{top}"
    );
    assert!(top.contains("--vault <PATH|URL>"), "{top}");
    let copy = help(&["copy", "--help"]);
    assert!(
        copy.contains("sslmode=verify-full") && !copy.contains("sslmode=disable"),
        "{copy}"
    );
    let serve = help(&["serve", "--help"]);
    assert!(!serve.contains("0.0.0.0"), "{serve}");
    let show = help(&["show", "--help"]);
    assert!(!show.contains("active key"), "{show}");
    assert!(show.contains("whatever its status"), "{show}");
}

/// Every man page ends with a SEE ALSO naming the other keyward pages.
#[test]
fn man_pages_have_a_see_also_section() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages: Vec<String> = std::fs::read_dir(root.join("man"))
        .expect("man/")
        .filter_map(|e| e.ok())
        .map(|e| {
            e.file_name()
                .to_string_lossy()
                .trim_end_matches(".1")
                .to_string()
        })
        .collect();
    assert!(pages.len() > 10);
    for page in &pages {
        let text = std::fs::read_to_string(root.join(format!("man/{page}.1"))).expect("page");
        let see_also = text
            .split(".SH \"SEE ALSO\"")
            .nth(1)
            .unwrap_or_else(|| panic!("{page} has no SEE ALSO"));
        for other in pages.iter().filter(|p| *p != page) {
            let roff = other.replace('-', "\\-");
            assert!(
                see_also.contains(&format!("\\fB{roff}\\fR(1)")),
                "{page} does not name {other}:\n{see_also}"
            );
        }
    }
}

/// No help line ends in a blank, with `--help` or `-h`, for keyward and
/// every command: not `serve --help`'s lines before the defaults of
/// --listen and --log-format either.
#[test]
fn no_help_line_ends_in_a_blank() {
    let v = TestVault::new();
    for sub in [
        "",
        "create",
        "list",
        "show",
        "rotate",
        "extend",
        "revoke",
        "retire",
        "update",
        "log",
        "verify",
        "config",
        "copy",
        "serve",
        "completions",
    ] {
        if sub == "serve" && cfg!(not(feature = "serve")) {
            continue;
        }
        for flag in ["--help", "-h"] {
            let mut cmd = v.bare();
            if !sub.is_empty() {
                cmd.arg(sub);
            }
            let out = stdout(&cmd.arg(flag).assert().success());
            for line in out.lines() {
                assert!(
                    !line.ends_with(char::is_whitespace),
                    "{sub} {flag}: {line:?}"
                );
            }
        }
    }
}

#[test]
fn help_groups_global_options_and_offers_no_expiry_of_now() {
    let v = TestVault::new();
    let help = stdout(&v.bare().args(["create", "--help"]).assert().success());
    let (own, global) = help
        .split_once("Global options:")
        .expect("a global heading");
    assert!(
        !own.contains("--vault") && global.contains("--vault"),
        "{help}"
    );
    assert!(
        !help.contains("now, never"),
        "create --expires does not take now: {help}"
    );
    let rotate = stdout(&v.bare().args(["rotate", "--help"]).assert().success());
    assert!(!rotate.contains("now, never"), "{rotate}");
}

#[test]
fn usage_lines_do_not_show_flags_that_came_from_the_environment() {
    let v = TestVault::new();
    let out = v
        .bare()
        .env("KEYWARD_VAULT", &v.path)
        .env("KEYWARD_ACTOR", "ci")
        .args(["create", "--bogus"])
        .assert()
        .code(2);
    let err = stderr(&out);
    assert!(err.contains("Usage:"), "{err}");
    assert!(
        !err.contains("--vault") && !err.contains("--actor"),
        "{err}"
    );
}

/// Usage errors keep their line breaks (never a literal `\n`), and a bare
/// `keyward` prints the help, its commands and `completions` included
/// (exit 2).
#[test]
fn usage_errors_keep_their_lines_and_bare_keyward_shows_help() {
    let v = TestVault::new();
    let out = v.kw(["list", "--bogus"]).assert().code(2);
    let err = stderr(&out);
    assert!(!err.contains("\\n") && err.lines().count() >= 3, "{err}");
    let bare = v.bare().assert().code(2);
    let help = format!("{}{}", stdout(&bare), stderr(&bare));
    assert!(
        help.contains("Commands:") && help.contains("completions"),
        "{help}"
    );
}
