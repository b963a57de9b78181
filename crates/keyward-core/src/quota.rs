//! Quotas: named rate limits and credits, shared by a key and its
//! successors (one pool per lineage, named by `quota_id`).
//!
//! A rate limit `LIMIT/DUR` holds over every window of its duration, not
//! over fixed buckets: what a limit admitted is counted in slots of a
//! twentieth of its duration, and a slot counts against the limit until a
//! whole duration has passed since the slot *ended*. So any window of the
//! duration holds at most LIMIT admissions (never 2× at a boundary); the
//! price is that an admission may be counted up to one slot longer than
//! its window. Credits are a count of verifications left (or unlimited),
//! refilled daily or monthly by the vault's clock.
//!
//! Everything here is pure: the store keeps the rows, the intents run
//! these rules inside one write transaction with the time it read.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

use crate::error::Error;

/// Slots per window of a rate limit.
pub const SLOTS: i64 = 20;
/// A limit's shortest and longest duration, in milliseconds.
pub const MIN_DURATION_MS: i64 = 1_000;
pub const MAX_DURATION_MS: i64 = 86_400_000;
/// The largest limit, credit count, refill or cost keyward takes.
pub const MAX_COUNT: u64 = 1_000_000_000_000;
/// Rate limits a key may have.
pub const MAX_LIMITS: usize = 16;

/// One named rate limit: at most `limit` per `duration_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ratelimit {
    pub name: CompactString,
    pub limit: u64,
    /// Milliseconds.
    pub duration_ms: i64,
}

impl Ratelimit {
    /// The width of one slot, in milliseconds.
    pub fn slot_ms(&self) -> i64 {
        (self.duration_ms / SLOTS).max(1)
    }

    /// `api=100/1m`, the form `--ratelimit` takes.
    pub fn parse(text: &str) -> Result<Ratelimit, Error> {
        let bad = |why: &str| {
            Error::usage(format!(
                "--ratelimit {}: {why} (the form is NAME=LIMIT/DURATION, e.g. api=100/1m)",
                crate::shown::quote(text)
            ))
        };
        let (name, rest) = text.split_once('=').ok_or_else(|| bad("no '='"))?;
        let (limit, duration) = rest.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let name = limit_name(name).map_err(|why| bad(&why))?;
        let limit = count(limit).filter(|n| *n >= 1).ok_or_else(|| {
            bad(&format!(
                "the limit must be a whole number from 1 to {MAX_COUNT}"
            ))
        })?;
        let duration_ms =
            duration_ms(duration).ok_or_else(|| bad("the duration must be from 1s to 1d"))?;
        Ok(Ratelimit {
            name,
            limit,
            duration_ms,
        })
    }
}

impl fmt::Display for Ratelimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={}/{}",
            self.name,
            self.limit,
            duration_text(self.duration_ms)
        )
    }
}

/// A limit's name: 1 to 64 of `A-Z a-z 0-9 _ - .`, and nothing shaped
/// like a secret (it is shown in every answer about the key).
pub fn limit_name(text: &str) -> Result<CompactString, String> {
    if crate::secret::mask(text) != text {
        return Err(format!(
            "the name {} contains what looks like a secret (never put a secret in a name)",
            crate::shown::quote(text)
        ));
    }
    let ok = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(CompactString::from(text))
    } else {
        Err(format!(
            "the name {} is not 1 to 64 letters, digits, '_', '-' or '.'",
            crate::shown::quote(text)
        ))
    }
}

/// A whole number from 0 to [`MAX_COUNT`]: digits only (no sign, no space).
pub fn count(text: &str) -> Option<u64> {
    let t = text;
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u64>().ok().filter(|n| *n <= MAX_COUNT)
}

/// `1s`..`1d` (humantime), in milliseconds.
pub fn duration_ms(text: &str) -> Option<i64> {
    let d = humantime::parse_duration(text.trim()).ok()?;
    let ms = i64::try_from(d.as_millis()).ok()?;
    (MIN_DURATION_MS..=MAX_DURATION_MS)
        .contains(&ms)
        .then_some(ms)
}

