//! A throwaway vault and the real binary run against it. Every command runs
//! with HOME and XDG_DATA_HOME inside the temporary directory, so no test
//! can touch the user's real vault, and with the clock pinned to `NOW`.

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::Duration;

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_keyward");
/// The pinned time of every command unless a test says otherwise.
pub const NOW: &str = "2026-11-23T12:00:00Z";
pub const ACTOR: &str = "tester";

/// The fields of a key in `--json` output, exactly (docs/reference.md "JSON").
pub const KEY_FIELDS: [&str; 22] = [
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
    "rotate_every",
    "rotation_due_at",
    "ratelimits",
    "credits",
    "refill",
    "owner",
    "meta",
];

pub mod host;
#[cfg(feature = "postgres")]
pub mod pg;
#[cfg(feature = "serve")]
pub mod serve;

pub use host::{free_port, is_root, skip};

/// A throwaway vault: a SQLite file in a temporary directory, or a fresh
/// database on the test PostgreSQL server.
pub struct TestVault {
    dir: TempDir,
    pub path: PathBuf,
    /// The vault's URL when it is on PostgreSQL.
    pub url: Option<String>,
}

/// Runs each contract test on both engines: `NAME::sqlite` and
/// `NAME::postgres` (skipped, with one line, where PostgreSQL is missing).
#[macro_export]
macro_rules! on_both_engines {
    ($($(#[$attr:meta])* fn $name:ident($v:ident: &TestVault) $body:block)*) => {
        $(
            $(#[$attr])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn case($v: &TestVault) $body

                #[test]
                fn sqlite() {
                    case(&TestVault::new());
                }

                #[cfg(feature = "postgres")]
                #[test]
                fn postgres() {
                    if let Some(v) = TestVault::postgres() {
                        case(&v);
                    }
                }
            }
        )*
    };
}

impl TestVault {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vault.db");
        TestVault {
            dir,
            path,
            url: None,
        }
    }

    /// A vault in a new database on the test server, if there is one.
    #[cfg(feature = "postgres")]
    pub fn postgres() -> Option<Self> {
        let url = pg::new_database()?;
        Some(TestVault {
            url: Some(url),
            ..TestVault::new()
        })
    }

    /// A new, empty vault on the same engine.
    pub fn like(&self) -> TestVault {
        match self.url {
            #[cfg(feature = "postgres")]
            Some(_) => TestVault::postgres().expect("the server is up"),
            #[cfg(not(feature = "postgres"))]
            Some(_) => unreachable!("no PostgreSQL vault in this build"),
            None => TestVault::new(),
        }
    }

    /// What `--vault` gets: the path or the URL.
    pub fn location(&self) -> std::ffi::OsString {
        match &self.url {
            Some(url) => url.into(),
            None => self.path.clone().into(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The binary with a clean, hermetic environment and no vault argument.
    pub fn bare(&self) -> Command {
        let mut cmd = Command::new(BIN);
        let home = self.dir.path().join("home");
        cmd.env_remove("KEYWARD_VAULT")
            .env_remove("KEYWARD_ENV")
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
        cmd.arg("--vault").arg(self.location()).args(args);
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
            .env_remove("KEYWARD_ENV")
            .env_remove("NO_COLOR")
            .env("HOME", &home)
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("KEYWARD_ACTOR", ACTOR)
            .env("KEYWARD_NOW", NOW)
            .arg("--vault")
            .arg(self.location())
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
        #[cfg(feature = "postgres")]
        if let Some(url) = &self.url {
            return pg_dump(url);
        }
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

/// Every row of the keyward schema of a PostgreSQL vault, as text.
#[cfg(feature = "postgres")]
fn pg_dump(url: &str) -> String {
    let mut client = pg::client(url);
    let exists: Option<String> = client
        .query_one("SELECT to_regclass('keyward.meta')::text", &[])
        .expect("regclass")
        .get(0);
    if exists.is_none() {
        return "<no vault>".to_string();
    }
    let mut out = String::new();
    for table in ["meta", "settings", "keys", "events"] {
        let rows = client
            .query(
                &format!("SELECT row_to_json(t)::text FROM keyward.{table} t ORDER BY 1"),
                &[],
            )
            .expect("select");
        for row in rows {
            let text: String = row.get(0);
            out.push_str(&format!("{table} {text}\n"));
        }
    }
    out
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

/// Output bytes as text, invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Holds the vault's write lock, as a long writer would, until dropped.
pub struct WriteLock(pub rusqlite::Connection);

impl WriteLock {
    pub fn take(v: &TestVault) -> Self {
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

/// Waits for a child at most `secs`, killing it after: a command that
/// blocks (on a FIFO, say) fails the test instead of hanging it.
pub fn wait_bounded(mut child: Child, secs: u64) -> Option<Output> {
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

/// A checksum-valid secret that no vault holds.
pub fn foreign_secret() -> String {
    keyward::secret::generate("kw")
        .expect("rng")
        .expose()
        .to_string()
}

/// A program on PATH (or in /usr/sbin, where Debian puts daemons).
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
