//! Times and durations as the user writes them: `now`, `never`, humantime
//! durations (`90s`, `24h`, `1h 30m`, `3d`) and RFC 3339 times in the future,
//! up to ten years ahead. Nothing here reads the clock: `now` is passed in,
//! or a [`Clock`] that the vault reads while it holds its write lock.

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;
use crate::shown::quote;

/// A point in time, in whole seconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// The furthest ahead a duration or time may reach: ten years, leap days included.
pub const MAX_AHEAD_SECS: i64 = 3653 * 86_400;

const EXAMPLES: &str = "try 24h, 3d, 1h 30m or 2030-01-01T00:00:00Z";

impl Timestamp {
    pub const fn from_unix(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// A time read from storage: None unless it is a date RFC 3339 can
    /// show (years 1 to 9999).
    pub fn checked_from_unix(secs: i64) -> Option<Self> {
        let t = OffsetDateTime::from_unix_timestamp(secs).ok()?;
        (1..=9999).contains(&t.year()).then_some(Timestamp(secs))
    }

    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The system clock, truncated to seconds. Only `main` calls this.
    pub fn now_utc() -> Self {
        Timestamp(unix_floor(std::time::SystemTime::now(), 1_000_000_000))
    }

    pub fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs))
    }

    /// Parses an RFC 3339 time (any offset) into UTC seconds.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(|t| Timestamp(t.unix_timestamp()))
    }

    /// The UTC day this time falls on.
    pub fn date(self) -> time::Date {
        OffsetDateTime::from_unix_timestamp(self.0)
            .map(OffsetDateTime::date)
            .unwrap_or(time::Date::MIN)
    }

    /// RFC 3339 in UTC with a `Z`, e.g. `2026-11-23T10:00:00Z`.
    pub fn rfc3339(self) -> String {
        match OffsetDateTime::from_unix_timestamp(self.0) {
            Ok(t) => t.format(&Rfc3339).unwrap_or_else(|_| self.0.to_string()),
            Err(_) => self.0.to_string(),
        }
    }

    /// "in 23h", "5m ago", "now": the largest unit, rounded to the nearest.
    pub fn relative_to(self, now: Timestamp) -> String {
        let delta = self.0 - now.0;
        if delta.abs() < 1 {
            return "now".to_string();
        }
        let span = short_span(delta.unsigned_abs());
        if delta > 0 {
            format!("in {span}")
        } else {
            format!("{span} ago")
        }
    }
}

/// Where the time comes from. The vault asks it once a write holds the
/// lock, so that waiting for the lock or at a prompt never judges a key by
/// a time that has passed.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    /// The time in milliseconds since the epoch (rate limits' windows).
    fn now_ms(&self) -> i64 {
        self.now().unix().saturating_mul(1000)
    }
    /// A clock stopped at one time (tests): it is the time, whatever a
    /// vault's own clock says.
    fn pinned(&self) -> bool {
        false
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now_utc()
    }

    fn now_ms(&self) -> i64 {
        unix_floor(std::time::SystemTime::now(), 1_000_000)
    }
}

/// A time as whole units of `unit_ns` nanoseconds since the Unix epoch,
/// rounded down (so a time before it is negative), without a calendar.
fn unix_floor(at: std::time::SystemTime, unit_ns: u128) -> i64 {
    let whole = |d: std::time::Duration, up: bool| {
        let n = d.as_nanos() / unit_ns + u128::from(up && !d.as_nanos().is_multiple_of(unit_ns));
        i64::try_from(n).unwrap_or(i64::MAX)
    };
    match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => whole(after, false),
        Err(before) => -whole(before.duration(), true),
    }
}

/// A clock stopped at one time, for tests (and `KEYWARD_NOW` in debug builds).
impl Clock for Timestamp {
    fn now(&self) -> Timestamp {
        *self
    }