/// A duration as `--ratelimit` reads it back: `1m`, `10s`, `1h30m`.
pub fn duration_text(ms: i64) -> String {
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let mut secs = ms / 1000;
    let mut out = String::new();
    for (size, unit) in [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// When credits are refilled: every UTC day, or every month on `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Daily,
    Monthly { day: u8 },
}

/// Credits set back to `amount` at each interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refill {
    pub amount: u64,
    pub interval: Interval,
}

impl Refill {
    /// `1000/daily`, `1000/monthly`, `1000/monthly@15` (days 1 to 28).
    pub fn parse(text: &str) -> Result<Refill, Error> {
        let bad = |why: &str| {
            Error::usage(format!(
                "--refill {}: {why} (the form is N/daily, N/monthly or N/monthly@DAY)",
                crate::shown::quote(text)
            ))
        };
        let (amount, interval) = text.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let amount = count(amount).filter(|n| *n >= 1).ok_or_else(|| {
            bad(&format!(
                "the amount must be a whole number from 1 to {MAX_COUNT}"
            ))
        })?;
        let interval = match interval {
            "daily" => Interval::Daily,
            "monthly" => Interval::Monthly { day: 1 },
            other => match other
                .strip_prefix("monthly@")
                .and_then(|d| d.parse::<u8>().ok())
            {
                Some(day) if (1..=28).contains(&day) => Interval::Monthly { day },
                _ => {
                    return Err(bad(
                        "the interval is daily, monthly or monthly@DAY with DAY from 1 to 28",
                    ));
                }
            },
        };
        Ok(Refill { amount, interval })
    }

    /// The stored and shown interval: `daily`, `monthly`, `monthly@15`.
    pub fn interval_text(&self) -> String {
        match self.interval {
            Interval::Daily => "daily".into(),
            Interval::Monthly { day: 1 } => "monthly".into(),
            Interval::Monthly { day } => format!("monthly@{day}"),
        }
    }

    /// The start of the refill period holding `at` (unix seconds): the
    /// refill that should have happened last.
    pub fn period_start(&self, at: i64) -> i64 {
        let Ok(t) = OffsetDateTime::from_unix_timestamp(at) else {
            return at;
        };
        let midnight = |d: Date| d.midnight().assume_utc().unix_timestamp();
        match self.interval {
            Interval::Daily => midnight(t.date()),
            Interval::Monthly { day } => {
                let this = Date::from_calendar_date(t.year(), t.month(), day).ok();
                match this {
                    Some(d) if d <= t.date() => midnight(d),
                    _ => {
                        let (y, m) = match t.month() {
                            Month::January => (t.year() - 1, Month::December),
                            m => (t.year(), m.previous()),
                        };
                        Date::from_calendar_date(y, m, day).map_or(at, midnight)
                    }
                }
            }
        }
    }

    /// The next refill after `at` (unix seconds).
    pub fn next_after(&self, at: i64) -> i64 {
        let start = self.period_start(at);
        match self.interval {
            Interval::Daily => start + 86_400,
            Interval::Monthly { .. } => {
                // 28 to 31 days on: the first day whose period starts later.
                let mut probe = start + 28 * 86_400;
                while self.period_start(probe) == start {
                    probe += 86_400;
                }
                self.period_start(probe)
            }
        }
    }
}

impl fmt::Display for Refill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.amount, self.interval_text())
    }
}

/// A lineage's quota as the vault holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Quota {
    pub ratelimits: Vec<Ratelimit>,
    /// Credits left; None = unlimited.
    pub credits: Option<u64>,
    pub refill: Option<Refill>,
    /// When credits were last refilled (unix seconds).
    pub refilled_at: Option<i64>,
    /// Grows with every change that voids what serves hold reserved
    /// (credits set or refilled, limits changed), never with added credits.
    pub epoch: u64,
}

