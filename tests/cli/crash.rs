//! Writers killed with SIGKILL at random moments leave a consistent vault.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

const ROUNDS: usize = 25;
const WRITERS: usize = 3;

/// A shell loop of creates and rotations in its own process group, so the
/// keyward it is running can be killed with it.
fn writer(v: &TestVault, n: usize) -> std::process::Child {
    Command::new("sh")
        .arg("-c")
        .arg(
            r#"i=0; while :; do i=$((i+1))
                "$KW" create --name "w$N-$i" >/dev/null 2>&1
                "$KW" rotate "w$N-$i" --grace 1h >/dev/null 2>&1
                "$KW" rotate shared --grace now >/dev/null 2>&1
            done"#,
        )
        .env("KW", BIN)
        .env("N", n.to_string())
        .env("KEYWARD_VAULT", &v.path)
        .env("KEYWARD_ACTOR", ACTOR)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn writer")
}

fn kill_group(child: &mut std::process::Child) {
    let pgid = child.id().to_string();
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
    let _ = child.wait();
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

fn assert_consistent(v: &TestVault, round: usize) {
    let conn = v.sql();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok", "round {round}");
    let orphans = count(
        &conn,
        "SELECT count(*) FROM keys k WHERE rotated_to IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM keys s WHERE s.id = k.rotated_to AND s.rotated_from = k.id)",
    );
    assert_eq!(
        orphans, 0,
        "round {round}: a key in grace without its successor"
    );
    let unrecorded = count(
        &conn,
        "SELECT count(*) FROM keys k WHERE NOT EXISTS (SELECT 1 FROM events e WHERE
            (e.event = 'created' AND e.key_id = k.id) OR (e.event = 'rotated' AND e.related_key_id = k.id))",
    );
    assert_eq!(
        unrecorded, 0,
        "round {round}: a key without its created or rotated event"
    );
    let active_shared = count(
        &conn,
        "SELECT count(*) FROM keys WHERE name = 'shared' AND rotated_to IS NULL AND revoked_at IS NULL",
    );
    assert_eq!(
        active_shared, 1,
        "round {round}: 'shared' must have exactly one active key"
    );
    drop(conn);
    v.kw(["log", "--verify"]).assert().success();
}

/// How many events the vault holds, read without taking any lock.
fn events(v: &TestVault) -> i64 {
    count(&v.sql(), "SELECT count(*) FROM events")
}

#[test]
fn writers_killed_at_random_moments_leave_a_consistent_vault() {
    let v = TestVault::new();
    v.create(&["--name", "shared"]);
    v.kw(["config", "set", "max-keys", "10000"])
        .assert()
        .success();
    for round in 0..ROUNDS {
        let before = events(&v);
        let mut writers: Vec<_> = (0..WRITERS)
            .map(|n| writer(&v, round * WRITERS + n))
            .collect();
        // Kill at a random moment once the writers are writing, however
        // slow the machine: no assumption about how long that takes.
        for _ in 0..600 {
            if events(&v) > before {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(rand::random_range(0..60)));
        for w in &mut writers {
            kill_group(w);
        }
        assert!(
            events(&v) > before,
            "round {round}: the writers never wrote"
        );
        assert_consistent(&v, round);
    }
    let checked = v.json(["log", "--verify"])["events"]
        .as_u64()
        .expect("count");
    assert_eq!(i64::try_from(checked).ok(), Some(events(&v)));
}
