//! Quotas: rate limits and credits, shared by a key's lineage, spent
//! exactly across processes, on both engines (SPEC "Quotas").

use serde_json::Value;

use crate::common::*;

/// Verifies `secret` at `now`: the exit code and the verdict's code.
fn verdict_at(v: &TestVault, now: &str, secret: &str) -> (Option<i32>, String) {
    let (code, doc) = v.verify_at(now, &format!("{secret}\n"), &[]);
    (code, doc["code"].as_str().unwrap_or_default().to_string())
}

fn credits(v: &TestVault, key: &str) -> Value {
    v.json(["show", key])["credits"].clone()
}

crate::on_both_engines! {
    fn a_ratelimit_holds_over_every_window_not_over_fixed_minutes(v: &TestVault) {
        let (key, secret) = v.create_json(&["--name", "api", "--ratelimit", "api=3/1m"]);
        assert_eq!(key["ratelimits"], serde_json::json!([{"name": "api", "limit": 3, "duration": "1m"}]));
        // Three at the end of a minute...
        for _ in 0..3 {
            assert_eq!(verdict_at(v, "2026-11-23T12:00:59Z", &secret), (Some(0), "VALID".into()));
        }
        let (code, doc) = v.verify_at("2026-11-23T12:00:59Z", &format!("{secret}\n"), &[]);
        assert_eq!(code, Some(5));
        assert_eq!(doc["code"], "RATE_LIMITED");
        assert_eq!(doc["ratelimits"][0]["exceeded"], true, "{doc}");
        assert_eq!(doc["ratelimits"][0]["remaining"], 0, "{doc}");
        // ...are still counted once a new minute begins: no 2x at the boundary.
        assert_eq!(verdict_at(v, "2026-11-23T12:01:00Z", &secret), (Some(5), "RATE_LIMITED".into()));
        assert_eq!(verdict_at(v, "2026-11-23T12:01:30Z", &secret), (Some(5), "RATE_LIMITED".into()));
        // A minute after their slot ended, the window has room again.
        assert_eq!(verdict_at(v, "2026-11-23T12:02:00Z", &secret), (Some(0), "VALID".into()));
    }

    fn credits_run_out_and_an_otherwise_refused_key_spends_none(v: &TestVault) {
        let (key, secret) = v.create_json(&["--name", "api", "--credits", "2", "--scope", "read"]);
        let id = key["id"].as_str().expect("id");
        assert_eq!(key["credits"], 2);
        // Refused for a scope: nothing spent.
        assert_eq!(v.verify(&secret, &["--require-scope", "write"]).1["code"], "INSUFFICIENT_SCOPE");
        assert_eq!(credits(v, id), 2);
        assert_eq!(v.verify(&secret, &[]).0, Some(0));
        let (code, doc) = v.verify(&secret, &["--cost", "2"]);
        assert_eq!((code, doc["code"].as_str()), (Some(5), Some("USAGE_EXCEEDED")), "{doc}");
        assert_eq!(doc["credits"], 1, "a refused verification spends nothing: {doc}");
        assert_eq!(v.verify(&secret, &[]).1["credits"], 0);
        assert_eq!(v.verify(&secret, &[]).1["code"], "USAGE_EXCEEDED");
        // --cost 0 checks without spending; --add-credits tops up.
        v.kw(["update", id, "--add-credits", "5"]).assert().success();
        assert_eq!(v.verify(&secret, &["--cost", "0"]).1["credits"], 5);
        assert_eq!(credits(v, id), 5);
        v.kw(["update", id, "--credits", "unlimited"]).assert().success();
        assert_eq!(credits(v, id), Value::Null);
        assert_eq!(v.verify(&secret, &[]).0, Some(0));
    }

    fn a_key_and_its_successor_draw_from_one_pool(v: &TestVault) {
        let (key, old) = v.create_json(&["--name", "api", "--credits", "5", "--ratelimit", "api=100/1h"]);
        let id = key["id"].as_str().expect("id");
        assert_eq!(v.verify(&old, &[]).0, Some(0));
        assert_eq!(v.verify(&old, &[]).0, Some(0));
        let rotated = v.json(["rotate", id, "--grace", "1h"]);
        let new = rotated["secret"].as_str().expect("secret");
        assert_eq!(rotated["key"]["credits"], 3, "a rotation neither resets nor doubles: {rotated}");
        assert_eq!(rotated["key"]["ratelimits"][0]["name"], "api");
        assert_eq!(v.verify(&old, &[]).0, Some(0), "the key in grace draws from the pool");
        assert_eq!(v.verify(new, &[]).0, Some(0));
        assert_eq!(v.verify(new, &[]).0, Some(0));
        assert_eq!(v.verify(new, &[]).1["code"], "USAGE_EXCEEDED");
        assert_eq!(v.verify(&old, &[]).1["code"], "USAGE_EXCEEDED");
        // A quota given to a successor is its predecessor's too.
        v.kw(["update", rotated["key"]["id"].as_str().expect("id"), "--add-credits", "1"])
            .assert()
            .success();
        assert_eq!(v.verify(&old, &[]).0, Some(0));
        assert_eq!(v.verify(new, &[]).1["code"], "USAGE_EXCEEDED");
    }

    fn a_quota_given_later_is_shared_with_the_key_in_grace(v: &TestVault) {
        let (key, old) = v.create_json(&["--name", "api"]);
        let rotated = v.json(["rotate", key["id"].as_str().expect("id"), "--grace", "1h"]);
        let new = rotated["secret"].as_str().expect("secret");
        v.kw(["update", "api", "--credits", "1"]).assert().success();
        assert_eq!(v.verify(&old, &[]).0, Some(0));
        assert_eq!(v.verify(new, &[]).1["code"], "USAGE_EXCEEDED");
    }

    fn credits_refill_at_the_vaults_clock(v: &TestVault) {
        let (key, secret) = v.create_json(&["--name", "api", "--credits", "1", "--refill", "2/daily"]);
        assert_eq!(key["refill"], serde_json::json!({"amount": 2, "interval": "daily"}));
        assert_eq!(verdict_at(v, "2026-11-23T12:00:00Z", &secret).1, "VALID");
        assert_eq!(verdict_at(v, "2026-11-23T23:59:59Z", &secret).1, "USAGE_EXCEEDED");
        assert_eq!(verdict_at(v, "2026-11-24T00:00:00Z", &secret).1, "VALID");
        assert_eq!(verdict_at(v, "2026-11-24T09:00:00Z", &secret).1, "VALID");
        assert_eq!(verdict_at(v, "2026-11-24T10:00:00Z", &secret).1, "USAGE_EXCEEDED");
    }

    fn changing_a_limits_terms_keeps_what_it_admitted(v: &TestVault) {
        let (key, secret) = v.create_json(&["--name", "api", "--ratelimit", "api=3/1h"]);
        let id = key["id"].as_str().expect("id").to_string();
        let at = "2026-11-23T12:00:00Z";
        for _ in 0..3 {
            assert_eq!(verdict_at(v, at, &secret).1, "VALID");
        }
        assert_eq!(verdict_at(v, at, &secret).1, "RATE_LIMITED");
        // Lowering a limit (to stop an abuser) gives no fresh allowance,
        // and raising it gives only the difference.
        v.kw(["update", &id, "--ratelimit", "api=2/1h"]).assert().success();
        assert_eq!(verdict_at(v, at, &secret).1, "RATE_LIMITED");
        v.kw(["update", &id, "--ratelimit", "api=4/1h"]).assert().success();
        assert_eq!(verdict_at(v, at, &secret).1, "VALID");
        assert_eq!(verdict_at(v, at, &secret).1, "RATE_LIMITED");
        // A longer window counts what the shorter one admitted.
        v.kw(["update", &id, "--ratelimit", "api=4/2h"]).assert().success();
        assert_eq!(verdict_at(v, "2026-11-23T13:30:00Z", &secret).1, "RATE_LIMITED");
        // So does a rotation that changes the limit.
        let rotated = v.json(["rotate", &id, "--grace", "1h", "--ratelimit", "api=5/2h"]);
        let new = rotated["secret"].as_str().expect("secret");
        assert_eq!(verdict_at(v, at, new).1, "VALID");
        assert_eq!(verdict_at(v, at, new).1, "RATE_LIMITED");
        assert_eq!(verdict_at(v, at, &secret).1, "RATE_LIMITED");
        // Dropped and given again, a limit starts afresh.
        v.kw(["update", "api", "--no-ratelimit", "api"]).assert().success();
        v.kw(["update", "api", "--ratelimit", "api=1/1h"]).assert().success();
        assert_eq!(verdict_at(v, at, new).1, "VALID");
    }

    fn credits_shown_count_a_refill_that_is_due(v: &TestVault) {
        let created = v
            .kw_at("2026-11-23T23:59:00Z", ["--json", "create", "--name", "api", "--credits", "5", "--refill", "10/daily"])
            .output()
            .expect("create");
        let doc: Value = serde_json::from_slice(&created.stdout).expect("json");
        let secret = doc["secret"].as_str().expect("secret");
        assert_eq!(verdict_at(v, "2026-11-23T23:59:30Z", secret).1, "VALID");
        let show = |now: &str| -> Value {
            serde_json::from_slice(&v.kw_at(now, ["--json", "show", "api"]).output().expect("show").stdout)
                .expect("json")
        };
        assert_eq!(show("2026-11-23T23:59:40Z")["credits"], 4);
        assert_eq!(show("2026-11-24T00:00:30Z")["credits"], 10, "the refill is due: a verify would find 10");
    }

    fn every_change_to_a_quota_is_an_event_with_old_and_new(v: &TestVault) {
        let (key, _) = v.create_json(&["--name", "api", "--ratelimit", "api=10/1s"]);
        let id = key["id"].as_str().expect("id");
        v.kw(["update", id, "--no-ratelimit", "api", "--credits", "50"]).assert().success();
        let log = v.json(["log", id, "--event", "quota_changed"]);
        let events = log.as_array().expect("events");
        assert_eq!(events.len(), 2, "{log}");
        assert_eq!(events[0]["details"]["old"]["ratelimits"], serde_json::json!(["api=10/1s"]));
        assert_eq!(events[0]["details"]["new"]["ratelimits"], serde_json::json!([]));
        assert_eq!(events[0]["details"]["new"]["credits"], 50);
        assert_eq!(events[1]["details"]["old"]["credits"], Value::Null);
        assert_eq!(v.json(["log", "--verify"])["intact"], true);
        // The same change again changes nothing and says so.
        let again = v.json(["update", id, "--credits", "50"]);
        assert_eq!(again["credits"], 50);
        assert_eq!(v.json(["log", id, "--event", "quota_changed"]).as_array().map(Vec::len), Some(2));
    }

    fn quota_flags_that_cannot_be_used_exit_2_and_change_nothing(v: &TestVault) {
        let (key, secret) = v.create_json(&["--name", "api", "--ratelimit", "api=5/1m"]);
        let id = key["id"].as_str().expect("id").to_string();
        let before = v.dump();
        for args in [
            vec!["create", "--name", "x", "--ratelimit", "api=0/1m"],
            vec!["create", "--name", "x", "--ratelimit", "api=5/500ms"],
            vec!["create", "--name", "x", "--ratelimit", "api=5/2d"],
            vec!["create", "--name", "x", "--ratelimit", "api:5/1m"],
            vec!["create", "--name", "x", "--ratelimit", "api=-5/1m"],
            vec!["create", "--name", "x", "--ratelimit", "api=99999999999999999999/1m"],
            vec!["create", "--name", "x", "--credits", "-1"],
            vec!["create", "--name", "x", "--credits", "1e3"],
            vec!["create", "--name", "x", "--credits", "lots"],
            vec!["create", "--name", "x", "--refill", "5/weekly"],
            vec!["create", "--name", "x", "--refill", "0/daily"],
            vec!["create", "--name", "x", "--credits", "unlimited", "--refill", "5/daily"],
            vec!["create", "--name", "x", "--ratelimit", "a=1/1s", "--ratelimit", "a=2/1s"],
            vec!["update", &id, "--no-ratelimit", "nope"],
            vec!["update", &id, "--add-credits", "3"],
            vec!["update", &id, "--credits", "3", "--add-credits", "3"],
            vec!["update", &id, "--refill", "5/daily", "--no-refill"],
            vec!["update", &id, "--ratelimit", "x=1/1m", "--no-ratelimit", "x"],
            vec!["update", &id, "--ratelimit", &format!("{secret}=5/1m")],
            vec!["update", &id, "--no-ratelimit", &secret],
            vec!["create", "--name", "x", "--credits", " 5"],
            vec!["create", "--name", "x", "--credits", "+5"],
        ] {
            let out = v.kw(&args).output().expect("run");
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
            assert!(!text(&out.stderr).contains("panicked"), "{args:?}");
        }
        for cost in ["-1", "x", "1.5", "+1", "99999999999999999999"] {
            let out = v.kw(["verify", "--cost", cost]).write_stdin(format!("{secret}\n")).output().expect("run");
            assert_eq!(out.status.code(), Some(2), "--cost {cost}");
        }
        assert_eq!(v.dump(), before, "nothing changed");
        let out = v.kw(["update", &id, "--ratelimit", &format!("{secret}=5/1m")]).output().expect("run");
        assert!(!text(&out.stderr).contains(&secret), "a secret-shaped name is never echoed");
    }

    fn credits_are_never_spent_twice_by_parallel_verifies(v: &TestVault) {
        let (key, secret) = v.create_json(&["--name", "api", "--credits", "40"]);
        let id = key["id"].as_str().expect("id").to_string();
        let admitted: usize = std::thread::scope(|s| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        (0..8)
                            .filter(|_| {
                                let out = v.kw(["verify"]).write_stdin(format!("{secret}\n")).output().expect("run");
                                out.status.code() == Some(0)
                            })
                            .count()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().expect("worker")).sum()
        });
        assert_eq!(admitted, 40, "64 tries of 40 credits");
        assert_eq!(credits(v, &id), 0);
    }
}

