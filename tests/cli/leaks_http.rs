//! Leak reports over HTTP: GitHub's secret-scanning partner webhook (signed
//! with ECDSA P-256; the test makes its own key pair and key list in
//! GitHub's shape) and GitLab's Token Revocation API, on both engines.

use base64::Engine;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use crate::common::serve::Serve;
use crate::common::*;

/// The DER header of a P-256 SubjectPublicKeyInfo, before the point.
const SPKI: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

struct Signer {
    pair: EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
}

impl Signer {
    fn new() -> Signer {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("pair");
        Signer { pair, rng }
    }

    fn pem(&self) -> String {
        let der = [&SPKI[..], self.pair.public_key().as_ref()].concat();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }

    fn sign(&self, body: &[u8]) -> String {
        let sig = self.pair.sign(&self.rng, body).expect("sign");
        base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
    }
}

/// A key list in GitHub's shape with two keys, the first current.
fn key_list(v: &TestVault, current: &Signer, old: &Signer) -> std::path::PathBuf {
    let list = json!({"public_keys": [
        {"key_identifier": "ident-current", "key": current.pem(), "is_current": true},
        {"key_identifier": "ident-old", "key": old.pem(), "is_current": false},
    ]});
    let path = v.dir().join("github-keys.json");
    std::fs::write(&path, list.to_string()).expect("key list");
    path
}

fn deliver(s: &Serve, id: &str, signature: &str, body: &str) -> (u16, Value) {
    let r = s.post(
        "/v1/leaks/github",
        &[
            ("Github-Public-Key-Identifier", id),
            ("Github-Public-Key-Signature", signature),
            ("Content-Type", "application/json"),
        ],
        body,
    );
    (
        r.status,
        serde_json::from_str(&r.text()).unwrap_or(Value::Null),
    )
}

