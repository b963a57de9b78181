//! The vault file: found at --vault, else $KEYWARD_VAULT, else the data
//! directory; made 0600 whatever the umask, with new 0700 directories only
//! at the default location (elsewhere a missing directory is refused), and
//! announced once; WAL, a versioned schema, an append-only events table.
//! What is not a vault (another file, a directory, a FIFO, someone else's or
//! a newer database, a file with a second hard link) is refused by every
//! command and left as it was; a read-only vault serves reads and verify and
//! leaves nothing behind; a corrupt stored value is an error naming its row.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};

use predicates::prelude::*;

use crate::common::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_new_vault_is_0600_in_new_0700_directories_whatever_the_umask() {
    let v = TestVault::new();
    // The default location: the only one whose directories keyward makes.
    let data = v.dir().join("a/b");
    let nested = data.join("keyward/vault.db");
    // umask 000 would make naive code create 0644/0755.
    let out = std::process::Command::new("sh")
        .args(["-c", "umask 000; exec \"$KEYWARD_BIN\" create --name web"])
        .env_remove("KEYWARD_VAULT")
        .env("HOME", v.dir().join("home"))
        .env("XDG_DATA_HOME", &data)
        .env("KEYWARD_BIN", BIN)
        .env("KEYWARD_ACTOR", ACTOR)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&nested), 0o600);
    assert_eq!(mode(&v.dir().join("a")), 0o700);
    assert_eq!(mode(&v.dir().join("a/b")), 0o700);
    assert_eq!(mode(&v.dir().join("a/b/keyward")), 0o700);
    for side in ["vault.db-wal", "vault.db-shm"] {
        let p = v.dir().join("a/b/keyward").join(side);
        if p.exists() {
            assert_eq!(mode(&p) & 0o077, 0, "{side} is readable by others");
        }
    }
}

/// A new vault is never a surprise: a mistyped --vault or
/// $KEYWARD_VAULT makes no directories and no vault.
#[test]
fn a_vault_path_in_a_missing_directory_is_refused_naming_it() {
    let v = TestVault::new();
    let missing = v.dir().join("typo/sub");
    let path = missing.join("vault.db");
    let by_flag = v
        .bare()
        .arg("--vault")
        .arg(&path)
        .args(["create", "--name", "web"])
        .assert()
        .code(1);
    let by_env = v
        .bare()
        .env("KEYWARD_VAULT", &path)
        .args(["config", "set", "max-keys", "5"])
        .assert()
        .code(1);
    for err in [stderr(&by_flag), stderr(&by_env)] {
        assert!(
            err.contains(&format!("directory {} does not exist", missing.display())),
            "{err}"
        );
        assert!(!err.contains("created a new vault"), "{err}");
    }
    let json = v
        .bare()
        .arg("--vault")
        .arg(&path)
        .args(["--json", "create", "--name", "web"])
        .assert()
        .code(1);
    let err: serde_json::Value =
        serde_json::from_slice(&json.get_output().stderr).expect("JSON error");
    assert_eq!(err["error"]["code"], "VAULT_MISSING");
    let dest = v.dir().join("elsewhere/copy.db");
    v.create(&["--name", "web"]);
    let copy = v.kw(["copy", "--to"]).arg(&dest).assert().code(1);
    assert!(
        stderr(&copy).contains(&v.dir().join("elsewhere").display().to_string()),
        "{}",
        stderr(&copy)
    );
    assert!(
        !v.dir().join("typo").exists() && !v.dir().join("elsewhere").exists(),
        "no directory made"
    );
}

