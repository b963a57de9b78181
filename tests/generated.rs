//! The checked-in completions and man pages are what the code generates.

#[allow(dead_code)]
#[path = "../examples/generate.rs"]
mod generate;

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
