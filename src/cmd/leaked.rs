//! `revoke --leaked`: secrets a scanner found, one per line on stdin; every
//! key they belong to is ended in one transaction. Lines are never echoed:
//! reports name keys by id and hint, and lines by number.

use std::io::{IsTerminal, Read};

use super::{Ctx, Report};
use crate::cli::RevokeArgs;
use crate::error::{Error, Result};
use crate::intents::{self, Leaked};
use crate::secret;
use crate::store::Access;
use crate::text::Reason;
use crate::vault::{KeyFilter, Vault};
use zeroize::Zeroizing;

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
    let mut found: Vec<(usize, Found)> = Vec::new();
    let mut not_secrets = Vec::new();
    let mut bad_checksums: Vec<(usize, Found)> = Vec::new();
    for (i, raw) in input.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        // Secrets are ASCII: a byte that is not UTF-8 (a Latin-1 file name,
        // binary around the secret) only separates words, as a space does.
        let text = Zeroizing::new(String::from_utf8_lossy(raw).into_owned());
        let text = text.trim_matches(|c: char| c.is_whitespace() || INVISIBLE.contains(&c));
        if text.is_empty() {
            continue;
        }
        let mut any = false;
        for word in secret_words(text) {
            any = true;
            match secret::parse(&word.text) {
                Ok(_) => {
                    candidates.push(word.hashes());
                    found.push((line, word));
                }
                Err(_) => bad_checksums.push((line, word)),
            }
        }
        if !any {
            not_secrets.push(NotASecret {
                line,
                hint: last4_of_shape(text),
                why: "it holds nothing shaped like a keyward secret",
            });
        }
    }
    super::stdout_must_be_open()?;
    let actor = ctx.actor().clone();
    let vault = ctx.vault(Access::Write)?;
    let outcomes =
        vault.write(|tx, now| intents::end_leaked(tx, &candidates, &reason, &actor, now))?;
    // What is shown of a secret that matched no key: the vault's own prefix
    // where one of its readings is a prefix the vault uses, else only its
    // last characters (never the text it was found in).
    let needs_prefixes =
        outcomes.iter().any(|o| matches!(o, Leaked::Unmatched)) || !bad_checksums.is_empty();
    let prefixes = if needs_prefixes {
        vault_prefixes(vault)?
    } else {
        Vec::new()
    };
    let shown =
        |readings: &[String], last4: &str| match readings.iter().find(|p| prefixes.contains(p)) {
            Some(p) => format!("{p}_…{last4}"),
            None => format!("…{last4}"),
        };
    let ended = found
        .into_iter()
        .zip(outcomes)
        .map(|((line, word), outcome)| {
            let hint = match &outcome {
                Leaked::Revoked(k) | Leaked::AlreadyEnded(k) => k.masked(),
                Leaked::Rotated(rot) => rot.previous.masked(),
                Leaked::Unmatched => shown(&word.prefixes, &word.last4),
            };
            (line, hint, outcome)
        })
        .collect();
    not_secrets.extend(bad_checksums.iter().map(|(line, word)| NotASecret {
        line: *line,
        hint: Some(shown(&word.prefixes, &word.last4)),
        why: "its checksum is wrong (a typo, or not a keyward secret)",
    }));
    Ok(Report::Leaked(LeakReport { ended, not_secrets }))
}

/// Characters that tools put around text without meaning: a byte-order
/// mark and zero-width spaces.
const INVISIBLE: [char; 4] = ['\u{feff}', '\u{200b}', '\u{200c}', '\u{200d}'];

/// A secret found in a line, as the scanner regex finds it:
/// `\b{prefix}_[0-9A-Za-z]{38}\b`. No `Debug`: it holds the secret, wiped
/// when dropped.
struct Found {
    /// The secret as found, with the longest prefix reading.
    text: String,
    /// The prefixes it may have, longest first: a scanner cannot tell where
    /// a prefix begins in `token_kw_…` (the checksum covers only the body),
    /// so each shorter one after an `_` is a reading too.
    prefixes: Vec<String>,
    /// The body's last characters, the hint.
    last4: String,
}

