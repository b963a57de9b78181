//! Questions for a person at a terminal, on stderr. Only asked when
//! [`Ctx::interactive`](super::Ctx::interactive) holds; scripts never see one.
//! Esc, q or Ctrl-C cancel: nothing is changed.

use std::io;

use dialoguer::{Confirm, Input, Select};

use crate::error::{Error, Result};
use crate::when::{Timestamp, parse_moment};

/// The grace presets offered by `rotate`: label and value.
pub const GRACE_PRESETS: [(&str, &str); 5] = [
    ("Now (the old key stops working at once)", "now"),
    ("1 hour", "1h"),
    ("24 hours", "24h"),
    ("3 days", "3d"),
    ("7 days", "7d"),
];
const DEFAULT_GRACE: usize = 2;

/// Ctrl-C at a prompt ends keyward as Esc does: cursor shown again, a short
/// message, exit 1, nothing changed. (The terminal delivers SIGINT between
/// key reads, so dialoguer cannot always see it.) Installed once, and only
/// by a prompt: nothing is being written while one is on screen.
fn cancel_on_ctrl_c() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let term = dialoguer::console::Term::stderr();
            let _ = term.show_cursor();
            let _ = term.write_line("");
            let _ = term.write_line(&format!("keyward: {}", Error::Cancelled));
            std::process::exit(i32::from(Error::Cancelled.exit_code()));
        });
    });
}

/// Asks how long the old key keeps working; returns when its grace ends.
pub fn grace(now: Timestamp) -> Result<Timestamp> {
    cancel_on_ctrl_c();
    let mut items: Vec<&str> = GRACE_PRESETS.iter().map(|(label, _)| *label).collect();
    items.push("Custom…");
    let choice = Select::new()
        .with_prompt("How long should the old key keep working?")
        .items(&items)
        .default(DEFAULT_GRACE)
        .interact_opt()
        .map_err(cancelled)?;
    match choice {
        None => Err(cancel()),
        Some(i) if i < GRACE_PRESETS.len() => Ok(parse_moment(GRACE_PRESETS[i].1, now)?),
        Some(_) => {
            let text: String = Input::new()
                .with_prompt("Grace period (e.g. 36h, 2d, 1h 30m)")
                .validate_with(|s: &String| {
                    parse_moment(s, now).map(|_| ()).map_err(|e| e.to_string())
                })
                .interact_text()
                .map_err(cancelled)?;
            Ok(parse_moment(&text, now)?)
        }
    }
}

/// Reads a secret without echoing it, for `verify` typed at a terminal.
pub fn secret() -> Result<zeroize::Zeroizing<String>> {
    cancel_on_ctrl_c();
    let text = dialoguer::Password::new()
        .with_prompt("Secret to verify (not shown)")
        .allow_empty_password(true)
        .interact()
        .map_err(cancelled)?;
    Ok(zeroize::Zeroizing::new(text))
}

/// Asks a yes/no question that defaults to No.
pub fn confirm(question: &str) -> Result<bool> {
    cancel_on_ctrl_c();
    Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact_opt()
        .map_err(cancelled)?
        .ok_or_else(cancel)
}

fn cancel() -> anyhow::Error {
    let _ = dialoguer::console::Term::stderr().show_cursor();
    Error::Cancelled.into()
}

fn cancelled(e: dialoguer::Error) -> anyhow::Error {
    let dialoguer::Error::IO(io) = e;
    if io.kind() == io::ErrorKind::Interrupted {
        return cancel();
    }
    anyhow::Error::new(io).context("cannot read the answer from the terminal")
}
