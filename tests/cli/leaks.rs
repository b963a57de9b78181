//! Leak response: `revoke --leaked` ends the keys of secrets a scanner
//! found; the detect-secrets plugin (tested with the real detect-secrets
//! from PyPI) and the gitleaks rule find them.

use std::path::PathBuf;
use std::process::Command;

use crate::common::*;

fn secret_of(v: &TestVault, args: &[&str]) -> (String, String) {
    let (key, secret) = v.create_json(args);
    (key["id"].as_str().expect("id").to_string(), secret)
}

crate::on_both_engines! {
    fn revoke_leaked_ends_every_key_on_stdin_and_reports_the_rest(v: &TestVault) {
        let (default_id, default_secret) = secret_of(v, &["--name", "main"]);
        let (normal_id, normal_secret) = secret_of(v, &["--name", "web"]);
        let (_, old_secret) = secret_of(v, &["--name", "api"]);
        v.kw(["rotate", "api", "--grace", "24h"]).assert().success();
        let grace_id = v.json(["log", "--event", "rotated"])[0]["key_id"].as_str().expect("id").to_string();
        let unknown = foreign_secret();
        // A typo: one character of a real secret changed.
        let mut typo = normal_secret.clone().into_bytes();
        typo[10] = if typo[10] == b'A' { b'B' } else { b'A' };
        let typo = String::from_utf8(typo).expect("utf8");
        let input = format!(
            "{normal_secret}\r\n\n  {default_secret}  \n{old_secret}\n{unknown}\n{typo}\npassword=hunter2 {normal_secret}\n\n{normal_secret}\n"
        );
        v.kw(["revoke", "--leaked"]).write_stdin(input.clone()).assert().code(2);
        assert_eq!(v.json(["show", "web"])["status"], "active", "nothing changed without --yes");

        let out = v.kw(["revoke", "--leaked", "--yes"]).write_stdin(input.clone()).output().expect("run");
        assert_eq!(out.status.code(), Some(3), "some lines matched no key");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        // stdout: the default key's successor's secret, alone.
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{stdout}");
        let successor = lines[0].to_string();
        assert_eq!(v.verify(&successor, &[]).0, Some(0));
        // Never a line echoed.
        for secret in [&normal_secret, &default_secret, &old_secret, &unknown, &typo] {
            assert!(!stderr.contains(secret.as_str()), "{stderr}");
        }
        assert!(!stderr.contains("hunter2"), "the text around a secret is never echoed: {stderr}");
        for expected in ["line 1: revoked", "line 3:", "rotated with grace now", "line 4: revoked", "line 5:", "matches no key", "line 6:", "checksum", "line 7:", "line 9:", "already revoked"] {
            assert!(stderr.contains(expected), "{expected}: {stderr}");
        }

        for (id, status) in [(&normal_id, "revoked"), (&grace_id, "revoked"), (&default_id, "expired")] {
            assert_eq!(v.json(["show", id.as_str()])["status"], status, "{id}");
        }
        for secret in [&normal_secret, &default_secret, &old_secret] {
            assert_eq!(v.verify(secret, &[]).0, Some(5));
        }
        let events = v.json(["log", "--limit", "3"]);
        let reasons: Vec<(&str, &str)> = events
            .as_array()
            .expect("events")
            .iter()
            .map(|e| (e["event"].as_str().expect("event"), e["details"]["reason"].as_str().unwrap_or("-")))
            .collect();
        assert_eq!(reasons, vec![("revoked", "leaked"), ("rotated", "leaked"), ("revoked", "leaked")]);
        v.kw(["log", "--verify"]).assert().success();
        let log = stdout_of(v.kw(["--json", "log", "--limit", "100"]));
        for secret in [&normal_secret, &default_secret, &old_secret, &unknown, &typo] {
            assert!(!log.contains(secret.as_str()));
        }

        // Every line matched (one already ended): exit 0; --reason is kept.
        let (_, ci) = secret_of(v, &["--name", "ci"]);
        let doc = json(
            &v.kw(["--json", "revoke", "--leaked", "--yes", "--reason", "ticket 42"])
                .write_stdin(format!("{ci}\n{normal_secret}\n"))
                .assert()
                .success(),
        );
        assert_eq!(doc["revoked"][0]["name"], "ci");
        assert_eq!(doc["already_ended"][0]["id"], normal_id.as_str());
        assert_eq!(doc["unmatched"], serde_json::json!([]));
        assert_eq!(v.json(["log", "--limit", "1"])[0]["details"]["reason"], "ticket 42");
        v.kw(["revoke", "web", "--leaked", "--yes"]).assert().code(2);

        // Lowercase text run into the prefix (`token_kw_…`): the key is found.
        let (_, svc) = secret_of(v, &["--name", "svc"]);
        v.kw(["revoke", "--leaked", "--yes"])
            .write_stdin(format!("token_{svc}\n"))
            .assert()
            .success();
        assert_eq!(v.json(["show", "svc"])["status"], "revoked");

        // Two default keys rotated and stdout full: both lost successors are named.
        let (_, one) = secret_of(v, &["--name", "first", "--env", "one"]);
        let (_, two) = secret_of(v, &["--name", "second", "--env", "two"]);
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let out = v
            .std(["revoke", "--leaked", "--yes"])
            .stdin(std::process::Stdio::piped())
            .stdout(full)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().expect("stdin").write_all(format!("{one}\n{two}\n").as_bytes())?;
                child.wait_with_output()
            })
            .expect("run");
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        for env in ["one", "two"] {
            let active = v.json(["list", "--env", env]);
            let id = active[0]["id"].as_str().expect("successor").to_string();
            assert!(stderr.contains(&id), "{id} not named: {stderr}");
        }
        assert!(stderr.contains("line 1:") && stderr.contains("line 2:"), "{stderr}");
    }
}

