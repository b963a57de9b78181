//! Prompts, driven through a real pseudo-terminal: stdin and stderr are the
//! terminal; stdout goes to a file, as in `NEW=$(keyward rotate web)`.

use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

use crate::common::*;

const DOWN: &str = "\x1b[B";
const ESC: &str = "\x1b";

/// keyward on a pseudo-terminal, and its process id.
struct Terminal {
    session: PtySession,
    pid_file: std::path::PathBuf,
}

impl std::ops::Deref for Terminal {
    type Target = PtySession;
    fn deref(&self) -> &PtySession {
        &self.session
    }
}

impl std::ops::DerefMut for Terminal {
    fn deref_mut(&mut self) -> &mut PtySession {
        &mut self.session
    }
}

/// Runs keyward on a terminal with stdout redirected to `out`.
fn on_terminal(v: &TestVault, args: &str, out: &std::path::Path) -> Terminal {
    let pid_file = out.with_extension("pid");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "echo $$ > \"$PID_FILE\"; exec \"$KW\" --vault \"$VAULT\" {args} > \"$OUT\""
        ))
        .env("KW", BIN)
        .env("VAULT", &v.path)
        .env("OUT", out)
        .env("PID_FILE", &pid_file)
        .env("KEYWARD_NOW", NOW)
        .env("KEYWARD_ACTOR", ACTOR)
        .env("TERM", "xterm")
        .env_remove("NO_COLOR");
    Terminal {
        session: spawn_command(cmd, Some(10_000)).expect("spawn on a pty"),
        pid_file,
    }
}

/// The numbers of the system calls that wait for terminal input (read,
/// poll, ppoll), as /proc/PID/syscall shows them.
#[cfg(target_arch = "x86_64")]
const WAITING: &[&str] = &["0", "7", "271"];
#[cfg(target_arch = "aarch64")]
const WAITING: &[&str] = &["63", "73"];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const WAITING: &[&str] = &[];

