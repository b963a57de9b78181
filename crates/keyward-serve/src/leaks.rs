//! Leak reports that arrive by themselves: GitHub's secret-scanning partner
//! webhook (`POST /v1/leaks/github`, signed with ECDSA P-256 by a key from
//! GitHub's published list) and GitLab's Token Revocation API
//! (`GET /v1/revocable_token_types`, `POST /v1/revoke_tokens`, with a
//! shared token). Each report ends its live keys in one transaction
//! ([`intents::end_reported`]); the same report again changes nothing.
//! No token is ever logged or echoed: reports are logged by count and key id.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use keyward_core::error::Result;
use keyward_core::intents::{self, Reported};
use keyward_core::secret;
use keyward_core::text::Actor;

use super::routes::Outcome;
use super::{App, http};

/// The most a report may hold: bytes, and tokens.
pub const MAX_REPORT: usize = 1024 * 1024;
pub const MAX_TOKENS: usize = 1000;

/// How often the key list is read again (and fetched, from a URL).
const REFRESH_EVERY: Duration = Duration::from_secs(3600);

/// Reports accepted per minute on each route (more: 429, come back later).
const REPORTS_PER_MINUTE: u32 = 60;

/// The token type keyward's keys are known by at GitLab and GitHub.
pub const TOKEN_TYPE: &str = "keyward_api_key";

/// The DER header of a P-256 public key (SubjectPublicKeyInfo with
/// id-ecPublicKey and prime256v1), before its 65-byte uncompressed point.
const P256_SPKI_HEADER: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Where GitHub's key list comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    File(PathBuf),
    Url(String),
}

impl KeySource {
    pub fn parse(given: &str) -> KeySource {
        if given.starts_with("https://") || given.starts_with("http://") {
            KeySource::Url(given.to_string())
        } else {
            KeySource::File(PathBuf::from(given))
        }
    }
}

/// GitHub's public keys, by identifier: the last good list.
pub struct GithubKeys {
    source: KeySource,
    keys: RwLock<Vec<(String, Vec<u8>)>>,
    refreshed: Mutex<Instant>,
}

/// Reads GitHub's key list JSON: `{"public_keys": [{"key_identifier",
/// "key" (PEM), "is_current"}]}` — each key a P-256 public key.
pub fn parse_keys(text: &str) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|_| "it is not JSON".to_string())?;
    let list = doc
        .get("public_keys")
        .and_then(Value::as_array)
        .ok_or("it has no public_keys list")?;
    let mut keys = Vec::new();
    for k in list {
        let id = k
            .get("key_identifier")
            .and_then(Value::as_str)
            .ok_or("a key has no key_identifier")?;
        let pem = k
            .get("key")
            .and_then(Value::as_str)
            .ok_or("a key has no key")?;
        let b64: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::trim)
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| format!("key {id} is not PEM"))?;
        match der.strip_prefix(&P256_SPKI_HEADER[..]) {
            Some(point) if point.len() == 65 && point[0] == 4 => {
                keys.push((id.to_string(), point.to_vec()))
            }
            _ => return Err(format!("key {id} is not a P-256 public key")),
        }
    }
    if keys.is_empty() {
        return Err("it lists no key".into());
    }
    Ok(keys)
}

impl GithubKeys {
    /// Reads (or fetches) the list once: a list that cannot be had at
    /// start is a configuration mistake.
    pub async fn load(source: KeySource) -> Result<GithubKeys> {
        let keys = fetch(&source).await?;
        Ok(GithubKeys {
            source,
            keys: RwLock::new(keys),
            refreshed: Mutex::new(Instant::now()),
        })
    }

    fn key(&self, id: &str) -> Option<Vec<u8>> {
        self.keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, point)| point.clone())
    }

    /// Reads the list again if an hour has passed, keeping the last good
    /// one when that fails (said in the log and counted).
    async fn refresh(&self, app: &App) {
        {
            let mut at = self.refreshed.lock().unwrap_or_else(|e| e.into_inner());
            if at.elapsed() < REFRESH_EVERY {
                return;
            }
            *at = Instant::now();
        }
        match fetch(&self.source).await {
            Ok(keys) => *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys,
            Err(e) => {
                app.metrics.github_keys_failed();
                tracing::warn!(error = %format!("{e:#}"), "cannot read GitHub's key list again: keeping the last good one");
            }
        }
    }
}

async fn fetch(source: &KeySource) -> Result<Vec<(String, Vec<u8>)>> {
    let (text, shown) = match source {
        KeySource::File(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
            path.display().to_string(),
        ),
        KeySource::Url(url) => (get(url).await?, url.clone()),
    };
    parse_keys(&text)
        .map_err(|why| anyhow::anyhow!("GitHub's key list at {shown} cannot be used: {why}"))
}