fn stdout_of(mut cmd: assert_cmd::Command) -> String {
    String::from_utf8_lossy(&cmd.assert().success().get_output().stdout).to_string()
}

/// detect-secrets from PyPI in a virtual environment; None (after saying
/// why) when one cannot be made here.
fn detect_secrets() -> Option<PathBuf> {
    match crate::common::host::venv("detect-secrets", &["detect-secrets"]) {
        Ok(venv) => Some(venv),
        Err(why) => {
            skip(
                "the detect-secrets plugin test",
                &format!(
                    "cannot make a virtual environment with detect-secrets (needs python3-venv and PyPI): {why}"
                ),
            );
            None
        }
    }
}

const PLUGIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contrib/detect_secrets_keyward.py"
);

/// Well-formed in shape, with a checksum that does not hold.
fn same_shape(n: u8) -> String {
    let body: String = (0..38)
        .map(|i| {
            char::from(
                b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    [(usize::from(n) * 7 + i * 13) % 62],
            )
        })
        .collect();
    format!("kw_{body}")
}

#[test]
fn the_detect_secrets_plugin_finds_real_secrets_only_and_feeds_revoke_leaked() {
    let Some(venv) = detect_secrets() else { return };
    let v = TestVault::new();
    v.kw(["config", "set", "max-keys", "10"]).assert().success();
    v.create(&["--name", "main"]);
    let real: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| v.create(&["--name", n]))
        .collect();
    let fakes: Vec<String> = (1..=3).map(same_shape).collect();
    for f in &fakes {
        assert!(
            keyward::secret::parse(f).is_err(),
            "{f} must fail its checksum"
        );
    }
    let repo = v.dir().join("repo");
    std::fs::create_dir_all(&repo).expect("repo");
    let text = format!(
        "token: {}\nnot_this = \"{}\"\n# {} in a comment\nalso not {}\nexport KEY={}\nurl=https://x/?k={}\n",
        real[0], fakes[0], real[1], fakes[1], real[2], fakes[2]
    );
    std::fs::write(repo.join("leaky.env"), text).expect("file");
    let scan = Command::new(venv.join("bin/detect-secrets"))
        .args(["scan", "--all-files", "--plugin", PLUGIN, "."])
        .current_dir(&repo)
        .output()
        .expect("detect-secrets");
    assert!(
        scan.status.success(),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let baseline: serde_json::Value = serde_json::from_slice(&scan.stdout).expect("baseline");
    let mut found: Vec<i64> = baseline["results"]["leaky.env"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["type"] == "keyward API key")
        .map(|r| r["line_number"].as_i64().expect("line"))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![1, 3, 5],
        "the three real secrets, not the same-shaped strings"
    );

    // The plugin as a script prints what it found, for revoke --leaked;
    // it walks directories, and a path it cannot read is exit 1.
    let missing = Command::new(venv.join("bin/python"))
        .arg(PLUGIN)
        .arg(repo.join("nowhere"))
        .output()
        .expect("plugin");
    assert_eq!(missing.status.code(), Some(1));
    let listed = Command::new(venv.join("bin/python"))
        .arg(PLUGIN)
        .arg(&repo)
        .output()
        .expect("plugin");
    assert!(listed.status.success());
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        real.iter().map(String::as_str).collect::<Vec<_>>()
    );
    v.kw(["revoke", "--leaked", "--yes"])
        .write_stdin(listed)
        .assert()
        .success();
    for secret in &real {
        assert_eq!(v.verify(secret, &[]).0, Some(5));
    }
}