#[cfg(feature = "serve")]
mod serve {
    use std::collections::HashMap;

    use super::*;
    use crate::common::serve::{Serve, signal};

    /// `n` concurrent `/v1/authz` requests: how many got each status.
    fn hammer(s: &Serve, secret: &str, n: usize) -> HashMap<u16, usize> {
        let statuses: Vec<u16> = std::thread::scope(|scope| {
            let all: Vec<_> = (0..n)
                .map(|_| scope.spawn(|| s.authz(secret, "").status))
                .collect();
            all.into_iter()
                .map(|t| t.join().expect("request"))
                .collect()
        });
        let mut by = HashMap::new();
        for status in statuses {
            *by.entry(status).or_insert(0) += 1;
        }
        by
    }

    crate::on_both_engines! {
        fn a_limit_of_10_a_minute_admits_exactly_10_of_50_at_once(v: &TestVault) {
            let secret = v.create(&["--name", "api", "--ratelimit", "api=10/1m"]);
            let s = Serve::start(v, &[], &[]);
            let by = hammer(&s, &secret, 50);
            assert_eq!(by.get(&200), Some(&10), "{by:?}");
            assert_eq!(by.get(&429), Some(&40), "{by:?}");
            let refused = s.authz(&secret, "");
            assert_eq!(refused.status, 429);
            assert_eq!(refused.header("x-keyward-code"), Some("RATE_LIMITED"));
            let retry: i64 = refused.header("retry-after").and_then(|r| r.parse().ok()).expect("Retry-After");
            assert!((1..=63).contains(&retry), "{retry}");
            assert_eq!(refused.header("ratelimit-policy"), Some("\"api\";q=10;w=60"));
            assert!(refused.header("ratelimit").is_some_and(|r| r.starts_with("\"api\";r=0;t=")));
            assert_eq!(refused.header("www-authenticate"), None, "429 is not a login problem");
            let (code, log) = s.stop();
            assert_eq!(code, Some(0), "{log}");
            assert!(log.contains("code=RATE_LIMITED"), "{log}");
        }

        fn credits_spent_by_serves_and_verifies_add_up_exactly(v: &TestVault) {
            let (key, secret) = v.create_json(&["--name", "api", "--credits", "100"]);
            let id = key["id"].as_str().expect("id").to_string();
            let a = Serve::start(v, &[], &[]);
            let b = Serve::start(v, &[], &[]);
            let admitted: usize = std::thread::scope(|scope| {
                let mut all = Vec::new();
                for s in [&a, &b] {
                    all.push(scope.spawn(|| hammer(s, &secret, 40).get(&200).copied().unwrap_or(0)));
                }
                for _ in 0..8 {
                    all.push(scope.spawn(|| {
                        (0..5)
                            .filter(|_| {
                                v.kw(["verify"]).write_stdin(format!("{secret}\n")).output().expect("run").status.code()
                                    == Some(0)
                            })
                            .count()
                    }));
                }
                all.into_iter().map(|t| t.join().expect("worker")).sum()
            });
            assert!(admitted <= 100, "never overspent: {admitted}");
            // Stopped, the serves give back what they held: what is left
            // is exactly what was not spent.
            assert_eq!(a.stop().0, Some(0));
            assert_eq!(b.stop().0, Some(0));
            let left = credits(v, &id).as_u64().expect("credits");
            assert_eq!(admitted as u64 + left, 100, "{admitted} admitted, {left} left");
            for _ in 0..left {
                assert_eq!(v.verify(&secret, &[]).0, Some(0));
            }
            assert_eq!(v.verify(&secret, &[]).1["code"], "USAGE_EXCEEDED");
        }

        fn a_killed_serve_strands_at_most_its_reservation_and_overspends_nothing(v: &TestVault) {
            let (key, secret) = v.create_json(&["--name", "api", "--credits", "1000"]);
            let id = key["id"].as_str().expect("id").to_string();
            let s = Serve::start(v, &[], &[]);
            let admitted = hammer(&s, &secret, 30).get(&200).copied().unwrap_or(0) as u64;
            assert_eq!(admitted, 30);
            signal(s.pid(), "KILL");
            drop(s);
            let left = credits(v, &id).as_u64().expect("credits");
            assert!(left <= 1000 - admitted, "{left} left after {admitted} admitted");
            // 30 quick requests: one reservation of 64 covered them all.
            assert!(left + admitted + 64 >= 1000, "at most 64 stranded: {left} left after {admitted}");
        }

        fn out_of_credits_is_a_429_and_verify_json_says_what_is_left(v: &TestVault) {
            let secret = v.create(&["--name", "api", "--credits", "2", "--ratelimit", "api=100/1h"]);
            let s = Serve::start(v, &[], &[]);
            let body = format!("{{\"key\": \"{secret}\", \"cost\": 2}}");
            let r = s.post("/v1/verify", &[("Content-Type", "application/json")], &body);
            assert_eq!(r.status, 200);
            let doc = r.json();
            assert_eq!(doc["code"], "VALID", "{doc}");
            assert_eq!(doc["ratelimits"][0]["name"], "api");
            assert_eq!(doc["ratelimits"][0]["remaining"], 98, "{doc}");
            let refused = s.authz(&secret, "");
            assert_eq!(refused.status, 429);
            assert_eq!(refused.header("x-keyward-code"), Some("USAGE_EXCEEDED"));
            let r = s.post("/v1/verify", &[("Content-Type", "application/json")], &format!("{{\"key\": \"{secret}\"}}"));
            assert_eq!(r.json()["code"], "USAGE_EXCEEDED");
            assert_eq!(r.json()["credits"], 0);
            for bad in ["?cost=-1", "?cost=x", "?cost=1&cost=2"] {
                assert_eq!(s.authz(&secret, bad).status, 400, "{bad}");
            }
            // A proxy passes a client's headers on: from a header, a cost
            // may make a check dearer, never free.
            let auth = format!("Bearer {secret}");
            for (cost, status) in [("0", 400), ("1", 429)] {
                let r = s.get("/v1/authz", &[("Authorization", &auth), ("X-Keyward-Cost", cost)]);
                assert_eq!(r.status, status, "X-Keyward-Cost: {cost}");
            }
            let metrics = s.get("/metrics", &[]).text();
            assert!(metrics.contains("keyward_verifications_total{code=\"USAGE_EXCEEDED\"} 3"), "{metrics}");
            assert!(metrics.contains("keyward_quota_credits_reserved"), "{metrics}");
            assert_eq!(s.stop().0, Some(0));
        }

        fn a_limit_changed_under_serve_keeps_only_what_it_admitted(v: &TestVault) {
            let (key, secret) = v.create_json(&["--name", "api", "--ratelimit", "api=1000/1h"]);
            let id = key["id"].as_str().expect("id").to_string();
            let s = Serve::start(v, &[], &[]);
            assert_eq!(s.authz(&secret, "").status, 200);
            v.kw(["update", &id, "--ratelimit", "api=20/1h"]).assert().success();
            if v.url.is_some() {
                // PostgreSQL: serve follows the change within a second.
                std::thread::sleep(std::time::Duration::from_millis(1500));
            }
            let statuses: Vec<u16> = (0..25).map(|_| s.authz(&secret, "").status).collect();
            assert_eq!(statuses.iter().filter(|c| **c == 200).count(), 19, "one admitted before: {statuses:?}");
            assert_eq!(s.stop().0, Some(0));
            // What serve held and did not admit went back: nothing is left over.
            let (code, doc) = v.verify(&secret, &[]);
            assert_eq!((code, doc["code"].as_str()), (Some(5), Some("RATE_LIMITED")), "{doc}");
            v.kw(["update", &id, "--ratelimit", "api=21/1h"]).assert().success();
            assert_eq!(v.verify(&secret, &[]).0, Some(0), "20 admitted, room for one more");
        }

        fn the_credits_a_serve_reports_count_what_it_holds(v: &TestVault) {
            let secret = v.create(&["--name", "api", "--credits", "100"]);
            let s = Serve::start(v, &[], &[]);
            let left: Vec<Value> = [1, 0, 1, 0]
                .iter()
                .map(|cost| {
                    let body = format!("{{\"key\": \"{secret}\", \"cost\": {cost}}}");
                    s.post("/v1/verify", &[("Content-Type", "application/json")], &body).json()["credits"].clone()
                })
                .collect();
            assert_eq!(left, [99, 99, 98, 98].map(Value::from), "{left:?}");
            assert_eq!(s.stop().0, Some(0));
            assert_eq!(credits(v, v.json(["show", "api"])["id"].as_str().expect("id")), 98);
        }

        fn a_locked_vault_is_a_503_soon_and_charges_nothing(v: &TestVault) {
            if v.url.is_some() {
                return; // The SQLite write lock; PostgreSQL's advisory lock is tested by lock_timeout.
            }
            let (key, secret) = v.create_json(&["--name", "api", "--credits", "10"]);
            let id = key["id"].as_str().expect("id").to_string();
            let s = Serve::start(v, &[], &[]);
            let lock = WriteLock::take(v);
            let started = std::time::Instant::now();
            assert_eq!(s.authz(&secret, "").status, 503);
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
            let metrics = s.get("/metrics", &[]).text();
            assert!(metrics.contains("keyward_verifications_total{code=\"VAULT_UNAVAILABLE\"} 1"), "{metrics}");
            drop(lock);
            // The request that got a 503 is not charged once the vault is free.
            std::thread::sleep(std::time::Duration::from_millis(300));
            assert_eq!(s.authz(&secret, "").status, 200);
            assert_eq!(s.stop().0, Some(0));
            assert_eq!(credits(v, &id), 9);
        }

        fn an_update_of_the_quota_is_honoured_by_the_next_request(v: &TestVault) {
            let (key, secret) = v.create_json(&["--name", "api", "--credits", "1000"]);
            let id = key["id"].as_str().expect("id").to_string();
            let s = Serve::start(v, &[], &[]);
            assert_eq!(s.authz(&secret, "").status, 200);
            v.kw(["update", &id, "--credits", "0"]).assert().success();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            // SQLite: the next request; PostgreSQL: within a second.
            loop {
                let status = s.authz(&secret, "").status;
                if status == 429 {
                    break;
                }
                assert!(v.url.is_some(), "SQLite: the next request is refused");
                assert!(std::time::Instant::now() < deadline, "still {status}");
            }
            assert_eq!(s.stop().0, Some(0));
            assert_eq!(credits(v, &id), 0, "what serve held is not given back over the new value");
        }
    }

