//! A build without `serve` or `postgres` (`cargo build --no-default-features`)
//! says so when asked for what it left out, and changes nothing.

#[cfg(not(feature = "serve"))]
#[test]
fn a_build_without_serve_says_so_and_exits_2() {
    let v = crate::common::TestVault::new();
    let out = v.kw(["serve", "--listen", "127.0.0.1:0"]).assert().code(2);
    let err = crate::common::stderr(&out);
    assert!(err.contains("built without serve"), "{err}");
    assert!(!v.path.exists(), "serve made a vault");
}

#[cfg(not(feature = "postgres"))]
#[test]
fn a_build_without_postgres_refuses_a_postgres_location_and_quotes_no_password() {
    let v = crate::common::TestVault::new();
    for location in ["postgres://kw:QQpw@db.internal/kw", "host=db password=QQpw"] {
        let out = v
            .bare()
            .args(["--vault", location, "create", "--name", "web"])
            .assert()
            .code(2);
        let err = crate::common::stderr(&out);
        assert!(err.contains("without PostgreSQL"), "{err}");
        assert!(!err.contains("QQpw"), "{err}");
    }
}

#[cfg(all(feature = "serve", feature = "postgres"))]
#[test]
fn the_default_build_serves_and_opens_postgres_locations() {
    let v = crate::common::TestVault::new();
    v.bare().args(["serve", "--help"]).assert().success();
    // A PostgreSQL location is tried (nothing listens on port 1), not refused.
    let out = v
        .bare()
        .args(["--vault", "postgres://kw@127.0.0.1:1/kw", "list"])
        .assert()
        .code(1);
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("127.0.0.1") && !err.contains("without PostgreSQL"),
        "{err}"
    );
}
