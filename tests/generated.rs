//! The checked-in completions and man pages are what the code generates.
//!
//! The files are generated from the default build (features `serve` and
//! `postgres`), whose commands they describe.
#![cfg(all(feature = "serve", feature = "postgres"))]

#[allow(dead_code)]
#[path = "../examples/generate.rs"]
mod generate;
#[allow(dead_code)]
#[path = "cli/common/host.rs"]
mod host;

#[test]
fn checked_in_completions_and_man_pages_are_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = generate::files().expect("generate");
    let stale: Vec<String> = files
        .iter()
        .filter(|(path, bytes)| {
            std::fs::read(root.join(path)).ok().as_deref() != Some(bytes.as_slice())
        })
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "stale or missing generated files: {}\nregenerate them all with: {}",
        stale.join(", "),
        generate::REGENERATE
    );
    let names: Vec<_> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    for expected in [
        "completions/keyward.bash",
        "completions/_keyward",
        "completions/keyward.fish",
        "completions/keyward.elv",
        "completions/_keyward.ps1",
        "man/keyward.1",
        "man/keyward-create.1",
        "man/keyward-rotate.1",
        "man/keyward-log.1",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} is not generated"
        );
    }
}

#[test]
fn the_completions_command_prints_the_checked_in_script() {
    let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["completions", "bash"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let checked_in = std::fs::read(root.join("completions/keyward.bash")).expect("read");
    assert_eq!(out.stdout, checked_in);
}

/// The man pages link no page that does not exist, show what each flag
/// takes, and put examples and exit codes under their own headings.
#[test]
fn man_pages_read_as_man_pages() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(root.join("man/keyward.1")).expect("keyward.1");
    for link in main.lines().filter(|l| l.starts_with("keyward\\-")) {
        let page = link.trim_end_matches("(1)").replace("\\-", "-");
        assert!(
            root.join(format!("man/{page}.1")).exists(),
            "keyward(1) links {page}(1), which does not exist"
        );
    }
    for page in ["keyward.1", "keyward-rotate.1", "keyward-create.1"] {
        let text = std::fs::read_to_string(root.join("man").join(page)).expect("page");
        assert!(!text.contains(".SH EXTRA"), "{page}");
        assert!(text.contains(".SH EXAMPLES"), "{page}");
        assert!(
            text.contains("[\\fB\\-\\-vault\\fR \\fIPATH|URL\\fR]"),
            "{page}: the synopsis shows what --vault takes"
        );
    }
    assert!(main.contains(".SH \"EXIT STATUS\""));
}

/// bash completes KEY arguments and --env with the names in the vault.
#[test]
fn bash_completes_key_names_and_environments_from_the_vault() {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_keyward"));
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = dir.path().join("vault.db");
    for (name, env) in [("web", "prod"), ("api", "prod"), ("web", "default")] {
        let out = std::process::Command::new(bin)
            .args(["--vault"])
            .arg(&vault)
            .args(["create", "--name", name, "--env", env])
            .output()
            .expect("create");
        assert!(out.status.success());
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let complete = |words: &str, cword: usize| -> Vec<String> {
        let script = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; _keyward_names; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            root.join("completions/keyward.bash").display()
        );
        let path = format!(
            "{}:{}",
            bin.parent().expect("dir").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "-c", &script])
            .env("PATH", path)
            .env("KEYWARD_VAULT", &vault)
            .env("KEYWARD_ENV", "prod")
            .output()
            .expect("bash");
        let mut words: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        words.sort();
        words
    };
    assert_eq!(complete("keyward rotate ''", 2), ["api", "web"]);
    assert_eq!(complete("keyward --json show w", 3), ["web"]);
    assert_eq!(complete("keyward list --env ''", 3), ["default", "prod"]);
    assert_eq!(
        complete("keyward show --env default ''", 4),
        ["web"],
        "the --env on the line, not $KEYWARD_ENV"
    );
    assert_eq!(complete("keyward rotate web ''", 3), Vec::<String>::new());
}

