//! What tests need from the host: whether they run as root, a free port,
//! Python tools installed once into target/tmp, and a visible line when a
//! test cannot run here. Shared with tests/readme.rs, which includes this
//! file by path.

use std::path::PathBuf;
use std::process::Command;

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs a command: its stdout, or what it printed when it failed.
pub fn run(cmd: &mut Command) -> Result<String, String> {
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => Err(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Where tools installed for the tests live, reused between runs.
pub fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sdk")
}

/// Held while a tool is installed, so that parallel tests install it once.
pub static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A Python virtual environment `tools()/NAME` with `packages` installed,
/// made once and reused: its directory, or the last line of why it could
/// not be made (python3-venv or PyPI missing).
pub fn venv(name: &str, packages: &[&str]) -> Result<PathBuf, String> {
    let venv = tools().join(name);
    let marker = venv.join(".installed");
    if marker.exists() {
        return Ok(venv);
    }
    // Tests run in parallel: one makes it, the others wait and reuse it.
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if marker.exists() {
        return Ok(venv);
    }
    let _ = std::fs::remove_dir_all(&venv);
    std::fs::create_dir_all(tools()).map_err(|e| e.to_string())?;
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
        .and_then(|_| {
            run(Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(packages))
        })
        .map_err(|why| why.lines().last().unwrap_or("").to_string())?;
    std::fs::write(&marker, "").map_err(|e| e.to_string())?;
    Ok(venv)
}

/// Reports a group of tests that cannot run here: one line per group and
/// process on stderr, written to the handle itself (libtest captures only
/// the print macros, so `cargo test` shows it even for a passing test), or
/// a failure when KEYWARD_NO_SKIP is set (as .ci/run sets it).
pub fn skip(what: &str, how: &str) {
    use std::io::Write;
    use std::sync::Mutex;
    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());
    assert!(
        std::env::var_os("KEYWARD_NO_SKIP").is_none(),
        "{what} cannot run ({how}), and KEYWARD_NO_SKIP forbids skipping it"
    );
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if said.iter().any(|w| w == what) {
        return;
    }
    said.push(what.to_string());
    let _ = std::io::stderr().write_all(format!("skipped: {what} ({how})\n").as_bytes());
}
