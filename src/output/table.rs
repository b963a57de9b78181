//! Human output: tables with relative times, every stored text escaped.

use comfy_table::{Cell, Color, ColumnConstraint, ContentArrangement, Row, Table, Width, presets};

use crate::event::{Details, Event};
use crate::key::{Key, Status};
use crate::shown::escape;
use crate::store::DailyUsage;
use crate::text::shown_scope;
use crate::when::Timestamp;

/// How tables are drawn: in colour or not, and to what width (None: the
/// terminal's when stdout is one, else unlimited so scripts get whole lines).
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    pub color: bool,
    pub width: Option<u16>,
}

fn table(header: &[&str], layout: Layout) -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_truncation_indicator("…")
        .set_header(header.to_vec());
    if let Some(width) = layout.width {
        t.set_width(width);
    }
    t
}

/// A table as text, without the padding comfy-table leaves at the end of
/// lines (invisible at a terminal, noise in a diff or a pasted report).
fn rendered(t: &Table) -> String {
    let text = t.to_string();
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line.trim_end());
    }
    out
}

/// Keeps these columns as wide as their content: ids, statuses and times
/// are never cut; names and details give way instead.
fn fixed(t: &mut Table, columns: &[usize]) {
    for &i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
}

/// The status, with `DUE` after it when the key's rotation policy says it
/// is due.
fn status_cell(status: Status, due: bool, layout: Layout) -> Cell {
    let cell = Cell::new(if due {
        format!("{status} DUE")
    } else {
        status.to_string()
    });
    if !layout.color {
        return cell;
    }
    cell.fg(match status {
        Status::Active => Color::Green,
        Status::Grace => Color::Yellow,
        Status::Expired => Color::DarkGrey,
        Status::Revoked => Color::Red,
    })
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
    format!("{} '{}' {state}.", k.id, escape(k.name.as_str()))
}

/// The `list` table: one line per key; long names and environments are
/// shortened with … to fit the width.
pub fn keys(keys: &[Key], now: Timestamp, layout: Layout) -> String {
    let mut t = table(&KEY_COLUMNS, layout);
    for k in keys {
        let mut row = Row::from(vec![
            Cell::new(&k.id),
            Cell::new(escape(k.name.as_str())),
            Cell::new(escape(k.env.as_str())),
            status_cell(
                k.status(now),
                k.rotation_due_at(now).is_some_and(|due| due <= now),
                layout,
            ),
            Cell::new(escape(&k.masked())),
            Cell::new(k.created_at.relative_to(now)),
            Cell::new(when(k.expires_at, now, "never")),
            Cell::new(when(k.last_used_at, now, "never")),
        ]);
        row.max_height(1);
        t.add_row(row);
    }
    fixed(&mut t, &[0, 3, 4, 5, 6, 7]);
    for (column, min) in [(1, 10), (2, 8)] {
        if let Some(c) = t.column_mut(column) {
            c.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(min)));
        }
    }
    // Below 100 columns CREATED gives its room to the names (`show` has it).
    if t.width().is_some_and(|w| w < NARROW)
        && let Some(c) = t.column_mut(5)
    {
        c.set_constraint(ColumnConstraint::Hidden);
    }
    rendered(&t)
}

/// The `list` table for output that is not a terminal (no width to fit,
/// no colour), drawn from the rows read twice: their widths first
/// ([`measure`](Self::measure)), then the lines ([`write`](Self::write)).
/// The text is the same as [`keys`]'s, without holding the rows.
pub struct KeyLines {
    now: Timestamp,
    widths: [usize; KEY_COLUMNS.len()],
}

const KEY_COLUMNS: [&str; 8] = [
    "ID",
    "NAME",
    "ENV",
    "STATUS",
    "KEY",
    "CREATED",
    "EXPIRES",
    "LAST USED",
];

