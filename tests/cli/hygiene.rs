//! The secret is shown once, by create or rotate, and nowhere else: not in
//! the vault, its WAL, the log, an error, or any other command's output. A
//! secret given where it does not belong (a name, a variable name, a vault
//! path, a misplaced argument) is shown only as its hint, values quoted in
//! errors are cut to 64 characters, and a secret that cannot be delivered (a
//! closed pipe, a full disk, a closed stdout) is never a silent success.

use std::process::Command;

use crate::common::*;

fn assert_absent(haystack: &[u8], secrets: &[String], place: &str) {
    let text = String::from_utf8_lossy(haystack);
    for s in secrets {
        // The random part alone is enough to reconstruct nothing, but must not be there either.
        assert!(!text.contains(&s[3..35]), "a secret was found in {place}");
    }
}

#[test]
fn no_secret_reaches_the_vault_its_wal_the_log_or_other_output() {
    let v = TestVault::new();
    let first = v.create(&["--name", "web", "--scope", "read"]);
    // A read held open keeps SQLite from emptying (keyward does after
    // each write) or deleting the WAL, so the WAL can be searched too.
    let holder = v.sql();
    holder.execute_batch("BEGIN").expect("begin");
    let _: i64 = holder
        .query_row("SELECT count(*) FROM keys", [], |r| r.get(0))
        .expect("read");
    let (rotated, second) = {
        let doc = v.json(["rotate", "web", "--grace", "1h"]);
        (
            doc["previous"]["id"].as_str().expect("id").to_string(),
            doc["secret"].as_str().expect("s").to_string(),
        )
    };
    let partner = v.create(&["--name", "partner"]);
    let secrets = vec![first.clone(), second.clone(), partner.clone()];
    for s in &secrets {
        v.kw(["verify"]).write_stdin(s.clone()).assert().code(0);
    }
    v.kw(["revoke", "partner", "--yes", "--reason", "test"])
        .assert()
        .success();
    v.kw(["extend", &rotated, "--grace", "now"])
        .assert()
        .success();

    let wal = v.path.with_extension("db-wal");
    assert!(
        wal.exists() && std::fs::metadata(&wal).expect("wal").len() > 0,
        "the WAL is kept for the search"
    );
    for entry in std::fs::read_dir(v.dir()).expect("dir").flatten() {
        if entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).expect("read");
            assert_absent(&bytes, &secrets, &entry.path().display().to_string());
        }
    }
    let partner_id = v
        .json(["list", "--all"])
        .as_array()
        .expect("array")
        .iter()
        .find(|k| k["name"] == "partner")
        .map(|k| k["id"].as_str().expect("id").to_string())
        .expect("partner");
    let commands: Vec<Vec<&str>> = vec![
        vec!["list", "--all"],
        vec!["--json", "list", "--all"],
        vec!["show", "web"],
        vec!["--json", "show", "web"],
        vec!["show", &rotated],
        vec!["--json", "show", &partner_id],
        vec!["log"],
        vec!["--json", "log"],
        vec!["log", "--verify"],
        vec!["--json", "config"],
    ];
    for args in &commands {
        let out = v.kw(args).output().expect("run");
        assert!(out.status.success(), "{args:?}");
        assert_absent(&out.stdout, &secrets, &format!("stdout of {args:?}"));
        assert_absent(&out.stderr, &secrets, &format!("stderr of {args:?}"));
    }
    for s in &secrets {
        for args in [vec!["--json", "verify"], vec!["verify"]] {
            let out = v.kw(&args).write_stdin(s.clone()).output().expect("run");
            assert_absent(&out.stdout, &secrets, "verify's output");
            assert_absent(&out.stderr, &secrets, "verify's errors");
        }
        let out = v.kw(["verify", s.as_str()]).output().expect("run");
        assert_eq!(out.status.code(), Some(2));
        assert_absent(
            &out.stderr,
            &secrets,
            "the error for a secret given as an argument",
        );
        let out = v
            .kw(["--json", "verify", "--", s.as_str()])
            .output()
            .expect("run");
        assert_absent(
            &out.stderr,
            &secrets,
            "the JSON error for a secret given as an argument",
        );
    }
    drop(holder);
}

