//! A vault is replaced only safely. SQLite finds a vault's `-wal` and
//! `-shm` by name, so a file put at the path (`mv`, a restore) while a
//! keyward process keeps the old one open could be paired with the old
//! file's log: pages of one read as the other's, writes lost. Each test
//! replaces a vault under running `serve`s and writers and then checks that
//! every write committed to the new file is there, the file is sound, its
//! log verifies, and serve answers from it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::serve::Serve;
use crate::common::{TestVault, stderr};

/// `keyward --vault PATH ARGS…` for another vault file beside `v`'s.
fn at(v: &TestVault, path: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = v.bare();
    cmd.arg("--vault").arg(path).args(args);
    cmd
}

fn integrity(path: &Path) -> String {
    let c = rusqlite::Connection::open(path).expect("open");
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check")
}

fn key_names(v: &TestVault) -> Vec<String> {
    let mut names: Vec<String> = v
        .json(["list", "--all"])
        .as_array()
        .expect("a list")
        .iter()
        .map(|k| k["name"].as_str().expect("name").to_string())
        .collect();
    names.sort();
    names
}

/// Polls until `/v1/authz` with `secret` says `code` (at most 1 s, the
/// promise; 503 while serve cannot tell is allowed meanwhile, 200 is not
/// once the answer was seen).
fn until_code(s: &Serve, secret: &str, code: &str) -> Duration {
    let started = Instant::now();
    loop {
        let r = s.authz(secret, "");
        if r.header("x-keyward-code") == Some(code) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still {} {:?} after 1 s, expected {code}",
            r.status,
            r.header("x-keyward-code")
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A copy of `v` with `b` revoked in it, made while serve runs on `v`.
fn replacement(v: &TestVault, name: &str) -> PathBuf {
    let new = v.dir().join(name);
    v.kw(["copy", "--to"]).arg(&new).assert().success();
    at(v, &new, &["revoke", "b", "--yes"]).assert().success();
    new
}

/// A vault with keys `a` and `b` (whose secret is returned), served, with a
/// commit made while serve keeps the log open, and then a copy with `b`
/// revoked moved over it.
fn served_then_replaced(v: &TestVault) -> (Serve, String) {
    v.create(&["--name", "a"]);
    let b = v.create(&["--name", "b"]);
    let s = Serve::start(v, &[], &[]);
    assert_eq!(s.authz(&b, "").status, 200);
    v.create(&["--name", "c", "--env", "x"]);
    let new = replacement(v, "new.db");
    std::fs::rename(&new, &v.path).expect("mv");
    (s, b)
}

fn assert_sound(v: &TestVault) {
    assert_eq!(integrity(&v.path), "ok");
    v.kw(["log", "--verify"]).assert().success();
}

#[test]
fn a_vault_moved_over_a_served_one_is_the_one_read_and_written() {
    let v = TestVault::new();
    let (s, b) = served_then_replaced(&v);
    until_code(&s, &b, "API_KEY_REVOKED");
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(v.json(["show", "b"])["status"], "revoked");
    assert_eq!(key_names(&v), ["a", "b", "c"]);
    assert_sound(&v);
}

#[test]
fn writers_right_after_the_move_write_the_new_file() {
    let v = TestVault::new();
    let (s, b) = served_then_replaced(&v);
    // No request in between: the first to open the new file is a writer.
    let mut expected = vec!["a".to_string(), "b".into(), "c".into()];
    for i in 0..20 {
        let name = format!("n{i:02}");
        v.create(&["--name", &name, "--env", &format!("e{i}")]);
        expected.push(name);
    }
    until_code(&s, &b, "API_KEY_REVOKED");
    let late = v.create(&["--name", "late", "--env", "late"]);
    expected.push("late".into());
    assert_eq!(s.authz(&late, "").status, 200);
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    expected.sort();
    assert_eq!(key_names(&v), expected);
    assert_sound(&v);
}

#[test]
fn two_serves_let_go_of_a_replaced_vault_and_lose_nothing() {
    let v = TestVault::new();
    v.create(&["--name", "a"]);
    let b = v.create(&["--name", "b"]);
    let one = Serve::start(&v, &[], &[]);
    let two = Serve::start(&v, &[], &[]);
    assert_eq!(one.authz(&b, "").status, 200);
    assert_eq!(two.authz(&b, "").status, 200);
    v.create(&["--name", "c", "--env", "x"]);
    assert_eq!(one.authz(&b, "").status, 200);
    let new = replacement(&v, "new.db");
    std::fs::rename(&new, &v.path).expect("mv");
    for i in 0..10 {
        v.create(&["--name", &format!("n{i}"), "--env", &format!("e{i}")]);
    }
    until_code(&one, &b, "API_KEY_REVOKED");
    until_code(&two, &b, "API_KEY_REVOKED");
    for s in [one, two] {
        let (code, log) = s.stop();
        assert_eq!(code, Some(0), "{log}");
    }
    assert_eq!(key_names(&v).len(), 13);
    assert_eq!(v.json(["show", "b"])["status"], "revoked");
    assert_sound(&v);
}

/// Replacing the file again and again while a writer runs: every command
/// either succeeds or says the vault was replaced (nothing written); the
/// file stays sound, every key in it has its events, and writes after the
/// last replacement are all there.
#[test]
fn moves_racing_a_writer_leave_a_sound_vault() {
    let v = TestVault::new();
    v.create(&["--name", "a"]);
    let s = Serve::start(&v, &[], &[]);
    let writer = {
        let cmds: Vec<_> = (0..30)
            .map(|i| {
                v.std([
                    "create",
                    "--name",
                    &format!("w{i:02}"),
                    "--env",
                    &format!("w{i}"),
                ])
            })
            .collect();
        std::thread::spawn(move || {
            for mut c in cmds {
                let out = c.output().expect("run");
                let err = String::from_utf8_lossy(&out.stderr).to_string();
                assert!(
                    out.status.success() || err.contains("was replaced"),
                    "{err}"
                );
            }
        })
    };
    for round in 0..6 {
        std::thread::sleep(Duration::from_millis(30));
        let new = v.dir().join(format!("round{round}.db"));
        v.kw(["copy", "--to"]).arg(&new).assert().success();
        std::fs::rename(&new, &v.path).expect("mv");
    }
    writer.join().expect("writer");
    let after: Vec<String> = (0..5)
        .map(|i| {
            v.create(&[
                "--name",
                &format!("after{i}"),
                "--env",
                &format!("after{i}"),
            ])
        })
        .collect();
    for secret in &after {
        assert_eq!(s.authz(secret, "").status, 200);
    }
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_sound(&v);
    let keys = v.json(["list", "--all"]);
    for k in keys.as_array().expect("keys") {
        let id = k["id"].as_str().expect("id");
        let events = v.json(["log", id]);
        assert!(
            !events.as_array().expect("events").is_empty(),
            "{id} has no events"
        );
    }
    let names = key_names(&v);
    for i in 0..5 {
        assert!(names.contains(&format!("after{i}")), "{names:?}");
    }
}

/// While another process (a program that is not keyward, which never lets
/// go) holds the old file and its log open, a command does not open the
/// file now at the path with them: it moves them aside (that process goes
/// on with them through its descriptors) and says so, and the new file
/// starts with its own log, also once that process ends.
#[test]
fn a_process_holding_a_replaced_file_has_its_log_moved_aside() {
    for writes_overlapped_a_read in [false, true] {
        let v = TestVault::new();
        v.kw(["config", "set", "max-keys", "100"])
            .assert()
            .success();
        v.create(&["--name", "a"]);
        let mut holder = python_holder_in(&v.path, writes_overlapped_a_read);
        // Written while the holder reads: the log cannot be emptied then.
        for i in 0..5 {
            v.create(&["--name", &format!("old{i}")]);
        }
        if writes_overlapped_a_read {
            commit_and_idle(&mut holder);
        }
        let other = TestVault::new();
        other
            .kw(["config", "set", "max-keys", "100"])
            .assert()
            .success();
        for i in 0..8 {
            other.create(&["--name", &format!("other{i}")]);
        }
        std::fs::copy(&other.path, v.dir().join("swap.db")).expect("copy");
        std::fs::rename(v.dir().join("swap.db"), &v.path).expect("mv");
        let started = Instant::now();
        let out = v.kw(["--json", "list"]).assert().success();
        assert!(started.elapsed() < Duration::from_secs(2), "no waiting");
        assert!(stderr(&out).contains("was replaced"), "{}", stderr(&out));
        drop(holder.stdin.take());
        holder.wait().expect("python3 ends");
        assert_eq!(
            key_names(&v).len(),
            8,
            "overlapped: {writes_overlapped_a_read}"
        );
        assert_sound(&v);
    }
}

/// A python sqlite3 holder of `path`; with `in_read`, inside a read
/// transaction until told to commit.
fn python_holder_in(path: &Path, in_read: bool) -> std::process::Child {
    let begin = if in_read { "c.execute('BEGIN')\n" } else { "" };
    let mut holder = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             {begin}\
             c.execute('SELECT count(*) FROM keys').fetchone()\n\
             print('holding', flush=True)\n\
             sys.stdin.readline()\n\
             c.execute('COMMIT') if c.in_transaction else None\n\
             print('idle', flush=True)\n\
             sys.stdin.read()\n"
        ))
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    assert_eq!(read_line(&mut holder), "holding");
    holder
}

