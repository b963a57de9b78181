//! Many keyward processes writing one vault at once: nothing lost, no
//! "database is locked", limits exact, the log chain intact. A write that
//! waits for the lock judges its key when it gets it: jobs that resolved the
//! same key make one successor between them, and a key that expired during
//! the wait is refused, not revived.

use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use crate::common::*;

fn run(v: &TestVault, args: &[&str]) -> Output {
    v.kw(args).output().expect("run keyward")
}

fn assert_clean(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed: {err}");
    assert!(!err.to_lowercase().contains("locked"), "{what}: {err}");
}

/// 8 workers × 15 rounds of create + rotate; `env_of(worker)` says where.
fn create_and_rotate(v: &TestVault, env_of: fn(usize) -> String) {
    v.kw(["config", "set", "max-keys", "500"])
        .assert()
        .success();
    thread::scope(|s| {
        for w in 0..8 {
            s.spawn(move || {
                let env = env_of(w);
                for i in 0..15 {
                    let name = format!("w{w}-k{i}");
                    let out = run(v, &["--json", "create", "--name", &name, "--env", &env]);
                    assert_clean(&out, &format!("create {name}"));
                    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
                    let id = doc["key"]["id"].as_str().expect("id").to_string();
                    assert_clean(
                        &run(v, &["rotate", &id, "--grace", "1h"]),
                        &format!("rotate {name}"),
                    );
                }
            });
        }
    });
    let all = v.json(["list", "--all"]);
    let keys = all.as_array().expect("array");
    assert_eq!(
        keys.len(),
        8 * 15 * 2,
        "every created and rotated key is there"
    );
    assert_eq!(
        keys.iter().filter(|k| k["status"] == "active").count(),
        8 * 15
    );
    assert_eq!(
        keys.iter().filter(|k| k["status"] == "grace").count(),
        8 * 15
    );
    assert_eq!(v.json(["log", "--verify"])["events"], 1 + 8 * 15 * 2);
}

/// Starts `n` creates in `env` at once and returns their exit codes,
/// checking that none saw a locked database.
fn race_creates(v: &TestVault, n: usize, env: &str) -> Vec<Option<i32>> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            std::process::Command::new(BIN)
                .arg("--vault")
                .arg(v.location())
                .args(["create", "--env", env, "--name", &format!("r{i}")])
                .env("KEYWARD_ACTOR", ACTOR)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("locked"), "{err}");
            out.status.code()
        })
        .collect()
}

fn assert_exactly(codes: &[Option<i32>], ok: usize) {
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        ok,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(4)).count(),
        codes.len() - ok,
        "{codes:?}"
    );
}

#[test]
fn parallel_first_use_creates_the_vault_and_its_schema_once() {
    let v = TestVault::new();
    assert_exactly(&race_creates(&v, 10, "default"), 3);
    assert_eq!(v.json(["list"]).as_array().map(Vec::len), Some(3));
    let version: i64 = v
        .sql()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("v");
    assert_eq!(version, 8, "the current schema version");
    v.kw(["log", "--verify"]).assert().success();
}

crate::on_both_engines! {
    fn eight_writers_in_separate_environments_lose_nothing(v: &TestVault) {
        create_and_rotate(v, |w| format!("env{w}"));
    }

    fn eight_writers_in_one_environment_lose_nothing(v: &TestVault) {
        create_and_rotate(v, |_| "shared".to_string());
    }

    fn twelve_processes_racing_for_three_slots_get_exactly_three(v: &TestVault) {
        v.create(&["--name", "elsewhere", "--env", "other"]);
        assert_exactly(&race_creates(v, 12, "race"), 3);
        assert_eq!(
            v.json(["list", "--env", "race"]).as_array().map(Vec::len),
            Some(3)
        );
    }
}

/// serve replicas on one PostgreSQL vault flushing counts for the same
/// keys at the same moment wait for each other: no flush fails (a deadlock
/// would abort one, and at shutdown its counts would be lost), and every
/// verification is counted once.
#[cfg(all(feature = "serve", feature = "postgres"))]
#[test]
fn replicas_flushing_the_same_keys_at_once_lose_no_count() {
    let Some(v) = TestVault::postgres() else {
        return;
    };
    v.kw(["config", "set", "max-keys", "1000"])
        .assert()
        .success();
    let secrets: Vec<String> = (0..150)
        .map(|i| v.create(&["--name", &format!("k{i}")]))
        .collect();
    let replicas: Vec<crate::common::serve::Serve> = (0..4)
        .map(|_| crate::common::serve::Serve::start(&v, &[], &[]))
        .collect();
    thread::scope(|scope| {
        for s in &replicas {
            let secrets = &secrets;
            scope.spawn(move || {
                for secret in secrets {
                    assert_eq!(s.authz(secret, "").status, 200);
                }
            });
        }
    });
    // Every replica stops (and flushes what it counted) at once.
    for s in &replicas {
        crate::common::serve::signal(s.pid(), "TERM");
    }
    for s in replicas {
        let (code, log) = s.stop();
        assert_eq!(code, Some(0), "{log}");
        assert!(
            !log.contains("cannot write usage counts") && !log.contains("lost"),
            "a flush failed:\n{log}"
        );
    }
    let url = v.url.clone().expect("url");
    let row = crate::common::pg::client(&url)
        .query_one(
            "SELECT count(*), sum(valid)::bigint FROM keyward.usage",
            &[],
        )
        .expect("usage");
    let (rows, valid): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!((rows, valid), (150, 600), "one row per key, four uses each");
}

