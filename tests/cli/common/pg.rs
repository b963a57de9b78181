//! A throwaway PostgreSQL server for the tests, started once per test binary
//! on a free port in a temporary directory (as the `postgres` user when the
//! tests run as root: initdb refuses root), and stopped when the tests end.
//! Each test gets its own database. Where PostgreSQL is not installed the
//! PostgreSQL half of the suite is skipped with one line saying so; with
//! KEYWARD_NO_SKIP=1 (set by .ci/run) that is a failure.

use std::path::PathBuf;

use super::host::{free_port, is_root};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Server {
    pub port: u16,
    /// The CA that signed the server's certificate (for localhost), when
    /// openssl was there to make one and the server speaks TLS.
    pub ca: Option<PathBuf>,
}

/// A CA and a server certificate for localhost signed by it, in `dir`;
/// returns the server's TLS options. None without openssl.
fn certificates(dir: &std::path::Path) -> Option<(PathBuf, String)> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost\n").ok()?;
    let made = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=keyward test CA",
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    if !made {
        return None;
    }
    use std::os::unix::fs::PermissionsExt;
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).ok()?;
    if is_root() {
        let _ = Command::new("chown").arg("postgres").arg(&key).status();
    }
    let options = format!(
        " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        dir.join("server.crt").display(),
        key.display()
    );
    Some((dir.join("ca.crt"), options))
}

/// The password of the test server's `postgres` user: connections over
/// TCP need it (scram-sha-256), so wrong-password tests mean something.
pub const PASSWORD: &str = "kw-test-pw";

static SERVER: OnceLock<Option<Server>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The directory with initdb and pg_ctl: on PATH, or Debian's.
fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|d| d.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    })
}

/// Runs a PostgreSQL tool, as the postgres user when we are root.
fn run_as_owner(tool: PathBuf, args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(tool);
        c
    } else {
        Command::new(tool)
    };
    cmd.args(args).output().expect("run a PostgreSQL tool")
}

fn start() -> Option<Server> {
    let Some(bin) = bin_dir() else {
        super::host::skip(
            "the PostgreSQL half of the behaviour suite",
            "PostgreSQL is not installed; apt install postgresql to run it",
        );
        return None;
    };
    let dir = tempfile::Builder::new()
        .prefix("keyward-pg")
        .tempdir()
        .expect("tempdir");
    let data = dir.path().join("data");
    let root = dir.path().display().to_string();
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres", &root])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chown the PostgreSQL directory to postgres");
    }
    let pwfile = dir.path().join("pw");
    std::fs::write(&pwfile, PASSWORD).expect("pwfile");
    if is_root() {
        let _ = Command::new("chown").arg("postgres").arg(&pwfile).status();
    }
    let init = run_as_owner(
        bin.join("initdb"),
        &[
            "-D",
            &data.display().to_string(),
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-U",
            "postgres",
            "--pwfile",
            &pwfile.display().to_string(),
            "--no-sync",
        ],
    );
    assert!(
        init.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let port = free_port();
    let tls = certificates(dir.path());
    let options = format!(
        "-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500{}",
        tls.as_ref().map_or("", |(_, o)| o.as_str())
    );
    let log = dir.path().join("log").display().to_string();
    let started = run_as_owner(
        bin.join("pg_ctl"),
        &[
            "-D",
            &data.display().to_string(),
            "-o",
            &options,
            "-l",
            &log,
            "-w",
            "start",
        ],
    );
    assert!(
        started.status.success(),
        "pg_ctl start: {}{}",
        String::from_utf8_lossy(&started.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // Stops the server once this test process is gone, however it ends.
    let pg_ctl = bin.join("pg_ctl").display().to_string();
    let owner = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {owner}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {root}",
        pid = std::process::id(),
        data = data.display()
    );
    // Never waited for on purpose: it must outlive this process.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("watchdog");
    // The watchdog removes the directory once the server has stopped.
    let _ = dir.keep();
    Some(Server {
        port,
        ca: tls.map(|(ca, _)| ca),
    })
}

/// The server, started on first use; None where PostgreSQL is not installed.
pub fn server() -> Option<&'static Server> {
    SERVER.get_or_init(start).as_ref()
}

/// A new, empty database on the test server, as a keyward vault URL.
pub fn new_database() -> Option<String> {
    let server = server()?;
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = postgres::Client::connect(
        &format!(
            "host=127.0.0.1 port={} user=postgres password={PASSWORD} dbname=postgres",
            server.port
        ),
        postgres::NoTls,
    )
    .expect("connect to the test server");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create database");
    Some(format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{name}?sslmode=disable",
        server.port
    ))
}

/// A client on a test database, for assertions and tampering.
pub fn client(url: &str) -> postgres::Client {
    let plain = url.replace("?sslmode=disable", "");
    postgres::Client::connect(&plain, postgres::NoTls).expect("connect")
}
