//! Operator conveniences (docs/reference.md): what a newcomer tripped over
//! and what operators expect from tools like gh or the stripe CLI.

use crate::common::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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

/// Found by a tester: clap's usage errors lost their line breaks.
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

crate::on_both_engines! {
    fn keyward_env_is_the_default_environment(v: &TestVault) {
        v.create(&["--name", "web"]);
        v.kw(["create", "--name", "web"])
            .env("KEYWARD_ENV", "prod")
            .assert()
            .success();
        let shown = v
            .kw(["--json", "show", "web"])
            .env("KEYWARD_ENV", "prod")
            .assert()
            .success();
        assert_eq!(json(&shown)["env"], "prod");
        let listed = v
            .kw(["--json", "list"])
            .env("KEYWARD_ENV", "prod")
            .assert()
            .success();
        let keys = json(&listed);
        assert_eq!(
            keys.as_array().expect("array").len(),
            1,
            "list narrows to it"
        );
        let flag_wins = v
            .kw(["--json", "show", "web", "--env", "default"])
            .env("KEYWARD_ENV", "prod")
            .assert()
            .success();
        assert_eq!(json(&flag_wins)["env"], "default");
        assert_eq!(
            v.json(["list"]).as_array().expect("array").len(),
            2,
            "unset: all"
        );
    }

    fn listing_an_environment_without_keys_names_the_ones_that_exist(v: &TestVault) {
        v.create(&["--name", "web", "--env", "prod"]);
        v.create(&["--name", "web", "--env", "staging"]);
        let out = v.kw(["--json", "list", "--env", "prdo"]).assert().success();
        assert_eq!(json(&out), serde_json::json!([]));
        let err = stderr(&out);
        assert!(
            err.contains("'prdo' has no keys") && err.contains("'prod', 'staging'"),
            "{err}"
        );
    }

    fn log_by_filters_by_actor(v: &TestVault) {
        v.kw(["--actor", "alice", "create", "--name", "a"])
            .assert()
            .success();
        v.kw(["--actor", "ci@deploy", "create", "--name", "b"])
            .assert()
            .success();
        let events = v.json(["log", "--by", "ci@deploy"]);
        let events = events.as_array().expect("array");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["actor"], "ci@deploy");
        assert_eq!(v.json(["log", "--by", "nobody"]), serde_json::json!([]));
    }

    fn update_renames_changes_scopes_and_notes_with_an_event(v: &TestVault) {
        let (key, _) = v.create_json(&[
            "--name", "web", "--scope", "read", "--scope", "admin", "--note", "first",
        ]);
        assert_eq!(key["note"], "first");
        let id = key["id"].as_str().expect("id");
        let out = v
            .kw([
                "--json",
                "update",
                "web",
                "--name",
                "web-frontend",
                "--add-scope",
                "deploy",
                "--remove-scope",
                "admin",
                "--note",
                "owned by payments",
            ])
            .assert()
            .success();
        let updated = json(&out);
        assert_eq!(updated["id"], id);
        assert_eq!(updated["name"], "web-frontend");
        assert_eq!(updated["scopes"], serde_json::json!(["read", "deploy"]));
        assert_eq!(updated["note"], "owned by payments");
        let event = &v.json(["log", "--event", "updated"])[0];
        assert_eq!(event["key_id"], id);
        assert_eq!(
            event["details"],
            serde_json::json!({
                "old_name": "web", "new_name": "web-frontend",
                "old_scopes": ["read", "admin"], "new_scopes": ["read", "deploy"],
                "old_note": "first", "new_note": "owned by payments",
            })
        );
        let log = stdout(&v.kw(["log", "--event", "updated"]).assert().success());
        assert!(
            log.contains("renamed from web") && log.contains("scopes added: deploy"),
            "{log}"
        );
        // A rotation carries the note over; the old key can no longer be updated.
        let rotated = v
            .kw(["--json", "rotate", "web-frontend", "--grace", "1h"])
            .assert()
            .success();
        let successor = json(&rotated)["key"]["id"]
            .as_str()
            .expect("id")
            .to_string();
        assert_eq!(json(&rotated)["key"]["note"], "owned by payments");
        let refused = v.kw(["update", id, "--note", "x"]).assert().code(4);
        assert!(
            stderr(&refused).contains(&successor),
            "{}",
            stderr(&refused)
        );
        // "" clears the note.
        v.kw(["update", "web-frontend", "--note", ""])
            .assert()
            .success();
        assert_eq!(
            v.json(["show", "web-frontend"])["note"],
            serde_json::Value::Null
        );
    }

    fn update_refuses_a_taken_name_and_changes_nothing_when_nothing_differs(v: &TestVault) {
        v.create(&["--name", "web"]);
        v.create(&["--name", "api", "--scope", "read"]);
        let before = v.dump();
        let taken = v
            .kw(["--json", "update", "api", "--name", "web"])
            .assert()
            .code(4);
        let err: serde_json::Value =
            serde_json::from_slice(&taken.get_output().stderr).expect("json error");
        assert_eq!(err["error"]["code"], "NAME_TAKEN");
        v.kw(["update", "api"]).assert().code(2);
        let same = v
            .kw(["update", "api", "--add-scope", "read"])
            .assert()
            .success();
        assert!(
            stderr(&same).contains("Nothing changed"),
            "{}",
            stderr(&same)
        );
        assert_eq!(v.dump(), before);
    }

    fn show_and_log_find_keys_that_are_no_longer_active_by_name(v: &TestVault) {
        v.create(&["--name", "main"]);
        let (key, _) = v.create_json(&["--name", "partner"]);
        let id = key["id"].as_str().expect("id");
        v.kw(["revoke", "partner", "--yes"]).assert().success();
        assert_eq!(v.json(["show", "partner"])["id"], id);
        assert_eq!(v.json(["show", "partner"])["status"], "revoked");
        let events = v.json(["log", "partner"]);
        assert_eq!(events.as_array().expect("array").len(), 2);
        // A command that changes a key says why the name no longer works.
        let out = v
            .kw(["rotate", "partner", "--grace", "1h"])
            .assert()
            .code(3);
        let err = stderr(&out);
        assert!(
            err.contains("in environment 'default'") && err.contains("revoked") && err.contains(id),
            "{err}"
        );
    }

    fn relative_times_round_to_the_nearest_unit(v: &TestVault) {
        v.create(&["--name", "web", "--expires", "90d"]);
        let out = v.kw_at("2026-11-23T12:00:05Z", ["list"]).assert().success();
        assert!(stdout(&out).contains("in 90d"), "{}", stdout(&out));
        let rotated = v.kw(["rotate", "web", "--grace", "24h"]).assert().success();
        assert!(
            stderr(&rotated).contains("(in 24h)"),
            "{}",
            stderr(&rotated)
        );
        let later = v.kw_at("2026-11-23T12:00:03Z", ["list"]).assert().success();
        assert!(stdout(&later).contains("in 24h"), "{}", stdout(&later));
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

    fn without_user_the_actor_is_the_accounts_name(v: &TestVault) {
        let account = std::process::Command::new("id")
            .arg("-un")
            .output()
            .map(|o| text(&o.stdout).trim().to_string())
            .expect("id -un");
        v.kw(["create", "--name", "web"])
            .env_remove("KEYWARD_ACTOR")
            .env_remove("USER")
            .env_remove("LOGNAME")
            .assert()
            .success();
        let actor = v.json(["log"])[0]["actor"]
            .as_str()
            .expect("actor")
            .to_string();
        assert!(actor.starts_with(&format!("{account}@")), "{actor}");
    }

    /// Found by a tester: a scope both added and removed was accepted.
    fn update_refuses_a_scope_both_added_and_removed(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        let out = v
            .kw(["update", "web", "--add-scope", "x", "--remove-scope", "x"])
            .assert()
            .code(2);
        assert!(stderr(&out).contains("'x' is both added and removed"));
        assert_eq!(v.dump(), before);
    }

    /// Found by a tester: the hint to use --all was given with --all.
    fn an_empty_list_hints_at_all_only_without_it(v: &TestVault) {
        v.create(&["--name", "web"]);
        let with = v.kw(["list", "--env", "none", "--all"]).assert().success();
        assert!(
            !stderr(&with).contains("--all includes"),
            "{}",
            stderr(&with)
        );
        let without = v.kw(["list", "--env", "none"]).assert().success();
        assert!(stderr(&without).contains("--all includes"));
    }

    /// Found by a tester: a name whose newest key is in grace got an
    /// ungrammatical message; it now says "in grace" and to give the id.
    fn a_name_in_grace_says_to_give_the_id(v: &TestVault) {
        v.create(&["--name", "base"]);
        let (svc, _) = v.create_json(&["--name", "svc"]);
        v.kw(["rotate", "svc", "--grace", "1h", "--name", "svc-new"])
            .assert()
            .success();
        let out = v.kw(["extend", "svc", "--grace", "now"]).assert().code(3);
        let err = stderr(&out);
        assert!(
            err.contains("is in grace")
                && err.contains(svc["id"].as_str().expect("id"))
                && err.contains("give the id"),
            "{err}"
        );
        let id = svc["id"].as_str().expect("id");
        v.kw(["extend", id, "--grace", "now"]).assert().success();
    }

    /// list and show warn when an environment's default key
    /// ends within 7 days.
    fn a_default_key_ending_within_7_days_is_warned_about(v: &TestVault) {
        v.create(&["--name", "first", "--env", "prod", "--expires", "3d"]);
        v.create(&["--name", "later", "--env", "prod", "--expires", "3d"]);
        v.create(&["--name", "calm", "--env", "staging", "--expires", "30d"]);
        let list = v.kw(["list"]).assert().success();
        let err = stderr(&list);
        assert!(
            err.contains("'first', the default key of environment 'prod', expires")
                && err.contains("in 3d")
                && err.lines().count() == 1,
            "{err}"
        );
        let show = v.kw(["show", "later", "--env", "prod"]).assert().success();
        assert!(stderr(&show).contains("'first', the default key"), "{}", stderr(&show));
        let calm = v.kw(["show", "calm", "--env", "staging"]).assert().success();
        assert_eq!(stderr(&calm), "");
        let json = v.kw(["--json", "list"]).assert().success();
        assert_eq!(stderr(&json), "", "JSON mode keeps stderr for errors");
    }
}

