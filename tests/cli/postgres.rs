//! What only a PostgreSQL vault has: a server to reach (URLs, passwords,
//! failures that name host and port), many hosts writing at once, a schema
//! made on first use, and `copy` between engines. The contract tests run on
//! both engines through `on_both_engines!` in the other files.

use crate::common::pg::{self, PASSWORD};
use crate::common::*;

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

/// libpq ignores a password file others can read, and warns; keyward
/// ignores it too, and says so when connecting then fails.
#[test]
fn a_pgpass_file_others_can_read_is_ignored_saying_so() {
    use std::os::unix::fs::PermissionsExt;
    let Some(v) = database() else { return };
    let bare_url = v
        .url
        .clone()
        .expect("url")
        .replace(&format!(":{PASSWORD}@"), "@");
    let pgpass = v.dir().join("pgpass");
    let port = pg::server().expect("server").port;
    std::fs::write(&pgpass, format!("127.0.0.1:{port}:*:postgres:{PASSWORD}\n")).expect("pgpass");
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for args in [&["list"][..], &["--json", "create", "--name", "web"]] {
        let out = v
            .bare()
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", &pgpass)
            .arg("--vault")
            .arg(&bare_url)
            .args(args)
            .output()
            .expect("run");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!(
                "{} was ignored because others can read it",
                pgpass.display()
            )) && err.contains("chmod 600")
                && !err.contains(PASSWORD),
            "{err}"
        );
    }
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = v
        .bare()
        .env_remove("PGPASSWORD")
        .arg("--vault")
        .arg(format!("{bare_url}&passfile={}", pgpass.display()))
        .args(["create", "--name", "web"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "passfile= in the URL: {}",
        text(&out.stderr)
    );
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

/// A schema `keyward` that keyward did not make is someone else's: read
/// commands and writes refuse it (exit 1) and leave it as it was, as a
/// SQLite file keyward did not make is refused.
#[test]
fn a_foreign_keyward_schema_is_refused_and_left_alone() {
    for foreign in [
        "CREATE SCHEMA keyward; CREATE TABLE keyward.keys (id int); \
         INSERT INTO keyward.keys VALUES (7);",
        "CREATE SCHEMA keyward; CREATE TABLE keyward.meta (id int); \
         INSERT INTO keyward.meta VALUES (7);",
    ] {
        let Some(v) = database() else { return };
        let url = v.url.clone().expect("url");
        pg::client(&url)
            .batch_execute(foreign)
            .expect("foreign schema");
        let rows = || {
            let mut client = pg::client(&url);
            let tables: Vec<String> = client
                .query(
                    "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n \
                     ON n.oid = c.relnamespace WHERE n.nspname = 'keyward' ORDER BY 1",
                    &[],
                )
                .expect("tables")
                .iter()
                .map(|r| r.get(0))
                .collect();
            tables.join(",")
        };
        let before = rows();
        for args in [
            &["list"][..],
            &["--json", "create", "--name", "web"],
            &["config", "set", "max-keys", "5"],
        ] {
            let out = v.kw(args).output().expect("run");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains("not a keyward vault")
                    && err.contains("did not make")
                    && !err.contains("already exists")
                    && !err.contains("no keyward schema"),
                "{args:?}: {err}"
            );
        }
        assert_eq!(rows(), before);
    }
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
        skip(
            "the PostgreSQL TLS test",
            "openssl is not installed; apt install openssl to run it",
        );
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
    let out = v
        .bare()
        .args(["--vault", &reader, "config", "set", "max-keys", "50"])
        .output()
        .expect("run");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("role '{role}'"))
            && err.contains("privileges")
            && !err.contains("permissions of the file"),
        "{err}"
    );
    assert_eq!(v.dump(), before);
}

