//! Shell completions and man pages, generated from the clap definitions in
//! [`crate::cli`] and checked in under `completions/` and `man/`, so they
//! can never disagree with `--help`. [`REGENERATE`] writes them; a test
//! fails when the checked-in copies are stale.

use std::path::PathBuf;

use clap_complete::{Generator, Shell};
use clap_mangen::Man;

/// The one command that rewrites every generated file.
pub const REGENERATE: &str = "cargo run --example generate";

pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// The completion script for one shell.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "keyward", &mut buf);
    buf
}

/// Every generated file: its path relative to the repository, and its bytes.
pub fn files() -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for shell in SHELLS {
        let path = PathBuf::from("completions").join(shell.file_name("keyward"));
        files.push((path, completion(shell)));
    }
    let mut cmd = crate::cli::command();
    cmd.build();
    files.push((PathBuf::from("man/keyward.1"), man(cmd.clone())?));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("keyward-{}", sub.get_name());
        let page = sub.clone().display_name(name.clone());
        files.push((PathBuf::from(format!("man/{name}.1")), man(page)?));
    }
    Ok(files)
}

fn man(cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    Man::new(cmd).manual("keyward manual").render(&mut buf)?;
    Ok(buf)
}