fn hex_sha256(text: &str) -> String {
    use std::fmt::Write;
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

crate::on_both_engines! {
    fn a_signed_github_report_ends_exactly_the_live_keys_it_names(v: &TestVault) {
        v.kw(["config", "set", "max-keys", "10"]).assert().success();
        let default = v.create(&["--name", "main"]);
        let live = v.create(&["--name", "web"]);
        let (graced, in_grace) = v.create_json(&["--name", "old"]);
        v.kw(["rotate", graced["id"].as_str().expect("id"), "--grace", "1h"]).assert().success();
        let gone = v.create(&["--name", "gone"]);
        v.kw(["revoke", "gone", "--yes"]).assert().success();
        let unknown = foreign_secret();
        let (current, old) = (Signer::new(), Signer::new());
        let list = key_list(v, &current, &old);
        let s = Serve::start(v, &["--github-keys", list.to_str().expect("path")], &[]);
        let items: Vec<Value> = [&live, &in_grace, &default, &gone, &unknown, &"not a token".to_string()]
            .iter()
            .map(|t| json!({"token": t, "type": "keyward_api_key", "url": "https://github.com/o/r/blob/abc/.env", "source": "content"}))
            .collect();
        let body = Value::Array(items).to_string();
        let (status, answer) = deliver(&s, "ident-current", &current.sign(body.as_bytes()), &body);
        assert_eq!(status, 200, "{answer}");
        let labels: Vec<&str> = answer.as_array().expect("feedback").iter().filter_map(|f| f["label"].as_str()).collect();
        assert_eq!(labels, ["true_positive", "true_positive", "true_positive", "true_positive", "false_positive", "false_positive"]);
        assert_eq!(answer[0]["token_hash"], hex_sha256(&live));
        assert_eq!(answer[0]["token_type"], "keyward_api_key");
        for (secret, code) in [(&live, "API_KEY_REVOKED"), (&in_grace, "API_KEY_REVOKED"), (&default, "API_KEY_REVOKED")] {
            assert_eq!(v.verify(secret, &[]).1["code"], code);
        }
        let revoked = v.json(["log", "--event", "revoked", "--by", "github"]);
        let events = revoked.as_array().expect("events");
        assert_eq!(events.len(), 3, "{revoked}");
        assert!(events.iter().all(|e| e["details"]["reason"] == "leaked" && e["details"]["location"] == "https://github.com/o/r/blob/abc/.env"));
        assert_eq!(v.json(["log", "--verify"])["intact"], true);
        // The same report again changes nothing and answers the same.
        let (status, again) = deliver(&s, "ident-current", &current.sign(body.as_bytes()), &body);
        assert_eq!((status, &again), (200, &answer));
        assert_eq!(v.json(["log", "--event", "revoked", "--by", "github"]).as_array().map(Vec::len), Some(3));
        // A report signed by the other listed key is GitHub's too.
        let fresh = v.create(&["--name", "fresh"]);
        let (k, _) = v.create_json(&["--name", "after"]);
        assert_eq!(k["default"], false, "fresh became the default once main was revoked");
        let body = json!([{"token": fresh, "type": "keyward_api_key", "url": "https://github.com/o/r", "source": "commit"}]).to_string();
        assert_eq!(deliver(&s, "ident-old", &old.sign(body.as_bytes()), &body).0, 200);
        assert_eq!(v.verify(&fresh, &[]).1["code"], "API_KEY_REVOKED");
        let (code, log) = s.stop();
        assert_eq!(code, Some(0));
        for secret in [&live, &in_grace, &default, &gone, &unknown, &fresh] {
            assert!(!log.contains(secret.as_str()), "a token in the log");
            assert!(!v.dump().contains(secret.as_str()), "a token in the vault");
        }
    }

    fn a_report_github_did_not_sign_is_a_401_that_changes_nothing(v: &TestVault) {
        let live = v.create(&["--name", "web"]);
        v.create(&["--name", "other"]);
        let (current, old, stranger) = (Signer::new(), Signer::new(), Signer::new());
        let list = key_list(v, &current, &old);
        let s = Serve::start(v, &["--github-keys", list.to_str().expect("path")], &[]);
        let before = v.dump();
        let body = json!([{"token": live, "type": "keyward_api_key", "url": "https://github.com/o/r", "source": "content"}]).to_string();
        let signature = current.sign(body.as_bytes());
        let mut tampered = body.clone().into_bytes();
        let at = tampered.len() - 3;
        tampered[at] ^= 0x01;
        let tampered = String::from_utf8_lossy(&tampered).into_owned();
        let reserialised = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).expect("json")).expect("json");
        for (what, id, sig, b) in [
            ("a tampered body", "ident-current", signature.clone(), tampered.as_str()),
            ("another key's signature", "ident-current", stranger.sign(body.as_bytes()), body.as_str()),
            ("the other listed key's id", "ident-old", signature.clone(), body.as_str()),
            ("an unknown key id", "ident-nobody", signature.clone(), body.as_str()),
            ("re-serialised JSON", "ident-current", signature.clone(), reserialised.as_str()),
            ("a signature that is not base64", "ident-current", "%%%".to_string(), body.as_str()),
        ] {
            let (status, e) = deliver(&s, id, &sig, b);
            assert_eq!(status, 401, "{what}: {e}");
            assert!(!e.to_string().contains(&live), "{what}: the token was echoed");
        }
        let missing = s.post("/v1/leaks/github", &[("Github-Public-Key-Identifier", "ident-current")], &body);
        assert_eq!(missing.status, 401, "a missing signature");
        assert_eq!(v.dump(), before, "nothing changed");
        assert_eq!(v.verify(&live, &[]).0, Some(0));
        assert_eq!(s.stop().0, Some(0));
    }

    fn gitlab_revokes_with_its_shared_token(v: &TestVault) {
        let live = v.create(&["--name", "web"]);
        v.create(&["--name", "other"]);
        let token = "gitlab-shared-token-0123456789";
        let s = Serve::start(v, &["--gitlab-token-env", "GITLAB_TOKEN"], &[("GITLAB_TOKEN", token)]);
        let auth = [("Authorization", token)];
        let types = s.get("/v1/revocable_token_types", &auth);
        assert_eq!(types.status, 200);
        assert_eq!(types.json()["types"], json!(["keyward_api_key"]));
        let body = json!([{"type": "keyward_api_key", "token": live, "location": "https://gitlab.example.com/g/p/-/blob/main/.env"}]).to_string();
        let before = v.dump();
        for (what, headers) in [("no token", vec![]), ("a wrong token", vec![("Authorization", "nope")])] {
            assert_eq!(s.post("/v1/revoke_tokens", &headers, &body).status, 401, "{what}");
        }
        assert_eq!(s.post("/v1/revoke_tokens", &auth, "{\"token\": 1}").status, 400);
        assert_eq!(s.post("/v1/revoke_tokens", &auth, "[{\"type\": \"x\"}]").status, 400);
        assert_eq!(v.dump(), before, "nothing changed");
        let r = s.post("/v1/revoke_tokens", &auth, &body);
        assert_eq!(r.status, 204);
        assert_eq!(v.verify(&live, &[]).1["code"], "API_KEY_REVOKED");
        let events = v.json(["log", "--event", "revoked", "--by", "gitlab"]);
        assert_eq!(events[0]["details"]["location"], "https://gitlab.example.com/g/p/-/blob/main/.env", "{events}");
        // Again: nothing changes.
        assert_eq!(s.post("/v1/revoke_tokens", &auth, &body).status, 204);
        assert_eq!(v.json(["log", "--event", "revoked", "--by", "gitlab"]).as_array().map(Vec::len), Some(1));
        let (code, log) = s.stop();
        assert_eq!(code, Some(0));
        assert!(!log.contains(&live) && !log.contains(token), "a token in the log");
    }
}