/// A GET over HTTPS (HTTP for a loopback host), the body as text: at most
/// 1 MiB, within 10 s.
async fn get(url: &str) -> Result<String> {
    use http_body_util::{BodyExt, Empty, Limited};
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| anyhow::anyhow!("{url} is not a URL"))?;
    let host = uri
        .host()
        .ok_or_else(|| anyhow::anyhow!("{url} has no host"))?
        .to_string();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !https && !loopback {
        anyhow::bail!("{url}: GitHub's key list is fetched over https");
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let work = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, host.as_str())
            .header(hyper::header::USER_AGENT, "keyward")
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::<bytes::Bytes>::new())?;
        let resp = if https {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(host.clone())?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await?;
            let (mut send, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
            tokio::spawn(conn);
            send.send_request(req).await?
        } else {
            let (mut send, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
            tokio::spawn(conn);
            send.send_request(req).await?
        };
        if !resp.status().is_success() {
            anyhow::bail!("{url} answered {}", resp.status());
        }
        let body = Limited::new(resp.into_body(), MAX_REPORT)
            .collect()
            .await
            .map_err(|_| anyhow::anyhow!("{url}: the answer is too large or broken"))?
            .to_bytes();
        Ok::<_, anyhow::Error>(String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| anyhow::anyhow!("{url} did not answer within 10 s"))?
}

/// At most [`REPORTS_PER_MINUTE`] a minute per route.
#[derive(Default)]
pub struct Pace(Mutex<Option<(Instant, u32)>>);

impl Pace {
    fn admit(&self) -> bool {
        let mut p = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match p.as_mut() {
            Some((since, n)) if now.duration_since(*since) < Duration::from_secs(60) => {
                *n += 1;
                *n <= REPORTS_PER_MINUTE
            }
            _ => {
                *p = Some((now, 1));
                true
            }
        }
    }
}

fn too_many() -> Outcome {
    let mut out = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "too many reports: send again in a minute",
    );
    out.reply.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from_static("60"),
    );
    out
}

fn problem(status: StatusCode, message: &str) -> Outcome {
    http::error(
        status,
        status.canonical_reason().unwrap_or("ERROR"),
        message,
    )
    .into()
}

/// Ends what a report names, as `actor`, in one transaction.
async fn end(
    app: &App,
    actor: &'static str,
    tokens: Vec<(Option<[u8; 32]>, Option<String>)>,
) -> std::result::Result<Vec<Reported>, Outcome> {
    let open = Arc::clone(&app.open_vault);
    let only = app.env.clone();
    let done = tokio::task::spawn_blocking(move || {
        let mut vault = open()?;
        vault.write(|tx, now| {
            intents::end_reported(
                tx,
                &tokens,
                only.as_ref(),
                &Actor::stored(actor.to_string()),
                now,
            )
        })
    })
    .await;
    match done {
        Ok(Ok(outcomes)) => {
            let ended: Vec<String> = outcomes
                .iter()
                .filter_map(|o| match o {
                    Reported::Ended(k) => Some(k.id.to_string()),
                    _ => None,
                })
                .collect();
            tracing::warn!(reporter = actor, tokens = outcomes.len(), ended = %ended.join(","), "a leak report ended keys");
            Ok(outcomes)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %format!("{e:#}"), "a leak report could not be applied");
            Err(problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the vault cannot be written right now; send the report again",
            ))
        }
        Err(_) => Err(problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the report could not be applied",
        )),
    }
}

/// The hash a presented token is looked up by (None: not a keyward secret).
fn hash_of(token: &str) -> Option<[u8; 32]> {
    secret::parse(token).ok().map(|s| s.hash())
}

