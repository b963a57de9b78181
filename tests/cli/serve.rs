//! `keyward serve`: forward auth, JSON verify, Unkey's verify, health,
//! metrics, freshness, usage, limits and bad input, on both engines.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::serve::{Serve, read_reply, signal};
use crate::common::*;

const HOUR_AGO: &str = "2026-11-23T11:00:00Z";
const ROOT_KEY: &str = "root-key-for-tests-0123456789";

fn root_env() -> [(&'static str, &'static str); 1] {
    [("KEYWARD_TEST_ROOT", ROOT_KEY)]
}

/// Polls `/v1/authz` until it answers `status` (at most `within`); returns
/// how long that took.
fn until_status(s: &Serve, secret: &str, status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let r = s.authz(secret, "");
        if r.status == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "still {} after {within:?}, expected {status}",
            r.status
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

crate::on_both_engines! {
    fn forward_auth_allows_live_keys_and_names_why_it_refuses(v: &TestVault) {
        // First: a later write happens no earlier than the newest event.
        let old = v
            .kw_at(HOUR_AGO, ["create", "--name", "short", "--expires", "30m"])
            .output()
            .expect("create");
        let old = String::from_utf8_lossy(&old.stdout).trim().to_string();
        let main = v.create(&["--name", "main"]);
        let web = v.create(&["--name", "web", "--scope", "read", "--scope", "deploy"]);
        let gone = v.create(&["--name", "gone"]);
        v.kw(["revoke", "gone", "--yes"]).assert().success();
        let staging = v.create(&["--name", "api", "--env", "staging"]);
        let s = Serve::start(v, &[], &[]);

        let ok = s.authz(&web, "?scope=read");
        assert_eq!(ok.status, 200, "{:?}", ok);
        assert!(ok.body.is_empty());
        assert!(ok.header("x-keyward-key-id").is_some_and(|id| id.starts_with("key_")));
        assert_eq!(ok.header("x-keyward-key-name"), Some("web"));
        assert_eq!(ok.header("x-keyward-env"), Some("default"));
        assert_eq!(ok.header("x-keyward-scopes"), Some("read,deploy"));
        assert_eq!(ok.header("x-keyward-status"), Some("active"));
        // X-API-Key works too, and scopes come from a header as well.
        let by_header = s.get(
            "/v1/authz",
            &[("X-API-Key", &web), ("X-Keyward-Require-Scope", "read, deploy")],
        );
        assert_eq!(by_header.status, 200);

        let refused = |r: &crate::common::serve::Reply, status: u16, code: &str| {
            assert_eq!(r.status, status, "{code}: {r:?}");
            assert_eq!(r.header("x-keyward-code"), Some(code));
            if status == 401 {
                assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"keyward\""));
            }
        };
        refused(&s.get("/v1/authz", &[]), 401, "API_KEY_MISSING");
        // A requirement that is there but empty (a proxy variable never
        // set) is refused, not read as "no scope needed"; two credentials
        // or two environments are refused, not guessed between.
        for (query, headers) in [
            ("?scope=", vec![("X-API-Key", web.as_str())]),
            ("?scope=read,", vec![("X-API-Key", web.as_str())]),
            ("", vec![("X-API-Key", web.as_str()), ("X-Keyward-Require-Scope", ",,")]),
            ("?env=default&env=staging", vec![("X-API-Key", web.as_str())]),
            ("", vec![("X-API-Key", web.as_str()), ("X-API-Key", main.as_str())]),
        ] {
            let r = s.get(&format!("/v1/authz{query}"), &headers);
            assert_eq!(r.status, 400, "{query} {headers:?}");
        }
        let two = s.raw(
            format!(
                "GET /v1/authz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {web}\r\n\
                 Authorization: Bearer {main}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        );
        assert_eq!(two.status, 400);
        refused(&s.get("/v1/authz", &[("Authorization", "Basic dXNlcjpwdw==")]), 401, "API_KEY_MISSING");
        refused(&s.authz(&foreign_secret(), ""), 401, "API_KEY_INVALID");
        refused(&s.authz("kw_typo", ""), 401, "API_KEY_INVALID");
        refused(&s.authz(&gone, ""), 401, "API_KEY_REVOKED");
        refused(&s.authz(&old, ""), 401, "API_KEY_EXPIRED");
        refused(&s.authz(&web, "?scope=read&scope=admin"), 403, "INSUFFICIENT_SCOPE");
        refused(&s.get("/v1/authz", &[("X-API-Key", &main), ("X-Keyward-Require-Scope", "read")]), 403, "INSUFFICIENT_SCOPE");
        // ?env= restricts: a key of another environment is not a key here.
        refused(&s.authz(&staging, "?env=default"), 401, "API_KEY_INVALID");
        assert_eq!(s.authz(&staging, "?env=staging").status, 200);
        // Envoy's ext_authz appends the request's path to /v1/authz.
        assert_eq!(s.get("/v1/authz/orders/7?x=1", &[("X-API-Key", &main)]).status, 200);
        // Any method: the body is ignored.
        let post = s.request("POST", "/v1/authz", &[("X-API-Key", &main)], Some("ignored"));
        assert_eq!(post.status, 200);

        // A key in grace still passes, and says so.
        v.kw(["rotate", "web", "--grace", "1h"]).assert().success();
        let started = Instant::now();
        loop {
            let grace = s.authz(&web, "");
            assert_eq!(grace.status, 200);
            if grace.header("x-keyward-status") == Some("grace") {
                break;
            }
            // PostgreSQL: within a second.
            assert!(v.url.is_some() && started.elapsed() < Duration::from_secs(1), "{grace:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn a_revoke_is_honoured_by_the_next_request_or_within_a_second(v: &TestVault) {
        let _main = v.create(&["--name", "main"]);
        let web = v.create(&["--name", "web"]);
        let s = Serve::start(v, &[], &[]);
        assert_eq!(s.authz(&web, "").status, 200);
        v.kw(["revoke", "web", "--yes"]).assert().success();
        if v.url.is_none() {
            // Every request that starts after the commit sees it.
            assert_eq!(s.authz(&web, "").header("x-keyward-code"), Some("API_KEY_REVOKED"));
        } else {
            until_status(&s, &web, 401, Duration::from_secs(1));
        }
        // A rotation with grace now ends the old key as promptly.
        let api = v.create(&["--name", "api"]);
        until_status(&s, &api, 200, Duration::from_secs(1));
        let new = stdout(&v.kw(["rotate", "api", "--grace", "now"]).assert().success());
        if v.url.is_none() {
            assert_eq!(s.authz(&api, "").status, 401);
        } else {
            until_status(&s, &api, 401, Duration::from_secs(1));
        }
        until_status(&s, new.trim(), 200, Duration::from_secs(1));
    }

    fn v1_verify_answers_as_the_cli_does(v: &TestVault) {
        let main = v.create(&["--name", "main", "--scope", "read"]);
        let s = Serve::start(v, &[], &[]);
        let json_type = [("Content-Type", "application/json")];
        let body = serde_json::json!({"key": main, "require_scopes": ["read"]}).to_string();
        let served = s.post("/v1/verify", &json_type, &body).json();
        let (_, cli) = v.verify(&main, &["--require-scope", "read"]);
        assert_eq!(served["valid"], true);
        assert_eq!(served["code"], "VALID");
        assert_eq!(served["key"]["id"], cli["key"]["id"]);
        assert_eq!(fields(&served["key"]), fields(&cli["key"]));

        let scoped = serde_json::json!({"key": main, "require_scopes": ["admin"]}).to_string();
        let refused = s.post("/v1/verify", &json_type, &scoped);
        assert_eq!(refused.status, 200);
        assert_eq!(refused.json(), serde_json::json!({"valid": false, "code": "INSUFFICIENT_SCOPE"}));
        let other_env = serde_json::json!({"key": main, "env": "prod"}).to_string();
        assert_eq!(s.post("/v1/verify", &json_type, &other_env).json()["code"], "API_KEY_INVALID");

        for bad in ["", "{", "[]", "{\"key\": 5}", "{\"scopes\": []}", "{\"key\": \"x\", \"extra\": 1}"] {
            let r = s.post("/v1/verify", &json_type, bad);
            assert_eq!(r.status, 400, "{bad}: {r:?}");
            assert_eq!(r.json()["error"]["code"], "BAD_REQUEST", "{bad}");
        }
        // The message never quotes the body (which holds a secret).
        let wrong_type = format!("{{\"key\": [\"{main}\"]}}");
        let r = s.post("/v1/verify", &json_type, &wrong_type);
        assert_eq!(r.status, 400);
        assert!(!r.text().contains(&main));
        let r = s.post("/v1/verify", &[("Content-Type", "text/plain")], &body);
        assert_eq!(r.status, 415);
        let big = format!("{{\"key\": \"{}\"}}", "a".repeat(20_000));
        assert_eq!(s.post("/v1/verify", &json_type, &big).status, 413);
        assert_eq!(s.get("/v1/verify", &[]).status, 405);
        let r = s.get("/nowhere", &[]);
        assert_eq!(r.status, 404);
        assert_eq!(r.json()["error"]["code"], "NOT_FOUND");
    }

    fn unkeys_verify_is_served_with_the_root_key(v: &TestVault) {
        let expiring = v.kw_at(HOUR_AGO, ["create", "--name", "old", "--expires", "30m"]).output().expect("create");
        let expiring = String::from_utf8_lossy(&expiring.stdout).trim().to_string();
        let main = v.create(&["--name", "main", "--scope", "documents.read"]);
        let gone = v.create(&["--name", "gone"]);
        v.kw(["revoke", "gone", "--yes"]).assert().success();
        let off = Serve::start(v, &[], &[]);
        let body = serde_json::json!({"key": main}).to_string();
        let r = off.post("/v2/keys.verifyKey", &[("Authorization", &format!("Bearer {ROOT_KEY}"))], &body);
        assert_eq!(r.status, 404, "off without --root-key-env");
        drop(off);

        let s = Serve::start(v, &["--root-key-env", "KEYWARD_TEST_ROOT"], &root_env());
        let root = format!("Bearer {ROOT_KEY}");
        let call = |body: Value| {
            s.post(
                "/v2/keys.verifyKey",
                &[("Authorization", &root), ("Content-Type", "application/json")],
                &body.to_string(),
            )
        };
        let ok = call(serde_json::json!({"key": main, "permissions": "documents.read OR admin"}));
        assert_eq!(ok.status, 200);
        assert_eq!(ok.header("content-type"), Some("application/json"));
        let doc = ok.json();
        assert!(doc["meta"]["requestId"].as_str().is_some_and(|id| !id.is_empty()));
        let data = &doc["data"];
        assert_eq!(data["valid"], true);
        assert_eq!(data["code"], "VALID");
        assert!(data["keyId"].as_str().is_some_and(|id| id.starts_with("key_")));
        assert_eq!(data["name"], "main");
        assert!(data.get("expires").is_none(), "no expiry: left out, as Unkey does");
        assert_eq!(data["enabled"], true);
        assert_eq!(data["permissions"], serde_json::json!(["documents.read"]));
        assert_eq!(data["meta"]["env"], "default");

        let code = |body: Value| call(body).json()["data"]["code"].clone();
        assert_eq!(code(serde_json::json!({"key": main, "permissions": "documents.read AND admin"})), "INSUFFICIENT_PERMISSIONS");
        assert_eq!(code(serde_json::json!({"key": gone})), "DISABLED");
        assert_eq!(code(serde_json::json!({"key": foreign_secret()})), "NOT_FOUND");
        assert_eq!(code(serde_json::json!({"key": "not a key"})), "NOT_FOUND");
        let expired = call(serde_json::json!({"key": expiring})).json();
        assert_eq!(expired["data"]["code"], "EXPIRED");
        assert!(expired["data"]["expires"].is_i64(), "unix ms: {expired}");

        // Errors in Unkey's shape.
        let missing = s.post("/v2/keys.verifyKey", &[], &body);
        assert_eq!(missing.status, 400);
        assert!(missing.json()["error"]["type"].is_string());
        assert!(missing.json()["error"]["errors"].is_array());
        let wrong = s.post("/v2/keys.verifyKey", &[("Authorization", "Bearer nope")], &body);
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.header("content-type"), Some("application/json"));
        let e = wrong.json();
        assert_eq!(e["error"]["status"], 401);
        assert!(e["error"]["type"].is_string() && e["error"]["title"].is_string() && e["error"]["detail"].is_string());
        assert!(e["meta"]["requestId"].is_string());
        for unsupported in [
            serde_json::json!({"key": main, "credits": {"cost": -1}}),
            serde_json::json!({"key": main, "credits": {"price": 1}}),
            serde_json::json!({"key": main, "ratelimits": [{"name": "x"}]}),
            serde_json::json!({"key": main, "ratelimits": [{"name": "x", "limit": 5}]}),
            serde_json::json!({"key": main, "permissions": "a AND"}),
            serde_json::json!({"key": 5}),
        ] {
            let r = call(unsupported.clone());
            assert_eq!(r.status, 400, "{unsupported}");
            let e = r.json();
            assert!(e["error"]["errors"].as_array().is_some_and(|a| !a.is_empty()), "{e}");
            assert!(!r.text().contains(&main), "a 400 never quotes the key");
        }
    }

    fn usage_is_counted_and_written_at_shutdown(v: &TestVault) {
        let main = v.create(&["--name", "main"]);
        let (key, web) = v.create_json(&["--name", "web"]);
        let id = key["id"].as_str().expect("id").to_string();
        let s = Serve::start(v, &[], &[]);
        for _ in 0..3 {
            assert_eq!(s.authz(&web, "").status, 200);
        }
        assert_eq!(s.authz(&web, "?scope=admin").status, 403);
        assert_eq!(s.authz(&main, "").status, 200);
        let (code, log) = s.stop();
        assert_eq!(code, Some(0), "{log}");
        let shown = v.json(["show", &id]);
        assert_eq!(
            shown["usage"],
            serde_json::json!([{"day": "2026-11-23", "valid": 3, "invalid": 1}])
        );
        assert_eq!(shown["last_used_at"], NOW);
        let human = stdout(&v.kw(["show", &id]).assert().success());
        assert!(human.contains("2026-11-23  3      1"), "{human}");
        // list --unused-for sees serve's last use.
        let unused = v.json(["list", "--unused-for", "1h"]);
        assert!(unused.as_array().expect("list").iter().all(|k| k["id"] != id.as_str()));
        // copy carries the counts.
        let dest = v.like();
        v.kw(["copy", "--to"]).arg(dest.location()).assert().success();
        assert_eq!(dest.json(["show", &id])["usage"], shown["usage"]);
        // A key serve never saw has no usage field.
        let quiet = v.create_json(&["--name", "quiet"]).0;
        assert!(v.json(["show", quiet["id"].as_str().expect("id")]).get("usage").is_none());
    }

    fn health_readiness_and_metrics(v: &TestVault) {
        let main = v.create(&["--name", "main"]);
        let s = Serve::start(v, &[], &[]);
        assert_eq!(s.get("/healthz", &[]).status, 200);
        assert_eq!(s.get("/readyz", &[]).status, 200);
        s.authz(&main, "");
        s.authz(&foreign_secret(), "");
        let m = s.get("/metrics", &[]);
        assert_eq!(m.status, 200);
        let text = m.text();
        assert!(text.contains("keyward_verifications_total{code=\"VALID\"} 1"), "{text}");
        assert!(text.contains("keyward_verifications_total{code=\"API_KEY_INVALID\"} 1"), "{text}");
        assert!(text.contains("keyward_request_duration_seconds_bucket"), "{text}");
        assert!(text.contains("keyward_vault_errors_total 0"), "{text}");
        s.get("/v1/authz", &[]);
        let text = s.get("/metrics", &[]).text();
        assert!(text.contains("keyward_verifications_total{code=\"API_KEY_MISSING\"} 1"), "{text}");
        assert_eq!(s.request("DELETE", "/healthz", &[], None).status, 405);
    }

    fn secrets_never_reach_the_log_the_metrics_or_error_bodies(v: &TestVault) {
        let main = v.create(&["--name", "main"]);
        let gone = v.create(&["--name", "gone"]);
        v.kw(["revoke", "gone", "--yes"]).assert().success();
        let s = Serve::start(v, &["--root-key-env", "KEYWARD_TEST_ROOT"], &root_env());
        let stranger = foreign_secret();
        let mut bodies = Vec::new();
        for secret in [&main, &gone, &stranger] {
            bodies.push(s.authz(secret, "").text());
            bodies.push(s.get(&format!("/v1/authz?key={secret}"), &[]).text());
            bodies.push(s.get(&format!("/{secret}"), &[]).text());
            bodies.push(s.post("/v1/verify", &[], &format!("{{\"key\": \"{secret}\", \"bad\": 1}}")).text());
            bodies.push(s.post("/v1/verify", &[], &format!("{{\"key\": [\"{secret}\"]}}")).text());
            bodies.push(s.post("/v2/keys.verifyKey", &[("Authorization", &format!("Bearer {secret}"))], "{}").text());
            bodies.push(
                s.post(
                    "/v2/keys.verifyKey",
                    &[("Authorization", &format!("Bearer {ROOT_KEY}"))],
                    &format!("{{\"key\": \"{secret}\", \"credits\": {{}}}}"),
                )
                .text(),
            );
        }
        bodies.push(s.get("/metrics", &[]).text());
        let (code, log) = s.stop();
        assert_eq!(code, Some(0));
        let everything = format!("{log}\n{}", bodies.join("\n"));
        for secret in [&main, &gone, &stranger, &ROOT_KEY.to_string()] {
            assert!(!everything.contains(secret.as_str()), "{secret} leaked:\n{everything}");
            let body = &secret[secret.len() - 20..];
            assert!(!everything.contains(body), "part of {secret} leaked");
        }
        assert!(!everything.contains("Bearer "), "an Authorization header leaked");
        assert!(log.contains("hint=kw_…"), "the log names keys by hint: {log}");
    }
}

#[test]
fn bad_http_input_gets_its_status_and_the_server_keeps_serving() {
    let v = TestVault::new();
    let main = v.create(&["--name", "main"]);
    let s = Serve::start(&v, &[], &[]);
    // A slow client that never finishes its head holds nothing up.
    let mut slow = s.connect();
    slow.write_all(b"GET /v1/authz HTTP/1.1\r\nHost: x\r\n")
        .expect("send");
    // Half-closed: the request is sent, then the client shuts its side.
    let mut half = s.connect();
    half.write_all(
        format!("GET /v1/authz HTTP/1.1\r\nHost: x\r\nX-API-Key: {main}\r\n\r\n").as_bytes(),
    )
    .expect("send");
    half.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let r = read_reply(&mut half).expect("a reply to a half-closed connection");
    assert_eq!(r.status, 200);

    let huge = format!("Bearer {}", "a".repeat(1 << 20));
    let r = s.raw(
        format!("GET /v1/authz HTTP/1.1\r\nHost: x\r\nAuthorization: {huge}\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 431);
    let many: String = (0..400)
        .map(|i| format!("X-Filler-{i}: {}\r\n", "b".repeat(40)))
        .collect();
    let r = s.raw(format!("GET /v1/authz HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes());
    assert_eq!(r.status, 431);
    let r = s.raw(b"NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(r.status, 400);
    let r = s.raw(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n");
    assert_eq!(r.status, 413);
    // A secret past 512 bytes is invalid, not hashed.
    let long = format!("kw_{}", "A".repeat(600));
    assert_eq!(
        s.authz(&long, "").header("x-keyward-code"),
        Some("API_KEY_INVALID")
    );
    // Keep-alive: several requests on one connection.
    let mut conn = s.connect();
    for _ in 0..3 {
        conn.write_all(
            format!("GET /v1/authz HTTP/1.1\r\nHost: x\r\nX-API-Key: {main}\r\n\r\n").as_bytes(),
        )
        .expect("send");
        assert_eq!(read_reply(&mut conn).expect("reply").status, 200);
    }
    // And all along the server kept answering others.
    assert_eq!(s.authz(&main, "").status, 200);
    drop(slow);
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn a_request_in_flight_at_sigterm_is_finished() {
    let v = TestVault::new();
    let main = v.create(&["--name", "main"]);
    let s = Serve::start(&v, &[], &[]);
    let body = format!("{{\"key\": \"{main}\"}}");
    let mut conn = s.connect();
    conn.write_all(
        format!(
            "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .expect("head");
    std::thread::sleep(Duration::from_millis(200));
    signal(s.pid(), "TERM");
    std::thread::sleep(Duration::from_millis(200));
    conn.write_all(body.as_bytes()).expect("body");
    let r = read_reply(&mut conn).expect("the request in flight is answered");
    assert_eq!(r.json()["valid"], true);
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("SIGTERM"), "{log}");
}

#[test]
fn a_vault_that_disappears_or_is_locked_is_a_503_never_a_200() {
    let v = TestVault::new();
    let main = v.create(&["--name", "main"]);
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&main, "").status, 200);
    let aside = v.dir().join("aside.db");
    std::fs::rename(&v.path, &aside).expect("move the vault away");
    // serve looks at the path at most once a millisecond.
    std::thread::sleep(Duration::from_millis(5));
    let r = s.authz(&main, "");
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.header("x-keyward-code"), Some("VAULT_UNAVAILABLE"));
    assert_eq!(s.get("/readyz", &[]).status, 503);
    std::fs::rename(&aside, &v.path).expect("put it back");
    assert_eq!(s.get("/readyz", &[]).status, 200);
    assert_eq!(s.authz(&main, "").status, 200);

    // Another vault put in its place is read, not the old file.
    let other = TestVault::new();
    other.create(&["--name", "other"]);
    std::fs::copy(&other.path, v.dir().join("swap.db")).expect("copy");
    std::fs::rename(v.dir().join("swap.db"), &v.path).expect("swap");
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(s.authz(&main, "").status, 401);

    // A writer holding the lock for seconds does not hold up a verdict:
    // the right one comes at once.
    let mine = other.create(&["--name", "mine"]);
    std::fs::copy(&other.path, v.dir().join("swap.db")).expect("copy");
    std::fs::rename(v.dir().join("swap.db"), &v.path).expect("swap");
    let holder = rusqlite::Connection::open(&v.path).expect("open");
    holder
        .execute_batch("BEGIN EXCLUSIVE; UPDATE settings SET value = value;")
        .expect("lock");
    let started = Instant::now();
    assert_eq!(s.authz(&mine, "").status, 200);
    assert_eq!(s.authz(&main, "").status, 401);
    assert_eq!(s.get("/readyz", &[]).status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered in {:?}",
        started.elapsed()
    );
    holder.execute_batch("COMMIT").expect("commit");
}

#[test]
fn postgres_freshness_survives_a_lost_connection() {
    let Some(v) = TestVault::postgres() else {
        return;
    };
    let _main = v.create(&["--name", "main"]);
    let web = v.create(&["--name", "web"]);
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&web, "").status, 200);
    let url = v.url.clone().expect("url");
    let mut admin = crate::common::pg::client(&url);
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .expect("terminate serve's sessions");
    // While it reconnects, a change made meanwhile is not missed: the
    // reconnect catches up from the activity log (see follow.rs).
    v.kw(["revoke", "web", "--yes"]).assert().success();
    until_status(&s, &web, 401, Duration::from_secs(3));
    assert_eq!(s.get("/readyz", &[]).status, 200);
}

#[test]
fn serve_refuses_bad_flags_and_missing_vaults() {
    let v = TestVault::new();
    v.kw(["serve"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no vault at"));
    v.create(&["--name", "main"]);
    v.kw(["serve", "--listen", "nowhere"]).assert().code(2);
    v.kw(["serve", "--listen", "127.0.0.1:99999"])
        .assert()
        .code(2);
    v.kw(["serve", "--root-key-env", "KEYWARD_UNSET_ROOT"])
        .env_remove("KEYWARD_UNSET_ROOT")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("KEYWARD_UNSET_ROOT"));
    v.kw(["serve", "--root-key-env", "EMPTY_ROOT"])
        .env("EMPTY_ROOT", "")
        .assert()
        .code(2);
    // A port in use is a runtime error naming it.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    v.kw(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(port.to_string()));
}

/// serve run as a user who can read the vault but not write it: the
/// connections it opens read the file as it is then, so each serves one
/// lookup, and a revoke made by the vault's owner is honoured at once.
#[test]
fn a_vault_serve_can_only_read_still_gets_fresh_verdicts() {
    if !is_root() {
        crate::common::skip(
            "the read-only serve test",
            "it needs root to run serve as nobody",
        );
        return;
    }
    let v = TestVault::new();
    v.create(&["--name", "main"]);
    let web = v.create(&["--name", "web"]);
    let logs = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        logs.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    std::fs::set_permissions(v.dir(), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    // As an operator would let a service account read it.
    std::fs::set_permissions(&v.path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .arg("--vault")
        .arg(&v.path)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("KEYWARD_NOW", NOW)
        .env_remove("KEYWARD_VAULT");
    let s = Serve::spawn(cmd, &logs.path().join("serve.log"));
    assert_eq!(s.authz(&web, "").status, 200);
    v.kw(["revoke", "web", "--yes"]).assert().success();
    assert_eq!(
        s.authz(&web, "").header("x-keyward-code"),
        Some("API_KEY_REVOKED")
    );
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(
        log.matches("they are lost").count(),
        1,
        "the lost counts are reported once: {log}"
    );
    assert!(log.contains("read-only"), "with the reason: {log}");
}

/// serve keeps keys it found in memory (SQLite) and answers from there only
/// while the vault's WAL index shows no commit since. Commits made by
/// processes that delete the WAL files as they exit, and by processes while
/// another connection keeps them, are each seen by the very next request.
#[test]
fn every_request_after_a_commit_sees_it_whoever_keeps_the_wal() {
    let v = TestVault::new();
    v.create(&["--name", "main"]);
    let s = Serve::start(&v, &[], &[]);
    for round in 0..6 {
        // Odd rounds: another connection holds the WAL files open, so
        // commits change the mapped index instead of replacing it.
        let keeper = (round % 2 == 1).then(|| {
            let c = rusqlite::Connection::open(&v.path).expect("open");
            c.query_row("SELECT count(*) FROM keys", [], |r| r.get::<_, i64>(0))
                .expect("read");
            c
        });
        let name = format!("k{round}");
        let secret = v.create(&["--name", &name]);
        for _ in 0..3 {
            assert_eq!(s.authz(&secret, "").status, 200, "round {round}");
        }
        v.kw(["update", &name, "--add-scope", "extra"])
            .assert()
            .success();
        let scoped = s.authz(&secret, "?scope=extra");
        assert_eq!(scoped.status, 200, "round {round}: the new scope is seen");
        v.kw(["revoke", &name, "--yes"]).assert().success();
        assert_eq!(
            s.authz(&secret, "").header("x-keyward-code"),
            Some("API_KEY_REVOKED"),
            "round {round}"
        );
        drop(keeper);
    }
}

/// Counts held for a key the vault no longer has (it was replaced by
/// another under serve) are dropped; they never hold up the others.
#[test]
fn usage_of_a_key_gone_from_a_replaced_vault_does_not_block_the_rest() {
    let v = TestVault::new();
    let x = v.create(&["--name", "x"]);
    let other = TestVault::new();
    let (y_key, y) = other.create_json(&["--name", "y"]);
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&x, "").status, 200);
    std::fs::copy(&other.path, v.dir().join("swap.db")).expect("copy");
    std::fs::rename(v.dir().join("swap.db"), &v.path).expect("swap");
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(s.authz(&y, "").status, 200);
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(!log.contains("lost"), "{log}");
    let shown = v.json(["show", y_key["id"].as_str().expect("id")]);
    assert_eq!(shown["usage"][0]["valid"], 1, "{shown}");
}

/// SIGTERM while another process keeps the vault locked: serve still stops
/// within the documented 10 s (plus a little for the process to end), and
/// says once that the counts it could not write are lost.
#[test]
fn a_locked_vault_never_holds_up_shutdown_past_ten_seconds() {
    let v = TestVault::new();
    let main = v.create(&["--name", "main"]);
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&main, "").status, 200);
    let holder = rusqlite::Connection::open(&v.path).expect("open");
    holder
        .execute_batch("BEGIN EXCLUSIVE; UPDATE settings SET value = value;")
        .expect("lock");
    let started = Instant::now();
    let (code, log) = s.stop();
    let took = started.elapsed();
    holder.execute_batch("ROLLBACK").expect("rollback");
    assert_eq!(code, Some(0), "{log}");
    assert!(
        took < Duration::from_secs(12),
        "stopped after {took:?}\n{log}"
    );
    assert_eq!(log.matches("they are lost").count(), 1, "{log}");
}

/// A vault whose keys cannot be read is not ready, even where the small
/// reads a probe makes still work: readiness never says yes while lookups
/// are answered 503.
#[test]
fn a_vault_whose_keys_cannot_be_read_is_not_ready() {
    let v = TestVault::new();
    let main = v.create(&["--name", "main"]);
    let (root, page): (i64, i64) = {
        let c = v.sql();
        let root = c
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'keys'",
                [],
                |r| r.get(0),
            )
            .expect("rootpage");
        let page = c
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size");
        (root, page)
    };
    // Damaged under a running serve (it refuses to start on such a vault).
    let s = Serve::start(&v, &[], &[]);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&v.path)
            .expect("open");
        f.seek(SeekFrom::Start(((root - 1) * page) as u64))
            .expect("seek");
        f.write_all(&vec![0x55; page as usize]).expect("write");
    }
    let r = s.authz(&main, "");
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(s.get("/readyz", &[]).status, 503);
}

/// Damage to some of the keys: once a lookup has found it, readiness says
/// so until another file is at the path, even while lookups of other keys
/// still work (a probe of its own cannot know which rows are damaged).
#[test]
fn a_vault_found_damaged_stays_not_ready_until_it_is_replaced() {
    let v = TestVault::new();
    v.kw(["config", "set", "max-keys", "100"])
        .assert()
        .success();
    let note = "n".repeat(60);
    let secrets: Vec<String> = (0..60)
        .map(|i| v.create(&["--name", &format!("k{i}"), "--note", &note]))
        .collect();
    let (leaf, page): (i64, i64) = {
        let c = v.sql();
        let leaf = c
            .query_row(
                "SELECT pageno FROM dbstat WHERE name = 'keys' AND pagetype = 'leaf' \
                 ORDER BY pageno LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("a leaf page of keys");
        let page = c
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size");
        (leaf, page)
    };
    let s = Serve::start(&v, &[], &[]);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&v.path)
            .expect("open");
        f.seek(SeekFrom::Start(((leaf - 1) * page + 8) as u64))
            .expect("seek");
        f.write_all(&[0xff; 64]).expect("write");
    }
    let (mut failed, mut answered) = (false, false);
    for secret in &secrets {
        let status = s.authz(secret, "").status;
        failed |= status == 503;
        answered |= status == 200;
        if failed {
            assert_eq!(
                s.get("/readyz", &[]).status,
                503,
                "after a lookup found damage"
            );
        }
    }
    assert!(
        failed && answered,
        "the damage is partial: some keys read, some not"
    );
    // A sound file moved over it: ready again.
    let other = TestVault::new();
    other.create(&["--name", "other"]);
    std::fs::copy(&other.path, v.dir().join("swap.db")).expect("copy");
    std::fs::rename(v.dir().join("swap.db"), &v.path).expect("swap");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.get("/readyz", &[]).status, 200);
}

