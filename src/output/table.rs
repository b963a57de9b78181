//! Human output: tables with relative times, every stored text escaped.

use comfy_table::{ContentArrangement, Table, presets};

use crate::event::Event;
use crate::key::{Key, Status};
use crate::text::escape;
use crate::when::Timestamp;

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

/// "in 23h", "5m ago", or `none` when there is no time.
pub fn when(t: Option<Timestamp>, now: Timestamp, none: &str) -> String {
    t.map_or_else(|| none.to_string(), |t| t.relative_to(now))
}

/// Time in UTC and relative to now: `2026-11-24T10:00:00Z (in 23h)`.
fn exact(t: Option<Timestamp>, now: Timestamp, none: &str) -> String {
    t.map_or_else(
        || none.to_string(),
        |t| format!("{t} ({})", t.relative_to(now)),
    )
}

/// When a key stops working, in words: for `extend`.
pub fn ends(k: &Key, now: Timestamp) -> String {
    let state = match (k.status(now), k.expires_at) {
        (Status::Grace, Some(t)) => format!("is in grace until {t} ({})", t.relative_to(now)),
        (Status::Active, Some(t)) => format!("is active and expires {t} ({})", t.relative_to(now)),
        (Status::Active, None) => "is active and never expires".to_string(),
        (status, _) => format!("is {status}: it stopped working now"),
    };
    format!("{} '{}' {state}.", k.id, escape(&k.name))
}

pub fn keys(keys: &[Key], now: Timestamp) -> String {
    let mut t = table(&[
        "ID",
        "NAME",
        "ENV",
        "STATUS",
        "KEY",
        "CREATED",
        "EXPIRES",
        "LAST USED",
    ]);
    for k in keys {
        t.add_row(vec![
            k.id.clone(),
            escape(&k.name),
            escape(&k.env),
            k.status(now).to_string(),
            k.masked(),
            k.created_at.relative_to(now),
            when(k.expires_at, now, "never"),
            when(k.last_used_at, now, "never"),
        ]);
    }
    t.to_string()
}

pub fn key_detail(k: &Key, events: &[Event], now: Timestamp) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING);
    let scopes = if k.scopes.is_empty() {
        "(none)".to_string()
    } else {
        k.scopes
            .iter()
            .map(|s| escape(s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("id", k.id.clone()),
        ("name", escape(&k.name)),
        ("env", escape(&k.env)),
        ("status", k.status(now).to_string()),
        ("key", k.masked()),
        (
            "default",
            if k.is_default { "yes" } else { "no" }.to_string(),
        ),
        ("scopes", scopes),
        ("created", exact(Some(k.created_at), now, "")),
        ("expires", exact(k.expires_at, now, "never")),
        ("last used", exact(k.last_used_at, now, "never")),
        (
            "rotated from",
            k.rotated_from.clone().unwrap_or_else(|| "-".into()),
        ),
        (
            "rotated to",
            k.rotated_to.clone().unwrap_or_else(|| "-".into()),
        ),
    ];
    if let Some(at) = k.revoked_at {
        rows.push(("revoked", exact(Some(at), now, "")));
    }
    if let Some(reason) = &k.revoke_reason {
        rows.push(("reason", escape(reason)));
    }
    for (field, value) in rows {
        t.add_row(vec![field.to_string(), value]);
    }
    let mut out = t.to_string();
    out.push_str("\n\nRecent events:\n");
    out.push_str(&self::events(events, now));
    out
}

pub fn events(events: &[Event], now: Timestamp) -> String {
    let mut t = table(&["TIME", "EVENT", "KEY", "NAME", "ACTOR", "DETAILS"]);
    for e in events {
        t.add_row(vec![
            e.at.relative_to(now),
            e.kind.clone(),
            e.key_id.clone().unwrap_or_else(|| "-".into()),
            e.key_name.as_deref().map_or_else(|| "-".into(), escape),
            escape(&e.actor),
            escape(&details(e)),
        ]);
    }
    t.to_string()
}

/// An event's details as a sentence: "grace 24h, ends in 24h", "reason: …".
/// Times are relative to the event, so the sentence reads as it happened.
fn details(e: &Event) -> String {
    let Ok(serde_json::Value::Object(d)) = serde_json::from_str(&e.details) else {
        return e.details.clone();
    };
    let text = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let time = |k: &str| {
        text(k)
            .and_then(|t| Timestamp::parse_rfc3339(&t))
            .map_or_else(|| "never".to_string(), |t| t.relative_to(e.at))
    };
    match e.kind.as_str() {
        "created" => {
            let scopes = d
                .get("scopes")
                .and_then(|v| v.as_array())
                .map_or(0, Vec::len);
            let mut s = format!("expires {}", time("expires_at"));
            if scopes > 0 {
                let list: Vec<_> = d["scopes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .collect();
                s.push_str(&format!(", scopes {}", list.join(" ")));
            }
            if d.get("default").and_then(|v| v.as_bool()) == Some(true) {
                s.push_str(", default key");
            }
            s
        }
        "rotated" => {
            let grace = d
                .get("grace_seconds")
                .and_then(|v| v.as_i64())
                .map_or_else(String::new, |g| crate::when::short_span(g.unsigned_abs()));
            let to = e.related_key_id.as_deref().unwrap_or("?");
            if grace == "0s" {
                format!("replaced by {to}; no grace, stopped working at once")
            } else {
                format!(
                    "replaced by {to}; grace {grace}, ends {}",
                    time("grace_ends_at")
                )
            }
        }
        "grace_changed" if text("new_ends_at") == Some(e.at.rfc3339()) => {
            format!("grace ended at once (was to end {})", time("old_ends_at"))
        }
        "grace_changed" => format!(
            "grace now ends {} (was {})",
            time("new_ends_at"),
            time("old_ends_at")
        ),
        "expiry_changed" => format!(
            "expires {} (was {})",
            time("new_expires_at"),
            time("old_expires_at")
        ),
        "revoked" => match text("reason") {
            Some(r) => format!("reason: {r}"),
            None => "no reason given".to_string(),
        },
        "config_changed" => format!(
            "{}: {} -> {}",
            text("setting").unwrap_or_default(),
            text("old").unwrap_or_default(),
            text("new").unwrap_or_default()
        ),
        _ => e.details.clone(),
    }
}
