//! The rules that hold everywhere (docs/reference.md "Rules that hold
//! everywhere"), each attacked the way a hostile tester found it broken:
//! a lock held while a command waits, a second path to the vault, a
//! read-only vault, a closed or full stdout, secrets where names go,
//! invisible text, corrupt rows.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::*;

/// Holds the vault's write lock, as a long writer would, until dropped.
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(v: &TestVault) -> Self {
        let conn = v.sql();
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        WriteLock(conn)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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

/// SQLite's locks are per path, so a vault with a second hard
/// link is refused by every command, by either name, and left unchanged.
#[test]
fn a_vault_with_two_hard_links_is_refused() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let other = v.dir().join("again.db");
    std::fs::hard_link(&v.path, &other).expect("link");
    let before = v.dump();
    for path in [&v.path, &other] {
        for args in [
            &["create", "--name", "x"][..],
            &["list"],
            &["--json", "list"],
        ] {
            let out = v
                .bare()
                .arg("--vault")
                .arg(path)
                .args(args)
                .output()
                .expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(err.contains("2 hard links"), "{args:?}: {err}");
            if args[0] == "--json" {
                assert!(err.contains("VAULT_LINKED"), "{err}");
            }
        }
    }
    assert_eq!(v.dump(), before);
}

/// A vault file 0444 in a 0555 directory, with no -wal or -shm
/// (the state after a clean exit), run by a user who cannot write either:
/// every read command and verify work; a write says why it cannot.
#[test]
fn a_read_only_vault_without_wal_files_serves_reads_and_verify() {
    let v = TestVault::new();
    let secret = v.create(&["--name", "web"]);
    v.create(&["--name", "other"]);
    let before = v.dump();
    // The dump's read-only connection leaves -wal and -shm; a writable one
    // closing last removes them, as after any clean exit.
    v.sql()
        .execute_batch("SELECT count(*) FROM keys")
        .expect("read");
    for suffix in ["-wal", "-shm"] {
        let mut p = v.path.as_os_str().to_owned();
        p.push(suffix);
        assert!(!std::path::Path::new(&p).exists(), "{suffix} left behind");
    }
    hand_to_nobody(&v);
    std::fs::set_permissions(&v.path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    std::fs::set_permissions(v.dir(), std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let as_user = |args: &[&str], stdin: &str| as_nobody(&v, args, stdin);
    for args in [
        &["list"][..],
        &["--json", "show", "web"],
        &["log"],
        &["log", "--verify"],
        &["log", "--head"],
        &["list", "--due"],
        &["retire", "--quiet-for", "1h", "--dry-run"],
        &["config"],
    ] {
        let out = as_user(args, "");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let verify = as_user(&["--json", "verify"], &secret);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify.stderr));
    assert_eq!(text(&verify.stderr), "", "last-used is skipped quietly");
    let create = as_user(&["create", "--name", "x"], "");
    assert_eq!(create.status.code(), Some(1));
    assert!(text(&create.stderr).contains("read-only for this user"));
    std::fs::set_permissions(v.dir(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    assert_eq!(v.dump(), before);
}

/// A committed key whose secret cannot reach stdout is exit 1,
/// naming the key; a closed stdout refuses before anything is created.
#[test]
fn a_secret_that_cannot_be_delivered_is_never_a_silent_success() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    // A pipe whose reader is gone: `keyward rotate web --grace now | true`.
    for json in [false, true] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let mut args = vec!["rotate", "web", "--grace", "now"];
        if json {
            args.insert(0, "--json");
        }
        let out = v.std(&args).stdout(writer).output().expect("run");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("rotated") && err.contains("could not be written") && err.contains("key_"),
            "{err}"
        );
    }
    // A full disk: `keyward create > /dev/full`.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    if let Ok(full) = full {
        let out = v
            .std(["create", "--name", "full"])
            .stdout(full)
            .output()
            .expect("run");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("created key_") && err.contains("revoke"),
            "{err}"
        );
    }
    // `keyward ARGS REDIRECT` through a shell, which makes the redirection.
    let in_shell = |args: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("exec \"$KW\" --vault \"$VAULT\" {args}"))
            .env("KW", BIN)
            .env("VAULT", &v.path)
            .env("KEYWARD_NOW", NOW)
            .env("KEYWARD_ACTOR", ACTOR)
            .output()
            .expect("run")
    };
    // A closed stdout: `keyward create >&-` creates nothing.
    let before = v.dump();
    let out = in_shell("create --name closed >&-");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stdout is closed"), "{err}");
    assert_eq!(v.dump(), before);
    // `> /dev/null` is a choice the shell made on purpose: it is honoured.
    let out = in_shell("create --name discarded > /dev/null");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Read output still ends quietly on a closed pipe.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = v.std(["log"]).stdout(writer).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Verify answers while another process holds the write lock