/// serve on a role that may not write usage says so once, not every 10 s.
#[test]
fn a_read_only_serve_warns_once_that_usage_cannot_be_written() {
    let Some(v) = database() else { return };
    let secret = v.create(&["--name", "web"]);
    let url = v.url.clone().expect("url");
    let role = format!("looker{}", std::process::id());
    pg::client(&url)
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'rpw'; \
             GRANT USAGE ON SCHEMA keyward TO {role}; \
             GRANT SELECT ON ALL TABLES IN SCHEMA keyward TO {role};"
        ))
        .expect("role");
    let reader = url.replace(&format!("postgres:{PASSWORD}@"), &format!("{role}:rpw@"));
    let mut cmd = std::process::Command::new(BIN);
    cmd.env_remove("KEYWARD_VAULT")
        .env("HOME", v.dir().join("home"))
        .args(["--vault", &reader, "serve", "--listen", "127.0.0.1:0"]);
    let serve = crate::common::serve::Serve::spawn(cmd, &v.dir().join("serve.log"));
    for _ in 0..3 {
        assert_eq!(serve.authz(&secret, "").status, 200);
        std::thread::sleep(std::time::Duration::from_millis(10_500));
    }
    let (_, log) = serve.stop();
    let warnings = log.matches("cannot write usage counts").count();
    assert_eq!(warnings, 1, "{log}");
    assert!(log.contains(&format!("role '{role}'")), "{log}");
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

