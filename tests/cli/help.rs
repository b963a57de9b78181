//! --help is part of the interface: every subcommand shows real examples.

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
