//! Human output: tables with relative times, every stored text escaped.

use comfy_table::{ContentArrangement, Table, presets};

use crate::event::Event;
use crate::key::Key;
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

/// An event's details as `field: value` pairs.
fn details(e: &Event) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&e.details) else {
        return e.details.clone();
    };
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
