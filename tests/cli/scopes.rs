//! Scopes are tokens: no comma and no whitespace, wherever a scope enters
//! (the CLI, serve's requirements, Unkey's permissions); a scope stored
//! with one by an older keyward is reported, never split or joined, and
//! can still be removed.

#[cfg(feature = "serve")]
use crate::common::serve::Serve;
use crate::common::*;

const NOT_A_TOKEN: &str = "comma or whitespace";

crate::on_both_engines! {
    fn a_scope_with_a_comma_or_whitespace_is_refused_by_the_cli(v: &TestVault) {
        let secret = v.create(&["--name", "web", "--scope", "read"]);
        let before = v.dump();
        for bad in ["read,admin", "read admin", "read\u{a0}admin"] {
            for args in [
                vec!["create", "--name", "other", "--scope", bad],
                vec!["update", "web", "--add-scope", bad],
            ] {
                let a = v.kw(&args).assert().code(2);
                assert!(stderr(&a).contains(NOT_A_TOKEN), "{args:?}: {}", stderr(&a));
            }
            let a = v
                .kw(["verify", "--require-scope", bad])
                .write_stdin(format!("{secret}\n"))
                .assert()
                .code(2);
            assert!(stderr(&a).contains(NOT_A_TOKEN), "{}", stderr(&a));
        }
        assert_eq!(v.dump(), before, "a refused scope changes nothing");
    }
}

/// Writes `scopes` (a JSON list) into a key's row, as an older keyward
/// could have stored it.
fn store_scopes(v: &TestVault, id: &str, scopes: &str) {
    let changed = match &v.url {
        #[cfg(not(feature = "postgres"))]
        Some(_) => unreachable!("no PostgreSQL vault in this build"),
        #[cfg(feature = "postgres")]
        Some(url) => crate::common::pg::client(url)
            .execute(
                "UPDATE keyward.keys SET scopes = $1 WHERE id = $2",
                &[&scopes, &id],
            )
            .expect("update"),
        None => v
            .sql()
            .execute(
                "UPDATE keys SET scopes = ?1 WHERE id = ?2",
                rusqlite::params![scopes, id],
            )
            .expect("update") as u64,
    };
    assert_eq!(changed, 1);
}

crate::on_both_engines! {
    #[cfg(feature = "serve")]
    fn a_stored_scope_with_a_comma_is_reported_never_split_and_can_be_removed(v: &TestVault) {
        let (key, secret) = v.create_json(&["--name", "web", "--scope", "read"]);
        let id = key["id"].as_str().expect("id").to_string();
        let _plain = v.create(&["--name", "plain", "--scope", "ops", "--scope", "données"]);
        store_scopes(v, &id, r#"["read,admin","deploy"]"#);

        // show and list warn on stderr, naming the key; the scope is shown as
        // stored, one scope.
        for args in [vec!["show", "web"], vec!["list"], vec!["--json", "list"]] {
            let a = v.kw(&args).assert().success();
            let err = stderr(&a);
            assert!(
                err.contains(&id) && err.contains("read,admin"),
                "{args:?}: {err}"
            );
            assert!(err.contains("--remove-scope"), "says how to fix it: {err}");
            assert_eq!(
                err.matches("warning: key_").count(),
                1,
                "only that key: {err}"
            );
        }
        // In show's list of scopes it is quoted, so its comma is not a separator.
        let human = stdout(&v.kw(["show", "web"]).assert().success());
        assert!(human.contains("'read,admin', deploy"), "{human}");
        let shown = v.json(["show", "web"]);
        assert_eq!(shown["scopes"], serde_json::json!(["read,admin", "deploy"]));

        // Never split: the scope meets no requirement, neither as a whole (a
        // requirement is a token) nor by its parts.
        assert_eq!(v.verify(&secret, &["--require-scope", "admin"]).0, Some(5));
        assert_eq!(v.verify(&secret, &["--require-scope", "read"]).0, Some(5));
        assert_eq!(v.verify(&secret, &["--require-scope", "deploy"]).0, Some(0));

        // serve reports it at start, and never joins it into X-Keyward-Scopes.
        let s = Serve::start(v, &[], &[]);
        let log = s.log_text();
        assert!(log.contains(&id) && log.contains("read,admin"), "{log}");
        for query in ["?scope=admin", "?scope=read", "?scope=read,admin"] {
            let r = s.authz(&secret, query);
            assert_eq!(
                r.header("x-keyward-code"),
                Some("INSUFFICIENT_SCOPE"),
                "{query}: {r:?}"
            );
        }
        let ok = s.authz(&secret, "?scope=deploy");
        assert_eq!(ok.status, 200);
        assert_eq!(ok.header("x-keyward-scopes"), Some("deploy"));
        drop(s);

        // update --remove-scope still names it, and then the warnings stop.
        v.kw([
            "update",
            "web",
            "--remove-scope",
            "read,admin",
            "--add-scope",
            "read",
            "--add-scope",
            "admin",
        ])
        .assert()
        .success();
        let a = v.kw(["show", "web"]).assert().success();
        assert!(!stderr(&a).contains("warning"), "{}", stderr(&a));
        assert_eq!(
            v.json(["show", "web"])["scopes"],
            serde_json::json!(["deploy", "read", "admin"])
        );
        assert_eq!(v.verify(&secret, &["--require-scope", "admin"]).0, Some(0));
    }
}

#[cfg(feature = "serve")]
#[test]
fn scopes_in_serve_requirements_and_unkey_permissions_are_tokens() {
    let v = TestVault::new();
    let secret = v.create(&["--name", "web", "--scope", "read"]);
    let s = Serve::start(
        &v,
        &["--root-key-env", "KEYWARD_TEST_ROOT"],
        &[("KEYWARD_TEST_ROOT", "root-0123456789")],
    );
    // In ?scope= and X-Keyward-Require-Scope a comma separates scopes, so
    // each piece is checked: whitespace inside one is refused.
    for query in [
        "?scope=read%20admin",
        "?scope=read+admin",
        "?scope=read,%20,admin",
    ] {
        let r = s.authz(&secret, query);
        assert_eq!(r.status, 400, "{query}: {r:?}");
    }
    let r = s.get(
        "/v1/authz",
        &[
            ("X-API-Key", &secret),
            ("X-Keyward-Require-Scope", "read admin"),
        ],
    );
    assert_eq!(r.status, 400);
    assert_eq!(s.authz(&secret, "?scope=read,read").status, 200);
    let json = [("Content-Type", "application/json")];
    for scopes in [r#"["read,admin"]"#, r#"["read admin"]"#, r#"[""]"#] {
        let body = format!(r#"{{"key": "{secret}", "require_scopes": {scopes}}}"#);
        let r = s.post("/v1/verify", &json, &body);
        assert_eq!(r.status, 400, "{scopes}: {r:?}");
        assert_eq!(r.json()["error"]["code"], "BAD_REQUEST");
        assert!(!r.text().contains(&secret));
    }
    let root = [
        ("Authorization", "Bearer root-0123456789"),
        ("Content-Type", "application/json"),
    ];
    let body = serde_json::json!({"key": secret, "permissions": "read,admin"}).to_string();
    let r = s.post("/v2/keys.verifyKey", &root, &body);
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.json()["error"]["errors"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
}
