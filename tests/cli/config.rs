//! config: the settings and where the vault is, shown also before any
//! vault exists; a change is a `config_changed` event with its actor, the
//! same value again changes nothing, and an unknown name or a bad value is
//! refused.

use predicates::prelude::*;

use crate::common::*;

/// The config_changed events, oldest first: (actor, details).
fn config_events(v: &TestVault) -> Vec<(String, serde_json::Value)> {
    let events = v.json(["log", "--event", "config_changed"]);
    let mut out: Vec<(String, serde_json::Value)> = events
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().expect("actor").to_string(),
                e["details"].clone(),
            )
        })
        .collect();
    out.reverse();
    out
}

#[test]
fn config_shows_the_defaults() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    assert_eq!(
        v.json(["config"]),
        serde_json::json!({
            "max_keys": 3,
            "prefix": "kw",
            "rotate_every": null,
            "max_keys_per_owner": null,
            "vault": v.path.display().to_string(),
            "engine": "sqlite",
            "exists": true,
        })
    );
    let out = stdout(&v.kw(["config"]).assert().success());
    assert!(
        out.contains("max-keys") && out.contains('3') && out.contains("kw"),
        "{out}"
    );
}

/// `config` before any vault exists shows the defaults, where the vault
/// will be and its engine, and creates nothing.
#[test]
fn config_before_any_vault_shows_defaults_and_where_it_will_be() {
    let v = TestVault::new();
    let doc = v.json(["config"]);
    assert_eq!(doc["max_keys"], 3);
    assert_eq!(doc["prefix"], "kw");
    assert_eq!(doc["exists"], false);
    assert_eq!(doc["engine"], "sqlite");
    assert_eq!(doc["vault"], v.path.display().to_string());
    let out = stdout(&v.kw(["config"]).assert().success());
    assert!(out.contains("not created yet"), "{out}");
    assert!(!v.path.exists(), "config created the vault");
    // Without --vault: the platform data dir, under the test's HOME.
    let out = stdout(&v.bare().arg("config").assert().success());
    assert!(out.contains("keyward/vault.db"), "{out}");
    assert!(!v.dir().join("home").join(".local/share/keyward").exists());
}

crate::on_both_engines! {
    fn changing_a_setting_is_an_event_with_the_actor(v: &TestVault) {
        v.kw(["--actor", "ops", "config", "set", "max-keys", "5"])
            .assert()
            .success();
        assert_eq!(v.json(["config"])["max_keys"], 5);
        let events = config_events(v);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, "ops");
        assert_eq!(
            events[0].1,
            serde_json::json!({"setting": "max-keys", "old": "3", "new": "5"})
        );
    }

    fn setting_the_same_value_again_changes_nothing(v: &TestVault) {
        v.kw(["config", "set", "prefix", "uspl"]).assert().success();
        let before = v.dump();
        v.kw(["config", "set", "prefix", "uspl"])
            .assert()
            .success()
            .stderr(predicate::str::contains("Nothing changed"));
        assert_eq!(v.dump(), before);
    }

    fn config_set_refuses_unknown_names_and_bad_values(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        for (name, value, fragment) in [
            ("max-keys", "0", "'0' is not a valid max-keys"),
            ("max-keys", "many", "'many' is not a valid max-keys"),
            ("max-keys", "-1", "'-1'"),
            ("max-keys", "10001", "'10001'"),
            ("prefix", "Kw", "'Kw' is not a valid prefix"),
            ("prefix", "1kw", "'1kw'"),
            ("prefix", "abcdefghijklmnopq", "not a valid prefix"),
            ("colour", "blue", "colour"),
        ] {
            v.kw(["config", "set", name, value])
                .assert()
                .code(2)
                .stderr(predicate::str::contains(fragment));
        }
        assert_eq!(v.dump(), before);
    }
}