/// A new vault is never a surprise: creating one says so on stderr,
/// also with --json; using it again says nothing of the kind.
#[test]
fn creating_a_vault_says_so_once_on_stderr() {
    let v = TestVault::new();
    let first = v
        .kw(["--json", "create", "--name", "web"])
        .assert()
        .success();
    assert_eq!(
        stderr(&first).lines().next(),
        Some(format!("created a new vault at {}", v.path.display()).as_str())
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&first.get_output().stdout).expect("stdout is JSON alone");
    assert_eq!(doc["key"]["name"], "web");
    for args in [
        vec!["create", "--name", "api"],
        vec!["config", "set", "max-keys", "5"],
        vec!["list"],
    ] {
        let again = v.kw(&args).assert().success();
        assert!(
            !stderr(&again).contains("created a new vault"),
            "{args:?}: {}",
            stderr(&again)
        );
    }
    // A relative path is shown in full: where the vault landed.
    let relative = v
        .bare()
        .current_dir(v.dir())
        .args(["--vault", "rel.db", "create", "--name", "r"])
        .assert()
        .success();
    assert!(
        stderr(&relative).contains(&format!(
            "created a new vault at {}",
            v.dir().join("rel.db").display()
        )),
        "{}",
        stderr(&relative)
    );
    let set = v.dir().join("set.db");
    let by_config = v
        .bare()
        .arg("--vault")
        .arg(&set)
        .args(["config", "set", "max-keys", "5"])
        .assert()
        .success();
    assert!(stderr(&by_config).contains(&format!("created a new vault at {}", set.display())));
    let default = v.bare().args(["create", "--name", "c"]).assert().success();
    let path = v.dir().join("home/.local/share/keyward/vault.db");
    assert!(
        stderr(&default).contains(&format!("created a new vault at {}", path.display())),
        "{}",
        stderr(&default)
    );
}