#[test]
fn the_gitleaks_rule_has_the_plugins_shape() {
    let toml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/gitleaks.toml"
    ))
    .expect("gitleaks.toml");
    let line = toml
        .lines()
        .find(|l| l.starts_with("regex = "))
        .expect("a regex line");
    let pattern = line.trim_start_matches("regex = ").trim_matches('\'');
    let rule = regex::Regex::new(pattern).expect("the rule compiles");
    let v = TestVault::new();
    let kw = v.create(&["--name", "main"]);
    v.kw(["config", "set", "prefix", "sk_live"])
        .assert()
        .success();
    let live = v.create(&["--name", "live"]);
    for secret in [&kw, &live] {
        let text = format!("x = \"{secret}\"\n");
        let caps = rule.captures(&text).expect("found");
        assert_eq!(&caps[1], secret.as_str());
    }
    assert!(
        rule.captures(&format!("x{kw}")).is_none()
            || !rule.captures(&format!("x{kw}")).expect("c")[1].starts_with("kw_")
    );
}

/// A scanner's line holds the secret among other text (`PAYMENTS=kw_…`,
/// `"kw_…"`, several on one line): each secret is found at its word
/// boundaries, as the scanner regex finds it, and only its hint is shown.
#[test]
fn revoke_leaked_finds_secrets_inside_a_line_at_word_boundaries() {
    let v = TestVault::new();
    for env in ["default", "two", "three"] {
        secret_of(&v, &["--name", "main", "--env", env]);
    }
    let (pay_id, pay) = secret_of(&v, &["--name", "payments"]);
    let (quoted_id, quoted) = secret_of(&v, &["--name", "quoted"]);
    let (a_id, a) = secret_of(&v, &["--name", "a", "--env", "two"]);
    let (b_id, b) = secret_of(&v, &["--name", "b", "--env", "two"]);
    let (acme_id, acme) = secret_of(
        &v,
        &["--name", "acme", "--env", "three", "--prefix", "acme_x1"],
    );
    let unknown = keyward::secret::generate("zz")
        .expect("rng")
        .expose()
        .to_string();
    let input = format!(
        "PAYMENTS={pay}\n\"{quoted}\",\nexport A='{a}' B={b};\ntoken_{acme}\nsecret: token_{unknown}\n"
    );
    let out = v
        .kw(["revoke", "--leaked", "--yes"])
        .write_stdin(input)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the unknown secret matched no key: {stderr}"
    );
    for id in [&pay_id, &quoted_id, &a_id, &b_id, &acme_id] {
        assert_eq!(
            v.json(["show", id.as_str()])["status"],
            "revoked",
            "{id}: {stderr}"
        );
    }
    assert!(!stderr.contains("not shaped"), "{stderr}");
    for around in ["PAYMENTS", "export", "token", "secret:", "zz_"] {
        assert!(!stderr.contains(around), "{around} echoed: {stderr}");
    }
    let hint = |s: &str| s[s.len() - 4..].to_string();
    assert!(
        stderr.contains(&format!(
            "line 4: revoked {acme_id} 'acme' in environment 'three' (acme_x1_…{})",
            hint(&acme)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("line 5: …{} matches no key", hint(&unknown))),
        "{stderr}"
    );
    let line3: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("line 3: revoked"))
        .collect();
    assert_eq!(line3.len(), 2, "{stderr}");
    assert!(
        stderr.contains("Ended 5 key(s); 1 line(s) matched no key."),
        "{stderr}"
    );
}

/// A scanner's line with bytes that are not UTF-8 (a Latin-1 file name,
/// binary around the secret) is searched all the same, never skipped as
/// "not text": secrets are ASCII, so they are found in the bytes and their
/// keys end.
#[test]
fn revoke_leaked_finds_secrets_in_lines_that_are_not_utf8() {
    let v = TestVault::new();
    let (id, secret) = secret_of(&v, &["--name", "web"]);
    let (bin_id, bin) = secret_of(&v, &["--name", "binary"]);
    let mut input = b"config/caf\xe9.env:3: API_KEY=".to_vec();
    input.extend_from_slice(secret.as_bytes());
    input.extend_from_slice(b"\n\xff\xfe");
    input.extend_from_slice(bin.as_bytes());
    input.extend_from_slice(b"\x80\n\xe9\xe9 nothing here\n");
    let out = v
        .kw(["revoke", "--leaked", "--yes"])
        .write_stdin(input)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    // The first is the environment's default key: ended by a rotation.
    for id in [&id, &bin_id] {
        assert_ne!(
            v.json(["show", id.as_str()])["status"],
            "active",
            "{stderr}"
        );
    }
    assert!(
        stderr.contains("line 1: ") && stderr.contains("line 2: revoked"),
        "{stderr}"
    );
    assert!(!stderr.contains("not text"), "{stderr}");
    assert!(
        stderr.contains("line 3:"),
        "the third line holds no secret: {stderr}"
    );
    assert!(
        !stderr.contains("caf") && !stderr.contains("here"),
        "{stderr}"
    );
}