/// (for longer than keyward's 30 s busy timeout, as far as this test can
/// tell: it gives verify 10 s); last-used is skipped, quietly.
#[test]
fn verify_does_not_wait_for_a_writer() {
    let v = TestVault::new();
    let secret = v.create(&["--name", "web"]);
    let _lock = WriteLock::take(&v);
    for json in [false, true] {
        let mut args = vec!["verify"];
        if json {
            args.insert(0, "--json");
        }
        let mut child = v
            .std(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut input = child.stdin.take().expect("stdin");
        input.write_all(secret.as_bytes()).expect("write");
        drop(input);
        let out = wait_bounded(child, 10).expect("verify waited for the writer");
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(text(&out.stderr), "", "no warning");
        assert!(text(&out.stdout).contains("VALID"));
    }
}

/// Waits for a child at most `secs`, killing it after: a command that
/// blocks (on a FIFO, say) fails the test instead of hanging it.
fn wait_bounded(mut child: std::process::Child, secs: u64) -> Option<Output> {
    for _ in 0..secs * 20 {
        if child.try_wait().ok().flatten().is_some() {
            return child.wait_with_output().ok();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Read commands never create, convert or write what is not
/// already a keyward vault: an empty file, a FIFO, someone else's empty
/// SQLite database.
#[test]
fn read_commands_never_write_to_what_is_not_a_vault() {
    let v = TestVault::new();
    let siblings = |path: &std::path::Path| -> Vec<String> {
        ["-wal", "-shm", "-journal"]
            .iter()
            .filter(|s| {
                let mut p = path.as_os_str().to_owned();
                p.push(s);
                std::path::Path::new(&p).exists()
            })
            .map(|s| s.to_string())
            .collect()
    };
    let empty = v.dir().join("empty.db");
    std::fs::File::create(&empty).expect("empty file");
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let foreign = v.dir().join("foreign.db");
    {
        let conn = rusqlite::Connection::open(&foreign).expect("foreign");
        conn.execute_batch("CREATE TABLE t(x); DROP TABLE t;")
            .expect("empty db");
    }
    let foreign_bytes = std::fs::read(&foreign).expect("read");
    let fifo = v.dir().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    for path in [&empty, &foreign, &fifo] {
        for args in [
            &["list"][..],
            &["show", "web"],
            &["log"],
            &["log", "--verify"],
            &["verify"],
        ] {
            let child = Command::new(BIN)
                .env("KEYWARD_NOW", NOW)
                .env("KEYWARD_ACTOR", ACTOR)
                .env("HOME", v.dir().join("home"))
                .arg("--vault")
                .arg(path)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            let out =
                wait_bounded(child, 10).unwrap_or_else(|| panic!("{args:?} on {path:?} hung"));
            let err = text(&out.stderr);
            if args[0] != "verify" {
                assert_eq!(out.status.code(), Some(1), "{args:?} on {path:?}: {err}");
                assert!(err.contains("not a keyward vault"), "{err}");
            }
            assert!(
                siblings(path).is_empty(),
                "{args:?} left {:?}",
                siblings(path)
            );
        }
    }
    let meta = std::fs::metadata(&empty).expect("meta");
    assert_eq!(meta.len(), 0, "the empty file stays empty");
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o640,
        "and keeps its mode"
    );
    assert_eq!(std::fs::read(&foreign).expect("read"), foreign_bytes);
}

/// Zero-width, bidi and separator characters and surrounding
/// whitespace are refused; a stored one is escaped when shown.
#[test]
fn invisible_text_is_refused_and_never_shown_raw() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let before = v.dump();
    for name in [
        "web ",
        " web",
        "web\u{200b}",
        "\u{feff}web",
        "w\u{202e}eb",
        "w\u{2066}eb",
        "web\u{2028}",
    ] {
        for args in [
            vec!["create", "--name", name],
            vec!["create", "--env", name],
            vec!["create", "--scope", name],
            vec!["--actor", name, "create"],
        ] {
            let out = v.kw(&args).output().expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                !err.contains('\u{202e}') && !err.contains('\u{200b}'),
                "{err}"
            );
        }
    }
    assert_eq!(v.dump(), before);
    // A name stored by an older keyward, or by hand, is escaped on output.
    v.sql()
        .execute("UPDATE keys SET name = 'w' || char(8238) || 'eb'", [])
        .expect("tamper");
    for args in [&["list"][..], &["show", "key_"], &["log"]] {
        let out = v.kw(args).output().expect("run");
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains('\u{202e}'), "{args:?}: {all}");
    }
    let list = text(&v.kw(["list"]).output().expect("run").stdout);
    assert!(list.contains(r"w\u{202e}eb"), "{list}");
}