    /// A vault restored under a running serve: what serve held in the old
    /// file is nothing in the new one, spent or given back.
    #[test]
    fn a_vault_put_in_place_under_serve_is_charged_from_its_own_credits() {
        let v = TestVault::new();
        let (key, secret) = v.create_json(&["--name", "api", "--credits", "100"]);
        let id = key["id"].as_str().expect("id").to_string();
        let backup = v.dir().join("backup.db");
        v.kw(["copy", "--to"]).arg(&backup).assert().success();
        let s = Serve::start(&v, &[], &[]);
        for _ in 0..3 {
            assert_eq!(s.authz(&secret, "").status, 200);
        }
        std::fs::rename(&backup, &v.path).expect("mv");
        std::thread::sleep(std::time::Duration::from_millis(100));
        for _ in 0..2 {
            assert_eq!(s.authz(&secret, "").status, 200);
        }
        assert_eq!(s.stop().0, Some(0));
        assert_eq!(
            credits(&v, &id),
            98,
            "two spent from the restored file, nothing more or less"
        );
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn two_replicas_on_one_postgres_vault_never_admit_more_than_the_limit() {
        let Some(v) = TestVault::postgres() else {
            return;
        };
        let secret = v.create(&["--name", "api", "--ratelimit", "api=20/10s"]);
        // On the real clock, so that windows and slots pass as they would.
        let real = || {
            let mut cmd = v.std(["serve", "--listen", "127.0.0.1:0"]);
            cmd.env_remove("KEYWARD_NOW");
            Serve::spawn(cmd, &v.dir().join("serve.log"))
        };
        let (a, b) = (real(), real());
        let started = std::time::Instant::now();
        let mut admitted = 0;
        while started.elapsed() < std::time::Duration::from_secs(3) {
            for s in [&a, &b] {
                admitted += hammer(s, &secret, 8).get(&200).copied().unwrap_or(0);
            }
        }
        // All within one 10 s window: at most the limit + 10% (SPEC); keyward
        // holds it exactly.
        assert!(admitted <= 20, "{admitted} admitted in 3 s");
        assert!(admitted >= 10, "the replicas share the limit: {admitted}");
        assert_eq!(a.stop().0, Some(0));
        assert_eq!(b.stop().0, Some(0));
    }
}
