//! Bad input, as data: each case gets its documented exit code, a message
//! that names the value, no panic, and a vault left exactly as it was. The
//! same holds for the text rules (no zero-width, bidi or separator
//! characters and no surrounding blanks in a name, environment, scope or
//! actor; no name starting with `key_`), whose stored breaches are escaped
//! when shown, for an ambiguous duration (`1M`), and for JSON errors, given
//! only where `--json` is the flag.

use crate::common::*;

struct Case {
    args: &'static [&'static str],
    stdin: &'static str,
    code: i32,
    fragment: &'static str,
}

const fn case(args: &'static [&'static str], code: i32, fragment: &'static str) -> Case {
    Case {
        args,
        stdin: "",
        code,
        fragment,
    }
}

const CASES: &[Case] = &[
    // Durations and times.
    case(&["create", "--expires", "-1h"], 2, "'-1h' is negative"),
    case(
        &["create", "--expires", "yesterday"],
        2,
        "'yesterday' is not a duration",
    ),
    case(&["create", "--expires", ""], 2, "'' is not a duration"),
    case(
        &["create", "--expires", "2001-01-01T00:00:00Z"],
        2,
        "is in the past",
    ),
    case(&["create", "--expires", "11y"], 2, "more than 10 years"),
    case(
        &["create", "--expires", "2040-01-01T00:00:00Z"],
        2,
        "more than 10 years",
    ),
    case(&["create", "--expires", "now"], 2, "not in the future"),
    case(&["create", "--expires", "3 fortnights"], 2, "24h"),
    // Names, environments, scopes, actors.
    case(&["create", "--name", ""], 2, "the name '' is empty"),
    case(&["create", "--name", "   "], 2, "is empty"),
    case(
        &[
            "create",
            "--name",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ],
        2,
        "65 characters",
    ),
    case(&["create", "--name", "evil\u{1b}[2J"], 2, "evil\\u{1b}[2J"),
    case(&["create", "--name", "two\nlines"], 2, "two\\nlines"),
    case(&["create", "--env", ""], 2, "environment '' is empty"),
    case(&["create", "--env", "prod\t"], 2, "control characters"),
    case(&["create", "--scope", ""], 2, "scope '' is empty"),
    case(
        &["create", "--scope", "read", "--scope", "a\u{7}"],
        2,
        "scope 'a\\u{7}'",
    ),
    case(&["--actor", "", "create"], 2, "actor '' is empty"),
    case(
        &["--actor", "bot\u{1b}]0;x", "create"],
        2,
        "control characters",
    ),
    // Prefixes.
    case(&["create", "--prefix", ""], 2, "'' is not a valid prefix"),
    case(
        &["create", "--prefix", "KW"],
        2,
        "'KW' is not a valid prefix",
    ),
    case(&["create", "--prefix", "9kw"], 2, "'9kw'"),
    case(&["create", "--prefix", "k-w"], 2, "'k-w'"),
    case(
        &["create", "--prefix", "abcdefghijklmnopq"],
        2,
        "1-16 characters",
    ),
    // KEY forms.
    case(&["show", "nope"], 3, "no key matches 'nope'"),
    case(&["show", "key_ab"], 3, "at least 4 characters"),
    case(&["show", "key_zzzzzzzzzzzzzzzz"], 3, "key_zzzzzzzzzzzzzzzz"),
    case(&["show", ""], 3, "no key matches ''"),
    case(&["show", "web\u{1b}[31m"], 3, "web\\u{1b}[31m"),
    case(&["list", "--env", ""], 2, "environment '' is empty"),
    // Config.
    case(&["config", "set", "max-keys", "0"], 2, "'0'"),
    case(&["config", "set", "max-keys", "1.5"], 2, "'1.5'"),
    case(&["config", "set", "prefix", "Bad"], 2, "'Bad'"),
    case(&["config", "set", "nope", "1"], 2, "nope"),
    case(&["config", "set", "max-keys"], 2, "VALUE"),
    // verify input.
    case(
        &["verify", "kw_looks_like_a_secret"],
        2,
        "not take the secret as an argument",
    ),
    case(
        &["verify", "--key-env", ""],
        2,
        "not an environment variable name",
    ),
    case(
        &["verify", "--key-env", "KEYWARD_TEST_UNSET_VAR"],
        2,
        "KEYWARD_TEST_UNSET_VAR is not set",
    ),
    case(&["verify", "--require-scope", ""], 2, "scope '' is empty"),
    Case {
        args: &["verify"],
        stdin: "",
        code: 2,
        fragment: "stdin is empty",
    },
    Case {
        args: &["verify"],
        stdin: "   \n",
        code: 2,
        fragment: "stdin is empty",
    },
    Case {
        args: &["verify"],
        stdin: "kw_notasecret\n",
        code: 5,
        fragment: "",
    },
    // rotate.
    case(&["rotate", "web", "--grace", "-1h"], 2, "'-1h' is negative"),
    case(
        &["rotate", "web", "--grace", "never"],
        2,
        "'never' is not allowed here",
    ),
    case(
        &["rotate", "web", "--grace", "11y"],
        2,
        "more than 10 years",
    ),
    case(
        &["rotate", "web", "--grace", "2020-02-02T00:00:00Z"],
        2,
        "in the past",
    ),
    case(
        &["rotate", "web", "--grace", "1h", "--expires", "now"],
        2,
        "not in the future",
    ),
    case(
        &["rotate", "web", "--grace", "1h", "--expires", "sometime"],
        2,
        "'sometime'",
    ),
    case(
        &["rotate", "web", "--grace", "1h", "--name", ""],
        2,
        "the name '' is empty",
    ),
    case(
        &["rotate", "web", "--grace", "1h", "--env", "a\u{8}"],
        2,
        "environment 'a\\u{8}'",
    ),
    case(&["rotate", "web"], 2, "needs --grace"),
    case(
        &["rotate", "nope", "--grace", "1h"],
        3,
        "no key matches 'nope'",
    ),
    case(
        &["rotate", "key_ab", "--grace", "1h"],
        3,
        "at least 4 characters",
    ),
    // extend.
    case(&["extend", "web"], 2, "--grace"),
    case(
        &["extend", "web", "--grace", "1h", "--expires", "1h"],
        2,
        "cannot be used with",
    ),
    case(
        &["extend", "web", "--expires", "yesterday"],
        2,
        "'yesterday'",
    ),
    case(&["extend", "web", "--grace", ""], 2, "''"),
    case(
        &["extend", "web", "--grace", "1h"],
        4,
        "cannot be given a grace period",
    ),
    case(&["extend", "nope", "--expires", "1d"], 3, "'nope'"),
    // revoke.
    case(
        &["revoke", "web", "--yes", "--reason", ""],
        2,
        "reason '' is empty",
    ),
    case(
        &["revoke", "web", "--yes", "--reason", "a\u{1b}[8m"],
        2,
        "reason 'a\\u{1b}[8m'",
    ),
    case(&["revoke", "web", "--yes"], 4, "rotate it first"),
    case(&["revoke", "web"], 4, "rotate it first"),
    case(&["revoke", "nope", "--yes"], 3, "'nope'"),
    // log.
    case(&["log", "--limit", "0"], 2, "0"),
    case(&["log", "--limit", "-1"], 2, "-1"),
    case(&["log", "--limit", "lots"], 2, "lots"),
    case(&["log", "--since", "-1h"], 2, "'-1h'"),
    case(
        &["log", "--since", "the dawn of time"],
        2,
        "'the dawn of time'",
    ),
    case(&["log", "--event", "deleted"], 2, "deleted"),
    case(&["log", "--verify", "web"], 2, "cannot be used with"),
    case(&["log", "--env", ""], 2, "environment '' is empty"),
    case(&["log", "nope"], 3, "'nope'"),
    // Global flags.
    case(&["--actor", "x\u{7f}", "list"], 2, "control characters"),
    Case {
        args: &["verify"],
        stdin: "kw_\0\0\0\n",
        code: 5,
        fragment: "",
    },
    Case {
        args: &["--json", "verify"],
        stdin: "\u{feff}kw_abc",
        code: 5,
        fragment: "",
    },
    // Unknown commands and flags.
    case(&["frobnicate"], 2, "frobnicate"),
    case(&["create", "--colour"], 2, "--colour"),
];