/// fish offers the values of `completions` and `config set`, not file names.
#[test]
fn fish_completes_values_not_files() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let fish = std::fs::read_to_string(root.join("completions/keyward.fish")).expect("fish");
    assert!(
        fish.contains("using_subcommand completions\" -f -a \"bash zsh fish elvish powershell\"")
    );
    assert!(fish.contains("__fish_seen_subcommand_from set\" -f -a \"max-keys prefix\""));
    assert!(fish.contains("__keyward_names keys"));
}

/// The helper the scripts call is no command: no help, page or completion
/// offers it, and man/ holds only generated pages.
#[test]
fn the_completion_helper_is_not_a_command() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated: Vec<String> = generate::files()
        .expect("generate")
        .into_iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    for entry in std::fs::read_dir(root.join("man")).expect("man") {
        let name = format!(
            "man/{}",
            entry.expect("entry").file_name().to_string_lossy()
        );
        assert!(generated.contains(&name), "{name} is not generated");
    }
    for (path, bytes) in generate::files().expect("generate") {
        let text = String::from_utf8_lossy(&bytes);
        let offered = text.contains("\"__complete\"")
            || text.contains("__complete)")
            || text.contains("keyward__complete");
        assert!(!offered, "{} offers __complete", path.display());
    }
}

/// The licence: MIT OR Apache-2.0 with both texts beside the code,
/// the crate metadata filled, and the README installing what was tested.
#[test]
fn the_crate_is_dual_licensed_with_both_texts_and_its_metadata_filled() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap_or_default();
    assert!(read("LICENSE-MIT").contains("Permission is hereby granted, free of charge"));
    assert!(read("LICENSE-MIT").contains("the keyward authors"));
    assert!(
        read("LICENSE-APACHE")
            .contains("Apache License\n                           Version 2.0, January 2004")
    );
    assert!(read("LICENSE-APACHE").contains("END OF TERMS AND CONDITIONS"));
    // The workspace holds the licence and toolchain once; every crate
    // (the binary's and those under crates/) takes them and says what it is.
    let manifest = read("Cargo.toml");
    let section = |text: &str, name: &str| -> String {
        let start = text.find(&format!("[{name}]\n")).unwrap_or(text.len());
        let rest = &text[start..];
        rest[1..]
            .split("\n[")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let shared = section(&manifest, "workspace.package");
    assert!(
        shared.contains("\nlicense = \"MIT OR Apache-2.0\"\n"),
        "{shared}"
    );
    assert!(shared.contains("\nrust-version = "), "{shared}");
    let crates = std::fs::read_dir(root.join("crates")).expect("crates/");
    let mut manifests = vec![("keyward".to_string(), manifest.clone())];
    for dir in crates {
        let dir = dir.expect("crates/ entry").path();
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        manifests.push((
            name,
            std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default(),
        ));
    }
    assert!(manifests.len() >= 5, "the workspace has its crates");
    for (name, text) in &manifests {
        let package = section(text, "package");
        for field in [
            "license.workspace = true",
            "rust-version.workspace = true",
            "description = ",
        ] {
            assert!(
                package.contains(&format!("\n{field}")),
                "{name}: no {field}"
            );
        }
    }
    let package = section(&manifest, "package");
    for field in ["keywords", "categories"] {
        assert!(
            package.contains(&format!("\n{field} = ")),
            "Cargo.toml has no {field}"
        );
    }
    let readme = read("README.md");
    assert!(readme.contains("cargo install --locked --path ."));
    assert!(
        !readme.contains("cargo install --path"),
        "every install command is --locked"
    );
}

/// A vault with keys `web` and `api` in `prod` and `web` in `default`, and
/// a file beside it that completion must never offer for a name.
fn completion_vault() -> (tempfile::TempDir, std::path::PathBuf) {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_keyward"));
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = dir.path().join("vault.db");
    for (name, env) in [("web", "prod"), ("api", "prod"), ("main", "default")] {
        let out = std::process::Command::new(bin)
            .args(["--vault"])
            .arg(&vault)
            .args(["create", "--name", name, "--env", env])
            .output()
            .expect("create");
        assert!(out.status.success());
    }
    (dir, vault)
}