impl Quota {
    /// Nothing limited: the key needs no quota row.
    pub fn is_empty(&self) -> bool {
        self.ratelimits.is_empty() && self.credits.is_none() && self.refill.is_none()
    }

    pub fn limit(&self, name: &str) -> Option<&Ratelimit> {
        self.ratelimits.iter().find(|r| r.name == name)
    }

    /// The credits left at `now` (unix seconds), a refill that is due
    /// counted: what a verification then would find.
    pub fn credits_at(&self, now: i64) -> Option<u64> {
        let mut q = self.clone();
        q.refill_due(now);
        q.credits
    }

    /// Refills the credits if a refill time has passed since the last
    /// (`now` in unix seconds). Returns whether it did.
    pub fn refill_due(&mut self, now: i64) -> bool {
        let Some(refill) = self.refill else {
            return false;
        };
        let start = refill.period_start(now);
        if self.refilled_at.is_some_and(|at| at >= start) {
            return false;
        }
        self.credits = Some(refill.amount);
        self.refilled_at = Some(now);
        self.epoch += 1;
        true
    }
}

/// What a change to a quota asks for (`--ratelimit`, `--no-ratelimit`,
/// `--credits`, `--refill`, `--no-refill`, `--add-credits`); empty fields
/// change nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaChange {
    pub set_limits: Vec<Ratelimit>,
    pub remove_limits: Vec<CompactString>,
    /// Some(None) = unlimited.
    pub credits: Option<Option<u64>>,
    pub add_credits: Option<u64>,
    /// Some(None) = no refill.
    pub refill: Option<Option<Refill>>,
}

impl QuotaChange {
    pub fn is_empty(&self) -> bool {
        *self == QuotaChange::default()
    }

    /// The quota after this change, or why it cannot be made.
    pub fn apply(&self, before: &Quota, now: i64) -> Result<Quota, Error> {
        let mut q = before.clone();
        if let Some(both) = self
            .remove_limits
            .iter()
            .find(|n| self.set_limits.iter().any(|l| l.name == **n))
        {
            return Err(Error::usage(format!(
                "the rate limit {} is both set (--ratelimit) and dropped (--no-ratelimit): give one",
                crate::shown::quote(both)
            )));
        }
        for name in &self.remove_limits {
            if q.limit(name).is_none() && !self.set_limits.iter().any(|l| l.name == *name) {
                return Err(Error::usage(format!(
                    "--no-ratelimit {}: the key has no rate limit of that name",
                    crate::shown::quote(name)
                )));
            }
            q.ratelimits.retain(|r| r.name != *name);
        }
        for (i, limit) in self.set_limits.iter().enumerate() {
            if self.set_limits[..i].iter().any(|l| l.name == limit.name) {
                return Err(Error::usage(format!(
                    "--ratelimit {}: the name is given twice",
                    crate::shown::quote(&limit.name)
                )));
            }
            match q.ratelimits.iter_mut().find(|r| r.name == limit.name) {
                Some(r) => *r = limit.clone(),
                None => q.ratelimits.push(limit.clone()),
            }
        }
        if q.ratelimits.len() > MAX_LIMITS {
            return Err(Error::usage(format!(
                "a key may have at most {MAX_LIMITS} rate limits"
            )));
        }
        if let Some(credits) = self.credits {
            q.credits = credits;
        }
        if let Some(refill) = self.refill {
            q.refill = refill;
            q.refilled_at = refill.map(|_| now);
            if let (Some(r), None) = (refill, self.credits) {
                // A refill given alone starts the pool at its amount.
                q.credits = Some(r.amount);
            }
        }
        if let Some(add) = self.add_credits {
            let Some(left) = q.credits else {
                return Err(Error::usage(
                    "--add-credits: the key's credits are unlimited; set them with --credits N",
                ));
            };
            q.credits = Some(left.saturating_add(add).min(MAX_COUNT));
        }
        if q.refill.is_some() && q.credits.is_none() {
            return Err(Error::usage(
                "--refill needs limited credits: give --credits N too (or drop the refill with --no-refill)",
            ));
        }
        // What serves hold reserved is void unless credits were only added.
        let voids =
            self.credits.is_some() || self.refill.is_some() || q.ratelimits != before.ratelimits;
        if q != *before && voids {
            q.epoch = before.epoch + 1;
        }
        Ok(q)
    }
}

