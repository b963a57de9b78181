//! Administration over HTTP: root keys of `serve --admin-env ENV` managing
//! keys in Unkey's v2 shapes, with the CLI's rules and `root:KEY_ID` as the
//! actor, on both engines.

use serde_json::{Value, json};

use crate::common::serve::Serve;
use crate::common::*;

const ALL: [&str; 4] = [
    "api.*.create_key",
    "api.*.read_key",
    "api.*.update_key",
    "api.*.delete_key",
];

/// A vault with room, and a root key with `scopes` in environment `admin`.
fn root(v: &TestVault, scopes: &[&str]) -> (String, String) {
    v.kw(["config", "set", "max-keys", "100"])
        .assert()
        .success();
    let mut args = vec!["--name", "root", "--env", "admin"];
    for s in scopes {
        args.extend(["--scope", s]);
    }
    let (key, secret) = v.create_json(&args);
    (key["id"].as_str().expect("id").to_string(), secret)
}

fn admin(v: &TestVault) -> Serve {
    Serve::start(v, &["--admin-env", "admin"], &[])
}

fn call(s: &Serve, root: &str, route: &str, body: &Value) -> (u16, Value) {
    let r = s.post(
        &format!("/v2/{route}"),
        &[
            ("Authorization", &format!("Bearer {root}")),
            ("Content-Type", "application/json"),
        ],
        &body.to_string(),
    );
    let doc = serde_json::from_str(&r.text()).unwrap_or(Value::Null);
    (r.status, doc)
}

