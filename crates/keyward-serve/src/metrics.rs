//! `/metrics`: verifications by code, request latency, vault errors, in
//! the Prometheus (OpenMetrics) text format. Labels are drawn from fixed
//! sets (codes, route names): never a secret, a key or a raw path.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabel {
    route: &'static str,
    status: u16,
}

/// The statuses whose `responses` series are kept at hand.
const STATUSES: [u16; 12] = [200, 400, 401, 403, 404, 405, 408, 413, 415, 429, 431, 503];

/// The verification codes and routes, each with its series made once, so a
/// request touches its counter and histogram without a lookup.
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

pub struct Metrics {
    registry: Registry,
    verifications: Family<CodeLabel, Counter>,
    by_code: Vec<(&'static str, Counter)>,
    latency: Family<RouteLabel, Histogram>,
    by_route: Vec<(&'static str, Histogram)>,
    responses: Family<ResponseLabel, Counter>,
    /// The series of `responses` for each route (as `by_route`) and the
    /// statuses serve answers with, made on first use (so that none shows
    /// before it counts), then touched without a lookup.
    by_response: Vec<[OnceLock<Counter>; STATUSES.len()]>,
    vault_errors: Counter,
    keys_reloaded: Counter,
    reserved: Gauge,
    github_keys_failed: Counter,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 0.8 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("keyward");
        let verifications = Family::<CodeLabel, Counter>::default();
        let latency = Family::<RouteLabel, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let responses = Family::<ResponseLabel, Counter>::default();
        let vault_errors = Counter::default();
        let keys_reloaded = Counter::default();
        let reserved = Gauge::default();
        let github_keys_failed = Counter::default();
        registry.register(
            "verifications",
            "Verifications answered, by code (VALID, API_KEY_INVALID, ...)",
            verifications.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from a request's head to its response, by route",
            latency.clone(),
        );
        registry.register(
            "responses",
            "HTTP responses, by route and status",
            responses.clone(),
        );
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
        let by_code = CODES
            .iter()
            .map(|&code| {
                (
                    code,
                    verifications.get_or_create(&CodeLabel { code }).clone(),
                )
            })
            .collect();
        let by_route: Vec<(&str, Histogram)> = super::routes::Route::ALL
            .iter()
            .map(|r| {
                let route = r.name();
                (route, latency.get_or_create(&RouteLabel { route }).clone())
            })
            .collect();
        let by_response = by_route
            .iter()
            .map(|_| std::array::from_fn(|_| OnceLock::new()))
            .collect();
        Metrics {
            registry,
            verifications,
            by_code,
            latency,
            by_route,
            responses,
            by_response,
            vault_errors,
            keys_reloaded,
            reserved,
            github_keys_failed,
        }
    }
}

impl Metrics {
    pub fn verified(&self, code: &'static str) {
        match self.by_code.iter().find(|(c, _)| *c == code) {
            Some((_, counter)) => {
                counter.inc();
            }
            None => {
                self.verifications.get_or_create(&CodeLabel { code }).inc();
            }
        }
    }

    pub fn responded(&self, route: &'static str, status: u16, seconds: f64) {
        let at = self.by_route.iter().position(|(r, _)| *r == route);
        match at {
            Some(i) => self.by_route[i].1.observe(seconds),
            None => self
                .latency
                .get_or_create(&RouteLabel { route })
                .observe(seconds),
        }
        let label = ResponseLabel { route, status };
        match (at, STATUSES.iter().position(|s| *s == status)) {
            (Some(r), Some(s)) => self.by_response[r][s]
                .get_or_init(|| self.responses.get_or_create(&label).clone())
                .inc(),
            _ => self.responses.get_or_create(&label).inc(),
        };
    }

    /// A request refused before it had a route (its head could not be parsed).
    pub fn refused_head(&self, status: u16) {
        self.responses
            .get_or_create(&ResponseLabel {
                route: super::routes::Route::Unknown.name(),
                status,
            })
            .inc();
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
}