/// How much of a rate limit the slots hold at `now_ms`: the sum of every
/// slot that still counts (one that ended less than a duration ago). A
/// slot is named by the time it ends (milliseconds), so what a limit
/// admitted keeps counting when the limit's terms change.
pub fn used(limit: &Ratelimit, slots: &[(i64, u64)], now_ms: i64) -> u64 {
    slots
        .iter()
        .filter(|(end, _)| counts(*end, limit.duration_ms, now_ms))
        .map(|(_, n)| *n)
        .fold(0u64, u64::saturating_add)
}

fn counts(end: i64, duration_ms: i64, now_ms: i64) -> bool {
    end.saturating_add(duration_ms) > now_ms
}

/// The slot an admission at `now_ms` is counted in: when it ends.
pub fn slot_of(limit: &Ratelimit, now_ms: i64) -> i64 {
    let width = limit.slot_ms();
    now_ms
        .div_euclid(width)
        .saturating_add(1)
        .saturating_mul(width)
}

/// Slots that end before this no longer count at `now_ms` (to forget).
pub fn forget_before(limit: &Ratelimit, now_ms: i64) -> i64 {
    now_ms.saturating_sub(limit.duration_ms).saturating_add(1)
}

/// Milliseconds from `now_ms` until `cost` more would be admitted (0 if
/// they would be now; None if never, the cost being over the limit).
pub fn wait_ms(limit: &Ratelimit, slots: &[(i64, u64)], cost: u64, now_ms: i64) -> Option<i64> {
    if cost > limit.limit {
        return None;
    }
    let mut live: Vec<(i64, u64)> = slots
        .iter()
        .copied()
        .filter(|(end, _)| counts(*end, limit.duration_ms, now_ms))
        .collect();
    live.sort_unstable();
    let mut total: u64 = live.iter().map(|(_, n)| *n).fold(0, u64::saturating_add);
    if total.saturating_add(cost) <= limit.limit {
        return Some(0);
    }
    for (end, n) in live {
        total = total.saturating_sub(n);
        if total.saturating_add(cost) <= limit.limit {
            return Some((end + limit.duration_ms - now_ms).max(1));
        }
    }
    Some(limit.duration_ms)
}

/// Milliseconds from `now_ms` until the oldest counted admission stops
/// counting: when the window has room again (0 with nothing counted).
pub fn reset_ms(limit: &Ratelimit, slots: &[(i64, u64)], now_ms: i64) -> i64 {
    slots
        .iter()
        .filter(|(end, n)| *n > 0 && counts(*end, limit.duration_ms, now_ms))
        .map(|(end, _)| end + limit.duration_ms - now_ms)
        .min()
        .unwrap_or(0)
}

/// A limit's state after a verdict, as verify reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitState {
    pub limit: Ratelimit,
    pub exceeded: bool,
    pub remaining: u64,
    /// Milliseconds until the window has room again.
    pub reset_ms: i64,
    /// Milliseconds until this request would have been admitted (when exceeded).
    pub retry_ms: Option<i64>,
    /// One of the key's limits (applied to every verification), not one a
    /// call named for itself.
    pub auto_apply: bool,
}

/// What the quota said of one verification of an otherwise valid key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spent {
    /// Admitted: the limits counted it and the credits paid for it.
    pub admitted: bool,
    /// Refused for credits (else, if not admitted, for a limit).
    pub out_of_credits: bool,
    pub limits: Vec<LimitState>,
    /// Credits left after it; None = unlimited.
    pub credits: Option<u64>,
    /// A limit the request named that the key lacks, given without a limit
    /// and duration: nothing was judged or spent.
    pub unknown_limit: Option<String>,
}

