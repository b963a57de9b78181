//! Everything keyward prints: a [`Report`] as human text or as one JSON
//! document, and errors. Human mode puts the secret alone on stdout and the
//! commentary on stderr, so `KEY=$(keyward create)` works.

mod json;
mod table;

use std::io::{self, Write};

use crate::cmd::Report;
use crate::error::Error;
use crate::key::VerifyCode;
use crate::text::escape;
use crate::when::Timestamp;

pub use table::Layout;

pub struct Printer {
    pub json: bool,
    pub now: Timestamp,
    pub layout: Layout,
}

impl Printer {
    pub fn print(&self, report: &Report) -> io::Result<()> {
        let mut out = io::stdout().lock();
        if self.json {
            let doc = self.json_doc(report).map_err(io::Error::other)?;
            return writeln!(out, "{doc}");
        }
        self.human(report, &mut out)
    }

    fn json_doc(&self, report: &Report) -> serde_json::Result<String> {
        let now = self.now;
        match report {
            Report::Created { key, secret } => serde_json::to_string_pretty(&json::Created {
                key: json::KeyJson::new(key, now),
                secret: secret.expose(),
            }),
            Report::Rotated(r) => serde_json::to_string_pretty(&json::Rotated {
                key: json::KeyJson::new(&r.key, now),
                secret: r.secret.expose(),
                previous: json::KeyJson::new(&r.previous, now),
            }),
            Report::Updated(key) | Report::Revoked { key, .. } => {
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
            Report::Key { key, events } => serde_json::to_string_pretty(&json::Shown {
                key: json::KeyJson::new(key, now),
                events: events.iter().map(json::EventJson::new).collect(),
            }),
            Report::Verified(v) => serde_json::to_string_pretty(&json::Verified::new(v, now)),
            Report::Config { settings, changed } => {
                serde_json::to_string_pretty(&json::Config::new(settings, *changed))
            }
            Report::Text(text) => serde_json::to_string_pretty(text),
        }
    }

    fn human(&self, report: &Report, out: &mut impl Write) -> io::Result<()> {
        let now = self.now;
        match report {
            Report::Created { key, secret } => {
                writeln!(out, "{}", secret.expose())?;
                let expires = table::when(key.expires_at, now, "never");
                note(&format!(
                    "Created {} '{}' in environment '{}' (expires {expires}{}).\n\
                     Copy the secret now: it will not be shown again.",
                    key.id,
                    escape(&key.name),
                    escape(&key.env),
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
                    Some(t) if t > now => {
                        format!("keeps working until {t} ({})", t.relative_to(now))
                    }
                    _ => "stopped working now".to_string(),
                };
                note(&format!(
                    "Rotated '{}' in environment '{}': {} is active now.\n\
                     The old key {} {until}.\n\
                     Copy the secret now: it will not be shown again.",
                    escape(&r.key.name),
                    escape(&r.key.env),
                    r.key.id,
                    old.id,
                ));
                Ok(())
            }
            Report::Updated(key) => writeln!(out, "{}", table::ends(key, now)),
            Report::Revoked { key, changed: true } => writeln!(
                out,
                "Revoked {} '{}' in environment '{}': it stops working now.",
                key.id,
                escape(&key.name),
                escape(&key.env)
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
            Report::Keys(keys) if keys.is_empty() => {
                note("No keys to show (keyward list --all includes expired and revoked keys).");
                Ok(())
            }
            Report::Keys(keys) => writeln!(out, "{}", table::keys(keys, now, self.layout)),
            Report::Key { key, events } => {
                writeln!(out, "{}", table::key_detail(key, events, now, self.layout))
            }
            Report::Verified(v) => {
                if let Some(w) = &v.warning {
                    note(&format!("warning: {w}"));
                }
                match (&v.key, v.code) {
                    (Some(k), VerifyCode::Valid) => writeln!(
                        out,
                        "VALID {} '{}' in environment '{}' ({})",
                        k.id,
                        escape(&k.name),
                        escape(&k.env),
                        k.status(now)
                    ),
                    (_, code) => writeln!(out, "{}", code.as_str()),
                }
            }
            Report::Config { settings, changed } => {
                writeln!(
                    out,
                    "max-keys  {}\nprefix    {}",
                    settings.max_keys, settings.prefix
                )?;
                if *changed == Some(false) {
                    note("Nothing changed: the setting already had that value.");
                }
                Ok(())
            }
            Report::Text(text) => out.write_all(text.as_bytes()),
        }
    }
}

/// Commentary for a person, on stderr. A closed stderr is not worth failing over.
fn note(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// Prints an error once: as a sentence, or as `{"error":{…}}` in JSON mode.
/// Returns the exit code for it.
pub fn error(err: &anyhow::Error, json: bool) -> u8 {
    let known = err.chain().find_map(|e| e.downcast_ref::<Error>());
    let code = known.map_or(crate::error::exit::RUNTIME, Error::exit_code);
    let message = escape(&format!("{err:#}"));
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

/// Whether an error is only a closed stdout (`keyward log | head -3`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
