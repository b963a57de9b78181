//! rotate and extend: zero-downtime rotation and grace periods, at a pinned
//! clock. A grace never outlives the old key's own expiry, a successor lives
//! at most ten years, and `extend --expires` only moves an expiry into the
//! future.

use predicates::prelude::*;

use crate::common::*;

const PLUS_1H: &str = "2026-11-23T13:00:00Z";
const PLUS_2D: &str = "2026-11-25T12:00:00Z";
const GRACE_END_MINUS_1S: &str = "2026-11-24T11:59:59Z";
const GRACE_END: &str = "2026-11-24T12:00:00Z";

fn code_at(v: &TestVault, now: &str, secret: &str) -> String {
    let (_, verdict) = v.verify_at(now, secret, &[]);
    verdict["code"].as_str().expect("code").to_string()
}

fn rotate(v: &TestVault, args: &[&str]) -> (serde_json::Value, String) {
    let mut all = vec!["--json", "rotate"];
    all.extend_from_slice(args);
    let doc = json(&v.kw(all).assert().success());
    let secret = doc["secret"].as_str().expect("secret").to_string();
    (doc, secret)
}

crate::on_both_engines! {
    fn ci_rotation_with_a_24h_grace_keeps_both_keys_working_until_it_ends(v: &TestVault) {
        let (old, old_secret) = v.create_json(&["--name", "svc", "--env", "prod"]);
        let old_id = old["id"].as_str().expect("id");
        let out = v
            .kw(["rotate", "svc", "--env", "prod", "--grace", "24h"])
            .assert()
            .success();
        let new_secret = stdout(&out).trim().to_string();
        assert_eq!(stdout(&out).lines().count(), 1, "only the secret on stdout");
        assert!(stderr(&out).contains("will not be shown again"));

        assert_eq!(code_at(v, NOW, &new_secret), "VALID");
        assert_eq!(code_at(v, NOW, &old_secret), "VALID");
        let shown = v.json(["show", old_id]);
        assert_eq!(shown["status"], "grace");
        assert_eq!(shown["expires_at"], GRACE_END);

        // The operator watches the old key's last use while traffic moves.
        assert_eq!(code_at(v, PLUS_1H, &old_secret), "VALID");
        assert_eq!(v.json(["show", old_id])["last_used_at"], PLUS_1H);

        assert_eq!(code_at(v, GRACE_END_MINUS_1S, &old_secret), "VALID");
        assert_eq!(code_at(v, GRACE_END, &old_secret), "API_KEY_EXPIRED");
        assert_eq!(code_at(v, GRACE_END, &new_secret), "VALID");
    }

    fn extend_grace_now_ends_the_old_key_early(v: &TestVault) {
        let old_secret = v.create(&["--name", "svc"]);
        let (doc, _) = rotate(v, &["svc", "--grace", "24h"]);
        let old_id = doc["previous"]["id"].as_str().expect("id");
        v.kw(["extend", old_id, "--grace", "now"])
            .assert()
            .success();
        assert_eq!(code_at(v, NOW, &old_secret), "API_KEY_EXPIRED");
        assert_eq!(v.json(["show", old_id])["status"], "expired");
    }

    fn extend_grace_lengthens_it_for_a_partner(v: &TestVault) {
        let old_secret = v.create(&["--name", "svc"]);
        let (doc, _) = rotate(v, &["svc", "--grace", "24h"]);
        let old_id = doc["previous"]["id"].as_str().expect("id");
        let updated = v.json(["extend", old_id, "--grace", "3d"]);
        assert_eq!(updated["expires_at"], "2026-11-26T12:00:00Z");
        assert_eq!(updated["status"], "grace");
        assert_eq!(code_at(v, PLUS_2D, &old_secret), "VALID");
    }

    fn rotate_with_grace_now_invalidates_the_old_key_at_once(v: &TestVault) {
        let old_secret = v.create(&["--name", "svc"]);
        let (doc, new_secret) = rotate(v, &["svc", "--grace", "now"]);
        assert_eq!(doc["previous"]["status"], "expired");
        assert_eq!(code_at(v, NOW, &old_secret), "API_KEY_EXPIRED");
        assert_eq!(code_at(v, NOW, &new_secret), "VALID");
    }

    fn the_successor_inherits_env_name_prefix_scopes_and_default(v: &TestVault) {
        let (old, _) = v.create_json(&[
            "--name", "svc", "--env", "prod", "--prefix", "sk_live", "--scope", "read", "--scope",
            "deploy",
        ]);
        let (doc, secret) = rotate(v, &["svc", "--env", "prod", "--grace", "1h"]);
        assert_eq!(fields(&doc), ["key", "previous", "secret"]);
        assert_eq!(fields(&doc["key"]), key_fields());
        assert_eq!(fields(&doc["previous"]), key_fields());
        let new = &doc["key"];
        for field in ["env", "name", "prefix", "scopes"] {
            assert_eq!(new[field], old[field], "{field}");
        }
        assert!(secret.starts_with("sk_live_"));
        assert_eq!(new["default"], true);
        assert_eq!(
            doc["previous"]["default"], false,
            "the successor becomes the default"
        );
        assert_eq!(new["rotated_from"], old["id"]);
        assert_eq!(doc["previous"]["rotated_to"], new["id"]);
        assert_eq!(new["status"], "active");
        let shown = v.json(["show", old["id"].as_str().expect("id")]);
        assert_eq!(shown["rotated_to"], new["id"], "show gives the lineage");
    }

    fn the_successor_expiry_is_the_flag_else_the_old_lifetime_else_none(v: &TestVault) {
        v.create(&["--name", "a", "--expires", "30d"]);
        v.create(&["--name", "b"]);
        let later = "2026-12-01T12:00:00Z";
        let a = json(
            &v.kw_at(later, ["--json", "rotate", "a", "--grace", "1h"])
                .assert()
                .success(),
        );
        assert_eq!(
            a["key"]["expires_at"], "2026-12-31T12:00:00Z",
            "30 days again from the rotation"
        );
        let b = json(
            &v.kw_at(later, ["--json", "rotate", "b", "--grace", "1h"])
                .assert()
                .success(),
        );
        assert!(b["key"]["expires_at"].is_null());
        let c = json(
            &v.kw_at(
                later,
                ["--json", "rotate", "b", "--grace", "1h", "--expires", "7d"],
            )
            .assert()
            .success(),
        );
        assert_eq!(c["key"]["expires_at"], "2026-12-08T12:00:00Z");
        let d = json(
            &v.kw_at(
                later,
                [
                    "--json",
                    "rotate",
                    "a",
                    "--grace",
                    "1h",
                    "--expires",
                    "never",
                ],
            )
            .assert()
            .success(),
        );
        assert!(d["key"]["expires_at"].is_null());
    }

    fn rotate_can_rename_the_successor_but_not_onto_a_taken_name(v: &TestVault) {
        v.create(&["--name", "svc"]);
        v.create(&["--name", "other"]);
        let before = v.dump();
        v.kw(["rotate", "svc", "--grace", "1h", "--name", "other"])
            .assert()
            .code(4)
            .stderr(predicate::str::contains("already named 'other'"));
        assert_eq!(v.dump(), before);
        let (doc, _) = rotate(v, &["svc", "--grace", "1h", "--name", "svc-v2"]);
        assert_eq!(doc["key"]["name"], "svc-v2");
    }

    fn rotating_a_rotated_key_names_its_successor(v: &TestVault) {
        v.create(&["--name", "svc"]);
        let (doc, _) = rotate(v, &["svc", "--grace", "1h"]);
        let (old, new) = (
            doc["previous"]["id"].as_str().expect("id"),
            doc["key"]["id"].as_str().expect("id"),
        );
        let before = v.dump();
        v.kw(["rotate", old, "--grace", "1h"])
            .assert()
            .code(4)
            .stderr(predicate::str::contains(format!("its successor is {new}")));
        assert_eq!(v.dump(), before);
    }

    fn expired_and_revoked_keys_are_never_rotated_or_brought_back(v: &TestVault) {
        v.create(&["--name", "default-key"]);
        let (exp, _) = v.create_json(&["--name", "short", "--expires", "1h"]);
        let (rev, _) = v.create_json(&["--name", "leak"]);
        let (exp, rev) = (
            exp["id"].as_str().expect("id"),
            rev["id"].as_str().expect("id"),
        );
        v.kw(["revoke", rev, "--yes"]).assert().success();
        let before = v.dump();
        for args in [
            vec!["rotate", exp, "--grace", "1h"],
            vec!["rotate", rev, "--grace", "1h"],
            vec!["extend", exp, "--grace", "1d"],
            vec!["extend", rev, "--grace", "1d"],
            vec!["extend", exp, "--expires", "never"],
            vec!["extend", rev, "--expires", "never"],
        ] {
            v.kw_at(PLUS_2D, &args)
                .assert()
                .code(4)
                .stderr(predicate::str::contains("never brought back"));
        }
        assert_eq!(v.dump(), before);
    }

    fn rotate_without_grace_and_without_a_terminal_is_a_usage_error_listing_the_presets(v: &TestVault) {
        v.create(&["--name", "svc"]);
        let before = v.dump();
        v.kw(["rotate", "svc"]).assert().code(2).stdout("").stderr(
            predicate::str::contains("--grace").and(predicate::str::contains("now, 1h, 24h, 3d, 7d")),
        );
        assert_eq!(v.dump(), before);
    }

    fn rotation_at_the_limit_is_allowed_and_grace_keys_do_not_count(v: &TestVault) {
        for name in ["a", "b", "c"] {
            v.create(&["--name", name]);
        }
        v.kw(["create", "--name", "d"]).assert().code(4);
        rotate(v, &["a", "--grace", "7d"]);
        rotate(v, &["b", "--grace", "7d"]);
        let live = v.json(["list"]);
        assert_eq!(
            live.as_array().map(Vec::len),
            Some(5),
            "3 active + 2 in grace"
        );
        v.kw(["create", "--name", "d"]).assert().code(4);
        let c = v.json(["show", "c"]);
        v.kw(["revoke", c["id"].as_str().expect("id"), "--yes"])
            .assert()
            .success();
        v.kw(["create", "--name", "d"]).assert().success();
    }

    fn extend_expires_changes_an_active_keys_expiry(v: &TestVault) {
        let secret = v.create(&["--name", "svc", "--expires", "1h"]);
        assert_eq!(
            v.json(["extend", "svc", "--expires", "30d"])["expires_at"],
            "2026-12-23T12:00:00Z"
        );
        assert!(v.json(["extend", "svc", "--expires", "never"])["expires_at"].is_null());
        v.kw(["extend", "svc", "--expires", "1h"])
            .assert()
            .success();
        assert_eq!(code_at(v, PLUS_1H, &secret), "API_KEY_EXPIRED");
    }

    fn extend_grace_on_an_active_key_is_refused_and_points_at_its_predecessor(v: &TestVault) {
        v.create(&["--name", "svc"]);
        let (doc, _) = rotate(v, &["svc", "--grace", "1h"]);
        let old = doc["previous"]["id"].as_str().expect("id");
        let before = v.dump();
        v.kw(["extend", "svc", "--grace", "1d"])
            .assert()
            .code(4)
            .stderr(predicate::str::contains("give that id").and(predicate::str::contains(old)));
        v.kw(["extend", old, "--expires", "30d"])
            .assert()
            .code(4)
            .stderr(predicate::str::contains("--grace"));
        assert_eq!(v.dump(), before);
    }

    /// `extend NAME --grace` points at the predecessor only while it is in
    /// grace: after `rotate --grace now` (or a revoke of the old key) the
    /// refusal names the old key and its status and says there is no grace
    /// to change, never "give that id", as that id would be refused too.
    fn extend_grace_points_at_the_predecessor_only_while_it_is_in_grace(v: &TestVault) {
        v.create(&["--name", "svc"]);
        v.create(&["--name", "api"]);
        let (doc, _) = rotate(v, &["svc", "--grace", "now"]);
        let svc_old = doc["previous"]["id"].as_str().expect("id").to_string();
        let (doc, _) = rotate(v, &["api", "--grace", "1h"]);
        let api_old = doc["previous"]["id"].as_str().expect("id").to_string();
        v.kw(["revoke", api_old.as_str(), "--yes"]).assert().success();
        let before = v.dump();
        for (name, old, status) in [("svc", &svc_old, "expired"), ("api", &api_old, "revoked")] {
            let out = v.kw(["extend", name, "--grace", "2h"]).assert().code(4);
            let err = stderr(&out);
            assert!(!err.contains("give that id"), "{err}");
            assert!(err.contains(old.as_str()) && err.contains(status), "{err}");
            assert!(err.contains("no grace to change"), "{err}");
            v.kw(["extend", old.as_str(), "--grace", "2h"]).assert().code(4);
        }
        assert_eq!(v.dump(), before);
    }

    fn extend_needs_exactly_one_change(v: &TestVault) {
        v.create(&["--name", "svc"]);
        v.kw(["extend", "svc"]).assert().code(2);
        v.kw(["extend", "svc", "--grace", "1h", "--expires", "1d"])
            .assert()
            .code(2);
        v.kw(["extend", "svc", "--expires", "-5m"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("'-5m'"));
    }
}

/// A grace never outlives the old key's own expiry (also when
/// extended later), and a successor never lives more than ten years.
#[test]
fn graces_and_carried_over_lifetimes_are_capped() {
    let v = TestVault::new();
    v.create(&["--name", "web", "--expires", "1h"]);
    v.create(&["--name", "other"]);
    let out = v
        .kw(["--json", "rotate", "web", "--grace", "24h"])
        .assert()
        .success();
    let doc = json(&out);
    assert_eq!(doc["previous"]["expires_at"], "2026-11-23T13:00:00Z");
    let human = v
        .kw(["rotate", "other", "--grace", "1h"])
        .assert()
        .success();
    assert!(
        !stderr(&human).contains("own expiry"),
        "no cap, no word of one"
    );
    let old = doc["previous"]["id"].as_str().expect("id");
    v.kw(["extend", old, "--grace", "7d"]).assert().success();
    assert_eq!(v.json(["show", old])["expires_at"], "2026-11-23T13:00:00Z");
    let v = TestVault::new();
    v.create(&["--name", "long", "--expires", "3650d"]);
    v.kw_at(
        "2027-11-23T12:00:00Z",
        ["extend", "long", "--expires", "3650d"],
    )
    .assert()
    .success();
    let out = v
        .kw_at(
            "2027-11-24T12:00:00Z",
            ["--json", "rotate", "long", "--grace", "1h"],
        )
        .assert()
        .success();
    let expires = json(&out)["key"]["expires_at"]
        .as_str()
        .expect("expiry")
        .to_string();
    // Ten years (3653 days) from the rotation; the old lifetime was 4015 days.
    assert_eq!(expires, "2037-11-24T12:00:00Z");
}

crate::on_both_engines! {
    /// `extend --expires` only moves an expiry into the future; it
    /// is no way round the default-key rule.
    fn extend_expires_now_or_in_the_past_is_refused(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        for value in ["now", "0s", "2020-01-01T00:00:00Z"] {
            let out = v
                .kw(["extend", "web", "--expires", value])
                .output()
                .expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{value}: {err}");
            assert!(err.contains(&format!("'{value}'")), "{err}");
        }
        assert_eq!(v.dump(), before);
        assert_eq!(v.json(["show", "web"])["status"], "active");
    }

    /// A refused `--expires` quotes the value that was given.
    fn a_refused_expiry_quotes_the_value_given(v: &TestVault) {
        v.create(&["--name", "web"]);
        let out = v
            .kw(["rotate", "web", "--grace", "1h", "--expires", "0s"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("--expires '0s'"),
            "{}",
            text(&out.stderr)
        );
    }
}