/// The vault's files, byte for byte.
fn files(v: &TestVault) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(v.dir())
        .expect("dir")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn there_are_at_least_40_cases() {
    assert!(CASES.len() >= 40, "{}", CASES.len());
}

#[test]
fn invalid_utf8_arguments_are_usage_errors() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let v = TestVault::new();
    v.create(&["--name", "web"]);
    v.create(&["--name", "other"]);
    let before = v.dump();
    let bad = OsStr::from_bytes(b"caf\xe9\xff");
    for flag in [
        &["create", "--name"][..],
        &["create", "--env"],
        &["create", "--scope"],
        &["log", "--since"],
        &["show"],
    ] {
        let out = v.kw(flag).arg(bad).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{flag:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("UTF-8"),
            "{flag:?}"
        );
    }
    let out = v
        .kw(["revoke", "other", "--yes", "--reason"])
        .arg(bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(v.dump(), before);
}

#[test]
fn an_empty_vault_path_is_a_usage_error() {
    let v = TestVault::new();
    v.bare()
        .args(["--vault", "", "create"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "a value is required for '--vault",
        ));
    v.bare()
        .env("KEYWARD_VAULT", "")
        .arg("create")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("KEYWARD_VAULT is set but empty"));
    assert!(
        !v.dir().join("home").exists(),
        "nothing was created anywhere"
    );
}