/// The binary with the real clock (no KEYWARD_NOW), for tests in which
/// time must pass while a command waits.
fn real_clock(v: &TestVault, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--vault")
        .arg(&v.path)
        .args(args)
        .env("HOME", v.dir().join("home"))
        .env("KEYWARD_ACTOR", ACTOR)
        .env_remove("KEYWARD_NOW")
        .env_remove("KEYWARD_VAULT");
    cmd
}

fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run keyward")
}

/// A rotation that waits for another writer judges the key when
/// it gets the lock. The key expires during the wait, so it is refused, not
/// revived into a fresh grace.
#[test]
fn a_key_that_expires_while_a_rotation_waits_for_the_lock_is_not_revived() {
    let v = TestVault::new();
    let run = |args: &[&str]| output(&mut real_clock(&v, args));
    assert!(
        run(&["create", "--name", "web", "--expires", "2s"])
            .status
            .success()
    );
    assert!(run(&["create", "--name", "other"]).status.success());
    let lock = WriteLock::take(&v);
    let rotate = real_clock(&v, &["rotate", "web", "--grace", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let extend = real_clock(&v, &["extend", "web", "--expires", "1h"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Both have resolved `web` (active) and wait for the lock; it expires.
    std::thread::sleep(Duration::from_secs(3));
    drop(lock);
    for (what, child) in [("rotate", rotate), ("extend", extend)] {
        let out = child.wait_with_output().expect("wait");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{what}: {err}");
        assert!(err.contains("is expired"), "{what}: {err}");
    }
    let keys = v.json(["list", "--all"]);
    let web: Vec<_> = keys
        .as_array()
        .expect("array")
        .iter()
        .filter(|k| k["name"] == "web")
        .collect();
    assert_eq!(web.len(), 1, "no successor was made");
    assert!(web[0]["rotated_to"].is_null());
}

/// Two jobs that resolved `web` to the same key before either
/// held the lock: one rotates it, the other is refused naming the successor,
/// instead of rotating the successor and putting the first job's fresh
/// secret into grace.
#[test]
fn two_rotations_of_one_key_yield_one_successor() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let lock = WriteLock::take(&v);
    let jobs: Vec<_> = (0..2)
        .map(|_| {
            v.std(["--json", "rotate", "web", "--grace", "1h"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    drop(lock);
    let outs: Vec<Output> = jobs
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let won: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
    let lost: Vec<&Output> = outs.iter().filter(|o| !o.status.success()).collect();
    assert_eq!((won.len(), lost.len()), (1, 1), "{outs:?}");
    let successor =
        serde_json::from_slice::<serde_json::Value>(&won[0].stdout).expect("json")["key"]["id"]
            .as_str()
            .expect("id")
            .to_string();
    let err = text(&lost[0].stderr);
    assert_eq!(lost[0].status.code(), Some(4), "{err}");
    assert!(
        err.contains("already rotated") && err.contains(&successor),
        "{err}"
    );
}

crate::on_both_engines! {
    /// The race of the "done when": 8 processes × 20 rotations of
    /// `web` by name. Each succeeds or is refused naming the successor; one
    /// active `web` remains; every secret handed out is the live key's or in
    /// grace because a later successful rotation replaced it; the chain holds.
    fn eight_jobs_rotating_one_name_hand_out_no_orphaned_secret(v: &TestVault) {
        v.create(&["--name", "web"]);
        let results: Vec<(Option<i32>, Vec<u8>, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        (0..20)
                            .map(|_| {
                                let out = v
                                    .kw(["--json", "rotate", "web", "--grace", "1h"])
                                    .output()
                                    .expect("run");
                                (out.status.code(), out.stdout, text(&out.stderr))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("thread"))
                .collect()
        });
        let mut delivered = Vec::new();
        for (code, stdout, err) in &results {
            match code {
                Some(0) => {
                    let doc: serde_json::Value = serde_json::from_slice(stdout).expect("json");
                    delivered.push((
                        doc["key"]["id"].as_str().expect("id").to_string(),
                        doc["secret"].as_str().expect("secret").to_string(),
                    ));
                }
                Some(4) => assert!(
                    err.contains("already rotated: its successor is key_"),
                    "{err}"
                ),
                other => panic!("exit {other:?}: {err}"),
            }
            assert!(!err.to_lowercase().contains("locked"), "{err}");
        }
        assert!(!delivered.is_empty());
        let keys = v.json(["list", "--all"]);
        let keys = keys.as_array().expect("array");
        let active: Vec<_> = keys.iter().filter(|k| k["status"] == "active").collect();
        assert_eq!(active.len(), 1, "exactly one active web");
        let delivered_ids: Vec<&str> = delivered.iter().map(|(id, _)| id.as_str()).collect();
        for (id, secret) in &delivered {
            let key = keys
                .iter()
                .find(|k| k["id"] == id.as_str())
                .expect("stored");
            match key["status"].as_str() {
                Some("active") => {}
                Some("grace") => {
                    let next = key["rotated_to"].as_str().expect("successor");
                    assert!(
                        delivered_ids.contains(&next),
                        "{id} went into grace for {next}, which no job was given"
                    );
                }
                other => panic!("{id} is {other:?}"),
            }
            let (code, verdict) = v.verify(secret, &[]);
            assert_eq!(code, Some(0), "{verdict}");
            assert_eq!(verdict["key"]["id"], key["id"], "the secret is that key's");
        }
        assert_eq!(
            delivered.len() + 1,
            keys.len(),
            "one key per success, plus the first"
        );
        v.kw(["log", "--verify"]).assert().success();
    }
}