/// A stderr nobody reads (a pipe whose reader stalled) holds up neither the
/// requests nor the stop: after SIGTERM serve writes its usage counts and
/// exits within the 10 s supervisors wait, with the lines it could not
/// write left behind.
#[test]
fn a_stderr_nobody_reads_holds_up_neither_requests_nor_the_stop() {
    use std::io::{BufRead, BufReader};
    let v = TestVault::new();
    let (key, secret) = v.create_json(&["--name", "web"]);
    let mut cmd = v.std(["serve", "--listen", "127.0.0.1:0"]);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("start serve");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let port: u16 = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).expect("read") > 0,
            "serve ended"
        );
        if let Some(at) = line.find("address=") {
            let addr: String = line[at + "address=".len()..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            break addr
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port");
        }
    };
    // From here on nobody reads: 4,000 request lines are far more than a
    // pipe holds (64 KiB).
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let request =
        format!("GET /v1/authz HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {secret}\r\n\r\n");
    for _ in 0..4_000 {
        conn.write_all(request.as_bytes()).expect("send");
        let reply = read_reply(&mut conn).expect("a reply");
        assert_eq!(reply.status, 200);
    }
    drop(conn);
    // Past the log's 50 ms flush: its writer is now blocked on the pipe.
    std::thread::sleep(Duration::from_millis(200));
    signal(child.id(), "TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "serve did not exit within 10 s of SIGTERM with its stderr unread"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    drop(stderr);
    let shown = v.json(["show", key["id"].as_str().expect("id")]);
    assert_eq!(shown["usage"][0]["valid"], 4_000, "{shown}");
}