impl Found {
    /// The hash of each reading, longest prefix first.
    fn hashes(&self) -> Vec<[u8; 32]> {
        let body_at = self.text.len() - secret::BODY_LEN;
        self.prefixes
            .iter()
            .map(|p| {
                let mut s = Zeroizing::new(String::with_capacity(p.len() + 1 + secret::BODY_LEN));
                s.push_str(p);
                s.push('_');
                s.push_str(&self.text[body_at..]);
                secret::hash(s.as_bytes())
            })
            .collect()
    }
}

impl Drop for Found {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.text);
    }
}

/// Every word of `text` (a run of ASCII letters, digits and `_`, between
/// word boundaries) that ends in `_` and a 38-character body after a valid
/// prefix: each place where a keyward secret may be.
fn secret_words(text: &str) -> Vec<Found> {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    text.as_bytes()
        .split(|&b| !is_word(b))
        .filter_map(|word| {
            // Only ASCII word bytes: always valid UTF-8.
            let word = std::str::from_utf8(word).ok()?;
            let (before, body) = word.rsplit_once('_')?;
            if body.len() != secret::BODY_LEN {
                return None;
            }
            let mut prefixes: Vec<String> = std::iter::once(0)
                .chain(before.match_indices('_').map(|(at, _)| at + 1))
                .map(|at| &before[at..])
                .filter(|p| secret::is_valid_prefix(p))
                .map(str::to_string)
                .collect();
            prefixes.dedup();
            let longest = prefixes.first()?.clone();
            Some(Found {
                text: format!("{longest}_{body}"),
                prefixes,
                last4: body[body.len() - secret::HINT_LEN..].to_string(),
            })
        })
        .collect()
}

/// The last characters of the first secret-shaped run in a line that holds
/// no secret (`…a1B2`), never anything else of it.
fn last4_of_shape(text: &str) -> Option<String> {
    let masked = secret::mask(text);
    let at = masked.find('…')?;
    let after: String = masked[at + '…'.len_utf8()..]
        .chars()
        .take(secret::HINT_LEN)
        .collect();
    Some(format!("…{after}"))
}

/// Every prefix the vault's keys have, and its configured one.
fn vault_prefixes(vault: &Vault) -> Result<Vec<String>> {
    let all = KeyFilter {
        all: true,
        ..KeyFilter::default()
    };
    let mut prefixes: Vec<String> = vault.keys(&all)?.into_iter().map(|k| k.prefix).collect();
    prefixes.push(vault.settings()?.prefix);
    prefixes.sort();
    prefixes.dedup();
    Ok(prefixes)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn readings(line: &str) -> Vec<Vec<String>> {
        secret_words(line)
            .into_iter()
            .map(|f| f.prefixes.clone())
            .collect()
    }

    #[test]
    fn secrets_are_found_at_word_boundaries_as_the_scanner_finds_them() {
        let body = "a".repeat(secret::BODY_LEN);
        assert_eq!(readings(&format!("PAYMENTS=kw_{body}")), [["kw"]]);
        assert_eq!(readings(&format!("\"kw_{body}\",")), [["kw"]]);
        assert_eq!(
            readings(&format!("a=kw_{body} b=kw_{body};")),
            [["kw"], ["kw"]]
        );
        // Text run into the prefix: every reading after an `_`, longest first.
        assert_eq!(
            readings(&format!("token_acme_x1_{body}")),
            [vec!["token_acme_x1", "acme_x1", "x1"]]
        );
        assert_eq!(readings(&format!("PAYMENTS_kw_{body}")), [["kw"]]);
        // Not a word boundary, or not a body of 38: no secret.
        assert!(readings(&format!("kw_{body}b")).is_empty());
        assert!(readings(&format!("kw_{}", &body[1..])).is_empty());
        assert!(readings(&format!("KW_{body}")).is_empty());
        assert!(readings(&format!("_{body}")).is_empty());
    }
}