    fn pinned(&self) -> bool {
        true
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// A span as one unit, rounded to the nearest: `45s`, `5m`, `36h`, `90d`,
/// `2y`. A unit is used from two of it on (hours up to 48h, days up to 2y)
/// and the count is rounded to the nearest, so a 90-day key reads "90d" a
/// few seconds after it was made, not "89d", and `list` agrees with the
/// rotate message.
pub fn short_span(secs: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (365 * 86_400, "y"),
        (86_400, "d"),
        (3_600, "h"),
        (60, "m"),
        (1, "s"),
    ];
    for (size, unit) in UNITS {
        // A span a second or so short of two units (a 2h expiry read a
        // moment later) still takes the unit: the slack is 1% of it.
        if secs + size / 100 >= 2 * size || (size <= 60 && secs >= size) {
            return format!("{}{unit}", (secs + size / 2) / size);
        }
    }
    "0s".to_string()
}

/// A time given on the command line, kept in the form it was given, so
/// that a duration counts from the `now` at which a write holds the lock,
/// not from when the command started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// This many seconds after `now` (0 = now).
    After(i64),
    At(Timestamp),
}

impl Moment {
    pub fn at(self, now: Timestamp) -> Timestamp {
        match self {
            Moment::After(secs) => now.plus_secs(secs),
            Moment::At(t) => t,
        }
    }
}

/// A key's expiry as asked for: never, or a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Never,
    At(Moment),
}

impl Expiry {
    pub fn at(self, now: Timestamp) -> Option<Timestamp> {
        match self {
            Expiry::Never => None,
            Expiry::At(m) => Some(m.at(now)),
        }
    }
}

/// Parses a point in time that must not be in the past: `now`, a duration
/// from `now`, or an RFC 3339 time. `never` is not accepted here.
pub fn parse_moment(value: &str, now: Timestamp) -> Result<Timestamp, Error> {
    parse_span(value, now).map(|m| m.at(now))
}

/// As [`parse_moment`], keeping the form: a duration stays a duration.
pub fn parse_span(value: &str, now: Timestamp) -> Result<Moment, Error> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("now") {
        return Ok(Moment::After(0));
    }
    if v.eq_ignore_ascii_case("never") {
        return Err(Error::usage(format!(
            "'{}' is not allowed here: this must end, so give a duration or time ({EXAMPLES}) or now",
            quote(value)
        )));
    }
    if let Some(at) = Timestamp::parse_rfc3339(v) {
        if at < now {
            return Err(Error::usage(format!(
                "'{}' is in the past: give a future time or a duration ({EXAMPLES})",
                quote(value)
            )));
        }
        return within_limit(value, at, now).map(Moment::At);
    }
    duration_secs(
        value,
        EXAMPLES,
        &format!("a duration or time: {EXAMPLES}, now or never"),
    )
    .map(Moment::After)
}

/// A duration, in seconds, for a flag that takes nothing else (no time, no
/// `never`; `now` is 0); `what` is what the flag takes, for the messages.
pub fn parse_duration(value: &str, what: &str) -> Result<i64, Error> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("now") {
        return Ok(0);
    }
    if v.eq_ignore_ascii_case("never") || Timestamp::parse_rfc3339(v).is_some() {
        return Err(Error::usage(format!(
            "'{}' is not a duration: {what}",
            quote(value)
        )));
    }
    duration_secs(value, what, &format!("a duration: {what}"))
}

/// `value` (trimmed: `v`) as a forward duration; `hint` follows a refusal,
/// `not_one` says what an unreadable value is not.
fn duration_secs(value: &str, hint: &str, not_one: &str) -> Result<i64, Error> {
    let v = value.trim();
    if v.starts_with('-') {
        return Err(Error::usage(format!(
            "'{}' is negative: durations count forward from now ({hint})",
            quote(value)
        )));
    }
    refuse_ambiguous_units(value, v)?;
    let dur = humantime::parse_duration(v)
        .map_err(|_| Error::usage(format!("'{}' is not {not_one}", quote(value))))?;
    let secs = i64::try_from(dur.as_secs()).unwrap_or(i64::MAX);
    if secs > MAX_AHEAD_SECS {
        return Err(too_far(value));
    }
    Ok(secs)
}

/// The rotation periods keyward accepts and stores, in seconds.
pub const POLICY_RANGE: std::ops::RangeInclusive<i64> = 60..=MAX_AHEAD_SECS;

/// Parses a rotation policy for `flag`: `never` (None), or a duration of
/// at least a minute and at most 10 years, in seconds.
pub fn parse_policy(flag: &str, value: &str) -> Result<Option<i64>, Error> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    let usage = || {
        Error::usage(format!(
            "{flag} '{}' is not a rotation period: give a duration from 1m to 10 years (30d, 90d, 12w) or never",
            quote(value)
        ))
    };
    if v.starts_with('-') || Timestamp::parse_rfc3339(v).is_some() {
        return Err(usage());
    }
    refuse_ambiguous_units(value, v)?;
    let secs = humantime::parse_duration(v)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .ok_or_else(usage)?;
    if !POLICY_RANGE.contains(&secs) {
        return Err(usage());
    }
    Ok(Some(secs))
}