/// The least width of NAME and ENV, padding included (as [`keys`] sets).
const KEY_COLUMN_MIN: [usize; KEY_COLUMNS.len()] = [0, 10, 8, 0, 0, 0, 0, 0];

impl KeyLines {
    pub fn new(now: Timestamp) -> Self {
        let mut widths = [0; KEY_COLUMNS.len()];
        for (w, (header, min)) in widths
            .iter_mut()
            .zip(KEY_COLUMNS.iter().zip(KEY_COLUMN_MIN))
        {
            *w = shown_width(header).max(min.saturating_sub(2));
        }
        KeyLines { now, widths }
    }

    fn cells(&self, k: &Key) -> [String; KEY_COLUMNS.len()] {
        let now = self.now;
        let status = k.status(now);
        [
            k.id.to_string(),
            escape(k.name.as_str()),
            escape(k.env.as_str()),
            if k.rotation_due_at(now).is_some_and(|due| due <= now) {
                format!("{status} DUE")
            } else {
                status.to_string()
            },
            escape(&k.masked()),
            k.created_at.relative_to(now),
            when(k.expires_at, now, "never"),
            when(k.last_used_at, now, "never"),
        ]
    }

    /// The first pass: widens the columns to fit this key.
    pub fn measure(&mut self, k: &Key) {
        let cells = self.cells(k);
        for (w, cell) in self.widths.iter_mut().zip(cells) {
            *w = (*w).max(shown_width(&cell));
        }
    }

    /// The second pass: writes this key's line, after the header for the
    /// first key. No key measured, nothing written (as `list` prints
    /// nothing on stdout for no keys).
    pub fn write(&self, out: &mut dyn std::io::Write, k: &Key, first: bool) -> std::io::Result<()> {
        if first {
            self.line(out, KEY_COLUMNS.map(str::to_string))?;
        }
        self.line(out, self.cells(k))
    }

    fn line(
        &self,
        out: &mut dyn std::io::Write,
        cells: [String; KEY_COLUMNS.len()],
    ) -> std::io::Result<()> {
        let mut line = String::new();
        for (cell, &w) in cells.iter().zip(&self.widths) {
            line.push(' ');
            line.push_str(cell);
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(shown_width(cell)) + 1,
            ));
        }
        writeln!(out, "{}", line.trim_end())
    }
}

/// How many columns a text takes at a terminal (as comfy-table counts).
fn shown_width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// Terminals narrower than this get the compact `list` table.
const NARROW: u16 = 100;

