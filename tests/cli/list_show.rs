//! list and show, and how every command finds the KEY it is given: by id,
//! id prefix or name within an environment (`--env`, else `$KEYWARD_ENV`),
//! whatever the key's status for show and log. A name that finds no key to
//! change says why (in grace, revoked, active in another environment), and
//! list gives relative times, hints when nothing is shown, and warns when a
//! default key ends within 7 days.

use predicates::prelude::*;

use crate::common::*;

#[test]
fn list_json_is_an_array_of_keys_with_the_spec_fields() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let list = v.json(["list"]);
    let keys = list.as_array().expect("array");
    assert_eq!(keys.len(), 1);
    assert_eq!(fields(&keys[0]), key_fields());
    let empty = TestVault::new();
    empty
        .kw(["config", "set", "max-keys", "3"])
        .assert()
        .success();
    assert_eq!(empty.json(["list"]), serde_json::json!([]));
}

#[test]
fn an_ambiguous_key_is_exit_3_listing_the_candidates() {
    let v = TestVault::new();
    let (a, _) = v.create_json(&["--name", "a"]);
    let id = a["id"].as_str().expect("id");
    // A second key named like the first key's id prefix, as a vault from
    // before names could not start with key_ may hold: the argument matches both.
    let prefix = &id[..8];
    let (b, _) = v.create_json(&["--name", "b"]);
    let b_id = b["id"].as_str().expect("id");
    v.sql()
        .execute("UPDATE keys SET name = ?1 WHERE id = ?2", [prefix, b_id])
        .expect("rename");
    let out = v.kw(["show", prefix]).assert().code(3);
    let err = stderr(&out);
    assert!(err.contains(id) && err.contains(b_id), "{err}");
    assert_eq!(err.matches(id).count(), 1, "each key once: {err}");
    assert_eq!(
        v.json(["show", id])["name"],
        "a",
        "the full id is never ambiguous"
    );
}

fn names(doc: &serde_json::Value) -> Vec<String> {
    let mut n: Vec<String> = doc
        .as_array()
        .expect("array")
        .iter()
        .map(|k| k["name"].as_str().expect("name").to_string())
        .collect();
    n.sort();
    n
}