fn sha256_hex(token: &str) -> String {
    secret::hash(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `POST /v1/leaks/github`.
pub async fn github(app: &App, req: Request<Incoming>) -> Outcome {
    let Some(keys) = app.github_keys.as_ref() else {
        return problem(
            StatusCode::NOT_FOUND,
            "GitHub's reports are off: start serve with --github-keys FILE|URL",
        );
    };
    keys.refresh(app).await;
    let header = |name: &str| {
        let mut all = req.headers().get_all(name).iter();
        match (all.next(), all.next()) {
            (Some(v), None) => v.to_str().ok().map(str::to_string),
            _ => None,
        }
    };
    let (Some(id), Some(signature)) = (
        header("github-public-key-identifier"),
        header("github-public-key-signature"),
    ) else {
        return problem(
            StatusCode::UNAUTHORIZED,
            "a report carries one Github-Public-Key-Identifier and one Github-Public-Key-Signature",
        );
    };
    let body = match http::body_up_to(req, MAX_REPORT).await {
        Ok(b) => b,
        Err(http::BodyError::TooLarge) => {
            return problem(StatusCode::PAYLOAD_TOO_LARGE, "a report is at most 1 MiB");
        }
        Err(e) => return problem(e.status(), &e.message()),
    };
    let signed = keys.key(&id).zip(
        base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .ok(),
    );
    let valid = signed.is_some_and(|(point, sig)| {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point)
            .verify(&body, &sig)
            .is_ok()
    });
    if !valid {
        return problem(
            StatusCode::UNAUTHORIZED,
            "the report's signature is not GitHub's: nothing was changed",
        );
    }
    // Counted once signed: unsigned requests never use up GitHub's pace.
    if !app.github_pace.admit() {
        return too_many();
    }
    let Ok(Value::Array(items)) = super::request::json_strict(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "a report is a JSON array of {token, type, url, source}",
        );
    };
    if items.len() > MAX_TOKENS {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("a report holds at most {MAX_TOKENS} tokens"),
        );
    }
    let mut tokens = Vec::with_capacity(items.len());
    let mut answer = Vec::with_capacity(items.len());
    for item in &items {
        let Some(token) = item.get("token").and_then(Value::as_str) else {
            return problem(
                StatusCode::BAD_REQUEST,
                "each reported item has a token (a string)",
            );
        };
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(TOKEN_TYPE)
            .to_string();
        let url = item.get("url").and_then(Value::as_str).map(str::to_string);
        tokens.push((hash_of(token), url));
        answer.push((sha256_hex(token), kind));
    }
    let outcomes = match end(app, "github", tokens).await {
        Ok(o) => o,
        Err(out) => return out,
    };
    let feedback: Vec<Value> = answer
        .into_iter()
        .zip(&outcomes)
        .map(|((hash, kind), outcome)| {
            let label = match outcome {
                Reported::Ended(_) | Reported::AlreadyEnded(_) | Reported::Elsewhere(_) => {
                    "true_positive"
                }
                Reported::Unmatched => "false_positive",
            };
            json!({"token_hash": hash, "token_type": kind, "label": label})
        })
        .collect();
    Outcome {
        reply: http::json(StatusCode::OK, &Value::Array(feedback)),
        code: Some("REPORTED"),
        key: None,
    }
}

/// Whether `Authorization` is GitLab's shared token (compared in constant
/// time; `Bearer ` before it is allowed).
fn gitlab_authorized(app: &App, req: &Request<Incoming>) -> std::result::Result<(), Box<Outcome>> {
    let Some(token) = app.gitlab_token.as_ref() else {
        return Err(Box::new(problem(
            StatusCode::NOT_FOUND,
            "GitLab's reports are off: start serve with --gitlab-token-env VAR",
        )));
    };
    let mut all = req.headers().get_all(hyper::header::AUTHORIZATION).iter();
    let given = match (all.next(), all.next()) {
        (Some(v), None) => v.as_bytes(),
        _ => {
            return Err(Box::new(problem(
                StatusCode::UNAUTHORIZED,
                "send GitLab's shared token in one Authorization header",
            )));
        }
    };
    let given = given.strip_prefix(b"Bearer ").unwrap_or(given);
    if bool::from(secret::hash(given).ct_eq(token)) {
        Ok(())
    } else {
        Err(Box::new(problem(
            StatusCode::UNAUTHORIZED,
            "the token is not the one this server was started with",
        )))
    }
}

/// `GET /v1/revocable_token_types`.
pub async fn gitlab_types(app: &App, req: Request<Incoming>) -> Outcome {
    if let Err(out) = gitlab_authorized(app, &req) {
        return *out;
    }
    http::json(StatusCode::OK, &json!({"types": [TOKEN_TYPE]})).into()
}

/// `POST /v1/revoke_tokens`.
pub async fn gitlab_revoke(app: &App, req: Request<Incoming>) -> Outcome {
    if let Err(out) = gitlab_authorized(app, &req) {
        return *out;
    }
    if !app.gitlab_pace.admit() {
        return too_many();
    }
    let body = match http::body_up_to(req, MAX_REPORT).await {
        Ok(b) => b,
        // GitLab retries nothing but a 429: too large is a 400 to it.
        Err(http::BodyError::TooLarge) => {
            return problem(StatusCode::BAD_REQUEST, "a request is at most 1 MiB");
        }
        Err(e) => return problem(e.status(), &e.message()),
    };
    let Ok(Value::Array(items)) = super::request::json_strict(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "a request is a JSON array of {type, token, location}, each member once",
        );
    };
    if items.len() > MAX_TOKENS {
        return problem(
            StatusCode::BAD_REQUEST,
            &format!("a request holds at most {MAX_TOKENS} tokens"),
        );
    }
    let mut tokens = Vec::with_capacity(items.len());
    for item in &items {
        let Some(token) = item.get("token").and_then(Value::as_str) else {
            return problem(StatusCode::BAD_REQUEST, "each item has a token (a string)");
        };
        let location = item
            .get("location")
            .and_then(Value::as_str)
            .map(str::to_string);
        tokens.push((hash_of(token), location));
    }
    match end(app, "gitlab", tokens).await {
        Ok(_) => http::empty(StatusCode::NO_CONTENT).into(),
        Err(out) => out,
    }
}