/// The places a location is shown: a read command's error, `config`, its
/// JSON and serve. Each must either take the location or refuse it, and
/// none may show any of `secrets`; nothing may appear in the directory.
fn assert_never_shown(v: &TestVault, location: &str, secrets: &[&str]) -> Vec<String> {
    let before: Vec<_> = std::fs::read_dir(v.dir())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    let mut said = Vec::new();
    for args in [
        &["list"][..],
        &["--json", "list"],
        &["config"],
        &["--json", "config"],
        &["serve", "--listen", "127.0.0.1:0"],
    ] {
        let out = v
            .bare()
            .current_dir(v.dir())
            .arg("--vault")
            .arg(location)
            .args(args)
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .expect("run");
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        for secret in secrets {
            assert!(
                !all.contains(secret),
                "{location} {args:?} shows {secret}: {all}"
            );
        }
        said.push(all);
    }
    let after: Vec<_> = std::fs::read_dir(v.dir())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(before, after, "{location} made a file");
    said
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

#[test]
fn a_password_libpq_would_misread_is_refused_saying_how_to_encode_it() {
    let v = TestVault::new();
    let port = closed_port();
    for (location, secrets) in [
        (
            format!("postgres://u:Zm9v/YmFy+cXV4=@127.0.0.1:{port}/db"),
            &["Zm9v", "YmFy", "cXV4"][..],
        ),
        (
            format!("postgresql://u:ab?cd/ef@127.0.0.1:{port}/db"),
            &["ab?cd", "cd/ef"],
        ),
        (
            format!("postgres://u:p@SECRETss@127.0.0.1:{port}/db"),
            &["SECRET"],
        ),
        (
            format!("postgres://u@127.0.0.1:{port}/db?password=EQSECRET=="),
            &["EQSECRET"],
        ),
        (
            format!("postgres://u@127.0.0.1:{port}/db?password=AMP&SECRET"),
            &["SECRET"],
        ),
        (
            format!("postgres://u@127.0.0.1:{port}/db?sslpassword=SSLSECRET"),
            &["SSLSECRET"],
        ),
        (
            format!("POSTGRES://u:UPSECRET@127.0.0.1:{port}/db"),
            &["UPSECRET"],
        ),
        (
            format!("PostgreSQL://u:UPSECRET@127.0.0.1:{port}/db"),
            &["UPSECRET"],
        ),
        (
            format!("host=127.0.0.1 port={port} password='KV SECRET"),
            &["SECRET"],
        ),
        (
            format!("postgres:/u:UPSECRET@127.0.0.1:{port}/db"),
            &["UPSECRET"],
        ),
        (
            format!(" postgres://u:UPSECRET@127.0.0.1:{port}/db"),
            &["UPSECRET"],
        ),
        (
            format!("mysql://u:MYSECRET@127.0.0.1:{port}/db"),
            &["MYSECRET"],
        ),
    ] {
        for said in assert_never_shown(&v, &location, secrets) {
            assert!(
                said.contains("%")
                    || said.contains("lower case")
                    || said.contains("not supported")
                    || said.contains("SQLite file path")
                    || said.contains("quote"),
                "{location}: {said}"
            );
        }
    }
}

#[test]
fn every_form_libpq_reads_is_shown_with_its_passwords_hidden() {
    let v = TestVault::new();
    let port = closed_port();
    for (location, secrets, shown) in [
        (
            format!("postgres://u:pa?ss#wd@127.0.0.1:{port}/db"),
            &["pa?ss", "ss#wd"][..],
            format!("postgres://u:***@127.0.0.1:{port}/db"),
        ),
        (
            format!("postgres://u@127.0.0.1:{port}/db?password=QSECRET&sslmode=disable"),
            &["QSECRET"],
            format!("postgres://u@127.0.0.1:{port}/db?password=***&sslmode=disable"),
        ),
        (
            format!("postgres://u@127.0.0.1:{port}/db?gssencmode=disable"),
            &[],
            format!("postgres://u@127.0.0.1:{port}/db?gssencmode=disable"),
        ),
        (
            format!("host=127.0.0.1 port={port} user=u password='KV SECRET' dbname=db"),
            &["SECRET"],
            format!("host=127.0.0.1 port={port} user=u password=*** dbname=db"),
        ),
    ] {
        let said = assert_never_shown(&v, &location, secrets);
        for (i, said) in said.iter().enumerate() {
            assert!(said.contains(&shown), "{location} #{i}: {said}");
        }
    }
}

#[test]
fn a_password_with_reserved_characters_connects_and_serve_never_logs_it() {
    let Some(v) = database() else { return };
    let url = v.url.clone().expect("url");
    let port = pg::server().expect("server").port;
    let db = url
        .rsplit('/')
        .next()
        .and_then(|t| t.split('?').next())
        .expect("db")
        .to_string();
    let role = format!("owner{}", std::process::id());
    pg::client(&url)
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'Zm9v/YmFy+cXV4=?#'; \
             GRANT CREATE ON DATABASE {db} TO {role};"
        ))
        .expect("role");
    for (location, shown) in [
        (
            format!(
                "postgres://{role}:Zm9v%2FYmFy+cXV4=?#@127.0.0.1:{port}/{db}?sslmode=disable&gssencmode=disable"
            ),
            format!(
                "postgres://{role}:***@127.0.0.1:{port}/{db}?sslmode=disable&gssencmode=disable"
            ),
        ),
        (
            format!(
                "host=127.0.0.1 port={port} user={role} password='Zm9v/YmFy+cXV4=?#' dbname={db} sslmode=disable"
            ),
            format!(
                "host=127.0.0.1 port={port} user={role} password=*** dbname={db} sslmode=disable"
            ),
        ),
    ] {
        let out = v
            .bare()
            .arg("--vault")
            .arg(&location)
            .args([
                "create",
                "--name",
                "web",
                "--env",
                &format!("e{}", location.len()),
            ])
            .output()
            .expect("run");
        assert!(out.status.success(), "{location}: {}", text(&out.stderr));
        assert!(!text(&out.stderr).contains("YmFy"), "{}", text(&out.stderr));
        let config = v
            .bare()
            .args(["--vault", &location, "config"])
            .output()
            .expect("run");
        let said = text(&config.stdout);
        assert!(said.contains(&shown) && !said.contains("YmFy"), "{said}");
        let config = v
            .bare()
            .args(["--vault", &location, "--json", "config"])
            .output()
            .expect("run");
        let doc: serde_json::Value = serde_json::from_slice(&config.stdout).unwrap_or_default();
        assert_eq!(doc["vault"].as_str(), Some(shown.as_str()), "{doc}");
        let mut cmd = std::process::Command::new(BIN);
        cmd.env_remove("KEYWARD_VAULT")
            .env("HOME", v.dir().join("home"))
            .args(["--vault", &location, "serve", "--listen", "127.0.0.1:0"]);
        let serve = crate::common::serve::Serve::spawn(cmd, &v.dir().join("serve.log"));
        let (_, log) = serve.stop();
        let first = log.lines().next().unwrap_or_default().to_string();
        assert!(first.contains(&shown) && !log.contains("YmFy"), "{log}");
    }
}