/// A rotation period as keyward writes it, exactly, in the units it is
/// typed in: `30d`, `1d 12h`, `1h 30m`. (humantime's own form says
/// `30days`, and turns 31 days into months and hours.) It parses back to
/// the same number of seconds.
pub fn policy_text(secs: i64) -> String {
    let mut left = u64::try_from(secs).unwrap_or(0);
    let mut parts = Vec::new();
    for (size, unit) in [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")] {
        if left >= size {
            parts.push(format!("{}{unit}", left / size));
            left %= size;
        }
    }
    if parts.is_empty() {
        return "0s".to_string();
    }
    parts.join(" ")
}

/// Parses a new expiry for `flag`: `never`, or a time after `now` (`now`
/// itself, `0s` and past times are refused: ending a key at once is
/// `revoke` or `rotate --grace now`).
pub fn parse_expiry(flag: &str, value: &str, now: Timestamp) -> Result<Expiry, Error> {
    if value.trim().eq_ignore_ascii_case("never") {
        return Ok(Expiry::Never);
    }
    let moment = parse_span(value, now)?;
    if moment.at(now) <= now {
        return Err(Error::usage(format!(
            "{flag} '{}' is not in the future: a key's expiry must be later than now \
             (try 30d, 90d or never; to end a key at once use revoke or rotate --grace now)",
            quote(value)
        )));
    }
    Ok(Expiry::At(moment))
}

/// humantime reads `M` as months, which a person writing `1M` may mean as
/// a minute: refused, naming both spellings.
fn refuse_ambiguous_units(value: &str, v: &str) -> Result<(), Error> {
    let mut units = v.split(|c: char| !c.is_ascii_alphabetic());
    if units.any(|unit| unit == "M") {
        return Err(Error::usage(format!(
            "'{}' is ambiguous: M could mean months or minutes; write 30d for a month or 1m for a minute",
            quote(value)
        )));
    }
    Ok(())
}

/// Parses the start of a window that ends now: a duration ago (`24h`,
/// `7d`) or an RFC 3339 time.
pub fn parse_since(value: &str, now: Timestamp) -> Result<Timestamp, Error> {
    let v = value.trim();
    if let Some(at) = Timestamp::parse_rfc3339(v) {
        return Ok(at);
    }
    refuse_ambiguous_units(value, v)?;
    let dur = humantime::parse_duration(v)
        .ok()
        .filter(|_| !v.starts_with('-'))
        .ok_or_else(|| {
            Error::usage(format!(
                "'{}' is not a duration or time: try 24h, 7d or 2026-01-01T00:00:00Z",
                quote(value)
            ))
        })?;
    let secs = i64::try_from(dur.as_secs()).unwrap_or(i64::MAX);
    Ok(now.plus_secs(-secs))
}

fn within_limit(value: &str, at: Timestamp, now: Timestamp) -> Result<Timestamp, Error> {
    if at.unix() - now.unix() > MAX_AHEAD_SECS {
        return Err(too_far(value));
    }
    Ok(at)
}

