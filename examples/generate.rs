//! Writes the generated completion scripts and man pages into the working
//! tree: `cargo run --example generate`. They come from the clap definitions
//! in src/cli.rs (included here, as it imports nothing else of the crate),
//! so they can never disagree with `--help`; tests/generated.rs fails when
//! the checked-in copies are stale.

#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;

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

/// Every generated file: its path relative to the repository, and its bytes.
pub fn files() -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    for shell in SHELLS {
        let path = PathBuf::from("completions").join(shell.file_name("keyward"));
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cli::command(), "keyward", &mut buf);
        files.push((path, buf));
    }
    let mut cmd = cli::command();
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

#[allow(dead_code)]
fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, bytes) in files()? {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, bytes)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