/// serve tells of a database it cannot reach once, not every second, and
/// says when it answers again.
#[test]
fn serve_reports_a_lost_database_once_until_it_changes() {
    let Some(v) = database() else { return };
    v.create(&["--name", "web"]);
    let url = v.url.clone().expect("url");
    let db = url
        .rsplit('/')
        .next()
        .and_then(|t| t.split('?').next())
        .expect("db")
        .to_string();
    let serve = crate::common::serve::Serve::start(&v, &[], &[]);
    let mut admin = pg::client(&url.replace(&format!("/{db}?"), "/postgres?"));
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {db} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{db}' AND application_name = 'keyward';"
        ))
        .expect("cut serve off");
    std::thread::sleep(std::time::Duration::from_secs(5));
    admin
        .batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"))
        .expect("let serve back");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let (_, log) = serve.stop();
    // Once per reason: "not answered", perhaps, then the connection refused;
    // never once a second for the 5 s it lasted.
    let warned = log.matches("not ready").count();
    assert!((1..=2).contains(&warned), "{log}");
    assert_eq!(log.matches("ready again").count(), 1, "{log}");
}

/// The id of the `i`th key [`bulk_fill`] writes.
fn bulk_id(i: u64) -> String {
    const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut s = String::from("key_aaaa");
    for shift in (0..12).rev() {
        s.push(char::from(BASE32[((i >> (shift * 5)) & 31) as usize]));
    }
    s
}

