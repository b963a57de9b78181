//! Where a vault is given (`--vault`, `$KEYWARD_VAULT`, `copy --to`): a
//! location that is plainly no SQLite file name is refused and never made a
//! file, and a PostgreSQL location is never quoted in an error, so no
//! password in it is shown. Both hold in every build, with or without
//! `postgres`.

use crate::common::*;

/// A location that is plainly no SQLite file name is never taken for one:
/// one that may hold a password (a quoted URL, as docker --env-file passes
/// it, a JDBC URL, a `psql …` command line) or that starts or ends with a
/// blank (a lone space included) is refused (exit 2), from --vault,
/// $KEYWARD_VAULT and `copy --to` alike, saying what looks wrong, never
/// echoing it, and nothing is created.
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

/// An option libpq does not know (`PASSWORD`, `Password`, `sslPassword`,
/// `pwd`) is refused (exit 2) naming the option only: the error never
/// quotes the location, so the value given to it, a password by its name,
/// is never shown. Nor is a password in a malformed URL or next to a
/// refused option value.
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