/// A key list that cannot be used is a configuration mistake: serve does
/// not start.
#[test]
fn serve_refuses_a_github_key_list_it_cannot_use() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    for list in [
        "",
        "{}",
        r#"{"public_keys": [{"key_identifier": "x", "key": "not pem"}]}"#,
    ] {
        let path = v.dir().join("bad.json");
        std::fs::write(&path, list).expect("write");
        let out = v
            .std(["serve", "--listen", "127.0.0.1:0", "--github-keys"])
            .arg(&path)
            .output()
            .expect("serve");
        assert_eq!(out.status.code(), Some(1), "{list}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("GitHub's key list"),
            "{}",
            text(&out.stderr)
        );
    }
}

/// The key list fetched from a URL (plain HTTP is taken from this host
/// only; GitHub's is https) serves as well as a file.
#[test]
fn the_github_key_list_can_be_fetched_from_a_url() {
    use std::io::{Read, Write};
    let v = TestVault::new();
    let live = v.create(&["--name", "web"]);
    v.create(&["--name", "other"]);
    let signer = Signer::new();
    let list =
        json!({"public_keys": [{"key_identifier": "k1", "key": signer.pem(), "is_current": true}]})
            .to_string();
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("addr").port();
    let answer = list.clone();
    let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&fetches);
    std::thread::spawn(move || {
        for stream in server.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    let url = format!("http://127.0.0.1:{port}/meta/public_keys/secret_scanning");
    let s = Serve::start(&v, &["--github-keys", &url], &[]);
    assert_eq!(
        fetches.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "fetched once at start"
    );
    let body = json!([{"token": live, "type": "keyward_api_key", "url": "https://github.com/o/r", "source": "content"}]).to_string();
    let (status, answer) = deliver(&s, "k1", &signer.sign(body.as_bytes()), &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(v.verify(&live, &[]).1["code"], "API_KEY_REVOKED");
    assert_eq!(s.stop().0, Some(0));
    // Plain HTTP from another host is refused: GitHub's list comes over https.
    let out = v
        .std([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--github-keys",
            "http://192.0.2.1/keys.json",
        ])
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

crate::on_both_engines! {
    fn what_a_report_stores_of_a_location_carries_no_credential(v: &TestVault) {
        v.kw(["config", "set", "max-keys", "20"]).assert().success();
        let live = v.create(&["--name", "web"]);
        v.create(&["--name", "other"]);
        let signer = Signer::new();
        let list = v.dir().join("keys.json");
        std::fs::write(&list, json!({"public_keys": [{"key_identifier": "k", "key": signer.pem(), "is_current": true}]}).to_string()).expect("list");
        let s = Serve::start(v, &["--github-keys", list.to_str().expect("path")], &[]);
        let encoded = live.replacen('_', "%5F", 1);
        let url = format!("https://u:hunter2pass@github.com/o/r/blob/main/{encoded}.env?access_token=ghp_abc#L3");
        let body = json!([{"token": live, "type": "keyward_api_key", "url": url, "source": "content"}]).to_string();
        assert_eq!(deliver(&s, "k", &signer.sign(body.as_bytes()), &body).0, 200);
        let events = v.json(["log", "--event", "revoked", "--by", "github"]);
        let location = events[0]["details"]["location"].as_str().expect("location").to_string();
        assert!(location.starts_with("https://github.com/o/r/blob/main/"), "{location}");
        for leak in ["hunter2pass", "ghp_abc", &live[3..], "u:"] {
            assert!(!location.contains(leak), "{leak} in {location}");
        }
        assert!(!v.dump().contains(&live[3..]), "the secret's body in the vault");
        assert_eq!(s.stop().0, Some(0));
        // GitLab's locations: encoded twice, a bare body, user info without
        // a scheme or behind backslashes.
        let alive = v.create(&["--name", "alive"]);
        let body_only = &alive[3..];
        let token = "gitlab-token-0123456789abcdef";
        let s = Serve::start(v, &["--gitlab-token-env", "GL"], &[("GL", token)]);
        let mut items = Vec::new();
        for (n, location) in [
            format!("https://gitlab.example/a/-/blob/main/.env%23L1/kw%255F{body_only}"),
            format!("https://gitlab.example/a/-/raw/main/keys/kw/{body_only}"),
            "//deploy:hunter2pw@gitlab.example/a.git".to_string(),
            "https:\\\\deploy:hunter2pw@gitlab.example\\a.git".to_string(),
        ]
        .into_iter()
        .enumerate()
        {
            let victim = v.create(&["--name", &format!("x{n}")]);
            items.push(json!({"type": "keyward_api_key", "token": victim, "location": location}));
        }
        let r = s.post("/v1/revoke_tokens", &[("Authorization", token)], &Value::Array(items).to_string());
        assert_eq!(r.status, 204);
        let events = v.json(["log", "--event", "revoked", "--by", "gitlab"]);
        for e in events.as_array().expect("events") {
            let location = e["details"]["location"].as_str().expect("location");
            assert!(!location.contains(body_only) && !location.contains("hunter2pw"), "{location}");
        }
        assert_eq!(v.verify(&alive, &[]).0, Some(0), "the key whose body was in a location is alive");
        assert!(!v.dump().contains(body_only), "its body is not in the vault");
        assert_eq!(s.stop().0, Some(0));
    }

    fn unsigned_requests_never_use_up_the_pace_of_signed_ones(v: &TestVault) {
        let live = v.create(&["--name", "web"]);
        v.create(&["--name", "other"]);
        let signer = Signer::new();
        let list = v.dir().join("keys.json");
        std::fs::write(&list, json!({"public_keys": [{"key_identifier": "k", "key": signer.pem(), "is_current": true}]}).to_string()).expect("list");
        let token = "gitlab-token-0123456789abcdef";
        let s = Serve::start(
            v,
            &["--github-keys", list.to_str().expect("path"), "--gitlab-token-env", "GL"],
            &[("GL", token)],
        );
        for _ in 0..70 {
            assert_eq!(deliver(&s, "k", "AAAA", "[]").0, 401);
        }
        let body = json!([{"token": live, "type": "keyward_api_key", "url": "https://github.com/o/r", "source": "content"}]).to_string();
        assert_eq!(deliver(&s, "k", &signer.sign(body.as_bytes()), &body).0, 200, "a signed report after 70 unsigned ones");
        // Each route has its own pace; a member given twice is a 400.
        let dup = format!(r#"[{{"type": "keyward_api_key", "token": "kw_x", "token": "{live}"}}]"#);
        assert_eq!(s.post("/v1/revoke_tokens", &[("Authorization", token)], &dup).status, 400);
        let signed_dup = format!(r#"[{{"token": "kw_x", "token": "{live}"}}]"#);
        assert_eq!(deliver(&s, "k", &signer.sign(signed_dup.as_bytes()), &signed_dup).0, 400);
        assert_eq!(s.stop().0, Some(0));
    }
}

/// `serve --env E` ends only E's keys, as it verifies only E's.
#[test]
fn serve_env_narrows_what_reports_end() {
    let v = TestVault::new();
    let shop = v.create(&["--name", "s", "--env", "shop"]);
    v.create(&["--name", "s2", "--env", "shop"]);
    let stage = v.create(&["--name", "t", "--env", "stage"]);
    v.create(&["--name", "t2", "--env", "stage"]);
    let token = "gitlab-token-0123456789abcdef";
    let s = Serve::start(
        &v,
        &["--env", "stage", "--gitlab-token-env", "GL"],
        &[("GL", token)],
    );
    let body = json!([{"type": "keyward_api_key", "token": shop, "location": "x"}, {"type": "keyward_api_key", "token": stage, "location": "y"}]).to_string();
    assert_eq!(
        s.post("/v1/revoke_tokens", &[("Authorization", token)], &body)
            .status,
        204
    );
    assert_eq!(
        v.verify(&shop, &[]).0,
        Some(0),
        "another environment's key stays"
    );
    assert_eq!(v.verify(&stage, &[]).1["code"], "API_KEY_REVOKED");
    assert_eq!(s.stop().0, Some(0));
}
