//! A throwaway vault and the real binary run against it. Every command runs
//! with HOME and XDG_DATA_HOME inside the temporary directory, so no test
//! can touch the user's real vault, and with the clock pinned to `NOW`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_keyward");
/// The pinned time of every command unless a test says otherwise.
pub const NOW: &str = "2026-11-23T12:00:00Z";
pub const ACTOR: &str = "tester";

/// The fields of a key in `--json` output, exactly (SPEC "Output").
pub const KEY_FIELDS: [&str; 15] = [
    "id",
    "name",
    "env",
    "prefix",
    "hint",
    "status",
    "default",
    "scopes",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
    "rotated_from",
    "rotated_to",
    "note",
];

pub struct TestVault {
    dir: TempDir,
    pub path: PathBuf,
}

impl TestVault {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vault.db");
        TestVault { dir, path }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The binary with a clean, hermetic environment and no vault argument.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::new(BIN);
        let home = self.dir.path().join("home");
        cmd.env_remove("KEYWARD_VAULT")
            .env_remove("KEYWARD_NOW")
            .env_remove("NO_COLOR")
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("KEYWARD_ACTOR", ACTOR)
            .env("KEYWARD_NOW", NOW);
        cmd
    }

    /// `keyward --vault PATH ARGS…` at `NOW`.
    pub fn kw<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.bare();
        cmd.arg("--vault").arg(&self.path).args(args);
        cmd
    }

    /// As [`kw`](Self::kw), as a plain `std::process::Command`, for tests
    /// that spawn or redirect the process themselves.
    pub fn std<I, S>(&self, args: I) -> std::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let home = self.dir.path().join("home");
        let mut cmd = std::process::Command::new(BIN);
        cmd.env_remove("KEYWARD_VAULT")
            .env_remove("NO_COLOR")
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("KEYWARD_ACTOR", ACTOR)
            .env("KEYWARD_NOW", NOW)
            .arg("--vault")
            .arg(&self.path)
            .args(args);
        cmd
    }

    /// As [`kw`](Self::kw), at another time.
    pub fn kw_at<I, S>(&self, now: &str, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.kw(args);
        cmd.env("KEYWARD_NOW", now);
        cmd
    }

    /// Creates a key and returns its secret.
    pub fn create(&self, args: &[&str]) -> String {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        stdout(&self.kw(all).assert().success()).trim().to_string()
    }

    /// Creates a key with `--json` and returns (key, secret).
    pub fn create_json(&self, args: &[&str]) -> (Value, String) {
        let mut all = vec!["--json", "create"];
        all.extend_from_slice(args);
        let doc = json(&self.kw(all).assert().success());
        let secret = doc["secret"].as_str().expect("secret").to_string();
        (doc["key"].clone(), secret)
    }

    /// A command's `--json` stdout, parsed; the command must succeed.
    pub fn json<I, S>(&self, args: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = self.kw(["--json"]);
        cmd.args(args);
        json(&cmd.assert().success())
    }

    /// `keyward --json verify ARGS…` at `now` with `input` on stdin: the exit
    /// code and the verdict document. The one way tests verify a secret.
    pub fn verify_at(&self, now: &str, input: &str, args: &[&str]) -> (Option<i32>, Value) {
        let mut all = vec!["--json", "verify"];
        all.extend_from_slice(args);
        let out = self
            .kw_at(now, all)
            .write_stdin(input.to_string())
            .output()
            .expect("run verify");
        let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), doc)
    }

    /// [`verify_at`](Self::verify_at) of one secret at `NOW`.
    pub fn verify(&self, secret: &str, args: &[&str]) -> (Option<i32>, Value) {
        self.verify_at(NOW, &format!("{secret}\n"), args)
    }

    /// Every row of every table and the schema version, for "unchanged" checks.
    pub fn dump(&self) -> String {
        if !self.path.exists() {
            return "<no vault>".to_string();
        }
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open vault for dump");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("user_version");
        let mut out = format!("user_version {version}\n");
        for table in ["settings", "keys", "events"] {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
                .expect("select");
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| r.get::<_, SqlValue>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .expect("rows");
            for row in rows {
                out.push_str(&format!("{table} {:?}\n", row.expect("row")));
            }
        }
        out
    }

    /// A read-only connection for assertions on what is stored.
    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).expect("open vault")
    }
}

pub fn stdout(a: &Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).expect("utf-8 stdout")
}

pub fn stderr(a: &Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).expect("utf-8 stderr")
}

pub fn json(a: &Assert) -> Value {
    serde_json::from_slice(&a.get_output().stdout).expect("stdout is one JSON document")
}

/// The sorted field names of a JSON object.
pub fn fields(v: &Value) -> Vec<String> {
    let mut f: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    f.sort();
    f
}

pub fn key_fields() -> Vec<String> {
    let mut f: Vec<String> = KEY_FIELDS.iter().map(|s| s.to_string()).collect();
    f.sort();
    f
}

/// A checksum-valid secret that no vault holds.
pub fn foreign_secret() -> String {
    keyward::secret::generate("kw")
        .expect("rng")
        .expose()
        .to_string()
}