/// Ends the holder's read; it keeps the connection.
fn commit_and_idle(holder: &mut std::process::Child) {
    use std::io::Write;
    holder
        .stdin
        .as_mut()
        .expect("stdin")
        .write_all(b"commit\n")
        .expect("write");
    assert_eq!(read_line(holder), "idle");
}

fn read_line(child: &mut std::process::Child) -> String {
    let mut line = String::new();
    let mut byte = [0u8; 1];
    let out = child.stdout.as_mut().expect("stdout");
    while std::io::Read::read(out, &mut byte).expect("read") == 1 && byte[0] != b'\n' {
        line.push(char::from(byte[0]));
    }
    line
}

/// A program that is not keyward (Python's sqlite3 here) reading the vault
/// while keyward writes and the file is replaced, then ending (normally,
/// or killed): SQLite leaves the old file's log at the path, and it holds
/// nothing to read into the new file, since keyward empties the log after
/// each write.
#[test]
fn a_reader_of_the_old_file_that_ends_leaves_nothing_to_pair_with_the_new() {
    for killed in [false, true] {
        let v = TestVault::new();
        v.kw(["config", "set", "max-keys", "100"])
            .assert()
            .success();
        v.create(&["--name", "a"]);
        let mut holder = python_holder_in(&v.path, false);
        for i in 0..5 {
            v.create(&["--name", &format!("old{i}")]);
        }
        let new = replacement_with(&v, "new.db", 10);
        std::fs::rename(&new, &v.path).expect("mv");
        if killed {
            holder.kill().expect("kill");
        } else {
            drop(holder.stdin.take());
        }
        holder.wait().expect("ends");
        // a and old0..4, and the replacement's 10 new keys.
        assert_eq!(key_names(&v).len(), 16, "killed: {killed}");
        assert_sound(&v);
    }
}