crate::on_both_engines! {
    fn every_bad_input_is_refused_with_its_exit_code_and_leaves_the_vault_unchanged(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        let bytes = files(v);
        let mut failures = Vec::new();
        for c in CASES {
            let out = v.kw(c.args).write_stdin(c.stdin).output().expect("run");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code();
            if code != Some(c.code) || !stderr.contains(c.fragment) {
                failures.push(format!(
                    "{:?}: exit {code:?} (want {}), stderr: {stderr}",
                    c.args, c.code
                ));
            }
            if stderr.contains("panicked") {
                failures.push(format!("{:?} panicked: {stderr}", c.args));
            }
            if stderr.contains('\u{1b}') {
                failures.push(format!(
                    "{:?} sent an escape character to the terminal",
                    c.args
                ));
            }
            // keyward's own messages are one line; clap's parse errors keep clap's format.
            if stderr.starts_with("keyward:") && stderr.lines().count() > 1 {
                failures.push(format!(
                    "{:?}: the message is not one line: {stderr}",
                    c.args
                ));
            }
            if v.dump() != before || files(v) != bytes {
                failures.push(format!("{:?} changed the vault", c.args));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}",
            failures.len(),
            CASES.len(),
            failures.join("\n")
        );
    }
    fn bad_input_in_json_mode_is_a_json_error_on_stderr_and_nothing_on_stdout(v: &TestVault) {
        v.create(&["--name", "web"]);
        for args in [
            &["--json", "create", "--expires", "-3d"][..],
            &["--json", "show", "nope"],
            &["--json", "create", "--bogus"],
        ] {
            let out = v.kw(args).output().expect("run");
            assert!(out.stdout.is_empty(), "{args:?}");
            let err: serde_json::Value =
                serde_json::from_slice(&out.stderr).expect("one JSON document on stderr");
            assert!(
                err["error"]["code"].is_string() && err["error"]["message"].is_string(),
                "{err}"
            );
        }
    }
}

/// Zero-width, bidi and separator characters and surrounding
/// whitespace are refused; a stored one is escaped when shown.
#[test]
fn invisible_text_is_refused_and_never_shown_raw() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let before = v.dump();
    for name in [
        "web ",
        " web",
        "web\u{200b}",
        "\u{feff}web",
        "w\u{202e}eb",
        "w\u{2066}eb",
        "web\u{2028}",
    ] {
        for args in [
            vec!["create", "--name", name],
            vec!["create", "--env", name],
            vec!["create", "--scope", name],
            vec!["--actor", name, "create"],
        ] {
            let out = v.kw(&args).output().expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                !err.contains('\u{202e}') && !err.contains('\u{200b}'),
                "{err}"
            );
        }
    }
    assert_eq!(v.dump(), before);
    // A name stored by an older keyward, or by hand, is escaped on output.
    v.sql()
        .execute("UPDATE keys SET name = 'w' || char(8238) || 'eb'", [])
        .expect("tamper");
    for args in [&["list"][..], &["show", "key_"], &["log"]] {
        let out = v.kw(args).output().expect("run");
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains('\u{202e}'), "{args:?}: {all}");
    }
    let list = text(&v.kw(["list"]).output().expect("run").stdout);
    assert!(list.contains(r"w\u{202e}eb"), "{list}");
}

crate::on_both_engines! {
    /// A name can never be taken for an id.
    fn names_may_not_start_with_key_(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        for args in [
            &["create", "--name", "key_web"][..],
            &["rotate", "web", "--grace", "1h", "--name", "key_abcd"],
        ] {
            let out = v.kw(args).output().expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains("key_"), "{err}");
        }
        assert_eq!(v.dump(), before);
    }

    /// `--json` makes parse errors JSON only where it is the flag.
    fn json_parse_errors_only_when_json_is_the_flag(v: &TestVault) {
        let out = v.kw(["create", "--name", "--json"]).output().expect("run");
        assert_eq!(out.status.code(), Some(2));
        assert!(!text(&out.stderr).starts_with('{'), "{}", text(&out.stderr));
        let out = v.kw(["--json", "create", "--bogus"]).output().expect("run");
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).starts_with("{\"error\""));
    }

    fn a_capital_m_duration_is_refused_as_ambiguous(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        let out = v.kw(["rotate", "web", "--grace", "1M"]).assert().code(2);
        let err = stderr(&out);
        assert!(
            err.contains("'1M'") && err.contains("30d") && err.contains("1m"),
            "{err}"
        );
        assert_eq!(v.dump(), before);
    }
}