fn too_far(value: &str) -> Error {
    Error::usage(format!(
        "'{}' is more than 10 years away: {EXAMPLES}",
        quote(value)
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clock_counts_whole_units_since_the_epoch_rounded_down() {
        use std::time::{Duration, UNIX_EPOCH};
        for (at, ns) in [
            (
                UNIX_EPOCH + Duration::new(1_796_000_000, 999_999_999),
                1_796_000_000_999_999_999i128,
            ),
            (UNIX_EPOCH + Duration::new(0, 0), 0),
            (UNIX_EPOCH - Duration::new(0, 1), -1),
            (UNIX_EPOCH - Duration::new(5, 0), -5_000_000_000),
            (UNIX_EPOCH - Duration::new(5, 500_000_000), -5_500_000_000),
        ] {
            let formatter = OffsetDateTime::from(at);
            assert_eq!(
                super::unix_floor(at, 1_000_000_000),
                formatter.unix_timestamp()
            );
            assert_eq!(
                i128::from(super::unix_floor(at, 1_000_000)),
                formatter.unix_timestamp_nanos().div_euclid(1_000_000)
            );
            assert_eq!(formatter.unix_timestamp_nanos(), ns);
        }
    }

    use super::*;

    const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

    fn moment(s: &str) -> Result<i64, String> {
        parse_moment(s, NOW)
            .map(|t| t.unix() - NOW.unix())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn now_is_now() {
        assert_eq!(moment("now"), Ok(0));
        assert_eq!(moment(" NOW "), Ok(0));
    }

    #[test]
    fn humantime_durations_count_from_now() {
        assert_eq!(moment("90s"), Ok(90));
        assert_eq!(moment("15m"), Ok(900));
        assert_eq!(moment("24h"), Ok(86_400));
        assert_eq!(moment("3d"), Ok(3 * 86_400));
        assert_eq!(moment("1w"), Ok(7 * 86_400));
        assert_eq!(moment("1h 30m"), Ok(5_400));
    }

    #[test]
    fn rfc3339_future_times_are_accepted_in_any_offset() {
        let at = Timestamp::from_unix(NOW.unix() + 3_600);
        assert_eq!(parse_moment(&at.rfc3339(), NOW), Ok(at));
        let offset = "2027-01-15T09:00:00+01:00";
        let utc = Timestamp::parse_rfc3339("2027-01-15T08:00:00Z");
        assert_eq!(parse_moment(offset, NOW).ok(), utc);
    }

    #[test]
    fn bad_values_are_usage_errors_quoting_the_value() {
        for bad in [
            "-1h",
            "yesterday",
            "",
            "1 fortnight",
            "2001-01-01T00:00:00Z",
            "11y",
            "99999999999999999999s",
        ] {
            let err = parse_moment(bad, NOW).expect_err(bad);
            assert!(matches!(err, Error::Usage(_)), "{bad}: {err}");
            assert!(
                err.to_string().contains(&format!("'{bad}'")),
                "{bad}: {err}"
            );
            assert!(
                err.to_string().contains("24h"),
                "{bad}: no example in {err}"
            );
        }
    }

    #[test]
    fn ten_years_is_the_limit() {
        assert!(moment("3653d").is_ok());
        assert!(moment("3654d").is_err());
        let far = Timestamp::from_unix(NOW.unix() + MAX_AHEAD_SECS + 1).rfc3339();
        assert!(parse_moment(&far, NOW).is_err());
    }

    #[test]
    fn never_is_an_expiry_but_not_a_moment() {
        assert_eq!(parse_expiry("--expires", "never", NOW), Ok(Expiry::Never));
        assert!(parse_moment("never", NOW).is_err());
        let one_hour = parse_expiry("--expires", "1h", NOW).expect("1h");
        assert_eq!(one_hour, Expiry::At(Moment::After(3_600)));
        assert_eq!(one_hour.at(NOW.plus_secs(10)), Some(NOW.plus_secs(3_610)));
    }

    #[test]
    fn control_characters_in_bad_values_are_escaped() {
        let err = parse_moment("1h\x1b[31m", NOW).expect_err("escape");
        assert!(!err.to_string().contains('\x1b'));
    }

    #[test]
    fn capital_m_is_refused_as_ambiguous() {
        for bad in ["1M", "2M 3d", "1h 1M"] {
            let err = parse_moment(bad, NOW).expect_err(bad).to_string();
            assert!(err.contains("30d") && err.contains("1m"), "{err}");
            assert!(parse_since(bad, NOW).is_err());
        }
        assert_eq!(moment("1m"), Ok(60));
        assert_eq!(moment("1month"), Ok(2_630_016), "spelled out, it is clear");
    }

    #[test]
    fn an_expiry_must_be_in_the_future() {
        for bad in ["now", "0s", "0m"] {
            let err = parse_expiry("--expires", bad, NOW)
                .expect_err(bad)
                .to_string();
            assert!(err.contains(&format!("--expires '{bad}'")), "{err}");
        }
        assert_eq!(
            parse_expiry("--expires", "1s", NOW),
            Ok(Expiry::At(Moment::After(1)))
        );
    }

    #[test]
    fn since_counts_back_from_now_or_takes_a_time() {
        assert_eq!(parse_since("24h", NOW), Ok(NOW.plus_secs(-86_400)));
        assert_eq!(
            parse_since("2020-01-01T00:00:00Z", NOW),
            Ok(Timestamp::parse_rfc3339("2020-01-01T00:00:00Z").expect("time"))
        );
        for bad in ["-1h", "last week", ""] {
            let err = parse_since(bad, NOW).expect_err(bad);
            assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]

            /// Any input either parses to a time from now to ten years ahead,
            /// or is a usage error that quotes it, escaped.
            #[test]
            fn moments_are_in_range_or_a_usage_error(s in any::<String>()) {
                match parse_moment(&s, NOW) {
                    Ok(t) => prop_assert!(t >= NOW && t.unix() - NOW.unix() <= MAX_AHEAD_SECS),
                    Err(Error::Usage(msg)) => {
                        let quoted = format!("'{}'", quote(&s));
                        prop_assert!(msg.contains(&quoted), "{}", msg);
                        prop_assert!(!msg.chars().any(char::is_control));
                    }
                    Err(other) => prop_assert!(false, "unexpected {:?}", other),
                }
                let _ = parse_expiry("--expires", &s, NOW);
                let _ = parse_since(&s, NOW);
            }

            #[test]
            fn durations_count_exactly_from_now(secs in 0u64..=MAX_AHEAD_SECS as u64) {
                let text = humantime::format_duration(std::time::Duration::from_secs(secs)).to_string();
                prop_assert_eq!(parse_moment(&text, NOW), Ok(NOW.plus_secs(secs as i64)));
                prop_assert_eq!(parse_since(&text, NOW), Ok(NOW.plus_secs(-(secs as i64))));
            }

            #[test]
            fn rfc3339_times_round_trip(secs in 0i64..=MAX_AHEAD_SECS) {
                let at = NOW.plus_secs(secs);
                prop_assert_eq!(parse_moment(&at.rfc3339(), NOW), Ok(at));
            }
        }
    }

    #[test]
    fn relative_times_use_the_largest_unit() {
        assert_eq!(
            NOW.plus_secs(23 * 3600 + 59 * 60).relative_to(NOW),
            "in 24h"
        );
        assert_eq!(
            NOW.plus_secs(23 * 3600 + 20 * 60).relative_to(NOW),
            "in 23h"
        );
        assert_eq!(
            NOW.plus_secs(90 * 86_400 - 5).relative_to(NOW),
            "in 90d",
            "a 90-day key seconds after it was made"
        );
        assert_eq!(NOW.plus_secs(-300).relative_to(NOW), "5m ago");
        assert_eq!(NOW.relative_to(NOW), "now");
        assert_eq!(NOW.plus_secs(3 * 86_400).relative_to(NOW), "in 3d");
        assert_eq!(NOW.plus_secs(86_400).relative_to(NOW), "in 24h");
        assert_eq!(NOW.plus_secs(36 * 3600).relative_to(NOW), "in 36h");
        assert_eq!(NOW.plus_secs(90).relative_to(NOW), "in 2m");
        assert_eq!(NOW.plus_secs(89).relative_to(NOW), "in 1m");
        assert_eq!(NOW.plus_secs(2 * 3600 - 2).relative_to(NOW), "in 2h");
        assert_eq!(NOW.plus_secs(48 * 3600 - 2).relative_to(NOW), "in 2d");
        assert_eq!(NOW.plus_secs(730 * 86_400 - 2).relative_to(NOW), "in 2y");
        assert_eq!(NOW.plus_secs(400 * 86_400).relative_to(NOW), "in 400d");
    }

    #[test]
    fn rfc3339_output_is_utc_with_z() {
        assert_eq!(Timestamp::from_unix(0).rfc3339(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn policy_text_is_short_exact_and_parses_back() {
        for (secs, text) in [
            (30 * 86_400, "30d"),
            (31 * 86_400, "31d"),
            (365 * 86_400, "365d"),
            (86_400 + 12 * 3_600, "1d 12h"),
            (5_400, "1h 30m"),
            (90_061, "1d 1h 1m 1s"),
            (45, "45s"),
        ] {
            assert_eq!(policy_text(secs), text);
            let back = humantime::parse_duration(text).expect("parses");
            assert_eq!(
                back.as_secs(),
                u64::try_from(secs).expect("positive"),
                "{text}"
            );
        }
    }
}