/// Adds `n` keys to a SQLite vault that keyward made, written as keyward
/// writes them (one `created` event each, chained on from the head): every
/// tenth key rotated to the next (a link that crosses copy's chunks), some
/// with usage counts, and some with a note holding what COPY's text format
/// escapes.
fn bulk_fill(v: &TestVault, n: u64) {
    use keyward::event::{Canonical, chain_hash};
    let id = bulk_id;
    let mut conn = rusqlite::Connection::open(&v.path).expect("open");
    let tx = conn.transaction().expect("begin");
    tx.pragma_update(None, "defer_foreign_keys", "ON")
        .expect("defer");
    let (mut next, mut prev): (i64, String) = tx
        .query_row(
            "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("head");
    {
        let mut key = tx
            .prepare(
                "INSERT INTO keys (id, name, env, prefix, hint, secret_sha256, scopes, is_default, \
                 created_at, expires_at, rotated_from, note) \
                 VALUES (?1, ?2, ?3, 'kw', 'hInt', ?4, '[\"read\"]', 0, ?5, ?6, ?7, ?8)",
            )
            .expect("prepare");
        let mut event = tx
            .prepare(
                "INSERT INTO events (id, at, event, key_id, related_key_id, env, actor, details, \
                 prev_hash, hash) VALUES (?1, ?2, 'created', ?3, NULL, ?4, 'bulk@test', ?5, ?6, ?7)",
            )
            .expect("prepare");
        let mut link = tx
            .prepare("UPDATE keys SET rotated_to = ?2 WHERE id = ?1")
            .expect("prepare");
        let mut usage = tx
            .prepare(
                "INSERT INTO usage (key_id, day, valid, invalid) VALUES (?1, '2026-11-20', ?2, 1)",
            )
            .expect("prepare");
        for i in 1..=n {
            let (key_id, env, name) = (id(i), format!("e{}", i % 10), format!("k{i}"));
            let at = 1_790_000_000 + i as i64;
            let mut hash = [7u8; 32];
            hash[24..].copy_from_slice(&i.to_be_bytes());
            let rotated_to = (i % 10 == 0 && i < n).then(|| id(i + 1));
            let rotated_from = (i % 10 == 1 && i > 1).then(|| id(i - 1));
            let note = (i % 1000 == 0).then_some("tab\there\nnew line \\N back\\slash\r");
            key.execute(rusqlite::params![
                key_id,
                name,
                env,
                &hash[..],
                at,
                rotated_to.as_ref().map(|_| at + 3600),
                rotated_from,
                note
            ])
            .expect("key");
            // Linked once the successor is there, as keyward does (a
            // dangling deferred link makes SQLite scan on every insert).
            if let Some(from) = &rotated_from {
                link.execute([from, &key_id]).expect("link");
            }
            next += 1;
            let details = format!(
                "{{\"default\":false,\"expires_at\":null,\"name\":\"{name}\",\"prefix\":\"kw\",\"scopes\":[\"read\"]}}"
            );
            let hash = chain_hash(
                &prev,
                &Canonical {
                    id: next,
                    at,
                    kind: "created",
                    key_id: Some(&key_id),
                    related_key_id: None,
                    env: Some(&env),
                    actor: "bulk@test",
                    details: &details,
                },
            );
            event
                .execute(rusqlite::params![
                    next, at, key_id, env, details, prev, hash
                ])
                .expect("event");
            prev = hash;
            if i % 100 == 0 {
                usage
                    .execute(rusqlite::params![key_id, i as i64])
                    .expect("usage");
            }
        }
    }
    tx.commit().expect("commit");
}

/// copy streams: a vault of 100k keys and 100k events goes SQLite →
/// PostgreSQL → SQLite with every key, event, count and hash, and every
/// copy's chain verifies.
#[test]
fn copy_of_a_large_vault_round_trips_between_engines() {
    let Some(pg_vault) = database() else { return };
    let source = TestVault::new();
    source
        .kw(["config", "set", "max-keys", "5"])
        .assert()
        .success();
    source.create(&["--name", "web"]);
    bulk_fill(&source, 100_000);
    let url = pg_vault.url.clone().expect("url");
    let out = source
        .kw(["--json", "copy", "--to", &url])
        .assert()
        .success();
    assert_eq!(json(&out)["keys"], 100_001);
    assert_eq!(json(&out)["events"], 100_002);
    let back = TestVault::new();
    let out = pg_vault
        .kw(["--json", "copy", "--to"])
        .arg(&back.path)
        .assert()
        .success();
    assert_eq!(json(&out)["keys"], 100_001);
    assert_eq!(json(&out)["events"], 100_002);
    // The source's chain was checked by both copies before they read it.
    for v in [&pg_vault, &back] {
        assert_eq!(v.json(["log", "--verify"])["events"], 100_002);
    }
    let list = |v: &TestVault| v.json(["list", "--all"]);
    let listed = list(&source);
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(100_001),
        "{listed:.200}"
    );
    assert_eq!(listed, list(&pg_vault));
    assert_eq!(listed, list(&back));
    for page in [
        &["--limit", "1000"][..],
        &["--limit", "1000", "--before", "50000"],
        &["--limit", "1000", "--before", "1001"],
    ] {
        let log = |v: &TestVault| v.json(["log"].iter().chain(page));
        let logged = log(&source);
        assert_eq!(logged, log(&pg_vault), "{page:?}");
        assert_eq!(logged, log(&back), "{page:?}");
    }
    let usage = |v: &TestVault| v.json(["show", &bulk_id(99_900)]);
    let shown = usage(&source);
    assert!(shown.to_string().contains("99900"), "{shown}");
    assert_eq!(shown, usage(&back));
    assert_eq!(shown, usage(&pg_vault));
    assert_eq!(
        source.dump(),
        back.dump(),
        "the same rows after the round trip"
    );
}
