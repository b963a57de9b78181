//! serve's request rules, the same on every route: configuration mistakes
//! fail closed (a parameter, header or member keyward does not know, one
//! given twice, an empty requirement), never drop a requirement, and are
//! named in the 400 without quoting a value; `--env`/`$KEYWARD_ENV`
//! narrows every route; every response, even one the HTTP parser gives,
//! has its log line.

use crate::common::serve::Serve;
use crate::common::*;

const ROOT: &str = "root-key-for-tests-0123456789";

fn unkey_headers() -> [(&'static str, String); 2] {
    [
        ("Authorization", format!("Bearer {ROOT}")),
        ("Content-Type", "application/json".to_string()),
    ]
}

#[test]
fn misspelt_authz_requirements_are_a_400_naming_the_parameter_never_its_value() {
    let v = TestVault::new();
    let read = v.create(&["--name", "web", "--scope", "read"]);
    let s = Serve::start(&v, &[], &[]);
    for (query, named) in [
        ("?scopes=admin", "scopes"),
        ("?Scope=admin", "Scope"),
        ("?SCOPE=admin", "SCOPE"),
        ("?scope[]=admin", "scope[]"),
        ("?scope%5B%5D=admin", "scope[]"),
        ("?;scope=admin", ";scope"),
        ("?scope=read&scopes=admin", "scopes"),
        ("?Env=secret-env", "Env"),
    ] {
        let r = s.authz(&read, query);
        assert_eq!(r.status, 400, "{query}: {r:?}");
        let message = r.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains(&format!("'{named}'")),
            "{query}: {message}"
        );
        assert!(
            !message.contains("admin") && !message.contains("secret-env"),
            "{query}: {message}"
        );
    }
    // An empty environment is a proxy variable never set, not "any".
    for query in ["?env=", "?env", "?env=&scope=read"] {
        assert_eq!(s.authz(&read, query).status, 400, "{query}");
    }
    // X-Keyward-* request headers keyward does not know.
    for header in [
        "X-Keyward-Require-Scopes",
        "X-Keyward-Scopes",
        "X-Keyward-Env",
        "x-keyward-scope",
    ] {
        let r = s.get("/v1/authz", &[("X-API-Key", &read), (header, "admin")]);
        assert_eq!(r.status, 400, "{header}");
        let text = r.text();
        assert!(
            text.contains(&header.to_ascii_lowercase()) && !text.contains("admin"),
            "{text}"
        );
    }
    // A parameter or header whose name is a secret is named by its hint.
    let r = s.get(&format!("/v1/authz?{read}=1"), &[]);
    assert_eq!(r.status, 400);
    assert!(
        !r.text().contains(&read[3..]) && r.text().contains("kw_…"),
        "{}",
        r.text()
    );
    let named = format!("x-keyward-{}", read.to_ascii_lowercase());
    let r = s.get("/v1/authz", &[("X-API-Key", &read), (&named, "1")]);
    assert_eq!(r.status, 400);
    assert!(
        !r.text().contains(&read.to_ascii_lowercase()[3..]),
        "{}",
        r.text()
    );
    // What is spelt right still works.
    assert_eq!(s.authz(&read, "?scope=read&env=default").status, 200);
    assert_eq!(s.authz(&read, "?scope=admin").status, 403);
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        !log.contains("secret-env"),
        "no query value in the log: {log}"
    );
}