/// Waits until keyward is blocked waiting for a key. The terminal's mode
/// is switched before each key is read (with TCSAFLUSH for a hidden
/// secret, which drops input typed earlier); once keyward waits in read or
/// poll, a key sent is a key received.
fn until_reading(t: &Terminal) {
    let pid = (0..1000).find_map(|_| {
        let pid = std::fs::read_to_string(&t.pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        if pid.is_none() {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        pid
    });
    let Some(pid) = pid else { return };
    let syscall = format!("/proc/{pid}/syscall");
    for _ in 0..1000 {
        let now = std::fs::read_to_string(&syscall).unwrap_or_default();
        let first = now.split_whitespace().next().unwrap_or_default();
        if WAITING.is_empty() || WAITING.contains(&first) || now.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Types keys the way a person does: each once keyward is waiting for it.
fn type_keys(t: &mut Terminal, keys: &[&str]) {
    for key in keys {
        until_reading(t);
        t.send(key).expect("send");
        t.flush().expect("flush");
    }
}

fn exit_code(p: &PtySession) -> Option<i32> {
    match p.process().wait() {
        Ok(WaitStatus::Exited(_, code)) => Some(code),
        _ => None,
    }
}

fn grace_end_of_old_key(v: &TestVault) -> serde_json::Value {
    let keys = v.json(["list"]);
    keys.as_array()
        .expect("array")
        .iter()
        .find(|k| k["status"] == "grace")
        .map(|k| k["expires_at"].clone())
        .unwrap_or(serde_json::Value::Null)
}

#[test]
fn the_grace_picker_preselects_24_hours_and_the_secret_goes_alone_to_stdout() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let out = v.dir().join("out");
    let mut p = on_terminal(&v, "rotate web", &out);
    let screen = p.exp_string("24 hours").expect("presets");
    assert!(
        screen.contains("Rotating key_")
            && screen.contains("'web'. How long should the old key keep working?"),
        "{screen}"
    );
    assert!(
        !screen.contains("?:"),
        "a question ends in one mark: {screen}"
    );
    type_keys(&mut p, &["\r"]);
    p.exp_eof().expect("eof");
    assert_eq!(exit_code(&p), Some(0));
    assert_eq!(grace_end_of_old_key(&v), "2026-11-24T12:00:00Z");
    let stdout = std::fs::read_to_string(&out).expect("stdout file");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(
        stdout.starts_with("kw_") && !stdout.contains('\x1b'),
        "{stdout:?}"
    );
}

#[test]
fn picking_3_days_gives_a_3_day_grace() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let mut p = on_terminal(&v, "rotate web", &v.dir().join("out"));
    p.exp_string("How long").expect("picker");
    type_keys(&mut p, &[DOWN, "\r"]);
    p.exp_eof().expect("eof");
    assert_eq!(exit_code(&p), Some(0));
    assert_eq!(grace_end_of_old_key(&v), "2026-11-26T12:00:00Z");
}

#[test]
fn a_custom_grace_is_asked_again_until_it_parses() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let mut p = on_terminal(&v, "rotate web", &v.dir().join("out"));
    p.exp_string("How long").expect("picker");
    type_keys(&mut p, &[DOWN, DOWN, DOWN, "\r"]);
    p.exp_string("Grace period").expect("custom prompt");
    type_keys(&mut p, &["soonish\r"]);
    p.exp_string("'soonish' is not a duration")
        .expect("error shown");
    type_keys(&mut p, &["36h\r"]);
    p.exp_eof().expect("eof");
    assert_eq!(exit_code(&p), Some(0));
    assert_eq!(grace_end_of_old_key(&v), "2026-11-25T00:00:00Z");
}

#[test]
fn esc_or_ctrl_c_at_the_picker_changes_nothing() {
    for key in [ESC, "\x03"] {
        let v = TestVault::new();
        v.create(&["--name", "web"]);
        let before = v.dump();
        let mut p = on_terminal(&v, "rotate web", &v.dir().join("out"));
        p.exp_string("How long").expect("picker");
        type_keys(&mut p, &[key]);
        p.exp_string("cancelled").expect("message");
        p.exp_eof().expect("eof");
        assert_eq!(exit_code(&p), Some(1));
        assert_eq!(v.dump(), before, "{key:?} changed the vault");
    }
}

#[test]
fn answering_no_to_revoke_leaves_the_key_active() {
    let v = TestVault::new();
    v.create(&["--name", "main"]);
    v.create(&["--name", "partner"]);
    let before = v.dump();
    let mut p = on_terminal(&v, "revoke partner", &v.dir().join("out"));
    p.exp_string("Revoke 'partner'").expect("question");
    p.exp_string("last used never")
        .expect("what will be revoked");
    type_keys(&mut p, &["n"]);
    p.exp_eof().expect("eof");
    assert_ne!(exit_code(&p), Some(0));
    assert_eq!(v.dump(), before);
    assert_eq!(v.json(["show", "partner"])["status"], "active");
}

#[test]
fn enter_at_the_revoke_question_means_no() {
    let v = TestVault::new();
    v.create(&["--name", "main"]);
    v.create(&["--name", "partner"]);
    let mut p = on_terminal(&v, "revoke partner", &v.dir().join("out"));
    p.exp_string("Revoke 'partner'").expect("question");
    type_keys(&mut p, &["\r"]);
    p.exp_eof().expect("eof");
    assert_eq!(v.json(["show", "partner"])["status"], "active");
}

#[test]
fn answering_yes_to_revoke_revokes() {
    let v = TestVault::new();
    v.create(&["--name", "main"]);
    let (k, _) = v.create_json(&["--name", "partner"]);
    let mut p = on_terminal(&v, "revoke partner --reason leaked", &v.dir().join("out"));
    p.exp_string("Revoke 'partner'").expect("question");
    type_keys(&mut p, &["y"]);
    p.exp_eof().expect("eof");
    assert_eq!(exit_code(&p), Some(0));
    assert_eq!(
        v.json(["show", k["id"].as_str().expect("id")])["status"],
        "revoked"
    );
}

#[test]
fn json_mode_never_prompts() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let mut p = on_terminal(&v, "--json rotate web", &v.dir().join("out"));
    p.exp_string("--grace")
        .expect("usage error instead of a prompt");
    p.exp_eof().expect("eof");
    assert_eq!(exit_code(&p), Some(2));
}