fn path_with_keyward() -> String {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_keyward"));
    format!(
        "{}:{}",
        bin.parent().expect("dir").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// bash completion reads the line as the parser does: the word after an
/// option that takes a value is that value, so `log --event` is offered
/// events and `rotate --grace` its presets, never files or key names, and a
/// KEY is offered key names, never files, also `show`'s without `--env`.
#[test]
fn bash_completes_option_values_as_values_and_key_names_for_keys() {
    let (dir, vault) = completion_vault();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let complete = |words: &str| -> Vec<String> {
        let script = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _keyward_names keyward \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            root.join("completions/keyward.bash").display()
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "-c", &script])
            .current_dir(dir.path())
            .env("PATH", path_with_keyward())
            .env("KEYWARD_VAULT", &vault)
            .env_remove("KEYWARD_ENV")
            .output()
            .expect("bash");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    };
    let events = [
        "created",
        "rotated",
        "grace_changed",
        "expiry_changed",
        "revoked",
        "updated",
        "config_changed",
        "quota_changed",
    ];
    assert_eq!(complete("keyward log --event ''"), events);
    assert_eq!(complete("keyward log --event r"), ["rotated", "revoked"]);
    let presets = ["now", "1h", "24h", "3d", "7d"];
    assert_eq!(complete("keyward rotate --grace ''"), presets);
    assert_eq!(
        complete("keyward rotate web --env prod --grace ''"),
        presets
    );
    assert_eq!(complete("keyward extend web --grace ''"), presets);
    assert_eq!(
        complete("keyward create --expires ''"),
        ["never", "7d", "30d", "60d", "90d"]
    );
    // KEY without --env: the names of the default environment, not files.
    assert_eq!(complete("keyward show ''"), ["main"]);
    assert_eq!(complete("keyward show --env prod ''"), ["api", "web"]);
    // Options with values before the KEY do not count as the KEY.
    assert_eq!(
        complete("keyward log --limit 5 --env prod ''"),
        ["api", "web"]
    );
    assert_eq!(
        complete("keyward --actor me rotate --name new --env prod ''"),
        ["api", "web"]
    );
    // The value of an option is never a key name nor a file.
    assert_eq!(complete("keyward log --limit ''"), Vec::<String>::new());
    assert_eq!(complete("keyward rotate --name ''"), Vec::<String>::new());
    assert_eq!(
        complete("keyward show --env nowhere ''"),
        Vec::<String>::new()
    );
    let script = std::fs::read_to_string(root.join("completions/keyward.bash")).expect("bash");
    assert!(
        script.contains("compopt +o default +o bashdefault"),
        "names never fall back to files"
    );
}