crate::on_both_engines! {
    fn root_keys_manage_keys_in_unkeys_shapes_with_the_clis_rules(v: &TestVault) {
        let (root_id, root) = root(v, &ALL);
        v.create(&["--name", "main", "--env", "prod"]); // prod's default key
        let s = admin(v);
        let (status, made) = call(&s, &root, "keys.createKey", &json!({
            "apiId": "prod", "name": "acme", "externalId": "acct_1", "meta": {"plan": "pro"},
            "permissions": ["read"], "expires": 1_900_000_000_000_i64,
            "credits": {"remaining": 100}, "ratelimits": [{"name": "api", "limit": 10, "duration": 60_000}],
        }));
        assert_eq!(status, 200, "{made}");
        let id = made["data"]["keyId"].as_str().expect("keyId").to_string();
        let secret = made["data"]["key"].as_str().expect("key").to_string();
        assert!(made["meta"]["requestId"].is_string());
        let (code, verdict) = v.verify(&secret, &["--require-scope", "read"]);
        assert_eq!(code, Some(0), "{verdict}");
        assert_eq!((verdict["key"]["owner"].as_str(), verdict["credits"].as_u64()), (Some("acct_1"), Some(99)));
        // getKey in Unkey's KeyResponseData shape.
        let (status, got) = call(&s, &root, "keys.getKey", &json!({"keyId": id}));
        assert_eq!(status, 200, "{got}");
        let d = &got["data"];
        assert_eq!((d["keyId"].as_str(), d["name"].as_str(), d["enabled"].as_bool()), (Some(id.as_str()), Some("acme"), Some(true)));
        assert_eq!(d["identity"]["externalId"], "acct_1");
        assert_eq!(d["meta"], json!({"plan": "pro"}));
        assert_eq!(d["permissions"], json!(["read"]));
        assert_eq!(d["expires"], 1_900_000_000_000_i64);
        assert_eq!(d["ratelimits"][0]["limit"], 10);
        assert!(d["createdAt"].is_i64() && d["start"].is_string());
        // whoami: the key a secret belongs to.
        let (_, who) = call(&s, &root, "keys.whoami", &json!({"key": secret}));
        assert_eq!(who["data"]["keyId"], id.as_str(), "{who}");
        // updateKey: name, owner, metadata, permissions, credits.
        let (status, updated) = call(&s, &root, "keys.updateKey", &json!({
            "keyId": id, "name": "acme-2", "externalId": "acct_2", "meta": null,
            "permissions": ["read", "write"], "credits": {"remaining": 5},
        }));
        assert_eq!(status, 200, "{updated}");
        let shown = v.json(["show", &id]);
        assert_eq!((shown["name"].as_str(), shown["owner"].as_str()), (Some("acme-2"), Some("acct_2")));
        assert_eq!((shown["meta"].clone(), shown["credits"].clone()), (Value::Null, json!(5)));
        assert_eq!(shown["scopes"], json!(["read", "write"]));
        // rerollKey with a grace of an hour: both verify, one lineage.
        let (status, rolled) = call(&s, &root, "keys.rerollKey", &json!({"keyId": id, "expiration": 3_600_000}));
        assert_eq!(status, 200, "{rolled}");
        let new_id = rolled["data"]["keyId"].as_str().expect("keyId").to_string();
        let new_secret = rolled["data"]["key"].as_str().expect("key").to_string();
        assert_eq!(v.verify(&secret, &[]).0, Some(0), "the old key in its grace");
        assert_eq!(v.verify(&new_secret, &[]).0, Some(0));
        // listKeys pages through an environment's keys.
        let (_, first) = call(&s, &root, "apis.listKeys", &json!({"apiId": "prod", "limit": 1}));
        assert_eq!(first["data"].as_array().map(Vec::len), Some(1), "{first}");
        assert_eq!(first["pagination"]["hasMore"], true);
        let mut seen = vec![first["data"][0]["keyId"].as_str().expect("id").to_string()];
        let mut cursor = first["pagination"]["cursor"].clone();
        while cursor.is_string() {
            let (_, page) = call(&s, &root, "apis.listKeys", &json!({"apiId": "prod", "limit": 1, "cursor": cursor}));
            seen.extend(page["data"].as_array().expect("data").iter().map(|k| k["keyId"].as_str().expect("id").to_string()));
            cursor = page["pagination"]["cursor"].clone();
        }
        assert_eq!(seen.len(), 3, "main, the old key in grace and its successor: {seen:?}");
        let (_, mine) = call(&s, &root, "apis.listKeys", &json!({"apiId": "prod", "externalId": "acct_2"}));
        assert_eq!(mine["data"].as_array().map(Vec::len), Some(2), "{mine}");
        // deleteKey revokes: the record stays, the key is refused.
        let (status, _) = call(&s, &root, "keys.deleteKey", &json!({"keyId": new_id}));
        assert_eq!(status, 200);
        assert_eq!(v.verify(&new_secret, &[]).1["code"], "API_KEY_REVOKED");
        // The default key is refused, as by the CLI, in Unkey's shape with keyward's code.
        let main = v.json(["show", "main", "--env", "prod"]);
        let (status, e) = call(&s, &root, "keys.deleteKey", &json!({"keyId": main["id"]}));
        assert_eq!(status, 412, "{e}");
        assert!(e["error"]["detail"].as_str().is_some_and(|d| d.starts_with("DEFAULT_KEY")), "{e}");
        // Every write's actor is the root key, and the chain holds.
        let log = v.json(["log", "--env", "prod", "--by", &format!("root:{root_id}")]);
        assert!(log.as_array().map(Vec::len).is_some_and(|n| n >= 5), "{log}");
        assert_eq!(v.json(["log", "--verify"])["intact"], true);
        let (code, log) = s.stop();
        assert_eq!(code, Some(0));
        for secret in [&root, &secret, &new_secret] {
            assert!(!log.contains(secret.as_str()), "a secret in the log");
        }
    }

    fn each_route_needs_its_permission_and_never_reaches_the_admin_environment(v: &TestVault) {
        let (_, reader) = root(v, &["api.*.read_key"]);
        let staging = v.create(&["--name", "st", "--env", "admin", "--scope", "api.staging.create_key", "--scope", "api.staging.read_key"]);
        let everything = v.create(&["--name", "all", "--env", "admin", "--scope", "api.*.create_key", "--scope", "api.*.read_key", "--scope", "api.*.delete_key"]);
        let (prod, _) = v.create_json(&["--name", "web", "--env", "prod"]);
        let prod_id = prod["id"].as_str().expect("id");
        // Made before serve starts: PostgreSQL's serve learns of a new key
        // within a second.
        let deleter = v.create(&["--name", "del", "--env", "admin", "--scope", "api.prod.delete_key"]);
        let (other, _) = v.create_json(&["--name", "other", "--env", "prod"]);
        let dotted = v.create(&["--name", "dot", "--env", "admin", "--scope", "api.prod.x.read_key"]);
        let s = admin(v);
        let create = json!({"apiId": "prod", "name": "x"});
        assert_eq!(call(&s, &reader, "keys.createKey", &create).0, 403);
        assert_eq!(call(&s, &reader, "keys.getKey", &json!({"keyId": prod_id})).0, 200);
        assert_eq!(call(&s, &reader, "keys.deleteKey", &json!({"keyId": prod_id})).0, 403);
        // A route needs its own permission, and only that one.
        assert_eq!(call(&s, &deleter, "keys.getKey", &json!({"keyId": prod_id})).0, 403);
        assert_eq!(call(&s, &deleter, "keys.deleteKey", &json!({"keyId": other["id"]})).0, 200);
        // A permission for environment a.b reaches neither a nor b.
        assert_eq!(call(&s, &dotted, "keys.getKey", &json!({"keyId": prod_id})).0, 404);
        // A root key for staging: prod is out of its reach.
        assert_eq!(call(&s, &staging, "keys.createKey", &create).0, 403);
        assert_eq!(call(&s, &staging, "keys.getKey", &json!({"keyId": prod_id})).0, 404);
        assert_eq!(call(&s, &staging, "keys.createKey", &json!({"apiId": "staging", "name": "x"})).0, 200);
        // Never the admin environment, not even with api.*.
        assert_eq!(call(&s, &everything, "keys.createKey", &json!({"apiId": "admin", "name": "x"})).0, 403);
        let root_key = v.json(["show", "root", "--env", "admin"]);
        assert_eq!(call(&s, &everything, "keys.getKey", &json!({"keyId": root_key["id"]})).0, 404);
        assert_eq!(call(&s, &everything, "keys.deleteKey", &json!({"keyId": root_key["id"]})).0, 404);
        // A key of another environment, or no key, is no root key.
        let web = v.create(&["--name", "web2", "--env", "prod", "--scope", "api.*.create_key"]);
        assert_eq!(call(&s, &web, "keys.createKey", &create).0, 401);
        assert_eq!(call(&s, "kw_nope", "keys.createKey", &create).0, 401);
        // Revoked with the CLI: the next request is refused.
        assert_eq!(call(&s, &everything, "keys.getKey", &json!({"keyId": prod_id})).0, 200);
        v.kw(["revoke", "all", "--env", "admin", "--yes"]).assert().success();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while call(&s, &everything, "keys.getKey", &json!({"keyId": prod_id})).0 != 401 {
            assert!(v.url.is_some() && std::time::Instant::now() < deadline, "a revoked root key still works");
        }
        assert_eq!(s.stop().0, Some(0));
        // Without --admin-env the routes are not there.
        let plain = Serve::start(v, &[], &[]);
        assert_eq!(call(&plain, &reader, "keys.getKey", &json!({"keyId": prod_id})).0, 404);
        assert_eq!(plain.stop().0, Some(0));
    }

    fn concurrent_admin_writes_obey_the_same_rules_as_the_cli(v: &TestVault) {
        let (_, root) = root(v, &ALL);
        v.kw(["config", "set", "max-keys-per-owner", "3"]).assert().success();
        v.create(&["--name", "main", "--env", "prod"]);
        let (key, _) = v.create_json(&["--name", "web", "--env", "prod"]);
        let id = key["id"].as_str().expect("id").to_string();
        let s = admin(v);
        let rerolls: Vec<u16> = std::thread::scope(|t| {
            let all: Vec<_> = (0..8)
                .map(|_| t.spawn(|| call(&s, &root, "keys.rerollKey", &json!({"keyId": id, "expiration": 60_000})).0))
                .collect();
            all.into_iter().map(|h| h.join().expect("reroll")).collect()
        });
        assert_eq!(rerolls.iter().filter(|s| **s == 200).count(), 1, "{rerolls:?}");
        assert_eq!(rerolls.iter().filter(|s| **s == 412).count(), 7, "{rerolls:?}");
        let creates: Vec<u16> = std::thread::scope(|t| {
            let all: Vec<_> = (0..12)
                .map(|n| {
                    let s = &s;
                    let root = &root;
                    t.spawn(move || call(s, root, "keys.createKey", &json!({"apiId": "prod", "name": format!("c{n}"), "externalId": "acct_9"})).0)
                })
                .collect();
            all.into_iter().map(|h| h.join().expect("create")).collect()
        });
        assert_eq!(creates.iter().filter(|s| **s == 200).count(), 3, "{creates:?}");
        assert_eq!(v.json(["list", "--owner", "acct_9", "--env", "prod"]).as_array().map(Vec::len), Some(3));
        assert_eq!(s.stop().0, Some(0));
    }

    fn bad_admin_requests_are_400s_that_change_nothing_and_echo_nothing(v: &TestVault) {
        let (_, root) = root(v, &ALL);
        let (key, secret) = v.create_json(&["--name", "web", "--env", "prod"]);
        let id = key["id"].as_str().expect("id");
        let s = admin(v);
        let before = v.dump();
        let big = "x".repeat(5000);
        for (route, body) in [
            ("keys.createKey", json!({"apiId": "prod", "meta": [1]})),
            ("keys.createKey", json!({"apiId": "prod", "meta": {"a": big}})),
            ("keys.createKey", json!({"apiId": "prod", "meta": {"k": secret}})),
            ("keys.createKey", json!({"apiId": "prod", "colour": "red"})),
            ("keys.createKey", json!({"apiId": "prod", "roles": ["admin"]})),
            ("keys.createKey", json!({"apiId": "prod", "byteLength": 32})),
            ("keys.createKey", json!({"apiId": "prod", "expires": "soon"})),
            ("keys.createKey", json!({"apiId": "prod", "ratelimits": [{"name": "a", "limit": 0, "duration": 1000}]})),
            ("keys.createKey", json!({"apiId": "prod", "credits": {"remaining": -1}})),
            ("keys.createKey", json!({"apiId": "", "name": "x"})),
            ("keys.createKey", json!({"name": "x"})),
            ("keys.updateKey", json!({"keyId": id, "enabled": false})),
            ("keys.deleteKey", json!({"keyId": id, "permanent": true})),
            ("keys.rerollKey", json!({"keyId": id})),
            ("keys.rerollKey", json!({"keyId": id, "expiration": -5})),
            ("apis.listKeys", json!({"apiId": "prod", "limit": 1000})),
            ("apis.listKeys", json!({"apiId": "prod", "decrypt": true})),
            // Times more than 10 years away, as the CLI refuses them.
            ("keys.createKey", json!({"apiId": "prod", "name": "far", "expires": 2_500_000_000_000_i64})),
            ("keys.updateKey", json!({"keyId": id, "expires": 2_500_000_000_000_i64})),
            ("keys.rerollKey", json!({"keyId": id, "expiration": i64::MAX})),
            ("keys.rerollKey", json!({"keyId": id, "expiration": 347_000_000_000_i64})),
            ("keys.createKey", json!({"apiId": "prod", "name": "past", "expires": -1})),
            ("keys.createKey", json!({"apiId": "prod", "name": "past", "expires": 1000})),
            ("keys.updateKey", json!({"keyId": id, "expires": 1000})),
        ] {
            let (status, e) = call(&s, &root, route, &body);
            assert_eq!(status, 400, "{route} {body}: {e}");
            assert!(e["error"]["errors"].is_array(), "{e}");
            assert!(!e.to_string().contains(&secret), "{route}: the secret was echoed");
        }
        let dup = s.post(
            "/v2/keys.createKey",
            &[("Authorization", &format!("Bearer {root}")), ("Content-Type", "application/json")],
            r#"{"apiId": "prod", "name": "a", "name": "b"}"#,
        );
        assert_eq!(dup.status, 400);
        assert_eq!(v.dump(), before, "nothing changed");
        assert_eq!(s.stop().0, Some(0));
    }
}