pub fn key_detail(
    k: &Key,
    events: &[Event],
    usage: &[DailyUsage],
    now: Timestamp,
    layout: Layout,
) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(width) = layout.width {
        t.set_width(width);
    }
    let scopes = if k.scopes.is_empty() {
        "(none)".to_string()
    } else {
        k.scopes
            .iter()
            .map(|s| shown_scope(s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut rows: Vec<(&str, String)> = vec![
        ("id", k.id.to_string()),
        ("name", escape(k.name.as_str())),
        ("env", escape(k.env.as_str())),
        ("status", k.status(now).to_string()),
        ("key", escape(&k.masked())),
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
            k.rotated_from
                .as_ref()
                .map_or_else(|| "-".into(), ToString::to_string),
        ),
        (
            "rotated to",
            k.rotated_to
                .as_ref()
                .map_or_else(|| "-".into(), ToString::to_string),
        ),
    ];
    if let Some(at) = k.revoked_at {
        rows.push(("revoked", exact(Some(at), now, "")));
    }
    if let Some(reason) = &k.revoke_reason {
        rows.push(("reason", escape(reason)));
    }
    if let Some(note) = &k.note {
        rows.push(("note", escape(note)));
    }
    if let Some(every) = k.rotate_every {
        rows.push(("rotate every", crate::when::policy_text(every)));
    }
    if let Some(due) = k.rotation_due_at(now) {
        rows.push(("rotation due", exact(Some(due), now, "")));
    }
    if let Some(owner) = &k.owner {
        rows.push(("owner", escape(owner.as_str())));
    }
    if let Some(meta) = &k.meta {
        rows.push(("meta", escape(meta.as_str())));
    }
    if let Some(q) = &k.quota {
        if !q.ratelimits.is_empty() {
            let limits: Vec<String> = q.ratelimits.iter().map(ToString::to_string).collect();
            rows.push(("rate limits", limits.join(", ")));
        }
        if let Some(left) = q.credits_at(now.unix()) {
            rows.push(("credits", left.to_string()));
        }
        if let Some(r) = q.refill {
            rows.push(("refill", r.to_string()));
        }
    }
    for (field, value) in rows {
        t.add_row(vec![field.to_string(), value]);
    }
    let mut out = rendered(&t);
    if !usage.is_empty() {
        out.push_str("\n\nVerifications by serve (UTC days, last 30):\n");
        out.push_str(&self::usage(usage, now, layout));
    }
    out.push_str("\n\nRecent events:\n");
    out.push_str(&self::events(events, now, layout));
    out
}

/// The `log` table. Details wrap rather than being cut: they are the point.
pub fn events(events: &[Event], now: Timestamp, layout: Layout) -> String {
    let mut t = table(
        &["TIME", "EVENT", "KEY", "NAME", "ACTOR", "DETAILS"],
        layout,
    );
    for e in events {
        t.add_row(vec![
            e.at.relative_to(now),
            e.kind.to_string(),
            e.key_id
                .as_ref()
                .map_or_else(|| "-".into(), ToString::to_string),
            e.key_name
                .as_ref()
                .map_or_else(|| "-".into(), |n| escape(n.as_str())),
            escape(e.actor.as_str()),
            escape(&details(e)),
        ]);
    }
    fixed(&mut t, &[0, 1, 2]);
    rendered(&t)
}

/// An event's details as a sentence: "grace 24h, ends in 24h", "reason: …".
/// Times are relative to the event, so the sentence reads as it happened.
fn details(e: &Event) -> String {
    let time = |t: &Option<String>| {
        t.as_deref()
            .and_then(Timestamp::parse_rfc3339)
            .map_or_else(|| "never".to_string(), |t| t.relative_to(e.at))
    };
    match &e.details {
        Details::Created(d) => {
            let mut s = format!("expires {}", time(&d.expires_at));
            if !d.scopes.is_empty() {
                s.push_str(&format!(", scopes {}", shown_scopes(&d.scopes)));
            }
            if d.default {
                s.push_str(", default key");
            }
            s
        }
        Details::Rotated(d) => {
            let to = e
                .related_key_id
                .as_ref()
                .map_or_else(|| "?".to_string(), ToString::to_string);
            let what = if d.grace_seconds <= 0 {
                format!("replaced by {to}; no grace, stopped working at once")
            } else {
                format!(
                    "replaced by {to}; grace {}, ends {}",
                    crate::when::short_span(d.grace_seconds.unsigned_abs()),
                    time(&Some(d.grace_ends_at.clone()))
                )
            };
            match &d.reason {
                Some(r) => format!("{what}; reason: {r}"),
                None => what,
            }
        }
        Details::GraceChanged(d) if d.new_ends_at == e.at.rfc3339() => {
            let why = d
                .reason
                .as_ref()
                .map_or_else(String::new, |r| format!("; reason: {r}"));
            format!(
                "grace ended at once (was to end {}){why}",
                time(&d.old_ends_at)
            )
        }
        Details::GraceChanged(d) => format!(
            "grace now ends {} (was {})",
            time(&Some(d.new_ends_at.clone())),
            time(&d.old_ends_at)
        ),
        Details::ExpiryChanged(d) => format!(
            "expires {} (was {})",
            time(&d.new_expires_at),
            time(&d.old_expires_at)
        ),
        Details::QuotaChanged(d) => {
            let terms = |t: &crate::event::QuotaTerms| {
                let mut parts = t.ratelimits.clone();
                parts.push(match t.credits {
                    Some(n) => format!("credits {n}"),
                    None => "credits unlimited".to_string(),
                });
                if let Some(r) = &t.refill {
                    parts.push(format!("refill {r}"));
                }
                parts.join(", ")
            };
            format!("quota {} (was {})", terms(&d.new), terms(&d.old))
        }
        Details::Revoked(d) => {
            let why = match &d.reason {
                Some(r) => format!("reason: {r}"),
                None => "no reason given".to_string(),
            };
            match &d.location {
                Some(at) => format!("{why}; found at {at}"),
                None => why,
            }
        }
        Details::Updated(d) => {
            let mut changes = Vec::new();
            if d.new_name != d.old_name {
                changes.push(format!("renamed from {}", d.old_name));
            }
            let added: Vec<String> = d
                .new_scopes
                .iter()
                .filter(|s| !d.old_scopes.contains(s))
                .cloned()
                .collect();
            let removed: Vec<String> = d
                .old_scopes
                .iter()
                .filter(|s| !d.new_scopes.contains(s))
                .cloned()
                .collect();
            if !added.is_empty() {
                changes.push(format!("scopes added: {}", shown_scopes(&added)));
            }
            if !removed.is_empty() {
                changes.push(format!("scopes removed: {}", shown_scopes(&removed)));
            }
            match (&d.old_note, &d.new_note) {
                (old, new) if old == new => {}
                (_, Some(note)) => changes.push(format!("note: {note}")),
                (_, None) => changes.push("note cleared".to_string()),
            }
            match (&d.old_owner, &d.new_owner) {
                (old, new) if old == new => {}
                (_, Some(owner)) => changes.push(format!("owner: {owner}")),
                (_, None) => changes.push("owner cleared".to_string()),
            }
            match (&d.old_meta, &d.new_meta) {
                (old, new) if old == new => {}
                (_, Some(_)) => changes.push("metadata changed".to_string()),
                (_, None) => changes.push("metadata cleared".to_string()),
            }
            changes.join("; ")
        }
        Details::ConfigChanged(d) => format!("{}: {} -> {}", d.setting, d.old, d.new),
    }
}

/// serve's daily counts: a sparkline of the 30 days up to today, then one
/// row per day that has any.
fn usage(days: &[DailyUsage], now: Timestamp, layout: Layout) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let today = now.date();
    let total = |d: &DailyUsage| d.valid.saturating_add(d.invalid);
    let most = days.iter().map(total).max().unwrap_or(0).max(1);
    let spark: String = (0..30i64)
        .rev()
        .map(|back| {
            let day = today.checked_sub(time::Duration::days(back));
            match days.iter().find(|d| Some(d.day) == day) {
                None => ' ',
                Some(d) => {
                    let step = total(d).saturating_mul(7) / most;
                    BARS[usize::try_from(step).unwrap_or(7).min(7)]
                }
            }
        })
        .collect();
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(width) = layout.width {
        t.set_width(width);
    }
    t.set_header(vec!["DAY", "VALID", "INVALID"]);
    for d in days {
        t.add_row(vec![
            d.day.to_string(),
            d.valid.to_string(),
            d.invalid.to_string(),
        ]);
    }
    format!("|{spark}|\n{}", rendered(&t))
}

