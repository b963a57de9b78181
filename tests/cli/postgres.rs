//! What only a PostgreSQL vault has: a server to reach (URLs, passwords,
//! failures that name host and port), many hosts writing at once, a schema
//! made on first use, and `copy` between engines. The contract tests run on
//! both engines through `on_both_engines!` in the other files.

use crate::common::pg::{self, PASSWORD};
use crate::common::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A database with no keyward schema yet: None where PostgreSQL is missing.
fn database() -> Option<TestVault> {
    TestVault::postgres()
}

#[test]
fn read_commands_on_an_empty_database_create_nothing() {
    let Some(v) = database() else { return };
    for args in [
        &["list"][..],
        &["log"],
        &["show", "web"],
        &["log", "--verify"],
    ] {
        let out = v.kw(args).output().expect("run");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("no keyward schema"), "{err}");
    }
    assert_eq!(v.dump(), "<no vault>");
    let config = v.json(["config"]);
    assert_eq!(
        (config["engine"].as_str(), config["exists"].as_bool()),
        (Some("postgres"), Some(false))
    );
    assert!(!config["vault"].as_str().expect("vault").contains(PASSWORD));
    assert_eq!(v.dump(), "<no vault>");
}

#[test]
fn a_wrong_password_or_an_unreachable_server_fails_naming_host_and_port() {
    let Some(v) = database() else { return };
    let url = v.url.clone().expect("url");
    let wrong = url.replace(PASSWORD, "not-the-password");
    let out = v
        .bare()
        .args(["--vault", &wrong, "list"])
        .output()
        .expect("run");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("127.0.0.1:") && err.contains("password"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-password") && err.contains("***"),
        "{err}"
    );
    let port = pg::server().expect("server").port;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let nowhere = url.replace(&format!(":{port}/"), &format!(":{closed}/"));
    let out = v
        .bare()
        .args(["--vault", &nowhere, "--json", "list"])
        .output()
        .expect("run");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{closed}")), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}

#[test]
fn the_password_can_come_from_pgpassword_or_a_pgpass_file() {
    use std::os::unix::fs::PermissionsExt;
    let Some(v) = database() else { return };
    let bare_url = v
        .url
        .clone()
        .expect("url")
        .replace(&format!(":{PASSWORD}@"), "@");
    let out = v
        .bare()
        .env("PGPASSWORD", PASSWORD)
        .args(["--vault", &bare_url, "create", "--name", "web"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pgpass = v.dir().join("pgpass");
    let port = pg::server().expect("server").port;
    std::fs::write(&pgpass, format!("127.0.0.1:{port}:*:postgres:{PASSWORD}\n")).expect("pgpass");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = v
        .bare()
        .env_remove("PGPASSWORD")
        .env("PGPASSFILE", &pgpass)
        .args(["--vault", &bare_url, "--json", "list"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let Some(v) = database() else { return };
    v.create(&["--name", "web"]);
    pg::client(v.url.as_deref().expect("url"))
        .batch_execute("UPDATE keyward.meta SET version = 99")
        .expect("bump");
    let before = v.dump();
    for args in [&["list"][..], &["create", "--name", "x"]] {
        let out = v.kw(args).output().expect("run");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("newer keyward") && err.contains("99"), "{err}");
    }
    assert_eq!(v.dump(), before);
}

#[test]
fn the_log_is_append_only_and_an_edit_is_found() {
    let Some(v) = database() else { return };
    v.create(&["--name", "web"]);
    v.kw(["rotate", "web", "--grace", "1h"]).assert().success();
    let mut client = pg::client(v.url.as_deref().expect("url"));
    let refused = client.batch_execute("UPDATE keyward.events SET actor = 'mallory' WHERE id = 1");
    assert!(refused.is_err(), "the trigger refuses an update");
    assert!(client.batch_execute("DELETE FROM keyward.events").is_err());
    client
        .batch_execute(
            "ALTER TABLE keyward.events DISABLE TRIGGER USER; \
             UPDATE keyward.events SET actor = 'mallory' WHERE id = 1",
        )
        .expect("tamper as an owner would");
    let out = v.kw(["log", "--verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("broken at event 1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn twelve_processes_race_for_three_slots_on_a_database_with_no_schema() {
    let Some(v) = database() else { return };
    let children: Vec<_> = (0..12)
        .map(|i| {
            v.std(["create", "--name", &format!("r{i}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut announced = Vec::new();
    let codes: Vec<Option<i32>> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("wait");
            let err = text(&out.stderr);
            assert!(
                !err.contains("already exists") && !err.contains("duplicate"),
                "{err}"
            );
            announced.extend(
                err.lines()
                    .filter(|l| l.starts_with("created a new vault"))
                    .map(str::to_string),
            );
            out.status.code()
        })
        .collect();
    // The one process that made the schema says so, showing no password.
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert!(
        announced[0].starts_with("created a new vault at postgres://postgres:***@127.0.0.1:"),
        "{announced:?}"
    );
    assert!(!announced[0].contains(PASSWORD), "{announced:?}");
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
    assert_eq!(v.json(["log", "--verify"])["events"], 3);
}

/// A vault copied SQLite → PostgreSQL → SQLite keeps its keys, events and
/// hashes, and every copy's chain verifies.
#[test]
fn copy_round_trips_between_engines_with_identical_hashes() {
    let Some(pg_vault) = database() else { return };
    let source = TestVault::new();
    source
        .kw(["config", "set", "max-keys", "5"])
        .assert()
        .success();
    let secret = source.create(&["--name", "web", "--scope", "read", "--note", "n"]);
    source.create(&["--name", "api", "--env", "prod"]);
    source
        .kw(["rotate", "web", "--grace", "1h"])
        .assert()
        .success();
    source
        .kw(["revoke", "api", "--env", "prod", "--yes", "--reason", "r"])
        .assert()
        .code(4);
    source.create(&["--name", "gone", "--env", "prod"]);
    source
        .kw(["revoke", "gone", "--env", "prod", "--yes"])
        .assert()
        .success();
    let url = pg_vault.url.clone().expect("url");
    let out = source
        .kw(["--json", "copy", "--to", &url])
        .assert()
        .success();
    assert_eq!(json(&out)["events"], 6);
    assert!(!stdout(&out).contains(PASSWORD));
    let back = TestVault::new();
    pg_vault
        .kw(["copy", "--to"])
        .arg(&back.path)
        .assert()
        .success();
    for v in [&source, &pg_vault, &back] {
        v.kw(["log", "--verify"]).assert().success();
    }
    let log = |v: &TestVault| v.json(["log", "--limit", "100"]);
    let list = |v: &TestVault| v.json(["list", "--all"]);
    assert_eq!(log(&source), log(&pg_vault));
    assert_eq!(log(&source), log(&back));
    assert_eq!(list(&source), list(&pg_vault));
    assert_eq!(list(&source), list(&back));
    assert_eq!(
        source.dump(),
        back.dump(),
        "SQLite → PostgreSQL → SQLite is the same file content"
    );
    assert_eq!(
        pg_vault.verify(&secret, &[]).1["valid"],
        true,
        "secrets' hashes came along"
    );
    // Into a vault that is not empty: refused, nothing changed.
    let before = back.dump();
    let out = source
        .kw(["--json", "copy", "--to"])
        .arg(&back.path)
        .assert()
        .code(4);
    assert!(stderr(&out).contains("DESTINATION_NOT_EMPTY"));
    assert_eq!(back.dump(), before);
}

/// sslmode as libpq means it: require encrypts, verify-ca checks the CA,
/// verify-full also the host name; a failed check names host and port.
#[test]
fn sslmodes_are_honoured_with_tls() {
    let Some(v) = database() else { return };
    let server = pg::server().expect("server");
    let Some(ca) = server.ca.clone() else {
        assert!(
            std::env::var_os("KEYWARD_NO_SKIP").is_none(),
            "openssl is missing, so the TLS test cannot run"
        );
        println!("skipped: the TLS test (install openssl to run it)");
        return;
    };
    v.create(&["--name", "web"]);
    let url = v.url.clone().expect("url").replace("?sslmode=disable", "");
    let with = |host: &str, query: &str| url.replace("127.0.0.1", host) + query;
    let ca = ca.display().to_string();
    for (url, ok) in [
        (with("127.0.0.1", "?sslmode=require"), true),
        (
            with(
                "localhost",
                &format!("?sslmode=verify-full&sslrootcert={ca}"),
            ),
            true,
        ),
        (
            with("127.0.0.1", &format!("?sslmode=verify-ca&sslrootcert={ca}")),
            true,
        ),
        (
            with(
                "127.0.0.1",
                &format!("?sslmode=verify-full&sslrootcert={ca}"),
            ),
            false,
        ),
        (with("localhost", "?sslmode=verify-full"), false),
    ] {
        let out = v
            .bare()
            .args(["--vault", &url, "--json", "list"])
            .output()
            .expect("run");
        let err = text(&out.stderr);
        if ok {
            assert!(out.status.success(), "{url}: {err}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{url}: {err}");
            assert!(
                err.contains("cannot connect") && err.contains(":***@"),
                "{url}: {err}"
            );
        }
    }
}

/// The server going away while a write waits for the vault's lock: a clear
/// error, exit 1, and nothing half written.
#[test]
fn a_connection_lost_mid_write_changes_nothing() {
    let Some(v) = database() else { return };
    v.create(&["--name", "web"]);
    let before = v.dump();
    let url = v.url.clone().expect("url");
    let mut holder = pg::client(&url);
    holder
        .batch_execute("SELECT pg_advisory_lock(1802990180)")
        .expect("hold the vault's write lock");
    let child = v
        .std(["rotate", "web", "--grace", "1h"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until keyward is waiting for the lock, then end its session.
    let mut killed = false;
    for _ in 0..200 {
        let rows = holder
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'keyward' AND wait_event_type = 'Lock'",
                &[],
            )
            .expect("terminate");
        if !rows.is_empty() {
            killed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(killed, "keyward never waited for the lock");
    let out = child.wait_with_output().expect("wait");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("keyward:") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");
    holder
        .batch_execute("SELECT pg_advisory_unlock_all()")
        .expect("unlock");
    assert_eq!(v.dump(), before, "nothing half written");
}

/// A role that may only read: reads and verify work, a write is
/// VAULT_READ_ONLY as on a read-only SQLite file.
#[test]
fn a_read_only_role_reads_and_verifies_but_cannot_write() {
    let Some(v) = database() else { return };
    let secret = v.create(&["--name", "web"]);
    let url = v.url.clone().expect("url");
    let role = format!("reader{}", std::process::id());
    pg::client(&url)
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'rpw'; \
             GRANT USAGE ON SCHEMA keyward TO {role}; \
             GRANT SELECT ON ALL TABLES IN SCHEMA keyward TO {role};"
        ))
        .expect("role");
    let reader = url.replace(&format!("postgres:{PASSWORD}@"), &format!("{role}:rpw@"));
    let before = v.dump();
    for args in [
        &["--json", "list"][..],
        &["log", "--verify"],
        &["show", "web"],
    ] {
        let out = v
            .bare()
            .arg("--vault")
            .arg(&reader)
            .args(args)
            .output()
            .expect("run");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let out = v
        .bare()
        .args(["--vault", &reader, "verify"])
        .write_stdin(secret)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = v
        .bare()
        .args(["--vault", &reader, "--json", "create", "--name", "x"])
        .output()
        .expect("run");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("VAULT_READ_ONLY") && !err.contains("rpw"),
        "{err}"
    );
    assert_eq!(v.dump(), before);
}

/// A copy from a vault whose log is broken is refused before anything is
/// made at the destination.
#[test]
fn a_refused_copy_leaves_no_destination_behind() {
    let source = TestVault::new();
    source.create(&["--name", "web"]);
    source
        .sql()
        .execute_batch(
            "DROP TRIGGER events_append_only_update; UPDATE events SET actor = 'x' WHERE id = 1",
        )
        .expect("tamper");
    let dest = source.dir().join("copy.db");
    let out = source.kw(["copy", "--to"]).arg(&dest).assert().code(1);
    assert!(stderr(&out).contains("broken at event 1"));
    assert!(!dest.exists(), "the copy left a file behind");
    if let Some(pg_vault) = database() {
        let url = pg_vault.url.clone().expect("url");
        source.kw(["copy", "--to", &url]).assert().code(1);
        assert_eq!(pg_vault.dump(), "<no vault>", "nor a schema");
    }
}

/// No secret reaches a PostgreSQL vault: every row of every table is
/// searched after creates, a rotation, verifies and a revoke.
#[test]
fn no_secret_reaches_the_database() {
    let Some(v) = database() else { return };
    let first = v.create(&["--name", "web", "--scope", "read"]);
    let second = v.json(["rotate", "web", "--grace", "1h"])["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let partner = v.create(&["--name", "partner"]);
    for s in [&first, &second, &partner] {
        assert_eq!(v.verify(s, &[]).0, Some(0));
    }
    v.kw(["revoke", "partner", "--yes", "--reason", "test"])
        .assert()
        .success();
    let rows = v.dump();
    assert!(rows.contains("web"), "the dump holds the vault");
    for s in [&first, &second, &partner] {
        assert!(
            !rows.contains(&s[3..35]),
            "a secret was found in the database"
        );
    }
}
