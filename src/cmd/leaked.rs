//! `revoke --leaked`: secrets a scanner found, one per line on stdin; every
//! key they belong to is ended in one transaction. Lines are never echoed:
//! reports name keys by id and hint, and lines by number.

use std::io::Read;

use super::{Ctx, Report, prompt};
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
    if !args.yes && !ctx.interactive() {
        return Err(Error::usage(
            "revoke --leaked needs --yes without a terminal to confirm on (every key whose secret is \
             on stdin stops working at once), e.g. scanner … | keyward revoke --leaked --yes",
        )
        .into());
    }
    if ctx.interactive() {
        super::note("Paste the leaked secrets, one per line, then press Ctrl-D.");
    }
    let input = read_input()?;
    let mut hashes = Vec::new();
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
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match secret::parse(text) {
            Ok(s) => {
                hashes.push(s.hash());
                lines.push((line, secret::mask(text).into_owned()));
            }
            Err(e) => {
                let masked = secret::mask(text);
                not_secrets.push(NotASecret {
                    line,
                    hint: (masked != text).then(|| masked.into_owned()),
                    why: match e {
                        Malformed::Checksum => {
                            "its checksum is wrong (a typo, or not a keyward secret)"
                        }
                        Malformed::Shape => "it is not shaped like a keyward secret",
                    },
                });
            }
        }
    }
    if !args.yes {
        let question = format!(
            "End the keys of {} secret(s) now? Revoked keys stop working at once; a default key is rotated with grace now",
            hashes.len()
        );
        if hashes.is_empty() || !prompt::confirm(&question)? {
            if hashes.is_empty() {
                return Ok(Report::Leaked(LeakReport {
                    ended: Vec::new(),
                    not_secrets,
                }));
            }
            return Err(Error::Cancelled.into());
        }
    }
    super::stdout_must_be_open()?;
    let actor = ctx.actor().clone();
    let outcomes = ctx
        .vault(Access::Write)?
        .end_leaked(&hashes, &reason, &actor)?;
    Ok(Report::Leaked(LeakReport {
        ended: lines
            .into_iter()
            .zip(outcomes)
            .map(|((line, hint), outcome)| (line, hint, outcome))
            .collect(),
        not_secrets,
    }))
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
