//! Many keyward processes writing one vault at once: nothing lost, no
//! "database is locked", limits exact, the log chain intact.

use std::process::Output;
use std::thread;

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
    assert_eq!(version, 6, "the current schema version");
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