/// A grace never outlives the old key's own expiry (also when
/// extended later), and a successor never lives more than ten years.
#[test]
fn graces_and_carried_over_lifetimes_are_capped() {
    let v = TestVault::new();
    v.create(&["--name", "web", "--expires", "1h"]);
    v.create(&["--name", "other"]);
    let out = v
        .kw(["--json", "rotate", "web", "--grace", "24h"])
        .assert()
        .success();
    let doc = json(&out);
    assert_eq!(doc["previous"]["expires_at"], "2026-11-23T13:00:00Z");
    let human = v
        .kw(["rotate", "other", "--grace", "1h"])
        .assert()
        .success();
    assert!(
        !stderr(&human).contains("own expiry"),
        "no cap, no word of one"
    );
    let old = doc["previous"]["id"].as_str().expect("id");
    v.kw(["extend", old, "--grace", "7d"]).assert().success();
    assert_eq!(v.json(["show", old])["expires_at"], "2026-11-23T13:00:00Z");
    let v = TestVault::new();
    v.create(&["--name", "long", "--expires", "3650d"]);
    v.kw_at(
        "2027-11-23T12:00:00Z",
        ["extend", "long", "--expires", "3650d"],
    )
    .assert()
    .success();
    let out = v
        .kw_at(
            "2027-11-24T12:00:00Z",
            ["--json", "rotate", "long", "--grace", "1h"],
        )
        .assert()
        .success();
    let expires = json(&out)["key"]["expires_at"]
        .as_str()
        .expect("expiry")
        .to_string();
    // Ten years (3653 days) from the rotation; the old lifetime was 4015 days.
    assert_eq!(expires, "2037-11-24T12:00:00Z");
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

/// Corrupt stored data is an error naming the vault and the
/// row, never silently replaced by a default.
#[test]
fn corrupt_stored_values_are_errors_naming_the_row() {
    let cases: [(&str, &[&str], &str); 7] = [
        (
            "UPDATE keys SET expires_at = 'tomorrow'",
            &["list"],
            "its expires_at",
        ),
        (
            "UPDATE keys SET expires_at = 99999999999999",
            &["show", "web"],
            "its expires_at",
        ),
        (
            "UPDATE keys SET is_default = 7",
            &["list"],
            "its default flag",
        ),
        (
            "DROP TRIGGER events_append_only_update; UPDATE events SET at = 'x'",
            &["log"],
            "event 1",
        ),
        (
            "INSERT INTO settings (name, value) VALUES ('max-keys', 'many')",
            &["config"],
            "setting max-keys",
        ),
        ("UPDATE keys SET scopes = 'read'", &["list"], "its scopes"),
        (
            "DROP TRIGGER events_append_only_update; UPDATE events SET details = 'null'",
            &["log"],
            "event 1",
        ),
    ];
    for (tamper, args, row) in cases {
        let v = TestVault::new();
        v.create(&["--name", "web"]);
        v.sql().execute_batch(tamper).expect("tamper");
        for json in [false, true] {
            let mut all = vec![];
            if json {
                all.push("--json");
            }
            all.extend_from_slice(args);
            let out = v.kw(&all).output().expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{all:?}: {err}");
            assert!(
                err.contains(row) && err.contains("vault.db"),
                "{all:?}: {err}"
            );
            if json {
                assert!(err.contains("VAULT_CORRUPT"), "{err}");
            }
        }
    }
}

/// Root ignores file modes, so as root the vault's directory is handed to
/// nobody, whom [`as_nobody`] runs keyward as.
fn hand_to_nobody(v: &TestVault) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(v.dir())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "chown");
    }
}

