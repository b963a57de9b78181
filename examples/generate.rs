//! Writes the generated completion scripts and man pages into the working
//! tree: `cargo run --example generate`. They come from the clap definitions
//! in src/cli.rs (included here, as it imports nothing else of the crate),
//! so they can never disagree with `--help`; tests/generated.rs fails when
//! the checked-in copies are stale.

#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;

use std::io::Write;
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
        files.push((path, cli::completion(shell)));
    }
    let mut cmd = cli::command();
    cmd.build();
    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    let pages: Vec<String> = std::iter::once("keyward".to_string())
        .chain(subs.iter().map(|s| format!("keyward-{}", s.get_name())))
        .collect();
    files.push((
        PathBuf::from("man/keyward.1"),
        man(cmd.clone(), "keyward", &see_also(&pages, "keyward"))?,
    ));
    for sub in subs {
        let name = format!("keyward-{}", sub.get_name());
        let page = sub.clone().display_name(name.clone());
        let usage = format!("keyward {}", sub.get_name());
        files.push((
            PathBuf::from(format!("man/{name}.1")),
            man(page, &usage, &see_also(&pages, &name))?,
        ));
    }
    Ok(files)
}

/// A man page: clap_mangen's sections, but a SYNOPSIS that shows what each
/// flag takes, and the help's closing paragraphs as EXAMPLES, ENVIRONMENT
/// and EXIT STATUS sections instead of one "EXTRA".
fn man(cmd: clap::Command, usage: &str, see_also: &str) -> std::io::Result<Vec<u8>> {
    let page = Man::new(cmd.clone()).manual("keyward manual");
    let mut buf = Vec::new();
    page.render_title(&mut buf)?;
    page.render_name_section(&mut buf)?;
    write!(buf, "{}", synopsis(&cmd, usage))?;
    page.render_description_section(&mut buf)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        page.render_options_section(&mut buf)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        page.render_subcommands_section(&mut buf)?;
    }
    if let Some(after) = cmd.get_after_help() {
        write!(buf, "{}", closing_sections(&after.to_string()))?;
    }
    if cmd.get_version().is_some() {
        page.render_version_section(&mut buf)?;
    }
    buf.extend_from_slice(see_also.as_bytes());
    Ok(once_preamble(&buf))
}

/// The SEE ALSO section of page `this`: every other keyward page.
fn see_also(pages: &[String], this: &str) -> String {
    let others: Vec<String> = pages
        .iter()
        .filter(|p| *p != this)
        .map(|p| format!("\\fB{}\\fR(1)", roff(p)))
        .collect();
    format!(".SH \"SEE ALSO\"\n{}\n", others.join(",\n"))
}

/// Each clap_mangen section starts with roff's two-line apostrophe
/// preamble; a page needs it once, at the top.
fn once_preamble(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let mut seen = false;
    let mut out = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        if line.starts_with(".ie \\n(.g .ds Aq") {
            let rest = lines.next().unwrap_or_default();
            if !seen {
                out.push_str(line);
                out.push_str(rest);
                seen = true;
            }
            continue;
        }
        out.push_str(line);
    }
    out.into_bytes()
}

/// Text for roff: backslashes and hyphens escaped, no line taken as a request.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.' | '\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}

fn synopsis(cmd: &clap::Command, usage: &str) -> String {
    let mut out = format!(".SH SYNOPSIS\n\\fB{}\\fR", roff(usage));
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map(|v| roff(v))
            .unwrap_or_else(|| roff(arg.get_id().as_str()).to_uppercase());
        let repeats = matches!(arg.get_action(), clap::ArgAction::Append);
        let dots = if repeats { "..." } else { "" };
        if arg.is_positional() {
            if arg.is_required_set() {
                out.push_str(&format!(" \\fI{value}\\fR{dots}"));
            } else {
                out.push_str(&format!(" [\\fI{value}\\fR]{dots}"));
            }
            continue;
        }
        let mut names = Vec::new();
        if let Some(short) = arg.get_short() {
            names.push(format!("\\fB\\-{short}\\fR"));
        }
        if let Some(long) = arg.get_long() {
            names.push(format!("\\fB\\-\\-{}\\fR", roff(long)));
        }
        let takes = arg.get_action().takes_values();
        let flag = names.join("|");
        let item = if takes {
            format!("{flag} \\fI{value}\\fR")
        } else {
            flag
        };
        if arg.is_required_set() {
            out.push_str(&format!(" {item}{dots}"));
        } else {
            out.push_str(&format!(" [{item}]{dots}"));
        }
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        out.push_str(" \\fICOMMAND\\fR");
    }
    out.push('\n');
    out
}

/// The help's closing paragraphs, each under its own heading.
fn closing_sections(after: &str) -> String {
    let mut out = String::new();
    for paragraph in after.split("\n\n") {
        let (heading, body) = match paragraph.split_once(':') {
            Some(("Examples", body)) => ("EXAMPLES", body),
            Some(("Environment", body)) => ("ENVIRONMENT", body),
            Some(("Exit codes", body)) => ("\"EXIT STATUS\"", body),
            _ => ("NOTES", paragraph),
        };
        out.push_str(&format!(".SH {heading}\n"));
        if heading == "EXAMPLES" {
            out.push_str(".nf\n");
            for line in body.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(&roff(line.trim_start()));
                out.push('\n');
            }
            out.push_str(".fi\n");
        } else {
            out.push_str(&roff(body.trim()));
            out.push('\n');
        }
    }
    out
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