#[test]
fn below_authz_the_query_is_the_clients_yet_no_requirement_in_it_is_dropped() {
    let v = TestVault::new();
    let read = v.create(&["--name", "web", "--scope", "read"]);
    let s = Serve::start(&v, &[], &[]);
    // Envoy's path_prefix: /v1/authz + the client's path and query, which
    // keyward does not read for requirements.
    for path in [
        "/v1/authz/orders?page=2",
        "/v1/authz/orders?q=a,b&envelope=x",
        "/v1/authz/",
    ] {
        let r = s.get(path, &[("X-API-Key", &read)]);
        assert_eq!(r.status, 200, "{path}: {r:?}");
    }
    // But a parameter named like a requirement may be a proxy address
    // written /v1/authz/?scope=...: refused, never dropped.
    for path in [
        "/v1/authz/?scope=admin",
        "/v1/authz/?scopes=admin",
        "/v1/authz/orders?Env=prod",
    ] {
        let r = s.get(path, &[("X-API-Key", &read)]);
        assert_eq!(r.status, 400, "{path}: {r:?}");
        assert!(
            !r.text().contains("admin") && !r.text().contains("prod"),
            "{}",
            r.text()
        );
    }
    let r = s.get(
        "/v1/authz/orders",
        &[("X-API-Key", &read), ("X-Keyward-Require-Scope", "admin")],
    );
    assert_eq!(r.header("x-keyward-code"), Some("INSUFFICIENT_SCOPE"));
    let r = s.get(
        "/v1/authz/orders",
        &[("X-API-Key", &read), ("X-Keyward-Require-Scope", "")],
    );
    assert_eq!(r.status, 400);
    let r = s.get(
        "/v1/authz/orders",
        &[("X-API-Key", &read), ("X-Keyward-Scopes", "admin")],
    );
    assert_eq!(r.status, 400);
}

