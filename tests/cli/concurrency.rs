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
fn create_and_rotate(env_of: fn(usize) -> String) {
    let v = TestVault::new();
    v.kw(["config", "set", "max-keys", "500"])
        .assert()
        .success();
    thread::scope(|s| {
        for w in 0..8 {
            let v = &v;
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

#[test]
fn eight_writers_in_separate_environments_lose_nothing() {
    create_and_rotate(|w| format!("env{w}"));
}

#[test]
fn eight_writers_in_one_environment_lose_nothing() {
    create_and_rotate(|_| "shared".to_string());
}

#[test]
fn twelve_processes_racing_for_three_slots_get_exactly_three() {
    let v = TestVault::new();
    v.create(&["--name", "elsewhere", "--env", "other"]);
    let children: Vec<_> = (0..12)
        .map(|i| {
            std::process::Command::new(BIN)
                .arg("--vault")
                .arg(&v.path)
                .args(["create", "--env", "race", "--name", &format!("r{i}")])
                .env("KEYWARD_ACTOR", ACTOR)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let codes: Vec<_> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            assert!(!String::from_utf8_lossy(&out.stderr).contains("locked"));
            out.status.code()
        })
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        3,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(4)).count(),
        9,
        "{codes:?}"
    );
    assert_eq!(
        v.json(["list", "--env", "race"]).as_array().map(Vec::len),
        Some(3)
    );
}