crate::on_both_engines! {
    fn list_shows_live_keys_as_a_table(v: &TestVault) {
        let secret = v.create(&["--name", "web", "--expires", "1d"]);
        v.create(&["--name", "gone", "--expires", "1h"]);
        let a = v.kw_at("2026-11-23T14:00:00Z", ["list"]).assert().success();
        let out = stdout(&a);
        for column in [
            "ID",
            "NAME",
            "ENV",
            "STATUS",
            "KEY",
            "CREATED",
            "EXPIRES",
            "LAST USED",
        ] {
            assert!(out.contains(column), "{column} missing:\n{out}");
        }
        assert!(out.contains("web") && out.contains("active"), "{out}");
        assert!(
            out.contains(&format!("kw_…{}", &secret[secret.len() - 4..])),
            "{out}"
        );
        assert!(
            out.contains("2h ago") && out.contains("in 22h"),
            "relative times:\n{out}"
        );
        assert!(!out.contains("gone"), "expired keys need --all:\n{out}");
        assert!(
            !out.contains('\x1b'),
            "no ANSI codes when stdout is not a terminal"
        );
        let all = stdout(
            &v.kw_at("2026-11-23T14:00:00Z", ["list", "--all"])
                .assert()
                .success(),
        );
        assert!(all.contains("gone") && all.contains("expired"), "{all}");
    }

    fn list_filters_by_environment(v: &TestVault) {
        v.create(&["--name", "web"]);
        v.create(&["--name", "api", "--env", "prod"]);
        let prod = v.json(["list", "--env", "prod"]);
        let names: Vec<_> = prod
            .as_array()
            .expect("array")
            .iter()
            .map(|k| k["name"].clone())
            .collect();
        assert_eq!(names, ["api"]);
        assert_eq!(v.json(["list"]).as_array().map(Vec::len), Some(2));
    }

    fn show_finds_a_key_by_id_id_prefix_or_name(v: &TestVault) {
        let (key, _) = v.create_json(&["--name", "web", "--env", "prod"]);
        let id = key["id"].as_str().expect("id");
        for arg in [id, &id[..8], &id[..12]] {
            assert_eq!(v.json(["show", arg])["id"], id, "{arg}");
        }
        assert_eq!(v.json(["show", "web", "--env", "prod"])["id"], id);
        v.kw(["show", "web"])
            .assert()
            .code(3)
            .stderr(predicate::str::contains("no key matches 'web'"));
    }

    fn show_prints_every_field_and_recent_events(v: &TestVault) {
        v.create(&["--name", "web", "--scope", "read"]);
        let out = stdout(&v.kw(["show", "web"]).assert().success());
        for field in [
            "id",
            "name",
            "env",
            "status",
            "key",
            "default",
            "scopes",
            "created",
            "expires",
            "last used",
            "rotated from",
            "rotated to",
            "Recent events",
            "created",
        ] {
            assert!(out.contains(field), "{field} missing:\n{out}");
        }
        assert!(out.contains(NOW), "exact UTC time in show:\n{out}");
        let doc = v.json(["show", "web"]);
        let mut expected = key_fields();
        expected.push("events".into());
        expected.sort();
        assert_eq!(fields(&doc), expected);
        let event = &doc["events"][0];
        assert_eq!(
            fields(event),
            [
                "actor",
                "at",
                "details",
                "event",
                "id",
                "key_id",
                "related_key_id"
            ]
        );
    }

    fn a_too_short_id_prefix_says_how_long_it_must_be(v: &TestVault) {
        let (a, _) = v.create_json(&["--name", "a"]);
        let id = a["id"].as_str().expect("id");
        v.kw(["show", &id[..7]])
            .assert()
            .code(3)
            .stderr(predicate::str::contains("at least 4 characters"));
    }

    fn expiring_within_finds_expiries_and_grace_ends_coming_up(v: &TestVault) {
        v.kw(["config", "set", "max-keys", "10"]).assert().success();
        v.create(&["--name", "soon", "--expires", "3d"]);
        v.create(&["--name", "later", "--expires", "30d"]);
        v.create(&["--name", "forever"]);
        v.create(&["--name", "prod-soon", "--env", "prod", "--expires", "2d"]);
        v.create(&["--name", "gone", "--expires", "1h"]);
        v.kw(["rotate", "forever", "--grace", "24h"])
            .assert()
            .success();
        let at = "2026-11-23T13:00:00Z"; // 'gone' has just expired
        let doc = json(
            &v.kw_at(at, ["--json", "list", "--expiring-within", "7d"])
                .assert()
                .success(),
        );
        assert_eq!(
            names(&doc),
            ["forever", "prod-soon", "soon"],
            "the old 'forever' is in grace"
        );
        let doc = json(
            &v.kw_at(
                at,
                [
                    "--json",
                    "list",
                    "--expiring-within",
                    "7d",
                    "--env",
                    "default",
                ],
            )
            .assert()
            .success(),
        );
        assert_eq!(names(&doc), ["forever", "soon"]);
        let out = stdout(
            &v.kw_at(at, ["list", "--expiring-within", "7d"])
                .assert()
                .success(),
        );
        assert!(out.contains("soon") && !out.contains("later"), "{out}");
    }

    fn unused_for_finds_keys_not_verified_lately_or_never(v: &TestVault) {
        let used = v.create(&["--name", "used"]);
        let stale = v.create(&["--name", "stale"]);
        v.create(&["--name", "never"]);
        v.kw_at("2026-11-01T00:00:00Z", ["verify"])
            .write_stdin(stale)
            .assert()
            .code(0);
        v.kw_at("2026-11-22T00:00:00Z", ["verify"])
            .write_stdin(used)
            .assert()
            .code(0);
        let doc = v.json(["list", "--unused-for", "7d"]);
        assert_eq!(names(&doc), ["never", "stale"]);
        let doc = v.json(["list", "--unused-for", "30d"]);
        assert_eq!(names(&doc), ["never"]);
    }

    fn finders_refuse_bad_durations(v: &TestVault) {
        v.create(&["--name", "a"]);
        v.kw(["list", "--expiring-within", "soon"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("'soon'"));
        v.kw(["list", "--unused-for", "-3d"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("'-3d'"));
    }
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

    /// An empty list hints that `--all` includes expired and revoked keys only
    /// when `--all` was not given.
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

    /// A name whose newest key is in grace (its successor took another name)
    /// is refused saying the key is in grace, with its id and to give the id;
    /// given the id, the command works.
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

    /// A name whose newest key is revoked is refused saying so, with its id,
    /// and that no active key has that name; it never says to give the id,
    /// which would only be refused again.
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

    /// A name missing from the environment searched but active in another is
    /// refused naming that one (`add --env prod`), by rotate, show and log
    /// alike.
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