/// Parallel first use creates the vault once, and only that process says so.
#[test]
fn of_processes_racing_to_a_missing_vault_one_announces_it() {
    let v = TestVault::new();
    let children: Vec<_> = (0..8)
        .map(|i| {
            v.std(["create", "--name", &format!("r{i}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let announced = children
        .into_iter()
        .map(|c| String::from_utf8_lossy(&c.wait_with_output().expect("wait").stderr).into_owned())
        .filter(|err| err.contains("created a new vault at"))
        .count();
    assert_eq!(announced, 1);
}

/// `copy --to` an existing empty file makes it a vault as private as a new
/// one (0600), whatever mode the file had.
#[test]
fn copy_to_an_existing_empty_file_makes_it_0600() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let dest = v.dir().join("empty.db");
    std::fs::write(&dest, b"").expect("touch");
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = v.kw(["copy", "--to"]).arg(&dest).assert().success();
    assert_eq!(mode(&dest), 0o600);
    assert!(
        stderr(&out).contains(&format!("created a new vault at {}", dest.display())),
        "{}",
        stderr(&out)
    );
    for side in ["empty.db-wal", "empty.db-shm"] {
        let p = v.dir().join(side);
        if p.exists() {
            assert_eq!(mode(&p) & 0o077, 0, "{side} is readable by others");
        }
    }
}

#[test]
fn the_vault_uses_wal_and_a_versioned_schema() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let conn = v.sql();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, 8, "the current schema version");
}

#[test]
fn read_commands_never_create_a_vault() {
    let v = TestVault::new();
    for args in [vec!["list"], vec!["show", "web"], vec!["log"]] {
        v.kw(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(v.path.display().to_string()));
        assert!(!v.path.exists(), "{args:?} created the vault");
    }
    v.kw(["config"]).assert().success();
    assert!(!v.path.exists(), "config created the vault");
    let a = v.kw(["--json", "list"]).assert().code(1).stdout("");
    let err: serde_json::Value = serde_json::from_slice(&a.get_output().stderr).expect("json");
    assert_eq!(err["error"]["code"], "VAULT_MISSING");
    assert!(
        err["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("vault.db")
    );
}

#[test]
fn the_vault_path_comes_from_the_flag_then_the_environment_then_the_data_dir() {
    let v = TestVault::new();
    let from_env = v.dir().join("env.db");
    let from_flag = v.dir().join("flag.db");
    v.bare()
        .env("KEYWARD_VAULT", &from_env)
        .args(["create", "--name", "a"])
        .assert()
        .success();
    assert!(from_env.exists());
    v.bare()
        .env("KEYWARD_VAULT", &from_env)
        .args(["--vault"])
        .arg(&from_flag)
        .args(["create", "--name", "b"])
        .assert()
        .success();
    assert!(from_flag.exists());
    v.bare().args(["create", "--name", "c"]).assert().success();
    let default = v.dir().join("home/.local/share/keyward/vault.db");
    assert!(
        default.exists(),
        "expected the XDG data dir vault at {}",
        default.display()
    );
}

fn assert_refused_untouched(v: &TestVault, fragment: &str) {
    let before = std::fs::read(&v.path).expect("read");
    for args in [
        vec!["list"],
        vec!["create", "--name", "x"],
        vec!["config", "set", "max-keys", "4"],
    ] {
        v.kw(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(fragment));
    }
    assert_eq!(
        std::fs::read(&v.path).expect("read"),
        before,
        "the file was modified"
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let v = TestVault::new();
    std::fs::write(&v.path, "these are my notes, not a database\n".repeat(100)).expect("write");
    assert_refused_untouched(&v, "not an SQLite database");
}

#[test]
fn a_foreign_sqlite_database_is_refused_and_left_untouched() {
    let v = TestVault::new();
    let conn = rusqlite::Connection::open(&v.path).expect("open");
    conn.execute_batch(
        "CREATE TABLE photos (id INTEGER PRIMARY KEY); INSERT INTO photos VALUES (1);",
    )
    .expect("create");
    drop(conn);
    assert_refused_untouched(&v, "keyward did not make");
}

#[test]
fn a_vault_from_a_newer_keyward_is_refused_and_left_untouched() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let conn = v.sql();
    conn.pragma_update(None, "user_version", 99).expect("bump");
    conn.pragma_update(None, "journal_mode", "DELETE")
        .expect("checkpoint");
    drop(conn);
    assert_refused_untouched(&v, "newer keyward");
}

#[test]
fn a_truncated_vault_is_refused() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let conn = v.sql();
    conn.pragma_update(None, "journal_mode", "DELETE")
        .expect("checkpoint");
    drop(conn);
    let bytes = std::fs::read(&v.path).expect("read");
    std::fs::write(&v.path, &bytes[..bytes.len() / 3]).expect("truncate");
    v.kw(["list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("keyward:"));
}

#[test]
fn a_directory_is_refused() {
    let v = TestVault::new();
    std::fs::create_dir(&v.path).expect("mkdir");
    v.kw(["create", "--name", "web"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is a directory"));
}

#[test]
fn the_events_table_refuses_update_and_delete() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let conn = v.sql();
    let update = conn.execute("UPDATE events SET actor = 'mallory'", []);
    assert!(update.is_err_and(|e| e.to_string().contains("append-only")));
    let delete = conn.execute("DELETE FROM events", []);
    assert!(delete.is_err_and(|e| e.to_string().contains("append-only")));
}

/// Root ignores file modes, so as root (CI) the vault is handed to nobody,
/// and [`unprivileged`] runs keyward as nobody through setpriv.
fn hand_over(v: &TestVault) {
    if is_root() {
        let status = std::process::Command::new("chown")
            .args(["-R", "65534"])
            .arg(v.dir())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "chown");
    }
}

/// Runs keyward as a user who owns the vault but may lack write access.
fn unprivileged(v: &TestVault, args: &[&str]) -> std::process::Command {
    let root = is_root();
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        std::process::Command::new(BIN)
    };
    cmd.arg("--vault")
        .arg(&v.path)
        .args(args)
        .env("KEYWARD_ACTOR", ACTOR)
        .env_remove("KEYWARD_VAULT");
    cmd
}

fn run_with_stdin(mut cmd: std::process::Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[test]
fn a_read_only_vault_can_be_read_and_verified_but_not_changed() {
    for dir_read_only in [false, true] {
        let v = TestVault::new();
        let secret = v.create(&["--name", "web"]);
        v.create(&["--name", "other"]);
        let before = v.dump();
        hand_over(&v);
        std::fs::set_permissions(&v.path, std::fs::Permissions::from_mode(0o400)).expect("chmod");
        if dir_read_only {
            std::fs::set_permissions(v.dir(), std::fs::Permissions::from_mode(0o500))
                .expect("chmod dir");
        }
        let list = run_with_stdin(unprivileged(&v, &["--json", "list"]), "");
        assert!(
            list.status.success(),
            "list: {}",
            String::from_utf8_lossy(&list.stderr)
        );
        let verify = run_with_stdin(unprivileged(&v, &["verify"]), &secret);
        assert_eq!(verify.status.code(), Some(0), "verify still answers");
        assert_eq!(
            String::from_utf8_lossy(&verify.stderr),
            "",
            "last-used is skipped quietly"
        );
        for args in [
            &["create", "--name", "x"][..],
            &["revoke", "other", "--yes"],
            &["config", "set", "max-keys", "9"],
        ] {
            let out = run_with_stdin(unprivileged(&v, args), "");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains("read-only for this user") && err.contains("vault.db"),
                "{args:?}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{err}");
        }
        std::fs::set_permissions(v.dir(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod dir back");
        assert_eq!(v.dump(), before, "dir read-only: {dir_read_only}");
    }
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

/// A read of a vault file this user cannot write makes no -wal or -shm
/// file (one would get the file's read-only mode), so once the file is
/// writable again, writes work.
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
