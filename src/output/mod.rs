//! Everything keyward prints: a [`Report`] as human text or as one JSON
//! document, and errors. Human mode puts the secret alone on stdout and the
//! commentary on stderr, so `KEY=$(keyward create)` works.

pub mod json;
mod table;

use std::io::{self, Write};

use crate::cmd::Report;
use crate::error::Error;
use crate::key::{Key, VerifyCode};
use crate::shown::escape;
use crate::store::KeyPass;
use crate::when::Timestamp;

pub use table::Layout;

pub struct Printer {
    pub json: bool,
    pub now: Timestamp,
    pub layout: Layout,
}

impl Printer {
    /// Prints a report on stdout. A closed stdout is a quiet end for read
    /// output, but an error naming the key when a new secret is lost.
    pub fn print(&self, report: &Report) -> anyhow::Result<()> {
        if matches!(report, Report::Streamed) {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        let printed = if self.json {
            self.json_doc(report)
                .map_err(io::Error::other)
                .and_then(|doc| writeln!(out, "{doc}"))
        } else {
            self.human(report, &mut out)
        }
        .and_then(|()| out.flush());
        match (printed, report) {
            (Ok(()), _) => Ok(()),
            (Err(e), Report::Created(c)) => Err(not_delivered("created", &c.key, &e)),
            (Err(e), Report::Rotated(r)) => {
                Err(not_delivered("rotated; the new key is", &r.key, &e))
            }
            (Err(e), Report::Leaked(r)) => {
                let lost: Vec<&Key> = r
                    .ended
                    .iter()
                    .filter_map(|(_, _, o)| match o {
                        crate::intents::Leaked::Rotated(rot) => Some(&rot.key),
                        _ => None,
                    })
                    .collect();
                match lost.split_first() {
                    None => Err(e.into()),
                    Some((first, [])) => Err(not_delivered(
                        "rotated because its secret leaked; the new key is",
                        first,
                        &e,
                    )),
                    Some((first, rest)) => {
                        let others: Vec<String> = rest.iter().map(|k| k.id.to_string()).collect();
                        Err(not_delivered(
                            "rotated because its secret leaked; the new key is",
                            first,
                            &e,
                        )
                        .context(format!(
                            "the secrets of {} new default keys were lost: {} too (rotate each again \
                             with `keyward rotate KEY --grace now`)",
                            lost.len(),
                            others.join(", ")
                        )))
                    }
                }
            }
            (Err(e), _) => Err(e.into()),
        }
    }

    fn json_doc(&self, report: &Report) -> serde_json::Result<String> {
        let now = self.now;
        match report {
            Report::Created(c) => serde_json::to_string_pretty(&json::Created {
                key: json::KeyJson::new(&c.key, now),
                secret: c.secret.expose(),
            }),
            Report::Rotated(r) => serde_json::to_string_pretty(&json::Rotated {
                key: json::KeyJson::new(&r.key, now),
                secret: r.secret.expose(),
                previous: json::KeyJson::new(&r.previous, now),
            }),
            Report::Extended { key, .. } | Report::Revoked { key, .. } => {
                serde_json::to_string_pretty(&json::KeyJson::new(key, now))
            }
            Report::Events(events) => serde_json::to_string_pretty(
                &events.iter().map(json::EventJson::new).collect::<Vec<_>>(),
            ),
            Report::ChainIntact(n) => serde_json::to_string_pretty(&json::ChainIntact {
                intact: true,
                events: *n,
            }),
            Report::Keys(keys) => serde_json::to_string_pretty(
                &keys
                    .iter()
                    .map(|k| json::KeyJson::new(k, now))
                    .collect::<Vec<_>>(),
            ),
            Report::Key { key, events, usage } => serde_json::to_string_pretty(&json::Shown {
                key: json::KeyJson::new(key, now),
                events: events.iter().map(json::EventJson::new).collect(),
                usage: usage.iter().map(json::UsageJson::new).collect(),
            }),
            Report::Verified(v) => serde_json::to_string_pretty(&json::Verified::new(v, now)),
            Report::Config {
                settings,
                changed,
                location,
            } => serde_json::to_string_pretty(&json::Config::new(settings, *changed, location)),
            Report::Updated { key, .. } => {
                serde_json::to_string_pretty(&json::KeyJson::new(key, now))
            }
            Report::Copied { to, copied } => serde_json::to_string_pretty(&serde_json::json!({
                "to": to,
                "keys": copied.keys,
                "events": copied.events,
                "settings": copied.settings,
            })),
            #[cfg(feature = "serve")]
            Report::Stopped { requests } => {
                serde_json::to_string_pretty(&serde_json::json!({ "requests": requests }))
            }
            Report::Retired { keys, .. } => serde_json::to_string_pretty(
                &keys
                    .iter()
                    .map(|(k, _)| json::KeyJson::new(k, now))
                    .collect::<Vec<_>>(),
            ),
            Report::Leaked(r) => serde_json::to_string_pretty(&json::leaked(r, now)),
            Report::Head(head) => serde_json::to_string_pretty(
                &head
                    .as_ref()
                    .map(|h| serde_json::json!({ "id": h.id, "hash": h.hash })),
            ),
            Report::Text(text) => serde_json::to_string_pretty(text),
            // Printed already; `print` returns before asking.
            Report::Streamed => Ok(String::new()),
        }
    }

    fn human(&self, report: &Report, out: &mut impl Write) -> io::Result<()> {
        let now = self.now;
        match report {
            Report::Created(c) => {
                let key = &c.key;
                writeln!(out, "{}", c.secret.expose())?;
                let expires = table::when(key.expires_at, now, "never");
                note(&format!(
                    "Created {} '{}' in environment '{}' (expires {expires}{}).\n\
                     Copy the secret now: it will not be shown again.",
                    key.id,
                    escape(key.name.as_str()),
                    escape(key.env.as_str()),
                    if key.is_default {
                        ", the environment's default key"
                    } else {
                        ""
                    },
                ));
                Ok(())
            }
            Report::Rotated(r) => {
                writeln!(out, "{}", r.secret.expose())?;
                let old = &r.previous;
                let until = match old.expires_at {
                    Some(t) if t > now && r.grace_capped => format!(
                        "keeps working until {t} ({}), when it expires: a grace never \
                         outlives the key's own expiry",
                        t.relative_to(now)
                    ),
                    Some(t) if t > now => {
                        format!("keeps working until {t} ({})", t.relative_to(now))
                    }
                    _ => "stopped working now".to_string(),
                };
                note(&format!(
                    "Rotated '{}' in environment '{}': {} is active now.\n\
                     The old key {} {until}.\n\
                     Copy the secret now: it will not be shown again.",
                    escape(r.key.name.as_str()),
                    escape(r.key.env.as_str()),
                    r.key.id,
                    old.id,
                ));
                Ok(())
            }
            Report::Extended { key, capped } => {
                writeln!(out, "{}", table::ends(key, now))?;
                if *capped {
                    note("The grace was cut to the key's own expiry: a grace never outlives it.");
                }
                Ok(())
            }
            Report::Revoked { key, changed: true } => writeln!(
                out,
                "Revoked {} '{}' in environment '{}': it stops working now.",
                key.id,
                escape(key.name.as_str()),
                escape(key.env.as_str())
            ),
            Report::Revoked {
                key,
                changed: false,
            } => writeln!(
                out,
                "{} was already revoked ({}); nothing changed.",
                key.id,
                table::when(key.revoked_at, now, "earlier")
            ),
            Report::Events(events) if events.is_empty() => {
                note("No events match.");
                Ok(())
            }
            Report::Events(events) => writeln!(out, "{}", table::events(events, now, self.layout)),
            Report::ChainIntact(n) => {
                writeln!(out, "The activity log is intact: {n} events checked.")
            }
            Report::Keys(keys) if keys.is_empty() => Ok(()),
            Report::Keys(keys) => writeln!(out, "{}", table::keys(keys, now, self.layout)),
            Report::Key { key, events, usage } => writeln!(
                out,
                "{}",
                table::key_detail(key, events, usage, now, self.layout)
            ),
            Report::Verified(v) => {
                if let Some(w) = &v.warning {
                    note(&format!("warning: {w}"));
                }
                match (&v.key, v.code) {
                    (Some(k), VerifyCode::Valid) => writeln!(
                        out,
                        "VALID {} '{}' in environment '{}' ({})",
                        k.id,
                        escape(k.name.as_str()),
                        escape(k.env.as_str()),
                        k.status(now)
                    ),
                    (_, code) => {
                        if let Some(why) = v.spent.as_ref().and_then(quota_refusal) {
                            note(&why);
                        }
                        writeln!(out, "{}", code.as_str())
                    }
                }
            }
            Report::Config {
                settings,
                changed,
                location,
            } => {
                // Shown once set: per owner, there is no limit by default.
                let per_owner = settings
                    .max_keys_per_owner
                    .map_or_else(String::new, |n| format!("max-keys-per-owner {n}\n"));
                writeln!(
                    out,
                    "max-keys      {}\nprefix        {}\nrotate-every  {}\n{per_owner}vault         {} ({}{})",
                    settings.max_keys,
                    settings.prefix,
                    settings.get(crate::settings::Setting::RotateEvery),
                    escape(&location.shown),
                    location.engine,
                    if location.exists {
                        ""
                    } else {
                        ", not created yet: these are the defaults"
                    }
                )?;
                if *changed == Some(false) {
                    note("Nothing changed: the setting already had that value.");
                }
                Ok(())
            }
            Report::Updated {
                key,
                changed: false,
            } => {
                note(&format!(
                    "Nothing changed: {} '{}' already had those values.",
                    key.id,
                    escape(key.name.as_str())
                ));
                Ok(())
            }
            Report::Updated { key, .. } => writeln!(
                out,
                "Updated {} '{}' in environment '{}'.",
                key.id,
                escape(key.name.as_str()),
                escape(key.env.as_str())
            ),
            Report::Copied { to, copied } => writeln!(
                out,
                "Copied {} keys, {} events and {} settings to {}; its activity log is intact.",
                copied.keys,
                copied.events,
                copied.settings,
                escape(to)
            ),
            Report::Retired { keys, dry_run } => {
                if keys.is_empty() {
                    note("No key in grace has been quiet that long: nothing to end.");
                    return Ok(());
                }
                let verb = if *dry_run { "Would end" } else { "Ended" };
                for (k, since) in keys {
                    writeln!(
                        out,
                        "{verb} the grace of {} '{}' in environment '{}' (quiet since {})",
                        k.id,
                        escape(k.name.as_str()),
                        escape(k.env.as_str()),
                        since.relative_to(now)
                    )?;
                }
                Ok(())
            }
            Report::Leaked(r) => leaked(r, now, out),
            Report::Head(Some(h)) => writeln!(out, "{}:{}", h.id, h.hash),
            Report::Head(None) => {
                note("The activity log is empty: there is no event to anchor yet.");
                Ok(())
            }
            // serve's log on stderr said it all.
            #[cfg(feature = "serve")]
            Report::Stopped { .. } => Ok(()),
            Report::Text(text) => out.write_all(text.as_bytes()),
            Report::Streamed => Ok(()),
        }
    }
}

/// The error for a committed key whose secret never reached stdout.
fn not_delivered(action: &'static str, key: &Key, cause: &io::Error) -> anyhow::Error {
    Error::SecretNotDelivered {
        action,
        id: key.id.clone(),
        name: crate::shown::quote(key.name.as_str()),
        env: crate::shown::quote(key.env.as_str()),
        cause: cause.kind(),
        remedy: if key.is_default {
            format!(
                "It is its environment's default key, so rotate it again \
                 (`keyward rotate {} --grace now`) with somewhere to write the secret",
                key.id
            )
        } else {
            format!(
                "Revoke it (`keyward revoke {} --yes`), or rotate it again with somewhere \
                 to write the secret",
                key.id
            )
        },
    }
    .into()
}

/// Commentary for a person, on stderr. A closed stderr is not worth failing over.
fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// `list` printed as the keys are read, without holding them: `read`
/// hands every key to each pass it is given, in order, from one snapshot;
/// `seen` sees each key once. `--json`: the same document
/// [`Printer::print`] prints for `Report::Keys` (one pass). Text, where
/// stdout is not a terminal: the same table (two passes: widths, then
/// lines); at a terminal the table fits its width, and needs every row
/// first: `None`, nothing read, the caller collects the keys instead. A read
/// that fails part-way leaves the output unended (and the command fails).
pub fn stream_keys(
    json: bool,
    now: Timestamp,
    seen: &mut dyn FnMut(&Key),
    read: &mut dyn FnMut(&mut [&mut KeyPass<'_>]) -> anyhow::Result<()>,
) -> anyhow::Result<Option<()>> {
    use std::io::IsTerminal;
    if json {
        return json_keys(now, seen, read).map(Some);
    }
    if io::stdout().is_terminal() {
        return Ok(None);
    }
    let lines = std::cell::RefCell::new(table::KeyLines::new(now));
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut first = true;
    read(&mut [
        &mut |k: Key| {
            seen(&k);
            lines.borrow_mut().measure(&k);
            Ok(())
        },
        &mut |k: Key| {
            lines.borrow().write(&mut out, &k, first)?;
            first = false;
            Ok(())
        },
    ])?;
    out.flush()?;
    Ok(Some(()))
}

fn json_keys(
    now: Timestamp,
    seen: &mut dyn FnMut(&Key),
    read: &mut dyn FnMut(&mut [&mut KeyPass<'_>]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use serde::ser::{SerializeSeq, Serializer};
    let written = |e: serde_json::Error| -> anyhow::Error {
        if e.is_io() {
            io::Error::from(e).into()
        } else {
            e.into()
        }
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut ser = serde_json::Serializer::pretty(&mut out);
    let mut seq = ser.serialize_seq(None).map_err(written)?;
    read(&mut [&mut |k: Key| {
        seen(&k);
        seq.serialize_element(&json::KeyJson::new(&k, now))
            .map_err(written)
    }])?;
    seq.end().map_err(written)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// A note or warning a command says while it runs, on stderr, at once. A
/// closed stderr is not worth failing over.
pub fn say(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// Prints an error once: as a sentence, or as `{"error":{…}}` in JSON mode.
/// Returns the exit code for it.
pub fn error(err: &anyhow::Error, json: bool) -> u8 {
    let known = err.chain().find_map(|e| e.downcast_ref::<Error>());
    let code = known.map_or(crate::error::exit::RUNTIME, Error::exit_code);
    // Whatever a message quotes (a path, a value from a lower layer), a
    // secret in it is shown as its hint.
    let message = escape(&crate::secret::mask(&format!("{err:#}")));
    let mut stderr = io::stderr().lock();
    let _ = if json {
        let doc = json::ErrorDoc {
            error: json::ErrorBody {
                code: known.map_or("RUNTIME", Error::code),
                message: &message,
            },
        };
        writeln!(
            stderr,
            "{}",
            serde_json::to_string(&doc).unwrap_or_default()
        )
    } else {
        writeln!(stderr, "keyward: {message}")
    };
    code
}

/// A usage error from the argument parser, in JSON mode.
pub fn usage_error_json(message: &str) -> u8 {
    let doc = json::ErrorDoc {
        error: json::ErrorBody {
            code: "USAGE",
            message: message.trim(),
        },
    };
    let _ = writeln!(
        io::stderr().lock(),
        "{}",
        serde_json::to_string(&doc).unwrap_or_default()
    );
    crate::error::exit::USAGE
}

/// Whether an error is only a closed stdout (`keyward log | head -3`),
/// which ends read output quietly. A lost secret is never quiet.
pub fn is_quiet_exit(err: &anyhow::Error) -> bool {
    let lost_secret = err.chain().any(|e| {
        matches!(
            e.downcast_ref::<Error>(),
            Some(Error::SecretNotDelivered { .. })
        )
    });
    !lost_secret
        && err
            .chain()
            .filter_map(|e| e.downcast_ref::<io::Error>())
            .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// `revoke --leaked`: successors' secrets alone on stdout, one per line;
/// what happened to each line on stderr, in line order, naming keys by id
/// and hint.
fn leaked(r: &crate::cmd::LeakReport, now: Timestamp, out: &mut impl Write) -> io::Result<()> {
    use crate::intents::Leaked;
    let mut ended = 0;
    let mut unmatched: Vec<usize> = Vec::new();
    let mut notes: Vec<(usize, String)> = Vec::new();
    for (line, hint, outcome) in &r.ended {
        let hint = escape(hint);
        let text = match outcome {
            Leaked::Revoked(k) => {
                ended += 1;
                format!(
                    "revoked {} '{}' in environment '{}' ({hint})",
                    k.id,
                    escape(k.name.as_str()),
                    escape(k.env.as_str())
                )
            }
            Leaked::Rotated(rot) => {
                ended += 1;
                format!(
                    "{} '{}' is the default key of environment '{}' ({hint}): rotated with grace \
                     now; its successor {} is active, and its secret is on stdout",
                    rot.previous.id,
                    escape(rot.previous.name.as_str()),
                    escape(rot.previous.env.as_str()),
                    rot.key.id
                )
            }
            Leaked::AlreadyEnded(k) => format!(
                "{hint} belongs to {} '{}', already {}: nothing changed",
                k.id,
                escape(k.name.as_str()),
                k.status(now)
            ),
            Leaked::Unmatched => {
                unmatched.push(*line);
                format!("{hint} matches no key in this vault")
            }
        };
        notes.push((*line, text));
    }
    for n in &r.not_secrets {
        unmatched.push(n.line);
        let text = match &n.hint {
            Some(hint) => format!("{}: {}", escape(hint), n.why),
            None => n.why.to_string(),
        };
        notes.push((n.line, text));
    }
    notes.sort_by_key(|(line, _)| *line);
    unmatched.sort_unstable();
    unmatched.dedup();
    let unmatched = unmatched.len();
    for (line, text) in notes {
        note(&format!("line {line}: {text}"));
    }
    note(&format!(
        "Ended {ended} key(s); {unmatched} line(s) matched no key."
    ));
    // Last, so that what happened is on stderr even if stdout fails.
    for (_, _, outcome) in &r.ended {
        if let Leaked::Rotated(rot) = outcome {
            writeln!(out, "{}", rot.secret.expose())?;
        }
    }
    Ok(())
}

/// Why a quota refused a verification, for a person: which limit and when
/// to try again, or that the credits ran out.
fn quota_refusal(spent: &crate::quota::Spent) -> Option<String> {
    if spent.admitted {
        return None;
    }
    if spent.out_of_credits {
        return Some(format!(
            "no credits left for this verification ({} left): add some with `keyward update KEY --add-credits N`",
            spent.credits.unwrap_or(0)
        ));
    }
    let over: Vec<String> = spent
        .limits
        .iter()
        .filter(|l| l.exceeded)
        .map(|l| l.limit.to_string())
        .collect();
    let retry = spent.retry_after_secs().map_or_else(String::new, |s| {
        format!(
            "; try again in {}",
            crate::when::short_span(s.unsigned_abs())
        )
    });
    Some(format!("over the rate limit {}{retry}", over.join(", ")))
}
