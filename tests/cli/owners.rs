//! Owners and metadata: who a key belongs to (`--owner`, Unkey's
//! `externalId`), `max-keys-per-owner`, and a JSON object for the product
//! that holds the key (`--meta`), on both engines.

use serde_json::Value;

use crate::common::*;

crate::on_both_engines! {
    fn an_owner_and_metadata_go_with_the_key_and_its_successors(v: &TestVault) {
        let (key, secret) = v.create_json(&["--name", "web", "--owner", "acct_1", "--meta", r#"{"plan": "pro", "seats": 3}"#]);
        assert_eq!(key["owner"], "acct_1");
        assert_eq!(key["meta"], serde_json::json!({"plan": "pro", "seats": 3}));
        let (_, verdict) = v.verify(&secret, &[]);
        assert_eq!(verdict["key"]["owner"], "acct_1", "{verdict}");
        assert_eq!(verdict["key"]["meta"]["plan"], "pro", "{verdict}");
        let rotated = v.json(["rotate", "web", "--grace", "1h"]);
        assert_eq!(rotated["key"]["owner"], "acct_1");
        assert_eq!(rotated["key"]["meta"]["seats"], 3);
        let created = v.json(["log", key["id"].as_str().expect("id"), "--event", "created"]);
        assert_eq!(created[0]["details"]["owner"], "acct_1", "{created}");
        // Changed and cleared, each an `updated` event.
        v.kw(["update", "web", "--owner", "acct_2", "--meta", r#"{"plan": "team"}"#]).assert().success();
        let shown = v.json(["show", "web"]);
        assert_eq!((shown["owner"].as_str(), shown["meta"]["plan"].as_str()), (Some("acct_2"), Some("team")));
        let updated = v.json(["log", "web", "--event", "updated"]);
        assert_eq!(updated[0]["details"]["old_owner"], "acct_1", "{updated}");
        assert_eq!(updated[0]["details"]["new_meta"], serde_json::json!({"plan": "team"}), "{updated}");
        v.kw(["update", "web", "--owner", "", "--meta", ""]).assert().success();
        let shown = v.json(["show", "web"]);
        assert_eq!((shown["owner"].clone(), shown["meta"].clone()), (Value::Null, Value::Null));
        assert_eq!(v.json(["log", "--verify"])["intact"], true);
    }

    fn list_owner_shows_only_that_owners_keys(v: &TestVault) {
        v.kw(["config", "set", "max-keys", "10"]).assert().success();
        v.create(&["--name", "a1", "--owner", "acct_1"]);
        v.create(&["--name", "a2", "--owner", "acct_1"]);
        v.create(&["--name", "b1", "--owner", "acct_2"]);
        v.create(&["--name", "none"]);
        let listed = v.json(["list", "--owner", "acct_1"]);
        let names: Vec<&str> = listed.as_array().expect("list").iter().filter_map(|k| k["name"].as_str()).collect();
        assert_eq!(names, ["a1", "a2"]);
        assert_eq!(v.json(["list", "--owner", "nobody"]), serde_json::json!([]));
    }

    fn an_owner_has_at_most_max_keys_per_owner_active_keys(v: &TestVault) {
        v.kw(["config", "set", "max-keys", "20"]).assert().success();
        v.kw(["config", "set", "max-keys-per-owner", "3"]).assert().success();
        assert_eq!(v.json(["config"])["max_keys_per_owner"], 3);
        for n in 0..3 {
            v.create(&["--name", &format!("k{n}"), "--owner", "acct_1"]);
        }
        let out = v.kw(["--json", "create", "--name", "k3", "--owner", "acct_1"]).output().expect("run");
        assert_eq!(out.status.code(), Some(4));
        let e: Value = serde_json::from_slice(&out.stderr).expect("error json");
        assert_eq!(e["error"]["code"], "OWNER_LIMIT_REACHED", "{e}");
        // Per environment, per owner; a rotation takes its key's place.
        v.create(&["--name", "k0", "--owner", "acct_1", "--env", "staging"]);
        v.create(&["--name", "other", "--owner", "acct_2"]);
        v.kw(["rotate", "k0", "--grace", "1h"]).assert().success();
        assert_eq!(v.kw(["create", "--name", "k3", "--owner", "acct_1"]).output().expect("run").status.code(), Some(4));
        // Moving a key to a full owner is refused too; revoking frees a place.
        assert_eq!(v.kw(["update", "other", "--owner", "acct_1"]).output().expect("run").status.code(), Some(4));
        v.kw(["revoke", "k1", "--yes"]).assert().success();
        v.kw(["update", "other", "--owner", "acct_1"]).assert().success();
        v.kw(["config", "set", "max-keys-per-owner", "unlimited"]).assert().success();
        v.create(&["--name", "k4", "--owner", "acct_1"]);
    }

    fn parallel_creates_for_one_owner_stop_at_the_limit(v: &TestVault) {
        v.kw(["config", "set", "max-keys", "50"]).assert().success();
        v.kw(["config", "set", "max-keys-per-owner", "3"]).assert().success();
        let outs: Vec<std::process::Output> = std::thread::scope(|s| {
            let all: Vec<_> = (0..12)
                .map(|n| {
                    s.spawn(move || {
                        v.kw(["create", "--name", &format!("p{n}"), "--owner", "acct_9"])
                            .output()
                            .expect("run")
                    })
                })
                .collect();
            all.into_iter().map(|t| t.join().expect("create")).collect()
        });
        let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
        let failed: Vec<String> = outs
            .iter()
            .filter(|o| o.status.code() == Some(1))
            .map(|o| text(&o.stderr))
            .collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert_eq!(codes.iter().filter(|c| **c == Some(0)).count(), 3, "{codes:?}");
        assert_eq!(codes.iter().filter(|c| **c == Some(4)).count(), 9, "{codes:?}");
        assert_eq!(v.json(["list", "--owner", "acct_9"]).as_array().map(Vec::len), Some(3));
    }

    fn owners_and_metadata_that_cannot_be_used_exit_2_and_change_nothing(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        let before = v.dump();
        let long = "a".repeat(256);
        let big = format!(r#"{{"a": "{}"}}"#, "x".repeat(4100));
        let with_secret = format!(r#"{{"k": "{secret}"}}"#);
        for args in [
            vec!["create", "--name", "x", "--owner", ""],
            vec!["create", "--name", "x", "--owner", &long],
            vec!["create", "--name", "x", "--owner", "a\nb"],
            vec!["create", "--name", "x", "--owner", &secret],
            vec!["create", "--name", "x", "--meta", "[1]"],
            vec!["create", "--name", "x", "--meta", "not json"],
            vec!["create", "--name", "x", "--meta", r#"{"a": 1, "a": 2}"#],
            vec!["create", "--name", "x", "--meta", &big],
            vec!["create", "--name", "x", "--meta", &with_secret],
            vec!["update", "web", "--meta", "null"],
            vec!["config", "set", "max-keys-per-owner", "0"],
            vec!["config", "set", "max-keys-per-owner", "-1"],
        ] {
            let out = v.kw(&args).output().expect("run");
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
            assert!(!text(&out.stderr).contains(&secret), "{args:?} echoed the secret");
        }
        assert_eq!(v.dump(), before, "nothing changed");
    }
}