#[test]
fn a_secret_typed_at_a_terminal_is_not_echoed() {
    let v = TestVault::new();
    let secret = v.create(&["--name", "web"]);
    let out = v.dir().join("out");
    let mut p = on_terminal(&v, "verify", &out);
    p.exp_string("Secret to verify").expect("hidden prompt");
    type_keys(&mut p, &[&format!("{secret}\r")]);
    let screen = p.exp_eof().expect("eof");
    assert_eq!(exit_code(&p), Some(0));
    assert!(
        !screen.contains(&secret[3..]),
        "the secret was echoed: {screen:?}"
    );
    assert!(
        std::fs::read_to_string(&out)
            .expect("stdout")
            .starts_with("VALID")
    );
}

/// While a person is at the grace picker, a CI job rotates the
/// same key. The person's answer is refused (exit 4) naming the successor,
/// instead of rotating the successor and putting the job's secret in grace.
#[test]
fn a_rotation_made_while_the_picker_is_open_is_not_rotated_again() {
    let v = TestVault::new();
    v.create(&["--name", "web"]);
    let mut p = on_terminal(&v, "rotate web", &v.dir().join("out"));
    p.exp_string("How long").expect("picker");
    let job = v
        .kw(["--json", "rotate", "web", "--grace", "1h"])
        .assert()
        .success();
    let successor = json(&job)["key"]["id"].as_str().expect("id").to_string();
    type_keys(&mut p, &["\r"]);
    let screen = p.exp_eof().expect("eof");
    assert_eq!(exit_code(&p), Some(4), "{screen}");
    assert!(
        screen.contains("already rotated") && screen.contains(&successor),
        "{screen}"
    );
    let keys = v.json(["list", "--all"]);
    assert_eq!(keys.as_array().expect("array").len(), 2, "one successor");
    assert_eq!(v.json(["show", "web"])["id"], successor.as_str());
}

/// `create` at a terminal without --expires offers the expiry
/// presets, No expiration preselected.
#[test]
fn create_at_a_terminal_offers_the_expiry_presets() {
    for (keys, expires) in [
        (&["\r"][..], serde_json::Value::Null),
        (&[DOWN, DOWN, "\r"], "2026-12-23T12:00:00Z".into()),
    ] {
        let v = TestVault::new();
        let mut p = on_terminal(&v, "create --name web", &v.dir().join("out"));
        p.exp_string("When should the new key expire?")
            .expect("picker");
        for label in ["No expiration", "7 days", "30 days", "60 days", "90 days"] {
            p.exp_string(label).expect(label);
        }
        type_keys(&mut p, keys);
        p.exp_eof().expect("eof");
        assert_eq!(exit_code(&p), Some(0));
        assert_eq!(v.json(["show", "web"])["expires_at"], expires);
    }
}

/// `retire` at a terminal ends only the keys the person confirmed, even
/// when another key becomes quiet while the question is open.
#[test]
fn retire_at_a_terminal_ends_only_the_keys_it_asked_about() {
    let v = TestVault::new();
    let early = "2026-11-23T09:00:00Z";
    v.kw_at(early, ["config", "set", "max-keys", "10"])
        .assert()
        .success();
    v.kw_at(early, ["create", "--name", "main"])
        .assert()
        .success();
    v.kw_at(early, ["create", "--name", "a"]).assert().success();
    v.kw_at(early, ["create", "--name", "b"]).assert().success();
    v.kw_at(early, ["rotate", "a", "--grace", "24h"])
        .assert()
        .success();
    let a_old = v.json(["log", "--event", "rotated"])[0]["key_id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut p = on_terminal(&v, "retire --quiet-for 1h", &v.dir().join("out"));
    p.exp_string("End the grace of 1 key(s)").expect("question");
    // Meanwhile another job rotates b with a clock from 10:30: b is in
    // grace, quiet for 90 minutes at noon, but was not in the question.
    v.kw_at("2026-11-23T10:30:00Z", ["rotate", "b", "--grace", "24h"])
        .assert()
        .success();
    type_keys(&mut p, &["y", "\r"]);
    let screen = p.exp_eof().expect("eof");
    assert_eq!(exit_code(&p), Some(0), "{screen}");
    let ended = std::fs::read_to_string(v.dir().join("out")).expect("out");
    assert!(ended.contains(&a_old), "{ended}");
    assert_eq!(ended.lines().count(), 1, "{ended}");
    let b_old = v.json(["log", "--event", "rotated"])[0]["key_id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(v.json(["show", &b_old])["status"], "grace");
}