/// Runs keyward as an unprivileged user (nobody, through setpriv, when the
/// tests run as root: root ignores file modes), with `stdin`.
fn as_nobody(v: &TestVault, args: &[&str], stdin: &str) -> Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    let mut child = cmd
        .arg("--vault")
        .arg(&v.path)
        .args(args)
        .env("KEYWARD_ACTOR", ACTOR)
        .env("KEYWARD_NOW", NOW)
        .env_remove("KEYWARD_VAULT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write");
    drop(input);
    child.wait_with_output().expect("wait")
}

/// Found by the hostile tester: a read of a vault file this user cannot
/// write made -wal and -shm files with the file's read-only mode, so once
/// the file was writable again every write failed.
#[test]
fn reading_a_read_only_file_leaves_nothing_behind_that_blocks_later_writes() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    hand_to_nobody(&v);
    std::fs::set_permissions(&v.path, std::fs::Permissions::from_mode(0o400)).expect("chmod");
    let list = as_nobody(&v, &["list"], "");
    assert!(list.status.success(), "{}", text(&list.stderr));
    for suffix in ["-wal", "-shm"] {
        let mut p = v.path.as_os_str().to_owned();
        p.push(suffix);
        assert!(!std::path::Path::new(&p).exists(), "the read made {suffix}");
    }
    std::fs::set_permissions(&v.path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let write = as_nobody(&v, &["config", "set", "max-keys", "5"], "");
    assert!(write.status.success(), "{}", text(&write.stderr));
}

/// Found by the hostile tester: the advice after a lost default-key secret
/// was to revoke it, which the default-key rule refuses.
#[test]
fn a_lost_default_key_secret_says_to_rotate_it() {
    let v = TestVault::new();
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let out = v
        .std(["create", "--name", "first"])
        .stdout(full)
        .output()
        .expect("run");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--grace now") && !err.contains("keyward revoke"),
        "{err}"
    );
}

