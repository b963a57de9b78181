//! `/metrics`: verifications by code, request latency, vault errors, in
//! the Prometheus (OpenMetrics) text format. Labels are drawn from fixed
//! sets (codes, route names): never a secret, a key or a raw path.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyward_core::striped::Striped;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::routes::Route;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct ResponseLabel {
    route: &'static str,
    status: u16,
}

/// The statuses serve answers with, each counted without a lookup.
const STATUSES: [u16; 12] = [200, 400, 401, 403, 404, 405, 408, 413, 415, 429, 431, 503];

/// The verification codes, each counted without a lookup (and shown from
/// the start, at 0).
const CODES: [&str; 9] = [
    "VALID",
    "API_KEY_MISSING",
    "API_KEY_INVALID",
    "API_KEY_EXPIRED",
    "API_KEY_REVOKED",
    "INSUFFICIENT_SCOPE",
    "RATE_LIMITED",
    "USAGE_EXCEEDED",
    "VAULT_UNAVAILABLE",
];

const ROUTES: usize = Route::ALL.len();

/// The latency histogram's upper bounds: 50 µs, doubling, 15 of them (to
/// about 0.8 s), then +Inf.
const BUCKETS: usize = 15;
const FIRST_BOUND_NS: u64 = 50_000;

/// The bucket a latency falls in (`le`: at most its bound).
fn bucket(ns: u64) -> usize {
    let q = ns.saturating_sub(1) / FIRST_BOUND_NS;
    ((u64::BITS - q.leading_zeros()) as usize).min(BUCKETS)
}

/// What requests count, per thread: plain atomic counters in fixed places
/// (a request adds to its own thread's, without a lookup or a lock).
struct Counts {
    codes: [AtomicU64; CODES.len()],
    responses: [[AtomicU64; STATUSES.len()]; ROUTES],
    /// Per bucket (not cumulative); the last is +Inf.
    latency: [[AtomicU64; BUCKETS + 1]; ROUTES],
    latency_ns: [AtomicU64; ROUTES],
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            codes: std::array::from_fn(|_| AtomicU64::new(0)),
            responses: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            latency: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            latency_ns: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Everything `verifications`, `request_duration_seconds` and `responses`
/// show: the threads' counts, summed when scraped, and the rare series
/// outside the fixed places.
#[derive(Default)]
struct Requests {
    counts: Striped<Counts>,
    other_codes: Mutex<BTreeMap<&'static str, u64>>,
    other_responses: Mutex<BTreeMap<ResponseLabel, u64>>,
}

impl std::fmt::Debug for Requests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Requests")
    }
}

fn sum(counts: &Striped<Counts>, one: impl Fn(&Counts) -> &AtomicU64) -> u64 {
    counts
        .iter()
        .map(|c| one(c).load(Ordering::Relaxed))
        .fold(0, u64::wrapping_add)
}

impl Collector for Requests {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let counts = &self.counts;
        {
            let mut family = encoder.encode_descriptor(
                "verifications",
                "Verifications answered, by code (VALID, API_KEY_INVALID, ...)",
                None,
                MetricType::Counter,
            )?;
            let other = self.other_codes.lock().unwrap_or_else(|e| e.into_inner());
            let fixed = CODES
                .iter()
                .enumerate()
                .map(|(i, &code)| (code, sum(counts, |c| &c.codes[i])));
            for (code, n) in fixed.chain(other.iter().map(|(c, n)| (*c, *n))) {
                family
                    .encode_family(&CodeLabel { code })?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }
        {
            let mut family = encoder.encode_descriptor(
                "request_duration_seconds",
                "Time from a request's head to its response, by route",
                None,
                MetricType::Histogram,
            )?;
            for (r, route) in Route::ALL.iter().enumerate() {
                let mut buckets = Vec::with_capacity(BUCKETS + 1);
                let mut count = 0u64;
                for b in 0..=BUCKETS {
                    let n = sum(counts, |c| &c.latency[r][b]);
                    count = count.wrapping_add(n);
                    let bound = match b {
                        BUCKETS => f64::INFINITY,
                        b => (FIRST_BOUND_NS << b) as f64 / 1e9,
                    };
                    buckets.push((bound, n));
                }
                let seconds = sum(counts, |c| &c.latency_ns[r]) as f64 / 1e9;
                family
                    .encode_family(&RouteLabel {
                        route: route.name(),
                    })?
                    .encode_histogram::<NoLabelSet>(seconds, count, &buckets, None)?;
            }
        }
        let mut responses: BTreeMap<ResponseLabel, u64> = self
            .other_responses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (r, route) in Route::ALL.iter().enumerate() {
            for (s, &status) in STATUSES.iter().enumerate() {
                let n = sum(counts, |c| &c.responses[r][s]);
                if n > 0 {
                    let label = ResponseLabel {
                        route: route.name(),
                        status,
                    };
                    *responses.entry(label).or_default() += n;
                }
            }
        }
        // A series shows once it counts (none before the first response);
        // the family is described from the start.
        let mut family = encoder.encode_descriptor(
            "responses",
            "HTTP responses, by route and status",
            None,
            MetricType::Counter,
        )?;
        for (label, n) in &responses {
            family
                .encode_family(label)?
                .encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }
        Ok(())
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Arc<Requests>,
    vault_errors: Counter,
    keys_reloaded: Counter,
    reserved: Gauge,
    github_keys_failed: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("keyward");
        let requests = Arc::new(Requests::default());
        let vault_errors = Counter::default();
        let keys_reloaded = Counter::default();
        let reserved = Gauge::default();
        let github_keys_failed = Counter::default();
        registry.register_collector(Box::new(Arc::clone(&requests)));
        registry.register(
            "vault_errors",
            "Requests that could not be answered because the vault could not be read",
            vault_errors.clone(),
        );
        registry.register(
            "keys_reloaded",
            "Keys read again from the vault to follow its changes (PostgreSQL; 0 on SQLite)",
            keys_reloaded.clone(),
        );
        registry.register(
            "github_keys_fetch_failures",
            "Times GitHub's key list could not be read again (the last good list is kept)",
            github_keys_failed.clone(),
        );
        registry.register(
            "quota_credits_reserved",
            "Credits this process holds reserved in the vault, not yet spent (given back at shutdown)",
            reserved.clone(),
        );
        Metrics {
            registry,
            requests,
            vault_errors,
            keys_reloaded,
            reserved,
            github_keys_failed,
        }
    }
}