#[test]
fn json_members_twice_unknown_members_and_two_authorization_headers_are_refused() {
    let v = TestVault::new();
    let main = v.create(&["--name", "main", "--scope", "read"]);
    let other = v.create(&["--name", "other"]);
    let s = Serve::start(
        &v,
        &["--root-key-env", "KEYWARD_TEST_ROOT"],
        &[("KEYWARD_TEST_ROOT", ROOT)],
    );
    let json = [("Content-Type", "application/json")];
    // /v1/verify: twice, at the top or inside, and unknown members.
    for body in [
        format!(r#"{{"key": "{main}", "key": "{other}"}}"#),
        format!(r#"{{"key": "{main}", "require_scopes": [], "require_scopes": ["read"]}}"#),
        format!(r#"{{"key": "{main}", "require_scope": ["admin"]}}"#),
        format!(r#"{{"key": "{main}", "env": ""}}"#),
    ] {
        let r = s.post("/v1/verify", &json, &body);
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_eq!(r.json()["error"]["code"], "BAD_REQUEST");
        assert!(!r.text().contains(&main) && !r.text().contains(&other));
    }
    let twice = s.post(
        "/v1/verify",
        &json,
        &format!(r#"{{"key": "{main}", "key": "{other}"}}"#),
    );
    assert!(
        twice.text().contains("'key' appears twice"),
        "{}",
        twice.text()
    );

    // Unkey's route: the same rules, in Unkey's error shape.
    let headers = unkey_headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let call = |body: &str| s.post("/v2/keys.verifyKey", &headers, body);
    for (body, location) in [
        (format!(r#"{{"key": "{main}", "key": "{other}"}}"#), "body"),
        (
            format!(r#"{{"key": "{main}", "permission": "admin"}}"#),
            "body.permission",
        ),
        (
            format!(r#"{{"key": "{main}", "Permissions": "admin"}}"#),
            "body.Permissions",
        ),
        (
            format!(r#"{{"key": "{main}", "apiId": "api_1"}}"#),
            "body.apiId",
        ),
        (
            format!(r#"{{"key": "{main}", "tags": "a=b"}}"#),
            "body.tags",
        ),
    ] {
        let r = call(&body);
        assert_eq!(r.status, 400, "{body}: {r:?}");
        let e = r.json();
        assert_eq!(e["error"]["status"], 400);
        assert_eq!(e["error"]["errors"][0]["location"], location, "{e}");
        assert!(!r.text().contains(&main));
    }
    // A member whose name is a secret is named by its hint, on both routes.
    let r = call(&format!(r#"{{"key": "x", "{main}": 1}}"#));
    assert_eq!(r.status, 400);
    assert!(!r.text().contains(&main[3..]), "{}", r.text());
    let r = s.post(
        "/v1/verify",
        &json,
        &format!(r#"{{"key": "x", "{main}": 1}}"#),
    );
    assert_eq!(r.status, 400);
    assert!(!r.text().contains(&main[3..]), "{}", r.text());
    // Unkey's tags are analytics only: accepted, and the verdict is the same.
    let tagged = call(&format!(
        r#"{{"key": "{main}", "tags": ["endpoint=/orders"], "permissions": "read"}}"#
    ));
    assert_eq!(tagged.json()["data"]["code"], "VALID", "{tagged:?}");

    // Two Authorization headers: refused on every route, never one picked.
    let two = |path: &str, body: &str| {
        s.raw(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ROOT}\r\n\
                 Authorization: Bearer {main}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    };
    let body = format!(r#"{{"key": "{main}"}}"#);
    let r = two("/v2/keys.verifyKey", &body);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json()["error"]["errors"][0]["location"],
        "header.Authorization"
    );
    assert!(r.json()["meta"]["requestId"].is_string());
    assert_eq!(two("/v1/verify", &body).status, 400);
    assert_eq!(two("/v1/authz", "").status, 400);
}

#[test]
fn serve_env_narrows_every_route_and_a_request_may_only_narrow_further() {
    let v = TestVault::new();
    let prod = v.create(&["--name", "api", "--env", "prod"]);
    let staging = v.create(&["--name", "api", "--env", "staging"]);
    let json = [("Content-Type", "application/json")];
    for (args, envs) in [
        (vec!["--env", "prod"], vec![]),
        (vec![], vec![("KEYWARD_ENV", "prod")]),
    ] {
        let mut args = args;
        args.extend(["--root-key-env", "KEYWARD_TEST_ROOT"]);
        let mut envs = envs;
        envs.push(("KEYWARD_TEST_ROOT", ROOT));
        let s = Serve::start(&v, &args, &envs);
        assert!(s.log_text().contains("env=prod"), "{}", s.log_text());
        assert_eq!(s.authz(&prod, "").status, 200);
        assert_eq!(s.authz(&prod, "?env=prod").status, 200);
        let r = s.authz(&staging, "");
        assert_eq!(
            r.header("x-keyward-code"),
            Some("API_KEY_INVALID"),
            "{args:?}"
        );
        // ?env= never widens past serve's environment.
        assert_eq!(
            s.authz(&staging, "?env=staging").header("x-keyward-code"),
            Some("API_KEY_INVALID")
        );
        assert_eq!(
            s.authz(&prod, "?env=staging").header("x-keyward-code"),
            Some("API_KEY_INVALID")
        );
        let body = |key: &str, env: &str| format!(r#"{{"key": "{key}", "env": "{env}"}}"#);
        assert_eq!(
            s.post("/v1/verify", &json, &body(&staging, "staging"))
                .json()["code"],
            "API_KEY_INVALID"
        );
        assert_eq!(
            s.post("/v1/verify", &json, &body(&prod, "prod")).json()["code"],
            "VALID"
        );
        let headers = unkey_headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let unkey = |key: &str| {
            s.post(
                "/v2/keys.verifyKey",
                &headers,
                &format!(r#"{{"key": "{key}"}}"#),
            )
            .json()["data"]["code"]
                .clone()
        };
        assert_eq!(unkey(&staging), "NOT_FOUND");
        assert_eq!(unkey(&prod), "VALID");
    }
    // A mistyped environment refuses every key, and says so at start.
    let s = Serve::start(&v, &["--env", "prdo"], &[]);
    assert!(s.log_text().contains("has no keys"), "{}", s.log_text());
    assert_eq!(s.authz(&prod, "").status, 401);
    drop(s);
    // Without either, every environment's keys verify, and ?env= narrows.
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&staging, "").status, 200);
    assert_eq!(s.authz(&staging, "?env=prod").status, 401);
}

#[test]
fn verify_env_narrows_to_one_environment() {
    let v = TestVault::new();
    let _main = v.create(&["--name", "main"]);
    let staging = v.create(&["--name", "api", "--env", "staging"]);
    assert_eq!(v.verify(&staging, &[]).0, Some(0));
    assert_eq!(v.verify(&staging, &["--env", "staging"]).0, Some(0));
    let (code, doc) = v.verify(&staging, &["--env", "prod"]);
    assert_eq!(code, Some(5));
    assert_eq!(
        doc,
        serde_json::json!({"valid": false, "code": "API_KEY_INVALID"})
    );
    let out = v
        .kw(["--json", "verify"])
        .env("KEYWARD_ENV", "prod")
        .write_stdin(format!("{staging}\n"))
        .output()
        .expect("verify");
    assert_eq!(out.status.code(), Some(5));
    // --env overrides $KEYWARD_ENV, as for every command.
    v.kw(["verify", "--env", "staging"])
        .env("KEYWARD_ENV", "prod")
        .write_stdin(format!("{staging}\n"))
        .assert()
        .code(0);
    // An option verify does not have is named as such, not taken for a secret.
    let a = v
        .kw(["verify", "--environment", "prod"])
        .write_stdin(format!("{staging}\n"))
        .assert()
        .code(2);
    let err = stderr(&a);
    assert!(err.contains("no option '--environment'"), "{err}");
    assert!(!err.contains("as an argument"), "{err}");
    let a = v
        .kw(["verify", "--env", ""])
        .write_stdin(format!("{staging}\n"))
        .assert()
        .code(2);
    assert!(stderr(&a).contains("environment"), "{}", stderr(&a));
}

#[test]
fn more_than_100_header_lines_is_a_431_and_every_refused_head_has_a_log_line() {
    let v = TestVault::new();
    let main = v.create(&["--name", "main"]);
    let s = Serve::start(&v, &[], &[]);
    // 100 lines pass; 101 are refused though the head is far below 16 KiB
    // (hyper's limit on header lines, documented with the 16 KiB one).
    let lines = |n: usize| -> String { (0..n).map(|i| format!("X-F{i}: b\r\n")).collect() };
    let head = |n: usize| {
        format!(
            "GET /v1/authz HTTP/1.1\r\nHost: x\r\nX-API-Key: {main}\r\n{}Connection: close\r\n\r\n",
            lines(n)
        )
    };
    assert_eq!(s.raw(head(97).as_bytes()).status, 200);
    let many = head(98);
    assert!(many.len() < 4096);
    assert_eq!(s.raw(many.as_bytes()).status, 431);
    let huge = format!(
        "GET /v1/authz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(s.raw(huge.as_bytes()).status, 431);
    assert_eq!(s.raw(b"NOT HTTP AT ALL\r\n\r\n").status, 400);
    // The parser's refusals are logged and counted just after the reply.
    let counted = "keyward_responses_total{route=\"other\",status=\"431\"} 2";
    let started = std::time::Instant::now();
    while !s.get("/metrics", &[]).text().contains(counted) {
        assert!(
            started.elapsed().as_secs() < 10,
            "{}",
            s.get("/metrics", &[]).text()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request") && l.contains("path=-"))
        .collect();
    assert_eq!(
        refused.iter().filter(|l| l.contains("status=431")).count(),
        2,
        "{log}"
    );
    assert_eq!(
        refused.iter().filter(|l| l.contains("status=400")).count(),
        1,
        "{log}"
    );
    // Every request counts, the refused ones included: 4 + the /metrics polls.
    let served: u64 = log
        .split("stopped requests=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the stop line counts requests");
    assert!(served >= 5, "{log}");
    assert!(!log.contains(&main[3..]), "{log}");
}

/// What CGI, WSGI, Rack and PHP read as one header name whatever its
/// separators (`X.Keyward-Scopes`, `X_API_KEY`) is held to the rule of the
/// canonical name: a keyward requirement spelt otherwise, or a secret sent
/// under a spelling keyward does not read, is a 400 on every route.
#[test]
fn header_names_spelt_with_other_separators_are_refused_not_ignored() {
    let v = TestVault::new();
    let read = v.create(&["--name", "web", "--scope", "read"]);
    let s = Serve::start(
        &v,
        &["--root-key-env", "KEYWARD_TEST_ROOT"],
        &[("KEYWARD_TEST_ROOT", ROOT)],
    );
    let bearer = format!("Bearer {read}");
    for forged in [
        "X.Keyward.Require.Scope",
        "X.Keyward-Scopes",
        "X.Keyward_Key-Id",
        "X.Keyward.Env",
        "XKeyward-Env",
    ] {
        let r = s.get(
            "/v1/authz",
            &[("Authorization", &bearer), (forged, "admin")],
        );
        assert_eq!(r.status, 400, "{forged}: {r:?}");
        assert!(!r.text().contains("admin"), "{}", r.text());
    }
    for spelling in [
        "X_API_KEY",
        "X.API-Key",
        "X-Api_Key",
        "X.API.KEY",
        "xapikey",
    ] {
        let r = s.get(
            "/v1/authz",
            &[("Authorization", &bearer), (spelling, &read)],
        );
        assert_eq!(r.status, 400, "{spelling}: {r:?}");
        assert!(!r.text().contains(&read));
        let r = s.post(
            "/v1/verify",
            &[("Content-Type", "application/json"), (spelling, &read)],
            &format!(r#"{{"key": "{read}"}}"#),
        );
        assert_eq!(r.status, 400, "{spelling}: {r:?}");
    }
}

/// The JSON routes take their requirements from the body only, take each
/// credential header once, and refuse a member given as null: an unset
/// variable serialised as `"env": null` never widens a request.
#[test]
fn json_routes_refuse_requirements_outside_the_body_and_null_members() {
    let v = TestVault::new();
    let read = v.create(&["--name", "web", "--scope", "read"]);
    let s = Serve::start(
        &v,
        &["--root-key-env", "KEYWARD_TEST_ROOT"],
        &[("KEYWARD_TEST_ROOT", ROOT)],
    );
    let json = [("Content-Type", "application/json")];
    let body = format!(r#"{{"key": "{read}"}}"#);
    let unkey = unkey_headers();
    let unkey: Vec<(&str, &str)> = unkey.iter().map(|(n, v)| (*n, v.as_str())).collect();
    for path in [
        "/v1/verify?scope=admin",
        "/v1/verify?env=prod",
        "/v2/keys.verifyKey?x=1",
    ] {
        let headers = if path.starts_with("/v2") {
            &unkey[..]
        } else {
            &json[..]
        };
        let r = s.post(path, headers, &body);
        assert_eq!(r.status, 400, "{path}: {r:?}");
    }
    for extra in [
        ("X-Keyward-Require-Scope", "admin"),
        ("X-API-Key", "kw_one"),
    ] {
        let mut headers: Vec<(&str, &str)> = json.to_vec();
        headers.push(extra);
        if extra.0 == "X-API-Key" {
            headers.push(("X-API-Key", "kw_two"));
        }
        let r = s.post("/v1/verify", &headers, &body);
        assert_eq!(r.status, 400, "{extra:?}: {r:?}");
        let mut headers = unkey.clone();
        headers.push(extra);
        if extra.0 == "X-API-Key" {
            headers.push(("X-API-Key", "kw_two"));
        }
        let r = s.post("/v2/keys.verifyKey", &headers, &body);
        assert_eq!(r.status, 400, "{extra:?}: {r:?}");
    }
    for member in [r#""env": null"#, r#""require_scopes": null"#] {
        let r = s.post(
            "/v1/verify",
            &json,
            &format!(r#"{{"key": "{read}", {member}}}"#),
        );
        assert_eq!(r.status, 400, "{member}: {r:?}");
    }
    for member in [
        r#""permissions": null"#,
        r#""apiId": null"#,
        r#""credits": null"#,
    ] {
        let r = s.post(
            "/v2/keys.verifyKey",
            &unkey,
            &format!(r#"{{"key": "{read}", {member}}}"#),
        );
        assert_eq!(r.status, 400, "{member}: {r:?}");
    }
}

/// `$KEYWARD_ENV` set but empty (`KEYWARD_ENV=$APP_ENV` with nothing in
/// it) or not UTF-8 is a usage error, never "every environment".
#[test]
fn an_empty_or_unreadable_keyward_env_is_refused_not_taken_as_unset() {
    use std::os::unix::ffi::OsStrExt;
    let v = TestVault::new();
    let secret = v.create(&["--name", "web"]);
    let bad = [
        std::ffi::OsStr::new(""),
        std::ffi::OsStr::from_bytes(b"pr\xffod"),
    ];
    for value in bad {
        v.kw(["verify"])
            .env("KEYWARD_ENV", value)
            .write_stdin(format!("{secret}\n"))
            .assert()
            .code(2);
        v.kw(["serve", "--listen", "127.0.0.1:0"])
            .env("KEYWARD_ENV", value)
            .assert()
            .code(2);
        v.kw(["create", "--name", "x"])
            .env("KEYWARD_ENV", value)
            .assert()
            .code(2);
    }
}