/// zsh completes KEY arguments and --env from the vault (told the --vault
/// and --env on the line), and offers the grace and expiry presets.
#[test]
fn zsh_completes_key_names_and_presets() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(root.join("completions/_keyward")).expect("zsh");
    for (spec, action) in [
        (
            "':key -- Key id, unique id prefix, or name of an active key in --env:",
            "_keyward_keys' \\",
        ),
        ("'::key -- Only this key'\\''s events", "_keyward_keys' \\"),
        ("--env=[", ":ENV:_keyward_envs' \\"),
        ("'--grace=[", ":DUR:(now 1h 24h 3d 7d)' \\"),
        ("'--expires=[", ":DUR|never:(never 7d 30d 60d 90d)' \\"),
    ] {
        let lines: Vec<&str> = script.lines().filter(|l| l.contains(spec)).collect();
        assert!(!lines.is_empty(), "no {spec}");
        for line in lines {
            assert!(line.ends_with(action), "{line}");
        }
    }
    let Some(zsh) = ["/usr/bin/zsh", "/bin/zsh"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        host::skip(
            "running the zsh completion",
            "install zsh, e.g. apt install zsh",
        );
        return;
    };
    let (dir, vault) = completion_vault();
    let complete = |line: &str| -> Vec<String> {
        // compadd and compdef stubbed: the helper's matches, one a line.
        let script = format!(
            "compdef() {{ :; }}; compadd() {{ [[ $1 == -a ]] && print -rl -- ${{(P)2}}; }}; \
             source {}; _keyward_line=({line}); _keyward_keys; print -- --; _keyward_envs",
            root.join("completions/_keyward").display()
        );
        let out = std::process::Command::new(zsh)
            .args(["-f", "-c", &script])
            .current_dir(dir.path())
            .env("PATH", path_with_keyward())
            .env_remove("KEYWARD_VAULT")
            .env_remove("KEYWARD_ENV")
            .env("HOME", dir.path())
            .output()
            .expect("zsh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    };
    let v = vault.display().to_string();
    assert_eq!(
        complete(&format!("keyward --vault {v} show")),
        ["main", "--", "default", "prod"]
    );
    assert_eq!(
        complete(&format!("keyward --vault {v} rotate --env prod")),
        ["api", "web", "--", "default", "prod"]
    );
    let syntax = std::process::Command::new(zsh)
        .args(["-n"])
        .arg(root.join("completions/_keyward"))
        .output()
        .expect("zsh -n");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
}

/// Runs the checked-in bash script's `_keyward_names` on `words` (bash
/// source for COMP_WORDS, the last word the one completed) in `dir`, and
/// returns COMPREPLY, one reply a line.
fn bash_complete(dir: &std::path::Path, vault: &std::path::Path, words: &str) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = format!(
        "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
         _keyward_names keyward \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        root.join("completions/keyward.bash").display()
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "-c", &script])
        .current_dir(dir)
        .env("PATH", path_with_keyward())
        .env("KEYWARD_VAULT", vault)
        .env_remove("KEYWARD_ENV")
        .output()
        .expect("bash");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// bash completion offers each stored name exactly, quoted as bash reads