/// Administration over plain HTTP from another host is refused unless
/// `--admin-allow-plain-http`; from this host it is served.
#[test]
fn admin_routes_refuse_plain_http_from_another_host() {
    // An address of this host that is not loopback, if it has one.
    let Some(ip) = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|u| u.connect("192.0.2.1:9").map(|()| u))
        .and_then(|u| u.local_addr())
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
    else {
        skip(
            "the plain-HTTP admin test",
            "this host has no address but loopback",
        );
        return;
    };
    let v = TestVault::new();
    let (_, root) = root(&v, &ALL);
    let ask = |args: &[&str]| {
        let mut cmd = v.std(["serve", "--listen", "0.0.0.0:0", "--admin-env", "admin"]);
        cmd.args(args);
        let s = Serve::spawn(cmd, &v.dir().join("serve.log"));
        let mut stream = std::net::TcpStream::connect((ip, s.port)).expect("connect");
        let body = r#"{"apiId": "prod", "limit": 1}"#;
        let req = format!(
            "POST /v2/apis.listKeys HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {root}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        std::io::Write::write_all(&mut stream, req.as_bytes()).expect("send");
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stream, &mut out);
        let status = crate::common::serve::parse(&out).map(|r| r.status);
        let local = call(
            &s,
            &root,
            "apis.listKeys",
            &json!({"apiId": "prod", "limit": 1}),
        )
        .0;
        assert_eq!(s.stop().0, Some(0));
        (status, local)
    };
    assert_eq!(ask(&[]), (Some(403), 200));
    assert_eq!(ask(&["--admin-allow-plain-http"]), (Some(200), 200));
}

