//! The secret is shown once, by create or rotate, and nowhere else: not in
//! the vault, its WAL, the log, an error, or any other command's output.

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
