//! Questions for a person at a terminal, on stderr. Only asked when
//! [`Ctx::interactive`](super::Ctx::interactive) holds; scripts never see one.
//! Esc, q or Ctrl-C cancel: nothing is changed.

use std::io;

use dialoguer::{Confirm, Input, Select};

use crate::error::{Error, Result};
use crate::key::Key;
use crate::shown::escape;
use crate::when::{Expiry, Moment, Timestamp, parse_expiry, parse_span};

/// The grace presets offered by `rotate`: label and value.
pub const GRACE_PRESETS: [(&str, &str); 5] = [
    ("Now (the old key stops working at once)", "now"),
    ("1 hour", "1h"),
    ("24 hours", "24h"),
    ("3 days", "3d"),
    ("7 days", "7d"),
];
const DEFAULT_GRACE: usize = 2;

/// The expiry presets offered by `create`: label and value.
pub const EXPIRY_PRESETS: [(&str, &str); 5] = [
    ("No expiration", "never"),
    ("7 days", "7d"),
    ("30 days", "30d"),
    ("60 days", "60d"),
    ("90 days", "90d"),
];

/// dialoguer's plain theme, without the `:` it puts after every prompt: a
/// question ends in its question mark (no `?:`), anything else in `:`.
struct Plain;

impl Plain {
    fn end(prompt: &str) -> &'static str {
        if prompt.ends_with('?') { "" } else { ":" }
    }
}

impl dialoguer::theme::Theme for Plain {
    fn format_prompt(&self, f: &mut dyn std::fmt::Write, prompt: &str) -> std::fmt::Result {
        write!(f, "{prompt}{}", Plain::end(prompt))
    }

    fn format_input_prompt(
        &self,
        f: &mut dyn std::fmt::Write,
        prompt: &str,
        default: Option<&str>,
    ) -> std::fmt::Result {
        match default {
            Some(d) => write!(f, "{prompt} [{d}]{} ", Plain::end(prompt)),
            None => write!(f, "{prompt}{} ", Plain::end(prompt)),
        }
    }

    fn format_input_prompt_selection(
        &self,
        f: &mut dyn std::fmt::Write,
        prompt: &str,
        sel: &str,
    ) -> std::fmt::Result {
        write!(f, "{prompt}{} {sel}", Plain::end(prompt))
    }
}

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

/// Asks how long the old key keeps working. The answer counts from the
/// moment the rotation takes the vault's lock, not from the question.
pub fn grace(old: &Key, now: Timestamp) -> Result<Moment> {
    cancel_on_ctrl_c();
    let mut items: Vec<&str> = GRACE_PRESETS.iter().map(|(label, _)| *label).collect();
    items.push("Custom…");
    let choice = Select::with_theme(&Plain)
        .with_prompt(format!(
            "Rotating {} '{}'. How long should the old key keep working?",
            old.id,
            escape(old.name.as_str())
        ))
        .items(&items)
        .default(DEFAULT_GRACE)
        .interact_opt()
        .map_err(cancelled)?;
    match choice {
        None => Err(cancel()),
        Some(i) if i < GRACE_PRESETS.len() => Ok(parse_span(GRACE_PRESETS[i].1, now)?),
        Some(_) => {
            let text: String = Input::with_theme(&Plain)
                .with_prompt("Grace period (e.g. 36h, 2d, 1h 30m)")
                .validate_with(|s: &String| {
                    parse_span(s, now).map(|_| ()).map_err(|e| e.to_string())
                })
                .interact_text()
                .map_err(cancelled)?;
            Ok(parse_span(&text, now)?)
        }
    }
}

/// Asks when a new key should expire; No expiration is preselected.
pub fn expiry() -> Result<Expiry> {
    cancel_on_ctrl_c();
    let items: Vec<&str> = EXPIRY_PRESETS.iter().map(|(label, _)| *label).collect();
    let choice = Select::with_theme(&Plain)
        .with_prompt("When should the new key expire?")
        .items(&items)
        .default(0)
        .interact_opt()
        .map_err(cancelled)?
        .ok_or_else(cancel)?;
    let value = EXPIRY_PRESETS.get(choice).map_or("never", |(_, v)| *v);
    Ok(parse_expiry("--expires", value, Timestamp::from_unix(0))?)
}

/// Reads a secret without echoing it, for `verify` typed at a terminal.
pub fn secret() -> Result<zeroize::Zeroizing<String>> {
    cancel_on_ctrl_c();
    let text = dialoguer::Password::with_theme(&Plain)
        .with_prompt("Secret to verify (not shown)")
        .allow_empty_password(true)
        .interact()
        .map_err(cancelled)?;
    Ok(zeroize::Zeroizing::new(text))
}

/// Asks a yes/no question that defaults to No.
pub fn confirm(question: &str) -> Result<bool> {
    cancel_on_ctrl_c();
    Confirm::with_theme(&Plain)
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