/// Scopes of an event, space-separated, a scope that is not a token quoted.
fn shown_scopes(scopes: &[String]) -> String {
    scopes
        .iter()
        .map(|s| shown_scope(s))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use crate::key::KeyId;
    use crate::text::{Actor, Env, Name};

    const NOW: Timestamp = Timestamp::from_unix(1_795_000_000);

    fn key(id: &str, name: &str, env: &str) -> Key {
        Key {
            id: KeyId::stored(id.to_string()),
            name: Name::stored(name.to_string()),
            env: Env::stored(env.to_string()),
            prefix: "kw".to_string(),
            hint: "a1B2".to_string(),
            scopes: vec![],
            is_default: false,
            created_at: NOW.plus_secs(-3 * 86_400),
            expires_at: None,
            own_expires_at: None,
            revoked_at: None,
            revoke_reason: None,
            last_used_at: None,
            rotated_from: None,
            rotated_to: None,
            note: None,
            rotate_every: None,
            quota_id: None,
            quota: None,
            owner: None,
            meta: None,
        }
    }

    /// The streamed table, both passes over `keys`.
    fn streamed(keys: &[Key]) -> String {
        let mut lines = KeyLines::new(NOW);
        keys.iter().for_each(|k| lines.measure(k));
        let mut out = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            lines.write(&mut out, k, i == 0).expect("write");
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_streamed_list_table_is_the_list_table() {
        let plain = Layout::default();
        let mut keys = sample();
        assert_eq!(
            streamed(&keys),
            format!("{}\n", super::keys(&keys, NOW, plain))
        );
        // Wide and narrow names, text that is escaped, wide characters, a
        // key whose rotation is due, every status.
        let mut long = key("key_cccccccccccccccc", &"n".repeat(70), "staging-eu-west-1");
        long.rotate_every = Some(86_400);
        long.prefix = "sk_live".to_string();
        keys.push(long);
        keys.push(key(
            "key_dddddddddddddddd",
            "tab\there \u{7}bell",
            "ünïcode",
        ));
        keys.push(key("key_eeeeeeeeeeeeeeee", "日本語の名前", "宇宙"));
        let mut gone = key("key_ffffffffffffffff", "x", "e");
        gone.revoked_at = Some(NOW.plus_secs(-60));
        keys.push(gone);
        let mut old = key("key_gggggggggggggggg", "y", "e");
        old.expires_at = Some(NOW.plus_secs(-60));
        keys.push(old);
        assert_eq!(
            streamed(&keys),
            format!("{}\n", super::keys(&keys, NOW, plain))
        );
        let one = &keys[..1];
        assert_eq!(streamed(one), format!("{}\n", super::keys(one, NOW, plain)));
        assert_eq!(streamed(&[]), "");
    }

    fn sample() -> Vec<Key> {
        let mut web = key("key_aaaaaaaaaaaaaaaa", "web", "prod");
        web.expires_at = Some(NOW.plus_secs(23 * 3600 + 120));
        web.last_used_at = Some(NOW.plus_secs(-300));
        let mut old = key("key_bbbbbbbbbbbbbbbb", "web", "prod");
        old.rotated_to = Some(web.id.clone());
        old.expires_at = Some(NOW.plus_secs(3600));
        let long = key(
            "key_cccccccccccccccc",
            "billing-reconciliation-nightly-export-to-the-finance-warehouse",
            "staging-eu-west",
        );
        let mut evil = key("key_dddddddddddddddd", "evil\u{1b}[31mred", "prod");
        evil.revoked_at = Some(NOW.plus_secs(-60));
        vec![web, old, long, evil]
    }

    fn trimmed(table: &str) -> Vec<String> {
        table.lines().map(|l| l.trim_end().to_string()).collect()
    }

    fn narrow() -> Layout {
        Layout {
            color: false,
            width: Some(80),
        }
    }

    #[test]
    fn list_at_80_columns_shortens_names_and_keeps_ids_and_times() {
        let out = keys(&sample(), NOW, narrow());
        assert_eq!(
            trimmed(&out),
            [
                " ID                    NAME      ENV     STATUS   KEY       EXPIRES  LAST USED",
                " key_aaaaaaaaaaaaaaaa  web       prod    active   kw_…a1B2  in 23h   5m ago",
                " key_bbbbbbbbbbbbbbbb  web       prod    grace    kw_…a1B2  in 60m   never",
                " key_cccccccccccccccc  billing…  stagi…  active   kw_…a1B2  never    never",
                r" key_dddddddddddddddd  evil\u{…  prod    revoked  kw_…a1B2  never    never",
            ]
        );
        assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    }

    #[test]
    fn list_on_a_wide_terminal_shows_created_and_whole_names() {
        let wide = Layout {
            color: false,
            width: Some(160),
        };
        let out = trimmed(&keys(&sample(), NOW, wide));
        assert!(out[0].contains("CREATED"));
        assert!(out[3].contains("billing-reconciliation-nightly-export-to-the-finance-warehouse"));
        assert!(out[3].contains("3d ago"));
    }

    #[test]
    fn without_a_width_nothing_is_cut() {
        let out = keys(&sample(), NOW, Layout::default());
        assert!(out.contains("billing-reconciliation-nightly-export-to-the-finance-warehouse"));
        assert!(
            !out.contains('…') || out.matches('…').count() == 4,
            "only the hints' …"
        );
    }

    #[test]
    fn colour_only_when_asked_and_control_characters_never_reach_the_terminal() {
        let plain = keys(&sample(), NOW, narrow());
        assert!(!plain.contains('\u{1b}'));
        let coloured = Layout {
            color: true,
            width: Some(80),
        };
        // comfy-table styles only on a terminal, so force it to see the codes.
        let mut t = table(&["STATUS"], coloured);
        t.enforce_styling();
        t.add_row(vec![status_cell(Status::Active, false, coloured)]);
        assert!(t.to_string().contains("\u{1b}["), "status is coloured");
        let shown = key_detail(&sample()[3], &[], &[], NOW, narrow());
        assert!(
            !shown.contains('\u{1b}') && shown.contains(r"evil\u{1b}[31mred"),
            "{shown}"
        );
    }

    fn event(id: i64, at: i64, kind: &str, details: &str) -> Event {
        let kind: EventKind = kind.parse().expect("kind");
        Event {
            id,
            at: NOW.plus_secs(at),
            kind,
            key_id: Some(KeyId::stored("key_aaaaaaaaaaaaaaaa".to_string())),
            related_key_id: (kind == EventKind::Rotated)
                .then(|| KeyId::stored("key_bbbbbbbbbbbbbbbb".to_string())),
            env: Some(Env::stored("prod".to_string())),
            actor: Actor::stored("ci@deploy".to_string()),
            details: Details::parse(kind, details).expect("details"),
            key_name: Some(Name::stored("web".to_string())),
        }
    }

    #[test]
    fn log_details_read_as_sentences_at_80_columns() {
        let ends = NOW.plus_secs(-3600 + 86_400).rfc3339();
        let events = [
            event(
                3,
                -60,
                "revoked",
                r#"{"reason":"leaked in ticket 42","status_before":"grace"}"#,
            ),
            event(
                2,
                -3600,
                "rotated",
                &format!(
                    r#"{{"grace_seconds":86400,"grace_ends_at":"{ends}","new_expires_at":null,"new_name":"web","old_expires_at":null}}"#
                ),
            ),
            event(
                1,
                -86_400 * 3,
                "created",
                r#"{"expires_at":null,"scopes":["read"],"default":true,"name":"web","prefix":"kw"}"#,
            ),
        ];
        assert_eq!(
            trimmed(&self::events(&events, NOW, narrow())),
            [
                " TIME     EVENT    KEY                   NAME  ACTOR      DETAILS",
                " 1m ago   revoked  key_aaaaaaaaaaaaaaaa  web   ci@deploy  reason: leaked in",
                "                                                          ticket 42",
                " 60m ago  rotated  key_aaaaaaaaaaaaaaaa  web   ci@deploy  replaced by",
                "                                                          key_bbbbbbbbbbbbbbbb;",
                "                                                          grace 24h, ends in",
                "                                                          24h",
                " 3d ago   created  key_aaaaaaaaaaaaaaaa  web   ci@deploy  expires never, scopes",
                "                                                          read, default key",
            ]
        );
    }
}
