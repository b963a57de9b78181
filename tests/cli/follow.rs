//! serve on PostgreSQL follows the activity log: a write makes it re-read
//! the keys that write changed and nothing else (counted by
//! `keyward_keys_reloaded_total`), last-used touches, usage flushes and
//! settings make it re-read nothing, and a lost connection is caught up
//! from the log, without a full reload and without refusing a valid key.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::serve::Serve;
use crate::common::*;

/// How long after a commit serve may still answer from the state before it.
const FRESH: Duration = Duration::from_secs(1);

/// serve's count of keys re-read since it started.
fn reloaded(s: &Serve) -> u64 {
    let text = s.get("/metrics", &[]).text();
    text.lines()
        .find_map(|l| l.strip_prefix("keyward_keys_reloaded_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no keyward_keys_reloaded_total in:\n{text}"))
}

/// A verdict without the key's last use, which serve records in batches
/// and a CLI verify records itself: the rest is what a verdict decides.
fn decided(mut doc: Value) -> Value {
    if let Some(key) = doc.get_mut("key").and_then(Value::as_object_mut) {
        key.remove("last_used_at");
    }
    if let Some(doc) = doc.as_object_mut() {
        doc.remove("warning");
    }
    doc
}

fn served(s: &Serve, secret: &str, scopes: &[&str]) -> Value {
    let body = serde_json::json!({"key": secret, "require_scopes": scopes}).to_string();
    let r = s.post("/v1/verify", &[("Content-Type", "application/json")], &body);
    assert_eq!(r.status, 200, "{}", r.text());
    decided(r.json())
}

/// What a fresh process says of `secret`.
fn truth(v: &TestVault, secret: &str, scopes: &[&str]) -> Value {
    let mut args = Vec::new();
    for scope in scopes {
        args.extend(["--require-scope", scope]);
    }
    decided(v.verify(secret, &args).1)
}

