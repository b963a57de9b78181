//! keyward's own routes: forward auth (`/v1/authz`), JSON verify
//! (`/v1/verify`), health, readiness and metrics; and the request log.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use hyper::body::Incoming;
use hyper::header::{ALLOW, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, StatusCode};
use keyward_core::intents::Ask;
use keyward_core::key::{Brief, VerifyCode};
use keyward_core::quota::{LimitState, Spent};
use keyward_core::vault::Verdict;
use serde::Deserialize;
use serde_json::Value;

use super::http::{self, Reply};
use super::logs::{Logged, ShownKey};
use super::request::{self, Problem};
use super::{App, Judged, Unavailable, admin, leaks, unkey};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Authz,
    Verify,
    Unkey,
    Admin(admin::Action),
    Github,
    GitlabTypes,
    GitlabRevoke,
    Healthz,
    Readyz,
    Metrics,
    Unknown,
}

impl Route {
    pub const ALL: [Route; 17] = [
        Route::Github,
        Route::GitlabTypes,
        Route::GitlabRevoke,
        Route::Authz,
        Route::Verify,
        Route::Unkey,
        Route::Admin(admin::Action::Create),
        Route::Admin(admin::Action::Reroll),
        Route::Admin(admin::Action::Update),
        Route::Admin(admin::Action::Delete),
        Route::Admin(admin::Action::Get),
        Route::Admin(admin::Action::Whoami),
        Route::Admin(admin::Action::List),
        Route::Healthz,
        Route::Readyz,
        Route::Metrics,
        Route::Unknown,
    ];

    /// The route's place in [`Route::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Route::Github => 0,
            Route::GitlabTypes => 1,
            Route::GitlabRevoke => 2,
            Route::Authz => 3,
            Route::Verify => 4,
            Route::Unkey => 5,
            Route::Admin(admin::Action::Create) => 6,
            Route::Admin(admin::Action::Reroll) => 7,
            Route::Admin(admin::Action::Update) => 8,
            Route::Admin(admin::Action::Delete) => 9,
            Route::Admin(admin::Action::Get) => 10,
            Route::Admin(admin::Action::Whoami) => 11,
            Route::Admin(admin::Action::List) => 12,
            Route::Healthz => 13,
            Route::Readyz => 14,
            Route::Metrics => 15,
            Route::Unknown => 16,
        }
    }

    fn of(path: &str) -> Route {
        match path {
            // Envoy's ext_authz appends the original path to its prefix.
            p if p == "/v1/authz" || p.starts_with("/v1/authz/") => Route::Authz,
            "/v1/verify" => Route::Verify,
            "/v2/keys.verifyKey" => Route::Unkey,
            "/healthz" => Route::Healthz,
            "/readyz" => Route::Readyz,
            "/metrics" => Route::Metrics,
            "/v1/leaks/github" => Route::Github,
            "/v1/revocable_token_types" => Route::GitlabTypes,
            "/v1/revoke_tokens" => Route::GitlabRevoke,
            p => admin::Action::of(p).map_or(Route::Unknown, Route::Admin),
        }
    }

    /// The route's path, or `other` for any path keyward does not serve
    /// (a raw path could hold a secret: it is never logged or labelled).
    pub fn name(self) -> &'static str {
        match self {
            Route::Authz => "/v1/authz",
            Route::Verify => "/v1/verify",
            Route::Unkey => "/v2/keys.verifyKey",
            Route::Admin(a) => a.path(),
            Route::Github => "/v1/leaks/github",
            Route::GitlabTypes => "/v1/revocable_token_types",
            Route::GitlabRevoke => "/v1/revoke_tokens",
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::Metrics => "/metrics",
            Route::Unknown => "other",
        }
    }
}

/// A reply, with what the request log says about it.
pub struct Outcome {
    pub reply: Reply,
    pub code: Option<&'static str>,
    pub key: Option<ShownKey>,
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Self {
        Outcome {
            reply,
            code: None,
            key: None,
        }
    }
}