crate::on_both_engines! {
    /// Found by a tester: "give the id" for a revoked key led to another
    /// refusal; now the message says the name has no active key.
    fn a_revoked_name_says_no_active_key_has_it(v: &TestVault) {
        v.create(&["--name", "base"]);
        let (web, _) = v.create_json(&["--name", "web"]);
        let id = web["id"].as_str().expect("id");
        v.kw(["revoke", "web", "--yes"]).assert().success();
        let err = stderr(&v.kw(["rotate", "web", "--grace", "now"]).assert().code(3));
        assert!(err.contains(&format!("the newest key of that name is revoked ({id})")), "{err}");
        assert!(err.contains("no active key has that name"), "{err}");
        assert!(!err.contains("give the id"), "{err}");
    }

    /// Found by a tester: a name missing from the environment searched but
    /// active in another said nothing of the other.
    fn a_name_active_in_another_environment_suggests_its_env(v: &TestVault) {
        v.create(&["--name", "base"]);
        v.create(&["--name", "payments", "--env", "prod"]);
        for args in [vec!["rotate", "payments", "--grace", "1h"], vec!["show", "payments"], vec!["log", "payments"]] {
            let err = stderr(&v.kw(&args).assert().code(3));
            assert!(
                err.contains("no key matches 'payments' in environment 'default'")
                    && err.contains("environment 'prod' has an active key of that name (add --env prod)"),
                "{args:?}: {err}"
            );
        }
        v.kw(["show", "payments", "--env", "prod"]).assert().success();
    }
}
