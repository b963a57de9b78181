//! `revoke --leaked`: secrets a scanner found, one per line on stdin; every
//! key they belong to is ended in one transaction. Lines are never echoed:
//! reports name keys by id and hint, and lines by number.

use std::io::{IsTerminal, Read};

use super::{Ctx, Report};
use crate::cli::RevokeArgs;
use crate::error::{Error, Result};
use crate::intents::Leaked;
use crate::secret::{self, Malformed};
use crate::store::Access;
use crate::text::Reason;

/// More input than this is refused rather than read without end.
const MAX_INPUT: u64 = 16 << 20;

/// One line of input that is not a secret of any key.
#[derive(Debug)]
pub struct NotASecret {
    pub line: usize,
    /// The line masked to a hint, when it has a secret's shape.
    pub hint: Option<String>,
    pub why: &'static str,
}

/// What `revoke --leaked` did, line by line.
#[derive(Debug)]
pub struct LeakReport {
    /// Line number, the secret's hint, and what happened.
    pub ended: Vec<(usize, String, Leaked)>,
    pub not_secrets: Vec<NotASecret>,
}

impl LeakReport {
    /// Whether every line matched a key (now ended).
    pub fn all_matched(&self) -> bool {
        self.not_secrets.is_empty()
            && self
                .ended
                .iter()
                .all(|(_, _, o)| !matches!(o, Leaked::Unmatched))
    }
}

pub fn run(args: &RevokeArgs, reason: Option<Reason>, ctx: &mut Ctx) -> Result<Report> {
    let reason = match reason {
        Some(r) => r,
        None => Reason::parse("leaked")?,
    };
    if std::io::stdin().is_terminal() {
        return Err(Error::usage(
            "revoke --leaked reads a scanner's findings on stdin, one secret per line: pipe them in \
             (pasted at a terminal they would be shown), e.g. scanner … | keyward revoke --leaked --yes",
        )
        .into());
    }
    if !args.yes {
        return Err(Error::usage(
            "revoke --leaked needs --yes: stdin carries the secrets, so there is no terminal to \
             confirm on (every key whose secret is on stdin stops working at once)",
        )
        .into());
    }
    let input = read_input()?;
    let mut candidates = Vec::new();
    let mut lines = Vec::new();
    let mut not_secrets = Vec::new();
    for (i, raw) in input.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            not_secrets.push(NotASecret {
                line,
                hint: None,
                why: "it is not text",
            });
            continue;
        };
        let text = text.trim_matches(|c: char| c.is_whitespace() || INVISIBLE.contains(&c));
        if text.is_empty() {
            continue;
        }
        match secret::parse(text) {
            Ok(s) => {
                candidates.push(readings(text, s.hash()));
                lines.push((line, hint(text).unwrap_or_default()));
            }
            Err(e) => not_secrets.push(NotASecret {
                line,
                hint: hint(text),
                why: match e {
                    Malformed::Checksum => {
                        "its checksum is wrong (a typo, or not a keyward secret)"
                    }
                    Malformed::Shape => "it is not shaped like a keyward secret",
                },
            }),
        }
    }
    super::stdout_must_be_open()?;
    let actor = ctx.actor().clone();
    let outcomes = ctx
        .vault(Access::Write)?
        .end_leaked(&candidates, &reason, &actor)?;
    Ok(Report::Leaked(LeakReport {
        ended: lines
            .into_iter()
            .zip(outcomes)
            .map(|((line, hint), outcome)| (line, hint, outcome))
            .collect(),
        not_secrets,
    }))
}

/// Characters that tools put around text without meaning: a byte-order
/// mark and zero-width spaces.
const INVISIBLE: [char; 4] = ['\u{feff}', '\u{200b}', '\u{200c}', '\u{200d}'];

/// The hashes a found secret may be, longest first: a scanner cannot tell
/// where a prefix begins in `token_kw_…` (the checksum covers only the
/// body), so each shorter prefix after an `_` is tried too.
fn readings(text: &str, full: [u8; 32]) -> Vec<[u8; 32]> {
    let mut hashes = vec![full];
    let prefix_end = text.rfind('_').unwrap_or(0);
    for (at, _) in text[..prefix_end].match_indices('_') {
        if let Ok(s) = secret::parse(&text[at + 1..]) {
            hashes.push(s.hash());
        }
    }
    hashes
}

/// The hint of the first secret-shaped part of a line (`kw_…a1B2`), never
/// anything else of it.
fn hint(text: &str) -> Option<String> {
    let masked = secret::mask(text);
    let at = masked.find('…')?;
    let before: String = masked[..at]
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let after: String = masked[at + '…'.len_utf8()..].chars().take(4).collect();
    Some(format!("{before}…{after}"))
}

/// All of stdin, at most [`MAX_INPUT`] bytes.
fn read_input() -> Result<Vec<u8>> {
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut input)
        .map_err(|e| anyhow::anyhow!("cannot read the leaked secrets from stdin: {e}"))?;
    if input.len() as u64 > MAX_INPUT {
        return Err(Error::usage(format!(
            "stdin holds more than {} MiB: give revoke --leaked the scanner's findings, one secret per line",
            MAX_INPUT >> 20
        ))
        .into());
    }
    Ok(input)
}