/// it back, and expands nothing in it: a `$(…)` in a key name is never run,
/// a name is never split at its spaces nor a `*` globbed against the files,
/// as they would be if the names went through `compgen -W`.
#[test]
fn bash_completion_offers_names_exactly_and_never_runs_them() {
    let (dir, vault) = completion_vault();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_keyward"));
    let out = std::process::Command::new(bin)
        .arg("--vault")
        .arg(&vault)
        .args(["config", "set", "max-keys", "20"])
        .output()
        .expect("config");
    assert!(out.status.success());
    let names = [
        "q$(>PWNED)",
        "x$(touch PWNED)",
        "two words",
        "c*",
        "it's",
        "say \"hi\"",
    ];
    for (name, env) in names
        .iter()
        .map(|n| (*n, "default"))
        .chain([("e$(touch PWNED)", "$(touch PWNED) env")])
    {
        let out = std::process::Command::new(bin)
            .arg("--vault")
            .arg(&vault)
            .args(["create", "--name", name, "--env", env])
            .output()
            .expect("create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(dir.path().join("cfile"), "").expect("cfile");
    let mut all = bash_complete(dir.path(), &vault, "keyward show ''");
    all.sort();
    let mut expected = vec![
        "c\\*",
        "it\\'s",
        "main",
        "q\\$\\(\\>PWNED\\)",
        "say\\ \\\"hi\\\"",
        "two\\ words",
        "x\\$\\(touch\\ PWNED\\)",
    ];
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(
        bash_complete(dir.path(), &vault, "keyward show c"),
        ["c\\*"]
    );
    assert_eq!(
        bash_complete(dir.path(), &vault, "keyward rotate two"),
        ["two\\ words"]
    );
    assert_eq!(
        bash_complete(dir.path(), &vault, "keyward rotate 'two\\ '"),
        ["two\\ words"]
    );
    assert_eq!(
        bash_complete(dir.path(), &vault, "keyward rotate \"'x\\$\""),
        ["x\\$\\(touch\\ PWNED\\)"]
    );
    let mut envs = bash_complete(dir.path(), &vault, "keyward list --env ''");
    envs.sort();
    assert_eq!(envs, ["\\$\\(touch\\ PWNED\\)\\ env", "default", "prod"]);
    assert_eq!(
        bash_complete(
            dir.path(),
            &vault,
            "keyward show --env '$(touch PWNED) env' ''"
        ),
        ["e\\$\\(touch\\ PWNED\\)"]
    );
    // The words as the line has them: quoted, or with backslashes.
    for env in [
        "\"'\\$(touch PWNED) env'\"",
        "'\\$\\(touch\\ PWNED\\)\\ env'",
    ] {
        assert_eq!(
            bash_complete(dir.path(), &vault, &format!("keyward show --env {env} ''")),
            ["e\\$\\(touch\\ PWNED\\)"],
            "{env}"
        );
    }
    assert!(!dir.path().join("PWNED").exists(), "a name was run");
}

/// bash splits `--grace=` into `--grace` and `=`; completion reads both
/// that and one word `--opt=value` as `--opt value`, so the value is
/// offered the option's values and the KEY after it key names, not options.
#[test]
fn bash_completion_reads_options_written_with_an_equals_sign() {
    let (dir, vault) = completion_vault();
    let p = dir.path();
    let presets = ["now", "1h", "24h", "3d", "7d"];
    assert_eq!(
        bash_complete(p, &vault, "keyward rotate --grace ="),
        presets
    );
    assert_eq!(
        bash_complete(p, &vault, "keyward rotate --grace = 2"),
        ["24h"]
    );
    assert_eq!(
        bash_complete(p, &vault, "keyward rotate --grace=2"),
        ["--grace=24h"]
    );
    assert_eq!(
        bash_complete(p, &vault, "keyward show --env = prod ''"),
        ["api", "web"]
    );
    assert_eq!(
        bash_complete(p, &vault, "keyward show --env=prod ''"),
        ["api", "web"]
    );
    assert_eq!(
        bash_complete(p, &vault, "keyward list --env ="),
        ["default", "prod"]
    );
    assert_eq!(
        bash_complete(p, &vault, "keyward log --event = r"),
        ["rotated", "revoked"]
    );
    assert_eq!(
        bash_complete(
            p,
            &vault,
            "keyward --vault = nowhere.db --env = prod show ''"
        ),
        Vec::<String>::new(),
        "the --vault=… on the line is the vault read"
    );
    assert_eq!(
        bash_complete(p, &vault, "keyward log --limit = 5 --env = prod ''"),
        ["api", "web"]
    );
}

/// zsh offers a stored name as one exact match: `$(…)`, a space, `*` and a
/// quote stay in it, and nothing in it is run.
#[test]
fn zsh_completion_offers_names_exactly_and_never_runs_them() {
    let Some(zsh) = ["/usr/bin/zsh", "/bin/zsh"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        host::skip(
            "running the zsh completion",
            "install zsh, e.g. apt install zsh",
        );
        return;
    };
    let (dir, vault) = completion_vault();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_keyward"));
    let names = ["q$(>PWNED)", "two words", "c*"];
    for name in names {
        let out = std::process::Command::new(bin)
            .arg("--vault")
            .arg(&vault)
            .args(["create", "--name", name, "--env", "odd"])
            .output()
            .expect("create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(dir.path().join("cfile"), "").expect("cfile");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = format!(
        "compdef() {{ :; }}; compadd() {{ [[ $1 == -a ]] && print -rl -- ${{(P)2}}; }}; \
         source {}; _keyward_line=(keyward --vault {} show --env odd); _keyward_keys",
        root.join("completions/_keyward").display(),
        vault.display()
    );
    let out = std::process::Command::new(zsh)
        .args(["-f", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path_with_keyward())
        .env("HOME", dir.path())
        .output()
        .expect("zsh");
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    got.sort();
    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(got, expected);
    assert!(!dir.path().join("PWNED").exists(), "a name was run");
}