/// A committed key whose secret cannot reach stdout is exit 1,
/// naming the key; a closed stdout refuses before anything is created.
#[test]
fn a_secret_that_cannot_be_delivered_is_never_a_silent_success() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    // A pipe whose reader is gone: `keyward rotate web --grace now | true`.
    for json in [false, true] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut args = vec!["rotate", "web", "--grace", "now"];
        if json {
            args.insert(0, "--json");
        }
        let out = v.std(&args).stdout(writer).output().expect("run");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("rotated") && err.contains("could not be written") && err.contains("key_"),
            "{err}"
        );
    }
    // A full disk: `keyward create > /dev/full`.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    if let Ok(full) = full {
        let out = v
            .std(["create", "--name", "full"])
            .stdout(full)
            .output()
            .expect("run");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("created key_") && err.contains("revoke"),
            "{err}"
        );
    }
    // `keyward ARGS REDIRECT` through a shell, which makes the redirection.
    let in_shell = |args: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("exec \"$KW\" --vault \"$VAULT\" {args}"))
            .env("KW", BIN)
            .env("VAULT", &v.path)
            .env("KEYWARD_NOW", NOW)
            .env("KEYWARD_ACTOR", ACTOR)
            .output()
            .expect("run")
    };
    // A closed stdout: `keyward create >&-` creates nothing.
    let before = v.dump();
    let out = in_shell("create --name closed >&-");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stdout is closed"), "{err}");
    assert_eq!(v.dump(), before);
    // `> /dev/null` is a choice the shell made on purpose: it is honoured.
    let out = in_shell("create --name discarded > /dev/null");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Read output still ends quietly on a closed pipe.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = v.std(["log"]).stdout(writer).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// When the secret of a new default key cannot be delivered (`create >
/// /dev/full`), the advice is to rotate it with `--grace now`, never to
/// revoke it, which the default-key rule refuses.
#[test]
fn a_lost_default_key_secret_says_to_rotate_it() {
    let v = TestVault::new();
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let out = v
        .std(["create", "--name", "first"])
        .stdout(full)
        .output()
        .expect("run");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--grace now") && !err.contains("keyward revoke"),
        "{err}"
    );
}

/// A path is shown with any secret in it as its hint: a secret passed as
/// `--vault` or `copy --to` never appears in full in `no vault at …`,
/// `created a new vault at …`, `config` or its JSON.
#[test]
fn a_secret_given_as_a_vault_path_is_shown_as_its_hint() {
    let v = TestVault::new();
    let secret = foreign_secret();
    let hint = &secret[secret.len() - 4..];
    let at = |args: &[&str]| {
        let mut cmd = v.bare();
        cmd.current_dir(v.dir())
            .arg("--vault")
            .arg(&secret)
            .args(args);
        cmd
    };
    let out = at(&["list"]).assert().code(1);
    let err = stderr(&out);
    assert!(!err.contains(&secret) && err.contains(hint), "{err}");
    for json in [false, true] {
        let mut cmd = at(&["config"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.assert().success();
        let text = stdout(&out);
        assert!(!text.contains(&secret) && text.contains(hint), "{text}");
    }
    let out = at(&["create", "--name", "a"]).assert().success();
    let err = stderr(&out);
    assert!(err.contains("created a new vault at"), "{err}");
    assert!(!err.contains(&secret) && err.contains(hint), "{err}");
    let to = v.dir().join(foreign_secret());
    v.create(&["--name", "b"]);
    let out = v.kw(["copy", "--to"]).arg(&to).assert().success();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    let body = to
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    assert!(!all.contains(&body), "{all}");
}

crate::on_both_engines! {
    /// A secret given where a variable name or a name goes is shown
    /// as its hint, never in full.
    fn a_secret_in_the_wrong_place_is_never_echoed(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        let hint = &secret[secret.len() - 4..];
        let body = &secret[3..secret.len() - 4];
        for args in [
            vec!["verify", "--key-env", secret.as_str()],
            vec!["create", "--name", secret.as_str()],
            vec!["--json", "create", "--scope", secret.as_str()],
            vec!["revoke", "web", "--yes", "--reason", secret.as_str()],
            vec!["--actor", secret.as_str(), "list"],
            vec!["list", "--env", secret.as_str()],
            vec!["show", secret.as_str()],
        ] {
            let out = v.kw(&args).output().expect("run");
            let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(!all.contains(body), "{args:?} echoed the secret: {all}");
            assert!(!out.status.success() || args[0] == "list", "{args:?}");
            if args[0] == "verify" || args[1] == "--name" {
                assert!(all.contains(&format!("kw_…{hint}")), "{args:?}: {all}");
            }
        }
        let log = text(&v.kw(["--json", "log"]).output().expect("log").stdout);
        assert!(!log.contains(body), "the secret reached the log");
    }

    /// Parse errors, clap's own included, never quote a secret given in the
    /// wrong place, and cut any value they quote to 64 characters.
    fn parse_errors_mask_secrets_and_cut_long_values(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        let body = &secret[3..secret.len() - 4];
        let long = "y".repeat(300);
        for args in [
            vec!["show", "web", secret.as_str()],
            vec!["log", "--limit", secret.as_str()],
            vec!["log", "--before", secret.as_str()],
            vec!["config", "set", secret.as_str(), "3"],
            vec!["--json", "list", secret.as_str()],
            vec![secret.as_str()],
            vec!["log", "--before", long.as_str()],
        ] {
            let out = v.kw(&args).output().expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(!err.contains(body), "{args:?} echoed the secret: {err}");
            assert!(!err.contains(&"y".repeat(65)), "{args:?}: {err}");
        }
    }
}
