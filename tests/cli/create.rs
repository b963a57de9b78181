use predicates::prelude::*;

use crate::common::*;

fn is_secret(s: &str, prefix: &str) -> bool {
    let Some(body) = s.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')) else {
        return false;
    };
    body.len() == 38 && body.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[test]
fn the_vault_never_holds_the_secret() {
    let v = TestVault::new();
    let secret = v.create(&["--name", "web"]);
    assert_eq!(v.verify(&secret, &[]).0, Some(0));
    let random_part = &secret[3..35];
    for entry in std::fs::read_dir(v.dir()).expect("dir").flatten() {
        if entry.path().is_file() {
            let bytes = std::fs::read(entry.path()).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(random_part),
                "secret found in {}",
                entry.path().display()
            );
        }
    }
    let hash: Vec<u8> = v
        .sql()
        .query_row("SELECT secret_sha256 FROM keys", [], |r| r.get(0))
        .expect("hash");
    assert_eq!(hash, keyward::secret::hash(secret.as_bytes()));
}

crate::on_both_engines! {
    fn create_prints_only_the_secret_on_stdout(v: &TestVault) {
        let a = v.kw(["create", "--name", "web"]).assert().success();
        let out = stdout(&a);
        assert_eq!(out.lines().count(), 1, "{out:?}");
        assert!(out.ends_with('\n'));
        assert!(is_secret(out.trim_end(), "kw"), "{out:?}");
        let err = stderr(&a);
        assert!(err.contains("will not be shown again"), "{err}");
        assert!(
            !err.contains(out.trim_end()),
            "the secret is only on stdout"
        );
    }

    fn created_secret_verifies(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        assert_eq!(v.verify(&secret, &[]).0, Some(0));
    }

    fn json_create_gives_the_key_and_the_secret(v: &TestVault) {
        let a = v
            .kw(["--json", "create", "--name", "web", "--scope", "read"])
            .assert()
            .success();
        // Nothing but the document, and the new vault announced on stderr.
        let err = stderr(&a);
        assert!(
            err.lines().all(|l| l.starts_with("created a new vault at ")) && err.lines().count() == 1,
            "{err}"
        );
        let again = v.kw(["--json", "create", "--name", "api"]).assert().success();
        assert!(stderr(&again).is_empty(), "--json prints nothing but the document");
        let doc = json(&a);
        assert_eq!(fields(&doc), ["key", "secret"]);
        assert_eq!(fields(&doc["key"]), key_fields());
        let key = &doc["key"];
        let secret = doc["secret"].as_str().expect("secret");
        assert!(is_secret(secret, "kw"));
        assert_eq!(key["name"], "web");
        assert_eq!(key["env"], "default");
        assert_eq!(key["prefix"], "kw");
        assert_eq!(key["hint"], &secret[secret.len() - 4..]);
        assert_eq!(key["status"], "active");
        assert_eq!(key["default"], true);
        assert_eq!(key["scopes"], serde_json::json!(["read"]));
        assert_eq!(key["created_at"], NOW);
        assert_eq!(key["expires_at"], serde_json::Value::Null);
        let id = key["id"].as_str().expect("id");
        assert!(id.starts_with("key_") && id.len() == 20, "{id}");
        assert!(
            id[4..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{id}"
        );
    }

    fn a_key_without_a_name_is_named_after_its_id(v: &TestVault) {
        let (key, _) = v.create_json(&[]);
        assert_eq!(key["name"], key["id"]);
    }

    fn prefix_comes_from_the_flag_or_the_vault_setting(v: &TestVault) {
        let secret = v.create(&["--name", "a", "--prefix", "sk_live"]);
        assert!(is_secret(&secret, "sk_live"), "{secret}");
        v.kw(["config", "set", "prefix", "uspl"]).assert().success();
        let secret = v.create(&["--name", "b"]);
        assert!(is_secret(&secret, "uspl"), "{secret}");
        assert_eq!(v.verify(&secret, &[]).0, Some(0));
    }

    fn the_first_key_of_an_environment_is_its_default(v: &TestVault) {
        assert_eq!(v.create_json(&["--name", "a"]).0["default"], true);
        assert_eq!(v.create_json(&["--name", "b"]).0["default"], false);
        assert_eq!(
            v.create_json(&["--name", "c", "--env", "prod"]).0["default"],
            true
        );
    }

    fn expiry_is_a_duration_from_now_or_a_time(v: &TestVault) {
        let (k, _) = v.create_json(&["--name", "a", "--expires", "1h 30m"]);
        assert_eq!(k["expires_at"], "2026-11-23T13:30:00Z");
        let (k, _) = v.create_json(&["--name", "b", "--expires", "2027-01-01T00:00:00+01:00"]);
        assert_eq!(k["expires_at"], "2026-12-31T23:00:00Z");
        let (k, _) = v.create_json(&["--name", "c", "--expires", "never"]);
        assert!(k["expires_at"].is_null());
    }

    fn a_key_stops_verifying_at_its_expiry(v: &TestVault) {
        let secret = v.create(&["--name", "a", "--expires", "1h"]);
        v.kw_at("2026-11-23T12:59:59Z", ["verify"])
            .write_stdin(secret.clone())
            .assert()
            .code(0);
        let a = v
            .kw_at("2026-11-23T13:00:00Z", ["--json", "verify"])
            .write_stdin(secret)
            .assert()
            .code(5);
        assert_eq!(json(&a)["code"], "API_KEY_EXPIRED");
    }

    fn scopes_are_kept_in_order_once_each(v: &TestVault) {
        let (k, _) = v.create_json(&["--scope", "write", "--scope", "read", "--scope", "write"]);
        assert_eq!(k["scopes"], serde_json::json!(["write", "read"]));
    }

    fn names_are_unique_among_an_environments_active_keys(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        v.kw(["create", "--name", "web"])
            .assert()
            .code(4)
            .stdout("")
            .stderr(predicate::str::contains("already named 'web'"));
        assert_eq!(v.dump(), before);
        v.create(&["--name", "web", "--env", "staging"]);
    }

    fn an_expired_key_hands_over_its_name_and_its_slot(v: &TestVault) {
        v.kw(["config", "set", "max-keys", "1"]).assert().success();
        v.create(&["--name", "web", "--expires", "1h"]);
        v.kw(["create", "--name", "other"]).assert().code(4);
        v.kw_at("2026-11-23T13:00:00Z", ["create", "--name", "web"])
            .assert()
            .success();
    }

    fn the_limit_refuses_a_key_beyond_max_keys_per_environment(v: &TestVault) {
        for name in ["a", "b", "c"] {
            v.create(&["--name", name]);
        }
        let before = v.dump();
        v.kw(["create", "--name", "d"])
            .assert()
            .code(4)
            .stdout("")
            .stderr(predicate::str::contains("already has 3 active keys"));
        assert_eq!(v.dump(), before);
        let a = v
            .kw(["--json", "create", "--name", "d"])
            .assert()
            .code(4)
            .stdout("");
        let err: serde_json::Value =
            serde_json::from_slice(&a.get_output().stderr).expect("json error");
        assert_eq!(err["error"]["code"], "LIMIT_REACHED");
        v.create(&["--name", "d", "--env", "prod"]);
        v.kw(["config", "set", "max-keys", "4"]).assert().success();
        v.create(&["--name", "d"]);
    }

    fn create_records_a_created_event_with_the_actor(v: &TestVault) {
        let (key, _) = v.create_json(&["--name", "web"]);
        let shown = v.json(["show", key["id"].as_str().expect("id")]);
        let events = shown["events"].as_array().expect("events");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["event"], "created");
        assert_eq!(events[0]["actor"], ACTOR);
        assert_eq!(events[0]["key_id"], key["id"]);
        assert_eq!(events[0]["at"], NOW);
        v.kw(["--actor", "deploy-bot", "create", "--name", "b"])
            .assert()
            .success();
        let shown = v.json(["show", "b"]);
        assert_eq!(shown["events"][0]["actor"], "deploy-bot");
    }
}
