//! A vault written by the first schema version is migrated on open, and
//! everything in it still works.

use crate::common::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vault-v1.db");
const SECRETS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/vault-v1.secrets"
);
const THEN: &str = "2026-11-02T00:00:00Z";

fn fixture_copy() -> TestVault {
    let v = TestVault::new();
    std::fs::copy(FIXTURE, &v.path).expect("copy fixture");
    v
}

#[test]
fn a_schema_v1_vault_is_migrated_and_its_keys_still_verify() {
    let v = fixture_copy();
    let version = |v: &TestVault| -> i64 {
        v.sql()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version")
    };
    assert_eq!(version(&v), 1);
    let secrets = std::fs::read_to_string(SECRETS).expect("secrets");
    for line in secrets.lines().filter(|l| !l.starts_with('#')) {
        let (status, secret) = line.split_once(' ').expect("status secret");
        let out = v
            .kw_at(THEN, ["--json", "verify"])
            .write_stdin(secret)
            .output()
            .expect("run");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let expected = match status {
            "revoked" => "API_KEY_REVOKED",
            _ => "VALID",
        };
        assert_eq!(doc["code"], expected, "{status} key");
        if expected == "VALID" {
            assert_eq!(doc["key"]["status"], status);
        }
    }
    assert_eq!(version(&v), 8);
    let conn = v.sql();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let index: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'keys_current_by_env_name'",
            [],
            |r| r.get(0),
        )
        .expect("index");
    assert_eq!(index, 1);
    // v3 keeps a rotated key's own expiry, filled in from its rotation event.
    let (rotated, kept): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE k.own_expires_at IS \
                 unixepoch(json_extract(e.details, '$.old_expires_at'))) \
             FROM keys k JOIN events e ON e.key_id = k.id AND e.event = 'rotated'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("own expiry");
    assert!(rotated > 0, "the fixture has rotated keys");
    assert_eq!(kept, rotated);
    drop(conn);
    let all = json(
        &v.kw_at(THEN, ["--json", "list", "--all"])
            .assert()
            .success(),
    );
    assert_eq!(all.as_array().map(Vec::len), Some(4));
    assert_eq!(
        json(&v.kw_at(THEN, ["--json", "config"]).assert().success())["max_keys"],
        4
    );
    v.kw(["log", "--verify"]).assert().success();
    v.kw_at(THEN, ["rotate", "web", "--env", "prod", "--grace", "1h"])
        .assert()
        .success();
}

#[test]
fn the_checked_in_fixture_is_never_modified_by_tests() {
    let conn =
        rusqlite::Connection::open_with_flags(FIXTURE, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, 1, "tests must work on a copy of the fixture");
}

crate::on_both_engines! {
    #[cfg(feature = "serve")]
    fn a_vault_from_before_usage_and_rotation_policies_gains_them_on_its_next_open(v: &TestVault) {
        let (key, secret) = v.create_json(&["--name", "web"]);
        // Back to the schema before serve, rotation policies and quotas:
        // SQLite v4, PostgreSQL v1.
        match &v.url {
            None => v
                .sql()
                .execute_batch(
                    "DROP TABLE usage; ALTER TABLE keys DROP COLUMN rotate_every; \
                     DROP TABLE quotas; DROP TABLE quota_use; ALTER TABLE keys DROP COLUMN quota_id; \
                     DROP INDEX keys_by_env_owner; ALTER TABLE keys DROP COLUMN owner; \
                     ALTER TABLE keys DROP COLUMN meta; PRAGMA user_version = 4;",
                )
                .expect("downgrade"),
            #[cfg(not(feature = "postgres"))]
            Some(_) => unreachable!("no PostgreSQL vault in this build"),
            #[cfg(feature = "postgres")]
            Some(url) => crate::common::pg::client(url)
                .batch_execute(
                    "DROP TABLE keyward.usage; ALTER TABLE keyward.keys DROP COLUMN rotate_every; \
                     DROP TABLE keyward.quotas; DROP TABLE keyward.quota_use; \
                     ALTER TABLE keyward.keys DROP COLUMN quota_id; \
                     ALTER TABLE keyward.keys DROP COLUMN owner; ALTER TABLE keyward.keys DROP COLUMN meta; \
                     UPDATE keyward.meta SET version = 1;",
                )
                .expect("downgrade"),
        }
        let s = crate::common::serve::Serve::start(v, &[], &[]);
        assert_eq!(s.authz(&secret, "").status, 200);
        let (code, log) = s.stop();
        assert_eq!(code, Some(0), "{log}");
        let shown = v.json(["show", key["id"].as_str().expect("id")]);
        assert_eq!(shown["usage"][0]["valid"], 1, "{shown}");
        assert_eq!(v.verify(&secret, &[]).0, Some(0));
        assert_eq!(shown["rotate_every"], serde_json::Value::Null);
        let (policy, _) = v.create_json(&["--name", "api", "--rotate-every", "30d"]);
        assert_eq!(policy["rotate_every"], "30d");
    }
}
