//! revoke: a key ends at once and its record stays for audit; the default
//! key is rotated first; without a terminal `--yes` is needed; a reason is
//! 1–64 characters of visible text.

use predicates::prelude::*;

use crate::common::*;

crate::on_both_engines! {
    fn a_leaked_key_is_revoked_at_once_and_kept_for_audit(v: &TestVault) {
        v.create(&["--name", "main"]);
        let (leak, secret) = v.create_json(&["--name", "partner"]);
        let id = leak["id"].as_str().expect("id");
        v.kw([
            "revoke",
            "partner",
            "--reason",
            "leaked in ticket 42",
            "--yes",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("Revoked"));
        let a = v
            .kw(["--json", "verify"])
            .write_stdin(secret)
            .assert()
            .code(5);
        assert_eq!(json(&a)["code"], "API_KEY_REVOKED");
        let shown = v.json(["show", id]);
        assert_eq!(shown["status"], "revoked");
        assert_eq!(shown["revoked_at"], NOW);
        let revoked = &shown["events"][0];
        assert_eq!(revoked["event"], "revoked");
        assert_eq!(revoked["details"]["reason"], "leaked in ticket 42");
        let all = v.json(["list", "--all"]);
        assert!(
            all.as_array().expect("array").iter().any(|k| k["id"] == id),
            "the record stays"
        );
        let live = v.json(["list"]);
        assert!(
            !live
                .as_array()
                .expect("array")
                .iter()
                .any(|k| k["id"] == id)
        );
    }

    fn revoking_a_revoked_key_changes_nothing_and_exits_0(v: &TestVault) {
        v.create(&["--name", "main"]);
        let (k, _) = v.create_json(&["--name", "b"]);
        let id = k["id"].as_str().expect("id");
        v.kw(["revoke", id, "--yes"]).assert().success();
        let before = v.dump();
        v.kw_at(
            "2026-11-24T00:00:00Z",
            ["revoke", id, "--yes", "--reason", "again"],
        )
        .assert()
        .success()
        .stdout(predicate::str::contains("already revoked"));
        v.kw(["revoke", id]).assert().success();
        assert_eq!(v.dump(), before);
    }

    fn revoke_without_yes_and_without_a_terminal_is_a_usage_error(v: &TestVault) {
        v.create(&["--name", "main"]);
        v.create(&["--name", "b"]);
        let before = v.dump();
        v.kw(["revoke", "b"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--yes"));
        v.kw(["--json", "revoke", "b"]).assert().code(2).stdout("");
        assert_eq!(v.dump(), before);
        assert_eq!(v.json(["show", "b"])["status"], "active");
    }

    fn the_default_key_is_never_revoked_but_can_be_rotated_first(v: &TestVault) {
        let (first, _) = v.create_json(&["--name", "main"]);
        let id = first["id"].as_str().expect("id");
        let before = v.dump();
        v.kw(["revoke", "main", "--yes"])
            .assert()
            .code(4)
            .stderr(predicate::str::contains("rotate it first"));
        assert_eq!(v.dump(), before);
        let rotated = v.json(["rotate", "main", "--grace", "1h"]);
        assert_eq!(rotated["key"]["default"], true);
        v.kw(["revoke", id, "--yes"]).assert().success();
        v.kw(["revoke", "main", "--yes"]).assert().code(4);
    }

    fn revoke_refuses_bad_reasons(v: &TestVault) {
        v.create(&["--name", "main"]);
        v.create(&["--name", "b"]);
        let before = v.dump();
        let long = "x".repeat(501);
        for reason in ["", "line\nbreak", "\u{1b}[31mred", long.as_str()] {
            v.kw(["revoke", "b", "--yes", "--reason", reason])
                .assert()
                .code(2)
                .stderr(predicate::str::contains("reason"));
        }
        assert_eq!(v.dump(), before);
    }
}

crate::on_both_engines! {
    /// A reason is 1–64 characters, as a name is: one of 65 is refused
    /// (exit 2) and changes nothing.
    fn a_reason_longer_than_64_characters_is_refused(v: &TestVault) {
        v.create(&["--name", "main"]);
        v.create(&["--name", "partner"]);
        let before = v.dump();
        let out = v
            .kw(["revoke", "partner", "--yes", "--reason", &"x".repeat(65)])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert_eq!(v.dump(), before);
    }
}