pub async fn handle(
    app: Arc<App>,
    req: Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Result<Reply, Infallible> {
    let started = Instant::now();
    let method = req.method().clone();
    let route = Route::of(req.uri().path());
    // `/v1/authz` is the hot route: its future is part of this one; the
    // others' (larger, rarer) are boxed, so that the future hyper keeps
    // and moves for every request stays small.
    let outcome = match (route, &method) {
        (Route::Authz, _) => authz(&app, &req).await,
        (Route::Verify, &Method::POST) => Box::pin(verify(&app, req)).await,
        (Route::Unkey, &Method::POST) => Box::pin(unkey::verify_key(&app, req)).await,
        (Route::Admin(action), &Method::POST) => {
            Box::pin(admin::handle(&app, action, req, peer)).await
        }
        (Route::Github, &Method::POST) => Box::pin(leaks::github(&app, req)).await,
        (Route::GitlabTypes, &Method::GET) => Box::pin(leaks::gitlab_types(&app, req)).await,
        (Route::GitlabRevoke, &Method::POST) => Box::pin(leaks::gitlab_revoke(&app, req)).await,
        (Route::Github | Route::GitlabRevoke, _) => not_allowed("POST"),
        (Route::GitlabTypes, _) => not_allowed("GET"),
        (Route::Healthz, &Method::GET | &Method::HEAD) => {
            http::text(StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into()).into()
        }
        (Route::Readyz, &Method::GET | &Method::HEAD) => ready(&app),
        (Route::Metrics, &Method::GET | &Method::HEAD) => http::text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            app.metrics.render(app.verifier.keys_reloaded(), app.quotas_reserved()),
        )
        .into(),
        (Route::Verify | Route::Unkey | Route::Admin(_), _) => not_allowed("POST"),
        (Route::Healthz | Route::Readyz | Route::Metrics, _) => not_allowed("GET, HEAD"),
        (Route::Unknown, _) => http::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "keyward serves /v1/authz, /v1/verify, /v2/keys.verifyKey, /healthz, /readyz and /metrics",
        )
        .into(),
    };
    app.count_request();
    let status = outcome.reply.status().as_u16();
    let elapsed = started.elapsed();
    app.metrics.responded(route, status, elapsed);
    // Formatted by the log's own thread, not here.
    app.log.push(Logged {
        at: SystemTime::now(),
        method: Some(method),
        path: route.name(),
        status,
        code: outcome.code.unwrap_or("-"),
        key: outcome.key,
        latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    });
    Ok(outcome.reply)
}

/// The status hyper answered by itself for a request it could not parse
/// (a head past 16 KiB or 100 header lines: 431; malformed: 400), if it
/// answered at all: such a request never reaches [`handle`].
pub fn refused_by_parser(e: &hyper::Error) -> Option<u16> {
    if !e.is_parse() || e.is_parse_version_h2() {
        return None;
    }
    Some(if e.is_parse_too_large() { 431 } else { 400 })
}

/// The request log line for a request the parser refused: the same
/// fields as every other, with what could not be read as `-`.
pub fn log_refused(app: &App, status: u16) {
    app.count_request();
    app.metrics.refused_head(status);
    app.log.push(Logged {
        at: SystemTime::now(),
        method: None,
        path: "-",
        status,
        code: "-",
        key: None,
        latency_us: 0,
    });
}

fn not_allowed(allow: &'static str) -> Outcome {
    let mut reply = http::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        &format!("this route takes {allow}"),
    );
    reply
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    reply.into()
}

fn ready(app: &App) -> Outcome {
    match app.ready() {
        Ok(()) => http::text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "ready\n".into(),
        )
        .into(),
        Err(e) => {
            app.metrics.vault_error();
            http::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "VAULT_UNAVAILABLE",
                &format!("{e:#}"),
            )
            .into()
        }
    }
}

static KEY_ID: HeaderName = HeaderName::from_static("x-keyward-key-id");
static KEY_NAME: HeaderName = HeaderName::from_static("x-keyward-key-name");
static ENV: HeaderName = HeaderName::from_static("x-keyward-env");
static SCOPES: HeaderName = HeaderName::from_static("x-keyward-scopes");
static STATUS: HeaderName = HeaderName::from_static("x-keyward-status");
static CODE: HeaderName = HeaderName::from_static("x-keyward-code");

fn unavailable_authz() -> Outcome {
    let mut reply = http::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "VAULT_UNAVAILABLE",
        "the vault cannot be read right now; the key was not checked",
    );
    let h = reply.headers_mut();
    h.insert(
        "x-keyward-code",
        HeaderValue::from_static("VAULT_UNAVAILABLE"),
    );
    h.insert("retry-after", HeaderValue::from_static("1"));
    Outcome {
        reply,
        code: Some("VAULT_UNAVAILABLE"),
        key: None,
    }
}

