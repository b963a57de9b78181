//! Lifecycle policies: `retire` ends the grace of keys nothing uses, and a
//! rotation policy (`rotate-every`) says when keys are due, refused when
//! stored corrupt and repaired by setting it again.

use crate::common::*;

const T0: &str = "2026-11-23T10:00:00Z";
const T1030: &str = "2026-11-23T10:30:00Z";
const T1130: &str = "2026-11-23T11:30:00Z";

fn create_at(v: &TestVault, at: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["--json", "create"];
    all.extend_from_slice(args);
    let out = v.kw_at(at, all).assert().success();
    let doc = json(&out);
    (
        doc["key"]["id"].as_str().expect("id").to_string(),
        doc["secret"].as_str().expect("secret").to_string(),
    )
}

fn ids(doc: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> = doc
        .as_array()
        .expect("list")
        .iter()
        .map(|k| k["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids
}

fn quiet_events(v: &TestVault) -> usize {
    v.json(["log", "--event", "grace_changed", "--limit", "1000"])
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["details"]["reason"] == "quiet")
        .count()
}

crate::on_both_engines! {
    fn retire_ends_exactly_the_keys_nothing_used(v: &TestVault) {
        v.kw_at(T0, ["config", "set", "max-keys", "10"]).assert().success();
        let (main, _) = create_at(v, T0, &["--name", "main"]);
        let (a, _) = create_at(v, T0, &["--name", "a"]);
        let (b, b_secret) = create_at(v, T0, &["--name", "b"]);
        let (c, c_secret) = create_at(v, T0, &["--name", "c"]);
        let (d, _) = create_at(v, T0, &["--name", "d"]);
        let (e, _) = create_at(v, T0, &["--name", "e", "--env", "other"]);
        for name in ["a", "b"] {
            v.kw_at(T0, ["rotate", name, "--grace", "24h"]).assert().success();
        }
        v.kw_at(T0, ["rotate", "e", "--env", "other", "--grace", "24h"]).assert().success();
        // c is used, then rotated later: quiet only since its rotation.
        assert_eq!(v.verify_at(T1030, &format!("{c_secret}\n"), &[]).0, Some(0));
        // b, in grace, is still used.
        assert_eq!(v.verify_at(T1130, &format!("{b_secret}\n"), &[]).0, Some(0));
        v.kw_at(T1130, ["rotate", "c", "--grace", "24h"]).assert().success();

        // At noon, quiet for over an hour: a only (b used 30 min ago, c
        // rotated 30 min ago, d active, e in another environment).
        let dry = v.json(["retire", "--quiet-for", "1h", "--env", "default", "--dry-run"]);
        assert_eq!(ids(&dry), vec![a.clone()]);
        assert_eq!(dry[0]["status"], "grace", "a dry run changes nothing");
        let human = stdout(&v.kw(["retire", "--quiet-for", "1h", "--env", "default", "--dry-run"]).assert().success());
        assert!(human.contains("Would end the grace of") && human.contains("(quiet since 2h ago)"), "{human}");
        assert_eq!(quiet_events(v), 0);
        // Without a terminal, --yes is required.
        v.kw(["retire", "--quiet-for", "1h"]).assert().code(2);

        let done = v.json(["retire", "--quiet-for", "1h", "--env", "default", "--yes"]);
        assert_eq!(ids(&done), vec![a.clone()]);
        assert_eq!(done[0]["status"], "expired");
        assert_eq!(done[0]["expires_at"], NOW);
        let event = &v.json(["log", &a, "--event", "grace_changed"])[0];
        assert_eq!(event["details"]["reason"], "quiet");
        assert_eq!(event["actor"], ACTOR);
        // Idempotent: nothing more to end, no event written.
        assert_eq!(ids(&v.json(["retire", "--quiet-for", "1h", "--env", "default", "--yes"])), Vec::<String>::new());
        assert_eq!(quiet_events(v), 1);
        for (id, status) in [(&b, "grace"), (&c, "grace"), (&d, "active"), (&main, "active"), (&e, "grace")] {
            assert_eq!(v.json(["show", id.as_str()])["status"], status, "{id}");
        }
        // Every environment when none is named; a shorter quiet time.
        let all = v.json(["retire", "--quiet-for", "20m", "--yes"]);
        assert_eq!(ids(&all), { let mut x = vec![b.clone(), c.clone(), e.clone()]; x.sort(); x });
        assert_eq!(quiet_events(v), 4);
        v.kw(["log", "--verify"]).assert().success();
        v.kw(["retire", "--quiet-for", "2030-01-01T00:00:00Z", "--yes"]).assert().code(2);
        v.kw(["retire", "--quiet-for", "soon", "--yes"]).assert().code(2);
    }

    fn retire_races_rotations_without_ending_a_key_twice(v: &TestVault) {
        v.kw_at(T0, ["config", "set", "max-keys", "10"]).assert().success();
        create_at(v, T0, &["--name", "main"]);
        let names = ["w0", "w1", "w2", "w3"];
        for name in names {
            create_at(v, T0, &["--name", name]);
            v.kw_at(T0, ["rotate", name, "--grace", "24h"]).assert().success();
        }
        let mut children = Vec::new();
        for name in names {
            children.push(v.std(["rotate", name, "--grace", "1h"]).output_async());
            children.push(v.std(["retire", "--quiet-for", "30m", "--yes"]).output_async());
        }
        for child in children {
            let out = child.join().expect("join");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        // The four keys rotated at 10:00 were each ended once; the keys
        // rotated just now are in grace, untouched.
        assert_eq!(quiet_events(v), 4);
        let live = v.json(["list"]);
        let grace = live.as_array().expect("list").iter().filter(|k| k["status"] == "grace").count();
        assert_eq!(grace, 4);
        v.kw(["log", "--verify"]).assert().success();
    }
}

trait OutputAsync {
    fn output_async(self) -> std::thread::JoinHandle<std::process::Output>;
}

impl OutputAsync for std::process::Command {
    fn output_async(mut self) -> std::thread::JoinHandle<std::process::Output> {
        std::thread::spawn(move || self.output().expect("run"))
    }
}

const LATER: &str = "2026-12-24T12:00:00Z";

crate::on_both_engines! {
    fn rotation_policies_say_when_keys_are_due(v: &TestVault) {
        v.kw(["config", "set", "max-keys", "10"]).assert().success();
        v.kw(["config", "set", "rotate-every", "30d"]).assert().success();
        assert_eq!(v.json(["config"])["rotate_every"], "30d");
        let changed = &v.json(["log", "--event", "config_changed"])[0];
        assert_eq!(changed["details"]["new"], "30d");
        let (a, _) = v.create_json(&["--name", "a"]);
        assert_eq!(a["rotate_every"], "30d", "the setting is the default");
        assert_eq!(a["rotation_due_at"], "2026-12-23T12:00:00Z");
        let (b, _) = v.create_json(&["--name", "b", "--rotate-every", "never"]);
        assert_eq!(b["rotate_every"], serde_json::Value::Null);
        assert_eq!(b["rotation_due_at"], serde_json::Value::Null);
        let (c, _) = v.create_json(&["--name", "c", "--rotate-every", "7d"]);
        assert_eq!(c["rotation_due_at"], "2026-11-30T12:00:00Z");
        // A new default changes new keys only.
        v.kw(["config", "set", "rotate-every", "never"]).assert().success();
        let (d, _) = v.create_json(&["--name", "d"]);
        assert_eq!(d["rotate_every"], serde_json::Value::Null);
        assert_eq!(v.json(["show", "a"])["rotate_every"], "30d");
        // People read the same short form, in tables without trailing spaces.
        let shown = stdout(&v.kw(["show", "a"]).assert().success());
        assert!(shown.lines().any(|l| l.trim() == "rotate every  30d" || (l.contains("rotate every") && l.trim_end().ends_with(" 30d"))), "{shown}");
        for args in [vec!["show", "a"], vec!["list"], vec!["log"], vec!["config"]] {
            let out = stdout(&v.kw(&args).assert().success());
            assert!(!out.contains("days"), "{args:?}: {out}");
            assert!(out.lines().all(|l| l == l.trim_end()), "{args:?} ends lines in spaces: {out:?}");
        }

        assert_eq!(ids(&v.json(["list", "--due"])), Vec::<String>::new());
        assert_eq!(ids(&v.json(["list", "--due", "--within", "8d"])), vec![c["id"].as_str().expect("id").to_string()]);
        let mut due = vec![a["id"].as_str().expect("a").to_string(), c["id"].as_str().expect("c").to_string()];
        due.sort();
        let later = json(&v.kw_at(LATER, ["--json", "list", "--due"]).assert().success());
        assert_eq!(ids(&later), due);
        let table = stdout(&v.kw_at(LATER, ["list"]).assert().success());
        let marked: Vec<&str> = table.lines().filter(|l| l.contains("active DUE")).collect();
        assert_eq!(marked.len(), 2, "{table}");

        // A successor inherits the policy, and its clock starts at the rotation.
        let rotated = json(&v.kw_at(LATER, ["--json", "rotate", "a", "--grace", "1h"]).assert().success());
        assert_eq!(rotated["key"]["rotate_every"], "30d");
        assert_eq!(rotated["key"]["rotation_due_at"], "2027-01-23T12:00:00Z");
        assert_eq!(rotated["previous"]["rotation_due_at"], serde_json::Value::Null, "in grace: not due");
        let faster = json(&v.kw_at(LATER, ["--json", "rotate", "c", "--grace", "now", "--rotate-every", "14d"]).assert().success());
        assert_eq!(faster["key"]["rotate_every"], "14d");
        let after = json(&v.kw_at(LATER, ["--json", "list", "--due"]).assert().success());
        assert_eq!(ids(&after), Vec::<String>::new());

        for bad in ["0s", "30s", "-1d", "11y", "soon", "2030-01-01T00:00:00Z", "1M"] {
            v.kw(["create", "--name", "x", "--rotate-every", bad]).assert().code(2);
            v.kw(["config", "set", "rotate-every", bad]).assert().code(2);
        }
        v.kw(["list", "--within", "7d"]).assert().code(2);
        v.kw(["log", "--verify"]).assert().success();
    }
}

/// A corrupt stored rotate-every is an error naming the setting, and the
/// command that sets it repairs it (recorded as changed from `(corrupt)`);
/// a key's stored policy outside 1m..10 years is refused as corrupt
/// (VAULT_CORRUPT), never taken as it is.
#[test]
fn a_corrupt_rotation_policy_is_refused_and_repairable() {
    let v = TestVault::new();
    v.create(&["--name", "main"]);
    v.sql()
        .execute(
            "INSERT INTO settings (name, value) VALUES ('rotate-every', 'bogus')",
            [],
        )
        .expect("corrupt");
    v.kw(["config"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("rotate-every"));
    v.kw(["config", "set", "max-keys", "5"]).assert().code(1);
    v.kw(["config", "set", "rotate-every", "never"])
        .assert()
        .success();
    assert_eq!(v.json(["config"])["rotate_every"], serde_json::Value::Null);
    let changed = &v.json(["log", "--event", "config_changed"])[0];
    assert_eq!(changed["details"]["old"], "(corrupt)");
    v.kw(["config", "set", "max-keys", "5"]).assert().success();
    for secs in [30i64, 315_619_201, i64::MAX] {
        v.sql()
            .execute(
                "UPDATE keys SET rotate_every = ?1 WHERE name = 'main'",
                [secs],
            )
            .expect("corrupt");
        let out = v.kw(["--json", "list"]).assert().code(1);
        let err: serde_json::Value =
            serde_json::from_slice(&out.get_output().stderr).expect("json");
        assert_eq!(err["error"]["code"], "VAULT_CORRUPT", "{secs}");
    }
}

/// Last use is recorded at most once a minute (verify) and every 10 s
/// (serve): a quiet time shorter than that would end keys still in use.
#[test]
fn retire_refuses_a_quiet_time_below_the_resolution_of_last_use() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    v.kw(["rotate", "web", "--grace", "24h"]).assert().success();
    for short in ["now", "0s", "5s", "1m", "119s"] {
        for mode in ["--dry-run", "--yes"] {
            let err = stderr(
                &v.kw(["retire", "--quiet-for", short, mode])
                    .assert()
                    .code(2),
            );
            assert!(
                err.contains("at least 2m") && err.contains("once a minute"),
                "{short}: {err}"
            );
        }
    }
    assert_eq!(quiet_events(&v), 0, "nothing ended");
    v.kw(["retire", "--quiet-for", "2m", "--dry-run"])
        .assert()
        .success();
}

/// Every refusal of `retire --quiet-for` says what it takes, a duration of
/// at least 2m: `never`, a past or future time, `soon` or `now` is never
/// told to give "a duration or time … or now" or "a future time", which
/// retire does not take.
#[test]
fn retire_says_it_takes_a_duration_of_at_least_2m() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    v.kw(["rotate", "web", "--grace", "24h"]).assert().success();
    for value in [
        "never",
        "2020-01-01T00:00:00Z",
        "2030-01-01T00:00:00Z",
        "soon",
        "now",
    ] {
        let err = stderr(
            &v.kw(["retire", "--quiet-for", value, "--dry-run"])
                .assert()
                .code(2),
        );
        assert!(err.contains("at least 2m"), "{value}: {err}");
        for wrong in ["or now", "or never", "future time", "duration or time"] {
            assert!(!err.contains(wrong), "{value}: {err}");
        }
    }
    assert_eq!(quiet_events(&v), 0, "nothing ended");
}