impl Metrics {
    pub fn verified(&self, code: &'static str) {
        match CODES.iter().position(|c| *c == code) {
            Some(i) => add(&self.requests.counts.mine().codes[i], 1),
            None => {
                let mut other = self
                    .requests
                    .other_codes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                *other.entry(code).or_default() += 1;
            }
        }
    }

    pub fn responded(&self, route: Route, status: u16, took: Duration) {
        let r = route.index();
        let counts = self.requests.counts.mine();
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        add(&counts.latency[r][bucket(ns)], 1);
        add(&counts.latency_ns[r], ns);
        match STATUSES.iter().position(|s| *s == status) {
            Some(s) => add(&counts.responses[r][s], 1),
            None => self.other_response(route, status),
        }
    }

    fn other_response(&self, route: Route, status: u16) {
        let label = ResponseLabel {
            route: route.name(),
            status,
        };
        *self
            .requests
            .other_responses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(label)
            .or_default() += 1;
    }

    /// A request refused before it had a route (its head could not be
    /// parsed): counted under `other`, its latency as 0 (as its log line
    /// says), so that the route's histogram counts every response.
    pub fn refused_head(&self, status: u16) {
        self.responded(Route::Unknown, status, Duration::ZERO);
    }

    pub fn github_keys_failed(&self) {
        self.github_keys_failed.inc();
    }

    pub fn vault_error(&self) {
        self.vault_errors.inc();
    }

    /// The text of every metric, with the verifier's count of keys re-read
    /// (`keys_reloaded`, ever growing) as it is now.
    pub fn render(&self, keys_reloaded: u64, reserved: u64) -> String {
        self.reserved
            .set(i64::try_from(reserved).unwrap_or(i64::MAX));
        self.keys_reloaded
            .inner()
            .fetch_max(keys_reloaded, std::sync::atomic::Ordering::Relaxed);
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reloaded(text: &str) -> Option<&str> {
        text.lines()
            .find_map(|l| l.strip_prefix("keyward_keys_reloaded_total "))
    }

    #[test]
    fn keys_reloaded_shows_the_verifiers_count_and_never_goes_back() {
        let m = Metrics::default();
        assert_eq!(reloaded(&m.render(0, 0)), Some("0"));
        assert_eq!(reloaded(&m.render(7, 0)), Some("7"));
        assert_eq!(reloaded(&m.render(3, 0)), Some("7"));
        assert_eq!(reloaded(&m.render(9, 0)), Some("9"));
    }

    fn value<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn a_latency_falls_in_the_first_bucket_whose_bound_holds_it() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(50_000), 0);
        assert_eq!(bucket(50_001), 1);
        assert_eq!(bucket(100_000), 1);
        assert_eq!(bucket(100_001), 2);
        assert_eq!(bucket(50_000 << 14), 14);
        assert_eq!(bucket((50_000 << 14) + 1), BUCKETS);
        assert_eq!(bucket(u64::MAX), BUCKETS);
    }

    #[test]
    fn counts_from_every_thread_add_up_and_every_response_is_in_its_histogram() {
        let m = Metrics::default();
        let first = m.render(0, 0);
        for family in ["verifications", "request_duration_seconds", "responses"] {
            assert!(
                first.contains(&format!("# TYPE keyward_{family} ")),
                "{first}"
            );
        }
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..250u64 {
                        m.verified("VALID");
                        m.responded(Route::Authz, 200, Duration::from_micros(i * 10));
                    }
                });
            }
        });
        m.refused_head(431);
        m.responded(Route::Unknown, 404, Duration::from_millis(2));
        m.responded(Route::Authz, 418, Duration::from_millis(1));
        let text = m.render(0, 0);
        let n = |series: &str| value(&text, series).unwrap_or("none").to_string();
        assert_eq!(n("keyward_verifications_total{code=\"VALID\"}"), "1000");
        assert_eq!(
            n("keyward_verifications_total{code=\"API_KEY_INVALID\"}"),
            "0"
        );
        assert_eq!(
            n("keyward_responses_total{route=\"/v1/authz\",status=\"200\"}"),
            "1000"
        );
        assert_eq!(
            n("keyward_responses_total{route=\"/v1/authz\",status=\"418\"}"),
            "1"
        );
        assert_eq!(
            n("keyward_responses_total{route=\"other\",status=\"431\"}"),
            "1"
        );
        assert_eq!(
            n("keyward_request_duration_seconds_count{route=\"/v1/authz\"}"),
            "1001"
        );
        assert_eq!(
            n("keyward_request_duration_seconds_count{route=\"other\"}"),
            "2"
        );
        assert_eq!(
            n("keyward_request_duration_seconds_bucket{le=\"+Inf\",route=\"/v1/authz\"}"),
            "1001"
        );
        // 0..2490 µs in steps of 10, four times: 6 of them at most 50 µs.
        assert_eq!(
            n("keyward_request_duration_seconds_bucket{le=\"0.00005\",route=\"/v1/authz\"}"),
            "24"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