/// The vault moved aside under a running serve, and then another (or the
/// same one) put at the path: each file keeps what was committed to it.
#[test]
fn moving_a_served_vault_aside_and_back_or_replacing_it_keeps_every_file_whole() {
    let v = TestVault::new();
    let s = served_with_old_keys(&v);
    let new = replacement_with(&v, "new.db", 10);
    let aside = v.dir().join("aside.db");
    std::fs::rename(&v.path, &aside).expect("mv aside");
    std::thread::sleep(Duration::from_millis(300));
    // A write while nothing is at the path makes a new vault there.
    at(&v, &v.path, &["create", "--name", "between"])
        .assert()
        .success();
    std::fs::rename(&new, &v.path).expect("mv the replacement in");
    std::thread::sleep(Duration::from_millis(300));
    v.create(&["--name", "after"]);
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    // The replacement's 16 and `after` ("between" went to the file the
    // replacement was moved over).
    assert_eq!(key_names(&v).len(), 17);
    assert_sound(&v);
    assert_eq!(integrity(&aside), "ok");
    let old: String = at(&v, &aside, &["--json", "list", "--all"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .expect("list");
    assert_eq!(old.matches("\"name\"").count(), 6, "{old}");
    // And the aside file moved back in: whole too.
    std::fs::rename(&aside, &v.path).expect("mv back");
    assert_eq!(key_names(&v).len(), 6);
    assert_sound(&v);
}

/// Reached through a symbolic link: SQLite keeps the log beside the
/// link's target, and that is where keyward looks.
#[test]
fn a_vault_behind_a_symbolic_link_is_replaced_safely_too() {
    let v = TestVault::new();
    let data = v.dir().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let real = data.join("real.db");
    at(&v, &real, &["config", "set", "max-keys", "100"])
        .assert()
        .success();
    std::os::unix::fs::symlink(&real, &v.path).expect("symlink");
    v.create(&["--name", "a"]);
    let s = Serve::start(&v, &[], &[]);
    for i in 0..5 {
        v.create(&["--name", &format!("old{i}")]);
    }
    let new = replacement_with(&v, "new.db", 10);
    std::fs::rename(&new, &real).expect("mv over the target");
    std::thread::sleep(Duration::from_millis(300));
    v.create(&["--name", "after"]);
    let (code, log) = s.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(key_names(&v).len(), 17);
    assert_sound(&v);
}

/// serve killed with SIGKILL right after the move: what it left at the
/// path holds nothing to pair with the new file.
#[test]
fn serve_killed_right_after_a_move_leaves_the_new_file_sound() {
    let v = TestVault::new();
    let s = served_with_old_keys(&v);
    let new = replacement_with(&v, "new.db", 10);
    std::fs::rename(&new, &v.path).expect("mv");
    crate::common::serve::signal(s.pid(), "KILL");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(key_names(&v).len(), 16);
    assert_sound(&v);
    drop(s);
}

/// CLI writers only, the file replaced again and again under them: every
/// vault that ends up at the path is sound.
#[test]
fn writers_racing_repeated_moves_never_damage_a_vault() {
    let v = TestVault::new();
    v.kw(["config", "set", "max-keys", "10000"])
        .assert()
        .success();
    v.create(&["--name", "a"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let stop = std::sync::Arc::clone(&stop);
            let mut cmds = (0..).map(move |i| (w, i));
            let base = v.std::<[&str; 0], &str>([]);
            let program = base.get_program().to_owned();
            let args: Vec<_> = base.get_args().map(|a| a.to_owned()).collect();
            let envs: Vec<_> = base
                .get_envs()
                .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
                .collect();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Some((w, i)) = cmds.next() else { break };
                    let mut c = std::process::Command::new(&program);
                    for (k, v) in &envs {
                        match v {
                            Some(v) => c.env(k, v),
                            None => c.env_remove(k),
                        };
                    }
                    c.args(&args).args([
                        "create",
                        "--name",
                        &format!("k{w}_{i}"),
                        "--env",
                        &format!("w{w}"),
                    ]);
                    let out = c.output().expect("run");
                    let err = String::from_utf8_lossy(&out.stderr);
                    assert!(
                        out.status.success() || err.contains("was replaced"),
                        "{err}"
                    );
                }
            })
        })
        .collect();
    for round in 0..80 {
        let new = v.dir().join(format!("r{round}.db"));
        v.kw(["copy", "--to"]).arg(&new).assert().success();
        std::fs::rename(&new, &v.path).expect("mv");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    assert_sound(&v);
}

/// `v` with room for 100 keys, `a` and `old0`..`old4` in it, served; the
/// writes made while serve keeps the log open.
fn served_with_old_keys(v: &TestVault) -> Serve {
    v.kw(["config", "set", "max-keys", "100"])
        .assert()
        .success();
    v.create(&["--name", "a"]);
    let s = Serve::start(v, &[], &[]);
    for i in 0..5 {
        v.create(&["--name", &format!("old{i}")]);
    }
    s
}

/// A copy of `v` with `extra` more keys written to it.
fn replacement_with(v: &TestVault, name: &str, extra: usize) -> PathBuf {
    let new = v.dir().join(name);
    v.kw(["copy", "--to"]).arg(&new).assert().success();
    for i in 0..extra {
        at(v, &new, &["create", "--name", &format!("new{i}")])
            .assert()
            .success();
    }
    new
}