/// On a dual-stack listener a loopback peer arrives as ::ffff:127.0.0.1:
/// still this host.
#[test]
fn a_loopback_peer_of_a_dual_stack_listener_is_this_host() {
    if std::net::TcpListener::bind("[::]:0").is_err() {
        skip("the dual-stack admin test", "this host has no IPv6");
        return;
    }
    let v = TestVault::new();
    let (_, root) = root(&v, &ALL);
    let cmd = v.std(["serve", "--listen", "[::]:0", "--admin-env", "admin"]);
    let s = Serve::spawn(cmd, &v.dir().join("serve.log"));
    assert_eq!(
        call(&s, &root, "apis.listKeys", &json!({"apiId": "prod"})).0,
        200
    );
    assert_eq!(s.stop().0, Some(0));
}

/// `serve --env E` narrows the admin routes to E, as it narrows verdicts.
#[test]
fn serve_env_narrows_administration_too() {
    let v = TestVault::new();
    let (_, root) = root(&v, &ALL);
    let (prod, _) = v.create_json(&["--name", "web", "--env", "prod"]);
    let s = Serve::start(&v, &["--admin-env", "admin", "--env", "shop"], &[]);
    assert_eq!(
        call(
            &s,
            &root,
            "keys.createKey",
            &json!({"apiId": "prod", "name": "x"})
        )
        .0,
        403
    );
    assert_eq!(
        call(&s, &root, "apis.listKeys", &json!({"apiId": "prod"})).0,
        403
    );
    assert_eq!(
        call(&s, &root, "keys.getKey", &json!({"keyId": prod["id"]})).0,
        404
    );
    assert_eq!(
        call(
            &s,
            &root,
            "keys.createKey",
            &json!({"apiId": "shop", "name": "x"})
        )
        .0,
        200
    );
    assert_eq!(s.stop().0, Some(0));
}