/// Forward auth: 200 with the key's headers, 401 or 403 with the code.
async fn authz(app: &App, req: &Request<Incoming>) -> Outcome {
    let bad = |p: Problem| -> Outcome { http::error(p.status, "BAD_REQUEST", &p.message).into() };
    let headers = req.headers();
    let presented = match request::presented(headers) {
        Ok(p) => p,
        Err(p) => return bad(p),
    };
    // Below /v1/authz/ (Envoy's path_prefix) the query is the client's.
    let own_query = req.uri().path() == "/v1/authz";
    let wanted = match request::authz(req.uri().query(), own_query, headers) {
        Ok(r) => r,
        Err(p) => return bad(p),
    };
    let Some(presented) = presented else {
        app.metrics.verified("API_KEY_MISSING");
        return deny(StatusCode::UNAUTHORIZED, "API_KEY_MISSING", None);
    };
    let allows = |k: &Brief| wanted.scopes.iter().all(|s| k.has_scope(s.as_str()));
    let ask = Ask {
        cost: wanted.cost.unwrap_or(1),
        limits: Vec::new(),
    };
    let judged = match app
        .judge(presented, wanted.env.as_ref(), &allows, &ask)
        .await
    {
        Ok(j) => j,
        Err(Unavailable) => return unavailable_authz(),
    };
    let Judged {
        code,
        key,
        now,
        spent,
    } = judged;
    match (code, key) {
        (VerifyCode::RateLimited | VerifyCode::UsageExceeded, k) => {
            let mut out = deny(StatusCode::TOO_MANY_REQUESTS, code.as_str(), k.as_ref());
            if let Some(s) = &spent {
                limit_headers(out.reply.headers_mut(), s, true);
            }
            out
        }
        (VerifyCode::Valid, Some(k)) => {
            let mut reply = http::empty(StatusCode::OK);
            if let Some(s) = &spent {
                limit_headers(reply.headers_mut(), s, false);
            }
            let h = reply.headers_mut();
            h.reserve(5);
            let mut set = |name: &HeaderName, value: &str| {
                if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
                    h.insert(name.clone(), v);
                }
            };
            set(&KEY_ID, k.id.as_str());
            set(&KEY_NAME, k.name.as_str());
            set(&ENV, k.env.as_str());
            // A stored scope that is not a token (from an older keyward)
            // is left out: joined, it would read as others.
            let mut scopes = String::new();
            for s in k.scopes.iter().filter(|s| s.is_token()) {
                if !scopes.is_empty() {
                    scopes.push(',');
                }
                scopes.push_str(s.as_str());
            }
            set(&SCOPES, &scopes);
            h.insert(
                STATUS.clone(),
                HeaderValue::from_static(k.status(now).as_str()),
            );
            Outcome {
                reply,
                code: Some(code.as_str()),
                key: Some(super::shown_key(&k)),
            }
        }
        (VerifyCode::InsufficientScope, k) => {
            deny(StatusCode::FORBIDDEN, code.as_str(), k.as_ref())
        }
        (code, k) => deny(StatusCode::UNAUTHORIZED, code.as_str(), k.as_ref()),
    }
}

/// The IETF rate-limit headers for a key's limits (`RateLimit-Policy:
/// "api";q=100;w=60`, `RateLimit: "api";r=0;t=37`), and on a refusal
/// `Retry-After` (seconds until the request would be admitted; for credits,
/// none: they come back only with a refill or an operator).
fn limit_headers(h: &mut hyper::HeaderMap, spent: &Spent, refused: bool) {
    let name = |l: &LimitState| l.limit.name.replace(['"', '\\'], "");
    let policy: Vec<String> = spent
        .limits
        .iter()
        .map(|l| {
            format!(
                "\"{}\";q={};w={}",
                name(l),
                l.limit.limit,
                (l.limit.duration_ms + 999) / 1000
            )
        })
        .collect();
    let state: Vec<String> = spent
        .limits
        .iter()
        .map(|l| {
            format!(
                "\"{}\";r={};t={}",
                name(l),
                l.remaining,
                (l.reset_ms + 999) / 1000
            )
        })
        .collect();
    for (header, values) in [("ratelimit-policy", policy), ("ratelimit", state)] {
        if let (false, Ok(v)) = (values.is_empty(), HeaderValue::from_str(&values.join(", "))) {
            h.insert(HeaderName::from_static(header), v);
        }
    }
    if refused && let Some(secs) = spent.retry_after_secs() {
        h.insert(hyper::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
}

fn deny(status: StatusCode, code: &'static str, key: Option<&Brief>) -> Outcome {
    let mut reply = http::empty(status);
    let h = reply.headers_mut();
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"keyward\""),
        );
    }
    h.insert(CODE.clone(), HeaderValue::from_static(code));
    Outcome {
        reply,
        code: Some(code),
        key: key.map(super::shown_key),
    }
}

