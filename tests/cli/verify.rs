//! verify: a secret read from stdin or a variable, never an argument, and
//! judged against the vault, which it needs even for a malformed secret: the
//! verdict and its exit code, scopes required, last-used recorded at most
//! once a minute and never waited for, and the key shown the one judged.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use predicates::prelude::*;

use crate::common::*;

#[test]
fn a_well_formed_secret_against_a_missing_vault_is_an_error_naming_it() {
    let v = TestVault::new();
    v.kw(["verify"])
        .write_stdin(foreign_secret())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(v.path.display().to_string()));
    assert!(!v.path.exists());
}

crate::on_both_engines! {
    fn a_valid_secret_on_stdin_is_valid(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        let (code, doc) = v.verify_at(NOW, &format!("{secret}\n"), &[]);
        assert_eq!(code, Some(0));
        assert_eq!(fields(&doc), ["code", "key", "valid"]);
        assert_eq!(doc["valid"], true);
        assert_eq!(doc["code"], "VALID");
        assert_eq!(doc["key"]["name"], "web");
        assert_eq!(fields(&doc["key"]), key_fields());
        let out = stdout(&v.kw(["verify"]).write_stdin(secret).assert().code(0));
        assert!(out.starts_with("VALID"), "{out}");
    }

    fn only_the_first_line_of_stdin_is_read(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        v.kw(["verify"])
            .write_stdin(format!("{secret}\nsomething else\n"))
            .assert()
            .code(0);
        v.kw(["verify"])
            .write_stdin(format!("\n{secret}\n"))
            .assert()
            .code(2);
    }

    fn key_env_reads_the_secret_from_a_variable(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        v.kw(["verify", "--key-env", "MY_KEY"])
            .env("MY_KEY", &secret)
            .assert()
            .code(0);
        v.kw(["verify", "--key-env", "MY_KEY"])
            .env_remove("MY_KEY")
            .assert()
            .code(2)
            .stderr(predicate::str::contains("MY_KEY is not set"));
    }

    fn a_secret_given_as_an_argument_is_refused_without_echoing_it(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        let before = v.dump();
        let a = v.kw(["verify", &secret]).assert().code(2).stdout("");
        let err = stderr(&a);
        assert!(
            !err.contains(&secret[3..]),
            "the secret leaked into the error: {err}"
        );
        assert!(err.contains("stdin"), "{err}");
        let a = v.kw(["--json", "verify", "--", &secret]).assert().code(2);
        assert!(!stderr(&a).contains(&secret[3..]));
        assert_eq!(v.dump(), before);
    }

    fn malformed_secrets_and_typos_are_invalid(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        let good = foreign_secret();
        let mut typo = good.clone().into_bytes();
        typo[10] = if typo[10] == b'x' { b'y' } else { b'x' };
        let typo = String::from_utf8(typo).expect("ascii");
        for bad in [
            "hello",
            "kw_short",
            &typo,
            &format!("{good}extra"),
            "KW_\u{1b}[31m",
        ] {
            let (code, doc) = v.verify_at(NOW, bad, &[]);
            assert_eq!(code, Some(5), "{bad:?}");
            assert_eq!(
                doc,
                serde_json::json!({"valid": false, "code": "API_KEY_INVALID"}),
                "{bad:?}"
            );
        }
        assert_eq!(v.dump(), before);
    }

    fn a_well_formed_unknown_secret_is_invalid(v: &TestVault) {
        v.create(&["--name", "web"]);
        let (code, doc) = v.verify_at(NOW, &foreign_secret(), &[]);
        assert_eq!(
            (code, doc["code"].as_str()),
            (Some(5), Some("API_KEY_INVALID"))
        );
        let out = stdout(
            &v.kw(["verify"])
                .write_stdin(foreign_secret())
                .assert()
                .code(5),
        );
        assert_eq!(out.trim(), "API_KEY_INVALID");
    }

    fn required_scopes_must_all_be_granted(v: &TestVault) {
        let secret = v.create(&["--name", "web", "--scope", "read", "--scope", "deploy"]);
        let ok = v.verify_at(
            NOW,
            &secret,
            &["--require-scope", "read", "--require-scope", "deploy"],
        );
        assert_eq!(ok.0, Some(0));
        let (code, doc) = v.verify_at(
            NOW,
            &secret,
            &["--require-scope", "read", "--require-scope", "admin"],
        );
        assert_eq!(code, Some(5));
        assert_eq!(
            doc,
            serde_json::json!({"valid": false, "code": "INSUFFICIENT_SCOPE"})
        );
    }

    fn last_used_is_recorded_at_most_once_a_minute(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        assert!(v.json(["show", "web"])["last_used_at"].is_null());
        v.kw(["verify"])
            .write_stdin(secret.clone())
            .assert()
            .code(0);
        assert_eq!(v.json(["show", "web"])["last_used_at"], NOW);
        v.kw_at("2026-11-23T12:00:59Z", ["verify"])
            .write_stdin(secret.clone())
            .assert()
            .code(0);
        assert_eq!(
            v.json(["show", "web"])["last_used_at"],
            NOW,
            "no second write within a minute"
        );
        v.kw_at("2026-11-23T12:01:00Z", ["verify"])
            .write_stdin(secret)
            .assert()
            .code(0);
        assert_eq!(
            v.json(["show", "web"])["last_used_at"],
            "2026-11-23T12:01:00Z"
        );
    }

    fn empty_input_is_a_usage_error(v: &TestVault) {
        v.create(&["--name", "web"]);
        v.kw(["verify"])
            .write_stdin("")
            .assert()
            .code(2)
            .stderr(predicate::str::contains("stdin is empty"));
        v.kw(["verify", "--key-env", "K"])
            .env("K", "")
            .assert()
            .code(2);
    }

    fn garbage_input_is_invalid_not_a_crash(v: &TestVault) {
        v.create(&["--name", "web"]);
        let huge = "kw_".to_string() + &"A".repeat(1 << 20);
        for input in [
            huge.into_bytes(),
            vec![0u8, 159, 146, 150, 0, 255],
            b"kw_\0\0\0".to_vec(),
        ] {
            v.kw(["--json", "verify"])
                .write_stdin(input)
                .assert()
                .code(5)
                .stdout(predicate::str::contains("API_KEY_INVALID"));
        }
    }
}