/// The key `verify` prints is the one its verdict judged. A
/// revoke that commits while verify is still running (here: while it would
/// wait to record last-used) must not turn up as `valid: true` with a
/// revoked key.
#[test]
fn a_verdict_and_its_key_come_from_one_read() {
    let v = TestVault::new();
    v.create(&["--name", "main"]);
    let secret = v.create(&["--name", "partner"]);
    let lock = WriteLock::take(&v);
    let mut child = v
        .std(["--json", "verify"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(secret.as_bytes()).expect("write");
    drop(input);
    std::thread::sleep(Duration::from_secs(1));
    lock.0
        .execute_batch("UPDATE keys SET revoked_at = 0 WHERE name = 'partner'; COMMIT")
        .expect("revoke while verify runs");
    let out = wait_bounded(child, 60).expect("verify ended");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    if doc["valid"] == true {
        assert_eq!(doc["key"]["status"], "active", "{doc}");
    } else {
        assert_eq!(doc["code"], "API_KEY_REVOKED", "{doc}");
    }
}

crate::on_both_engines! {
    /// Event times never go backwards along the chain, whatever a
    /// writer's clock says.
    fn event_times_never_go_backwards(v: &TestVault) {
        v.kw_at("2026-11-24T12:00:00Z", ["create", "--name", "later"])
            .assert()
            .success();
        v.kw_at("2026-11-23T12:00:00Z", ["create", "--name", "earlier"])
            .assert()
            .success();
        let events = v.json(["log"]);
        let times: Vec<&str> = events
            .as_array()
            .expect("array")
            .iter()
            .map(|e| e["at"].as_str().expect("at"))
            .collect();
        assert_eq!(times, ["2026-11-24T12:00:00Z", "2026-11-24T12:00:00Z"]);
    }

    /// A secret given where a variable name or a name goes is shown
    /// as its hint, never in full.
    fn a_secret_in_the_wrong_place_is_never_echoed(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        let hint = &secret[secret.len() - 4..];
        let body = &secret[3..secret.len() - 4];
        for args in [
            vec!["verify", "--key-env", secret.as_str()],
            vec!["create", "--name", secret.as_str()],
            vec!["--json", "create", "--scope", secret.as_str()],
            vec!["revoke", "web", "--yes", "--reason", secret.as_str()],
            vec!["--actor", secret.as_str(), "list"],
            vec!["list", "--env", secret.as_str()],
            vec!["show", secret.as_str()],
        ] {
            let out = v.kw(&args).output().expect("run");
            let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(!all.contains(body), "{args:?} echoed the secret: {all}");
            assert!(!out.status.success() || args[0] == "list", "{args:?}");
            if args[0] == "verify" || args[1] == "--name" {
                assert!(all.contains(&format!("kw_…{hint}")), "{args:?}: {all}");
            }
        }
        let log = text(&v.kw(["--json", "log"]).output().expect("log").stdout);
        assert!(!log.contains(body), "the secret reached the log");
    }

    /// `extend --expires` only moves an expiry into the future; it
    /// is no way round the default-key rule.
    fn extend_expires_now_or_in_the_past_is_refused(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        for value in ["now", "0s", "2020-01-01T00:00:00Z"] {
            let out = v
                .kw(["extend", "web", "--expires", value])
                .output()
                .expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{value}: {err}");
            assert!(err.contains(&format!("'{value}'")), "{err}");
        }
        assert_eq!(v.dump(), before);
        assert_eq!(v.json(["show", "web"])["status"], "active");
    }

    /// A name can never be taken for an id.
    fn names_may_not_start_with_key_(v: &TestVault) {
        v.create(&["--name", "web"]);
        let before = v.dump();
        for args in [
            &["create", "--name", "key_web"][..],
            &["rotate", "web", "--grace", "1h", "--name", "key_abcd"],
        ] {
            let out = v.kw(args).output().expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(err.contains("key_"), "{err}");
        }
        assert_eq!(v.dump(), before);
    }

    /// `--json` makes parse errors JSON only where it is the flag.
    fn json_parse_errors_only_when_json_is_the_flag(v: &TestVault) {
        let out = v.kw(["create", "--name", "--json"]).output().expect("run");
        assert_eq!(out.status.code(), Some(2));
        assert!(!text(&out.stderr).starts_with('{'), "{}", text(&out.stderr));
        let out = v.kw(["--json", "create", "--bogus"]).output().expect("run");
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).starts_with("{\"error\""));
    }

    /// A refused `--expires` quotes the value that was given.
    fn a_refused_expiry_quotes_the_value_given(v: &TestVault) {
        v.create(&["--name", "web"]);
        let out = v
            .kw(["rotate", "web", "--grace", "1h", "--expires", "0s"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("--expires '0s'"),
            "{}",
            text(&out.stderr)
        );
    }

    /// The race of the issue's "done when": 8 processes × 20 rotations of
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

    /// Found by the hostile tester: clap's own errors quoted a secret given in
    /// the wrong place, and values of any length.
    fn parse_errors_mask_secrets_and_cut_long_values(v: &TestVault) {
        let secret = v.create(&["--name", "web"]);
        let body = &secret[3..secret.len() - 4];
        let long = "y".repeat(300);
        for args in [
            vec!["show", "web", secret.as_str()],
            vec!["log", "--limit", secret.as_str()],
            vec!["log", "--before", secret.as_str()],
            vec!["config", "set", secret.as_str(), "3"],
            vec!["--json", "list", secret.as_str()],
            vec![secret.as_str()],
            vec!["log", "--before", long.as_str()],
        ] {
            let out = v.kw(&args).output().expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(!err.contains(body), "{args:?} echoed the secret: {err}");
            assert!(!err.contains(&"y".repeat(65)), "{args:?}: {err}");
        }
    }

    /// Found by the hostile tester: reasons follow the same 64-character rule.
    fn a_reason_longer_than_64_characters_is_refused(v: &TestVault) {
        v.create(&["--name", "main"]);
        v.create(&["--name", "partner"]);
        let before = v.dump();
        let out = v
            .kw(["revoke", "partner", "--yes", "--reason", &"x".repeat(65)])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert_eq!(v.dump(), before);
    }

    /// Found by the hostile tester: a malformed secret was answered as invalid
    /// without opening the vault, so a wrong --vault went unnoticed.
    fn verify_of_a_malformed_secret_still_needs_a_vault(v: &TestVault) {
        for input in ["kw_x\n", "\u{ff}\n"] {
            let out = v.kw(["verify"]).write_stdin(input).output().expect("run");
            assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
            assert!(text(&out.stderr).contains("no vault at"));
        }
        v.create(&["--name", "web"]);
        let (code, verdict) = v.verify("kw_x", &[]);
        assert_eq!(
            (code, &verdict["code"]),
            (Some(5), &"API_KEY_INVALID".into())
        );
    }
}

/// Found by a tester: an option name libpq does not know (`PASSWORD`,
/// `Password`, `sslPassword`, `pwd`) left its value out of the masking,
/// and the error quoted the whole location. Errors name the option only.
#[test]
fn an_unknown_postgres_option_is_named_without_the_location() {
    let v = TestVault::new();
    for location in [
        "postgres://u@127.0.0.1:1/kw?PASSWORD=QQpw",
        "postgres://u@127.0.0.1:1/kw?sslPassword=QQpw",
        "Password=QQpw host=127.0.0.1",
        "host=127.0.0.1 sslPassword=QQpw",
        "host=127.0.0.1 pwd=QQpw",
        "postgres://u:QQpw/kw",
        "postgres://u:QQpw@h/kw?sslmode=bad",
        "postgres://u:QQpw@h/kw?gssencmode=QQpw",
    ] {
        for json in [false, true] {
            let mut cmd = v.bare();
            if json {
                cmd.arg("--json");
            }
            let out = cmd.args(["--vault", location, "config"]).assert().code(2);
            let err = stderr(&out);
            assert!(!err.contains("QQpw"), "{location}: {err}");
        }
    }
}

/// Found by a tester: locations that were taken for SQLite file names
/// although they hold a password (a quoted URL, as docker --env-file
/// passes it, a JDBC URL, a `psql …` command line), and a blank one that
/// made a file named a space. They are refused, saying what looks wrong,
/// never echoing them, and nothing is created.
#[test]
fn a_location_that_is_no_file_name_is_refused_without_echo() {
    let v = TestVault::new();
    for location in [
        "\"postgres://u:QQpw@h/kw\"",
        "'postgres://u:QQpw@h/kw'",
        "jdbc:postgresql://h/kw?user=u&password=QQpw",
        "mysql+x:QQpw://h",
        "DATABASE_URL=postgres://u:QQpw@h/kw",
        "psql host=127.0.0.1 password=QQpw",
        "dbname:kw password=QQpw",
        "dbname:kw PassWord = QQpw",
        " ",
        "vault.db ",
        " vault.db",
    ] {
        for (how, args) in [
            ("--vault", ["create", "--name", "a"]),
            ("env", ["create", "--name", "a"]),
        ] {
            let mut cmd = v.bare();
            cmd.current_dir(v.dir());
            match how {
                "env" => cmd.env("KEYWARD_VAULT", location),
                _ => cmd.args(["--vault", location]),
            };
            let out = cmd.args(args).assert().code(2);
            let err = stderr(&out);
            assert!(!err.contains("QQpw"), "{location}: {err}");
            assert!(!err.trim().is_empty(), "{location}: says why");
        }
        let left: Vec<_> = std::fs::read_dir(v.dir())
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .filter(|n| n != "home")
            .collect();
        assert!(left.is_empty(), "{location}: created {left:?}");
    }
    // A copy destination is read by the same rule.
    v.create(&["--name", "a"]);
    let out = v
        .kw(["copy", "--to", "psql host=h password=QQpw"])
        .assert()
        .code(2);
    assert!(!stderr(&out).contains("QQpw"));
}

/// Found by a tester: a secret passed as `--vault` or `copy --to` was
/// echoed in full (`no vault at kw_…`, `created a new vault at …/kw_…`,
/// `config`). A path is shown with any secret in it as its hint.
#[test]
fn a_secret_given_as_a_vault_path_is_shown_as_its_hint() {
    let v = TestVault::new();
    let secret = foreign_secret();
    let hint = &secret[secret.len() - 4..];
    let at = |args: &[&str]| {
        let mut cmd = v.bare();
        cmd.current_dir(v.dir())
            .arg("--vault")
            .arg(&secret)
            .args(args);
        cmd
    };
    let out = at(&["list"]).assert().code(1);
    let err = stderr(&out);
    assert!(!err.contains(&secret) && err.contains(hint), "{err}");
    for json in [false, true] {
        let mut cmd = at(&["config"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.assert().success();
        let text = stdout(&out);
        assert!(!text.contains(&secret) && text.contains(hint), "{text}");
    }
    let out = at(&["create", "--name", "a"]).assert().success();
    let err = stderr(&out);
    assert!(err.contains("created a new vault at"), "{err}");
    assert!(!err.contains(&secret) && err.contains(hint), "{err}");
    let to = v.dir().join(foreign_secret());
    v.create(&["--name", "b"]);
    let out = v.kw(["copy", "--to"]).arg(&to).assert().success();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    let body = to
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    assert!(!all.contains(&body), "{all}");
}