impl Spent {
    /// Seconds a client should wait before trying again, when refused by a
    /// limit (rounded up).
    pub fn retry_after_secs(&self) -> Option<i64> {
        self.limits
            .iter()
            .filter(|l| l.exceeded)
            .filter_map(|l| l.retry_ms)
            .max()
            .map(|ms| (ms + 999) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(text: &str) -> Ratelimit {
        Ratelimit::parse(text).expect("parses")
    }

    #[test]
    fn a_ratelimit_reads_name_limit_and_duration() {
        let l = limit("api=100/1m");
        assert_eq!(
            (l.name.as_str(), l.limit, l.duration_ms),
            ("api", 100, 60_000)
        );
        assert_eq!(l.to_string(), "api=100/1m");
        assert_eq!(limit("burst=10/1s").to_string(), "burst=10/1s");
        assert_eq!(limit("day=5/1d").duration_ms, 86_400_000);
        assert_eq!(limit("x=1/90m").to_string(), "x=1/1h30m");
    }

    #[test]
    fn a_ratelimit_out_of_range_or_misspelt_is_refused() {
        for bad in [
            "api",
            "api=",
            "=1/1m",
            "api=0/1m",
            "api=-1/1m",
            "api=1.5/1m",
            "api=1/0s",
            "api=1/500ms",
            "api=1/2d",
            "api=1/soon",
            "a b=1/1m",
            "api=99999999999999999999/1m",
            "api=1",
        ] {
            assert!(Ratelimit::parse(bad).is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn a_refill_reads_daily_monthly_and_a_day() {
        let r = Refill::parse("1000/daily").expect("daily");
        assert_eq!((r.amount, r.interval), (1000, Interval::Daily));
        assert_eq!(
            Refill::parse("5/monthly").expect("monthly").interval,
            Interval::Monthly { day: 1 }
        );
        assert_eq!(
            Refill::parse("5/monthly@15").expect("15").to_string(),
            "5/monthly@15"
        );
        for bad in [
            "5",
            "0/daily",
            "5/weekly",
            "5/monthly@0",
            "5/monthly@29",
            "x/daily",
        ] {
            assert!(Refill::parse(bad).is_err(), "{bad} was taken");
        }
    }

    fn at(text: &str) -> i64 {
        crate::when::Timestamp::parse_rfc3339(text)
            .expect("time")
            .unix()
    }

    #[test]
    fn refills_fall_on_utc_midnight_or_the_months_day() {
        let daily = Refill::parse("1/daily").expect("daily");
        assert_eq!(
            daily.period_start(at("2026-12-01T16:00:00Z")),
            at("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            daily.next_after(at("2026-12-01T16:00:00Z")),
            at("2026-12-02T00:00:00Z")
        );
        let monthly = Refill::parse("1/monthly@15").expect("monthly");
        assert_eq!(
            monthly.period_start(at("2026-12-01T16:00:00Z")),
            at("2026-11-15T00:00:00Z")
        );
        assert_eq!(
            monthly.period_start(at("2026-12-15T00:00:00Z")),
            at("2026-12-15T00:00:00Z")
        );
        assert_eq!(
            monthly.period_start(at("2026-01-03T00:00:00Z")),
            at("2025-12-15T00:00:00Z")
        );
        assert_eq!(
            monthly.next_after(at("2026-12-01T16:00:00Z")),
            at("2026-12-15T00:00:00Z")
        );
        assert_eq!(
            monthly.next_after(at("2026-12-20T16:00:00Z")),
            at("2027-01-15T00:00:00Z")
        );
    }

    #[test]
    fn credits_refill_once_a_period() {
        let mut q = Quota {
            credits: Some(0),
            refill: Some(Refill::parse("10/daily").expect("daily")),
            refilled_at: Some(at("2026-12-01T08:00:00Z")),
            ..Quota::default()
        };
        assert!(!q.refill_due(at("2026-12-01T23:59:59Z")));
        assert_eq!(q.credits, Some(0));
        assert!(q.refill_due(at("2026-12-02T00:00:00Z")));
        assert_eq!(q.credits, Some(10));
        assert!(!q.refill_due(at("2026-12-02T10:00:00Z")));
    }

    #[test]
    fn a_window_slides_instead_of_resetting_at_a_boundary() {
        // 10 per minute, all admitted at 59.9 s: none more until they are a
        // minute old, though a fixed minute boundary passes at 60 s.
        let l = limit("api=10/1m");
        let t0 = 59_900;
        let slots = vec![(slot_of(&l, t0), 10)];
        assert_eq!(used(&l, &slots, t0), 10);
        assert_eq!(used(&l, &slots, 60_100), 10);
        assert_eq!(
            used(&l, &slots, t0 + 60_000),
            10,
            "still within a minute of its slot's end"
        );
        let free = t0 + wait_ms(&l, &slots, 1, t0).expect("room later");
        assert!(
            free > t0 + 60_000 && free <= t0 + 60_000 + l.slot_ms(),
            "{free}"
        );
        assert_eq!(used(&l, &slots, free), 0);
        assert_eq!(used(&l, &slots, free - 1), 10);
    }

    #[test]
    fn any_window_of_the_duration_holds_at_most_the_limit() {
        // Admit greedily whenever the rule allows, at every 7 ms for 5
        // minutes, then count every window of the duration.
        let l = limit("api=50/10s");
        let mut slots: Vec<(i64, u64)> = Vec::new();
        let mut admitted = Vec::new();
        for now in (0..300_000).step_by(7) {
            if used(&l, &slots, now) < l.limit {
                let s = slot_of(&l, now);
                match slots.iter_mut().find(|(x, _)| *x == s) {
                    Some((_, n)) => *n += 1,
                    None => slots.push((s, 1)),
                }
                admitted.push(now);
            }
        }
        assert!(
            admitted.len() > 1000,
            "the limit admits its share: {}",
            admitted.len()
        );
        for (i, start) in admitted.iter().enumerate() {
            let within = admitted[i..]
                .iter()
                .take_while(|t| **t < start + l.duration_ms)
                .count();
            assert!(within <= 50, "{within} admitted in the 10 s from {start}");
        }
    }

    #[test]
    fn a_cost_over_the_limit_is_never_admitted() {
        let l = limit("api=5/1s");
        assert_eq!(wait_ms(&l, &[], 6, 0), None);
        assert_eq!(wait_ms(&l, &[], 5, 0), Some(0));
    }

    #[test]
    fn changes_apply_in_order_and_refuse_what_cannot_be() {
        let none = Quota::default();
        let q = QuotaChange {
            set_limits: vec![limit("api=100/1m")],
            credits: Some(Some(50)),
            ..QuotaChange::default()
        }
        .apply(&none, 0)
        .expect("applies");
        assert_eq!(q.credits, Some(50));
        let more = QuotaChange {
            add_credits: Some(25),
            remove_limits: vec!["api".into()],
            ..QuotaChange::default()
        }
        .apply(&q, 0)
        .expect("applies");
        assert_eq!((more.credits, more.ratelimits.len()), (Some(75), 0));
        let unknown = QuotaChange {
            remove_limits: vec!["nope".into()],
            ..QuotaChange::default()
        };
        assert!(unknown.apply(&q, 0).is_err());
        let add_to_unlimited = QuotaChange {
            add_credits: Some(1),
            ..QuotaChange::default()
        };
        assert!(add_to_unlimited.apply(&none, 0).is_err());
        let twice = QuotaChange {
            set_limits: vec![limit("a=1/1s"), limit("a=2/1s")],
            ..QuotaChange::default()
        };
        assert!(twice.apply(&none, 0).is_err());
        let refill_alone = QuotaChange {
            refill: Some(Some(Refill::parse("10/daily").expect("r"))),
            ..QuotaChange::default()
        }
        .apply(&none, 7)
        .expect("a refill starts the pool");
        assert_eq!(
            (refill_alone.credits, refill_alone.refilled_at),
            (Some(10), Some(7))
        );
    }
}