/// Asserts that serve's verdicts on `secrets` match a fresh process's
/// within [`FRESH`] of `committed`.
fn agrees_within_a_second(
    v: &TestVault,
    s: &Serve,
    committed: Instant,
    secrets: &[(&str, &[&str])],
    what: &str,
) {
    for (secret, scopes) in secrets {
        let expected = truth(v, secret, scopes);
        assert_ne!(expected, Value::Null, "{what}: no verdict from the CLI");
        loop {
            let got = served(s, secret, scopes);
            if got == expected {
                break;
            }
            assert!(
                committed.elapsed() <= FRESH,
                "{what}: serve still says {got} after {:?}, a fresh process {expected}",
                committed.elapsed()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Runs a write and returns when it committed (the command returned).
fn write(v: &TestVault, args: &[&str]) -> Instant {
    v.kw(args).assert().success();
    Instant::now()
}

/// Waits for serve's re-read count to reach `expected`, then checks that
/// it stays there over a few pings (no re-read beyond it).
fn reloaded_settles_at(s: &Serve, expected: u64, what: &str) {
    let started = Instant::now();
    while reloaded(s) < expected && started.elapsed() < FRESH {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(reloaded(s), expected, "{what}");
}

/// Appends `n` events naming the key `id` at once, as a mass change would
/// (written by hand: only the follower reads them, not the chain's check),
/// and wakes the followers.
fn backlog(admin: &mut postgres::Client, id: &str, n: u32) {
    admin
        .batch_execute(&format!(
            "INSERT INTO keyward.events (id, at, event, key_id, related_key_id, env, actor, \
             details, prev_hash, hash) \
             SELECT e.id + n, e.at, 'updated', '{id}', NULL, e.env, e.actor, '{{}}', \
             e.hash, md5(n::text) \
             FROM (SELECT * FROM keyward.events ORDER BY id DESC LIMIT 1) e, \
             generate_series(1, {n}) n; NOTIFY keyward_changes"
        ))
        .expect("a backlog of events");
}

#[test]
fn every_kind_of_key_event_reaches_serve_by_rereading_only_the_keys_it_names() {
    let Some(v) = TestVault::postgres() else {
        return;
    };
    let (_, main) = v.create_json(&["--name", "main"]);
    let (web_key, web) = v.create_json(&["--name", "web", "--scope", "read"]);
    let web_id = web_key["id"].as_str().expect("id").to_string();
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(reloaded(&s), 0, "the first load is no re-read");
    let mut count = 0;

    // created: one key.
    let committed = Instant::now();
    let (api_key, api) = v.create_json(&["--name", "api", "--scope", "read"]);
    let api_id = api_key["id"].as_str().expect("id").to_string();
    agrees_within_a_second(&v, &s, committed, &[(&api, &[])], "created");
    count += 1;
    reloaded_settles_at(&s, count, "created");

    // rotated: the old key (now in grace) and its successor.
    let committed = Instant::now();
    let rotated = v.json(["rotate", "web", "--grace", "1h"]);
    let web2 = rotated["secret"].as_str().expect("secret").to_string();
    agrees_within_a_second(
        &v,
        &s,
        committed,
        &[(&web, &["read"]), (&web2, &["read"])],
        "rotated",
    );
    count += 2;
    reloaded_settles_at(&s, count, "rotated");

    // grace_changed: the old key's grace ends now.
    let committed = write(&v, &["extend", &web_id, "--grace", "now"]);
    agrees_within_a_second(&v, &s, committed, &[(&web, &[])], "grace_changed");
    count += 1;
    reloaded_settles_at(&s, count, "grace_changed");

    // expiry_changed: the verdict carries the new expiry.
    let committed = write(&v, &["extend", "api", "--expires", "1h"]);
    agrees_within_a_second(&v, &s, committed, &[(&api, &[])], "expiry_changed");
    count += 1;
    reloaded_settles_at(&s, count, "expiry_changed");

    // updated: a scope added is required and granted.
    assert_eq!(served(&s, &web2, &["admin"])["code"], "INSUFFICIENT_SCOPE");
    let committed = write(&v, &["update", "web", "--add-scope", "admin"]);
    agrees_within_a_second(&v, &s, committed, &[(&web2, &["admin"])], "updated");
    assert_eq!(served(&s, &web2, &["admin"])["code"], "VALID");
    count += 1;
    reloaded_settles_at(&s, count, "updated");

    // revoked.
    let committed = write(&v, &["revoke", &api_id, "--yes"]);
    agrees_within_a_second(&v, &s, committed, &[(&api, &[])], "revoked");
    assert_eq!(served(&s, &api, &[])["code"], "API_KEY_REVOKED");
    count += 1;
    reloaded_settles_at(&s, count, "revoked");

    // Nothing else moved: the keys no event named answer as before.
    agrees_within_a_second(&v, &s, Instant::now(), &[(&main, &[])], "untouched");
    assert_eq!(s.get("/readyz", &[]).status, 200);
}

#[test]
fn a_touch_a_usage_flush_and_a_setting_make_serve_reread_nothing() {
    let Some(v) = TestVault::postgres() else {
        return;
    };
    let main = v.create(&["--name", "main"]);
    let web = v.create(&["--name", "web"]);
    let watcher = Serve::start(&v, &[], &[]);
    assert_eq!(watcher.authz(&web, "").status, 200);

    let url = v.url.clone().expect("url");
    let mut listener = crate::common::pg::client(&url);
    listener
        .batch_execute("LISTEN keyward_changes")
        .expect("listen");

    // A CLI verify records last use (a write, never a change to follow).
    let (code, _) = v.verify(&main, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(v.json(["show", "main"])["last_used_at"], NOW);

    // Another serve counts uses and flushes them as it stops.
    let counter = Serve::start(&v, &[], &[]);
    for _ in 0..3 {
        assert_eq!(counter.authz(&web, "").status, 200);
    }
    let (status, log) = counter.stop();
    assert_eq!(status, Some(0), "{log}");
    let shown = v.json(["show", "web"]);
    assert_eq!(
        shown["usage"][0]["valid"], 3,
        "serve flushed no usage: {shown}"
    );
    assert_eq!(shown["last_used_at"], NOW);
    {
        use postgres::fallible_iterator::FallibleIterator;
        let mut notifications = listener.notifications();
        let heard = notifications
            .timeout_iter(Duration::from_millis(300))
            .next()
            .expect("notifications");
        assert!(heard.is_none(), "a touch or a usage flush notified serve");
    }

    // Settings decide no verdict (prefix, max-keys and rotate-every act on
    // keys made later).
    v.kw(["config", "set", "prefix", "zz"]).assert().success();
    v.kw(["config", "set", "max-keys", "50"]).assert().success();

    reloaded_settles_at(&watcher, 0, "touch, usage flush and settings");
    // Nothing re-read, yet /v1/verify shows the record as the vault holds
    // it now, the CLI's last use included: a response reads it whole.
    let body = serde_json::json!({ "key": main }).to_string();
    let shown = watcher
        .post("/v1/verify", &[("Content-Type", "application/json")], &body)
        .json();
    assert_eq!(shown["key"]["last_used_at"], NOW, "{shown}");
    agrees_within_a_second(
        &v,
        &watcher,
        Instant::now(),
        &[(&main, &[]), (&web, &[])],
        "after touch, flush and settings",
    );

    // The follower went past those events: the next change costs one key.
    let committed = Instant::now();
    let (_, api) = v.create_json(&["--name", "api"]);
    agrees_within_a_second(&v, &watcher, committed, &[(&api, &[])], "created");
    assert!(api.starts_with("zz_"), "the new prefix applies to new keys");
    reloaded_settles_at(&watcher, 1, "one key created");
}

#[test]
fn a_lost_connection_while_writes_go_on_loses_no_change_and_refuses_no_valid_key() {
    let Some(v) = TestVault::postgres() else {
        return;
    };
    v.kw(["config", "set", "max-keys", "50"]).assert().success();
    let main = v.create(&["--name", "main"]);
    let mut keys: Vec<(String, String)> = Vec::new();
    for i in 0..3 {
        let (key, secret) = v.create_json(&["--name", &format!("k{i}")]);
        keys.push((key["id"].as_str().expect("id").to_string(), secret));
    }
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&main, "").status, 200);
    let url = v.url.clone().expect("url");
    let mut admin = crate::common::pg::client(&url);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut named = 0u64;
    let refused = std::thread::scope(|scope| {
        let checker = scope.spawn(|| {
            let mut refused = Vec::new();
            let mut asked = 0;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                let r = s.authz(&main, "");
                asked += 1;
                if r.status != 200 {
                    refused.push((r.status, r.header("x-keyward-code").map(str::to_string)));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (asked, refused)
        });
        for i in 3..9 {
            let (key, secret) = v.create_json(&["--name", &format!("k{i}")]);
            keys.push((key["id"].as_str().expect("id").to_string(), secret));
            named += 1;
            // Every session but this one: serve's (the CLI's have ended).
            admin
                .batch_execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                .expect("terminate serve's sessions");
            // Written while serve reconnects.
            let (victim, _) = &keys[i - 3];
            v.kw(["revoke", victim, "--yes"]).assert().success();
            named += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        checker.join().expect("checker")
    });
    let committed = Instant::now();
    let (asked, refused) = refused;
    assert!(asked > 10, "the checker asked only {asked} times");
    assert!(
        refused.is_empty(),
        "a valid key was refused while serve reconnected: {refused:?}\n{}",
        s.log_text()
    );
    let secrets: Vec<(&str, &[&str])> = keys
        .iter()
        .map(|(_, secret)| (secret.as_str(), &[][..]))
        .collect();
    agrees_within_a_second(&v, &s, committed, &secrets, "after reconnects");
    for (_, secret) in &keys[..6] {
        assert_eq!(served(&s, secret, &[])["code"], "API_KEY_REVOKED");
    }
    // Caught up from the log each time: never a reload of every key.
    std::thread::sleep(Duration::from_millis(400));
    let count = reloaded(&s);
    assert!(
        count <= named,
        "{count} keys re-read for {named} keys changed: a full reload happened"
    );
    assert_eq!(s.get("/readyz", &[]).status, 200);
}

#[test]
fn a_vault_put_in_place_of_the_one_followed_is_read_whole() {
    let Some(v) = TestVault::postgres() else {
        return;
    };
    let old = v.create(&["--name", "main"]);
    v.create(&["--name", "web"]);
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&old, "").status, 200);

    // Another vault with a log as long, whose events have other hashes.
    let other = TestVault::new();
    let mut secrets = Vec::new();
    for name in ["a", "b", "c"] {
        secrets.push(other.create(&["--name", name]));
    }
    let url = v.url.clone().expect("url");
    let mut admin = crate::common::pg::client(&url);
    admin
        .batch_execute("DROP SCHEMA keyward CASCADE")
        .expect("drop the vault");
    other.kw(["copy", "--to", &url]).assert().success();
    let started = Instant::now();
    for secret in &secrets {
        while s.authz(secret, "").status != 200 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the new vault's keys are not served: {}",
                s.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(
        s.authz(&old, "").header("x-keyward-code"),
        Some("API_KEY_INVALID"),
        "a key of the vault that is gone still works"
    );
    assert_eq!(reloaded(&s), 3, "every key of the new vault, read once");
}

#[test]
fn a_long_backlog_is_caught_up_in_one_go_without_refusing_a_valid_key() {
    let Some(v) = TestVault::postgres() else {
        return;
    };
    let main = v.create(&["--name", "main"]);
    let (web, web_secret) = v.create_json(&["--name", "web"]);
    let web = web["id"].as_str().expect("id").to_string();
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&main, "").status, 200);
    // A long backlog written at once: each event names the key `web` (as
    // a mass change would).
    let url = v.url.clone().expect("url");
    let mut admin = crate::common::pg::client(&url);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (asked, refused) = std::thread::scope(|scope| {
        let checker = scope.spawn(|| {
            let (mut asked, mut refused) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                let r = s.authz(&main, "");
                asked += 1;
                if r.status != 200 {
                    refused.push(r.status);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (asked, refused)
        });
        backlog(&mut admin, &web, 1_200_000);
        // Until serve has read it all (the one key they name, once).
        let started = Instant::now();
        while reloaded(&s) < 1 && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        checker.join().expect("checker")
    });
    assert!(asked > 10, "the checker asked only {asked} times");
    assert!(
        refused.is_empty(),
        "a valid key was refused while serve caught up: {refused:?}\n{}",
        s.log_text()
    );
    // Read in one go: the one key they name, re-read once.
    reloaded_settles_at(&s, 1, "1,200,000 events naming one key");
    // Caught up: the next change is followed as ever.
    let committed = write(&v, &["revoke", &web, "--yes"]);
    agrees_within_a_second(
        &v,
        &s,
        committed,
        &[(&main, &[]), (&web_secret, &[])],
        "after the backlog",
    );
    assert_eq!(served(&s, &web_secret, &[])["code"], "API_KEY_REVOKED");
}

#[test]
fn a_verdict_waits_for_a_slow_answer_from_the_server_rather_than_refusing() {
    let Some(v) = TestVault::postgres() else {
        return;
    };
    let main = v.create(&["--name", "main"]);
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&main, "").status, 200);
    let url = v.url.clone().expect("url");
    let mut admin = crate::common::pg::client(&url);
    // The follower's reads of the log block (nothing fails) for 1.6 s.
    let mut tx = admin.transaction().expect("begin");
    tx.batch_execute("LOCK TABLE keyward.events IN ACCESS EXCLUSIVE MODE")
        .expect("lock");
    let held = Instant::now();
    std::thread::sleep(Duration::from_millis(1300));
    let asked = std::thread::scope(|scope| {
        let asking = scope.spawn(|| {
            let started = Instant::now();
            (s.authz(&main, ""), started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(1600).saturating_sub(held.elapsed()));
        tx.commit().expect("release");
        asking.join().expect("asking")
    });
    let (reply, took) = asked;
    // Unconfirmed for over a second, but no error: the verdict waited for
    // the answer, and was then given from a state known to be current.
    assert_eq!(reply.status, 200, "{}", s.log_text());
    assert!(
        took >= Duration::from_millis(100),
        "answered after {took:?}"
    );
    assert_eq!(s.get("/readyz", &[]).status, 200);
}

#[test]
fn a_follower_that_stalls_through_a_long_backlog_never_answers_from_part_of_it() {
    let Some(v) = TestVault::postgres() else {
        return;
    };
    v.kw(["config", "set", "max-keys", "50"]).assert().success();
    let main = v.create(&["--name", "main"]);
    let (web, _) = v.create_json(&["--name", "web"]);
    let web = web["id"].as_str().expect("id").to_string();
    let (victim, victim_secret) = v.create_json(&["--name", "victim"]);
    let victim = victim["id"].as_str().expect("id").to_string();
    let s = Serve::start(&v, &[], &[]);
    assert_eq!(s.authz(&victim_secret, "").status, 200);
    let url = v.url.clone().expect("url");
    let mut admin = crate::common::pg::client(&url);
    // The follower's server session stops (a stalled server or network).
    let follower: i32 = admin
        .query_one(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND query LIKE 'SELECT id, hash%FROM keyward.events%'",
            &[],
        )
        .expect("the follower's session")
        .get(0);
    crate::common::serve::signal(u32::try_from(follower).expect("pid"), "STOP");
    // Meanwhile a long backlog, and after it the revocation.
    backlog(&mut admin, &web, 30_000);
    v.kw(["revoke", &victim, "--yes"]).assert().success();
    let revoked = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    crate::common::serve::signal(u32::try_from(follower).expect("pid"), "CONT");
    // Later than 1 s after the revocation, never a 200 for the revoked key:
    // a 503 or a wait while serve is behind, then 401.
    let mut late = Vec::new();
    let mut last = 0;
    while revoked.elapsed() < Duration::from_secs(5) {
        let asked = revoked.elapsed();
        last = s.authz(&victim_secret, "").status;
        if asked > FRESH {
            late.push(last);
        }
    }
    assert!(
        !late.contains(&200),
        "a key revoked over 1 s before was allowed: {late:?}"
    );
    assert_eq!(last, 401, "{late:?}");
    assert_eq!(s.authz(&main, "").status, 200);
}