/// Verify answers while another process holds the write lock
/// (for longer than keyward's 30 s busy timeout, as far as this test can
/// tell: it gives verify 10 s); last-used is skipped, quietly.
#[test]
fn verify_does_not_wait_for_a_writer() {
    let v = TestVault::new();
    let secret = v.create(&["--name", "web"]);
    let _lock = WriteLock::take(&v);
    for json in [false, true] {
        let mut args = vec!["verify"];
        if json {
            args.insert(0, "--json");
        }
        let mut child = v
            .std(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(secret.as_bytes()).expect("write");
        drop(input);
        let out = wait_bounded(child, 10).expect("verify waited for the writer");
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(text(&out.stderr), "", "no warning");
        assert!(text(&out.stdout).contains("VALID"));
    }
}

/// The key `verify` prints is the one its verdict judged. A
/// revoke that commits while verify is still running (here: while it would
/// wait to record last-used) must not turn up as `valid: true` with a
/// revoked key.
#[test]
fn a_verdict_and_its_key_come_from_one_read() {
    let v = TestVault::new();
    v.create(&["--name", "main"]);
    let secret = v.create(&["--name", "partner"]);
    let lock = WriteLock::take(&v);
    let mut child = v
        .std(["--json", "verify"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(secret.as_bytes()).expect("write");
    drop(input);
    std::thread::sleep(Duration::from_secs(1));
    lock.0
        .execute_batch("UPDATE keys SET revoked_at = 0 WHERE name = 'partner'; COMMIT")
        .expect("revoke while verify runs");
    let out = wait_bounded(child, 60).expect("verify ended");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    if doc["valid"] == true {
        assert_eq!(doc["key"]["status"], "active", "{doc}");
    } else {
        assert_eq!(doc["code"], "API_KEY_REVOKED", "{doc}");
    }
}

crate::on_both_engines! {
    /// verify opens the vault even for a malformed secret: against a missing
    /// vault it is an error naming it (exit 1), so a wrong --vault never goes
    /// unnoticed; against a vault it is API_KEY_INVALID.
    fn verify_of_a_malformed_secret_still_needs_a_vault(v: &TestVault) {
        for input in ["kw_x\n", "\u{ff}\n"] {
            let out = v.kw(["verify"]).write_stdin(input).output().expect("run");
            assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
            assert!(text(&out.stderr).contains("no vault at"));
        }
        v.create(&["--name", "web"]);
        let (code, verdict) = v.verify("kw_x", &[]);
        assert_eq!(
            (code, &verdict["code"]),
            (Some(5), &"API_KEY_INVALID".into())
        );
    }
}