fn unavailable_verify() -> Outcome {
    Outcome {
        reply: http::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "VAULT_UNAVAILABLE",
            "the vault cannot be read right now; the key was not checked",
        ),
        code: Some("VAULT_UNAVAILABLE"),
        key: None,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    key: String,
    #[serde(default)]
    require_scopes: Vec<String>,
    #[serde(default)]
    env: Option<String>,
    /// What the verification costs in credits and rate limits (default 1).
    #[serde(default)]
    cost: Option<u64>,
}

/// `POST /v1/verify`: the verdict as `keyward --json verify` prints it.
async fn verify(app: &App, req: Request<Incoming>) -> Outcome {
    let bad = |p: Problem| -> Outcome {
        let message = match p.location.as_str() {
            "body" => format!(
                "the body must be {{\"key\": \"...\", \"require_scopes\": [...], \"env\": \"...\"}}: {}",
                p.message
            ),
            _ => p.message,
        };
        http::error(p.status, "BAD_REQUEST", &message).into()
    };
    if let Err(p) = request::credentials(req.headers())
        .and_then(|()| request::body_only("/v1/verify", req.uri().query(), req.headers()))
    {
        return bad(p);
    }
    if !http::json_or_unlabelled(&req) {
        return http::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the body as Content-Type: application/json",
        )
        .into();
    }
    let body = match http::body(req).await {
        Ok(b) => b,
        Err(e) => return http::error(e.status(), "BAD_REQUEST", &e.message()).into(),
    };
    let request: VerifyRequest = match request::json_object(&body).and_then(|map| {
        request::no_nulls(&map)?;
        serde_json::from_value(Value::Object(map))
            .map_err(|e| Problem::bad("body", request::json_problem(&e)))
    }) {
        Ok(r) => r,
        Err(p) => return bad(p),
    };
    let scopes = match request::scopes("require_scopes", &request.require_scopes) {
        Ok(s) => s,
        Err(p) => return bad(p),
    };
    let env = match request::env("env", request.env.as_deref()) {
        Ok(e) => e,
        Err(p) => return bad(p),
    };
    if request
        .cost
        .is_some_and(|c| c > keyward_core::quota::MAX_COUNT)
    {
        return bad(Problem::bad(
            "body.cost",
            format!(
                "cost must be a whole number from 0 to {}",
                keyward_core::quota::MAX_COUNT
            ),
        ));
    }
    let ask = Ask {
        cost: request.cost.unwrap_or(1),
        limits: Vec::new(),
    };
    let allows = |k: &Brief| scopes.iter().all(|s| k.has_scope(s.as_str()));
    let judged = match app
        .judge(request.key.as_bytes(), env.as_ref(), &allows, &ask)
        .await
    {
        Ok(j) => j,
        Err(Unavailable) => return unavailable_verify(),
    };
    let shown = judged.key.as_ref().map(super::shown_key);
    // The response shows the whole record: read it now, and judge it again
    // (a write may have committed since the lookup).
    let verdict = match judged.key.filter(|_| judged.code == VerifyCode::Valid) {
        None => Verdict {
            code: judged.code,
            key: None,
            warning: None,
            spent: judged.spent.clone(),
        },
        Some(brief) => match app.record(&brief.id).await {
            Err(Unavailable) => return unavailable_verify(),
            Ok(None) => Verdict::invalid(),
            Ok(Some(full)) => Verdict {
                code: VerifyCode::judge(full.status(judged.now), || allows(&Brief::from(&full))),
                key: Some(full),
                warning: None,
                spent: judged.spent.clone(),
            },
        },
    };
    let code = verdict.code.as_str();
    Outcome {
        reply: http::json(
            StatusCode::OK,
            &keyward_core::json::Verified::new(&verdict, judged.now),
        ),
        code: Some(code),
        key: shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routes_index_is_its_place_in_the_list_of_all() {
        for (i, route) in Route::ALL.iter().enumerate() {
            assert_eq!(route.index(), i, "{}", route.name());
        }
    }
}
