//! `keyward serve`: verifications over HTTP/1.1 for services and reverse
//! proxies, from the same vault as the CLI. The request path is one lookup
//! (secret hash → key, through a [`Verifier`]) and one verdict, the same as
//! `keyward verify`'s; usage is counted in memory and written by a thread
//! of its own ([`usage`]). Routes live in [`routes`] (keyward's own) and
//! [`unkey`] (Unkey's v2 verify).

mod admin;
mod http;
pub mod leaks;
pub mod logs;
mod metrics;
mod permissions;
mod quotas;
mod request;
mod routes;
mod unkey;
mod usage;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use keyward_core::error::Result;
use keyward_core::intents::Ask;
use keyward_core::key::{Brief, Key, KeyId, QuotaRef, VerifyCode};
use keyward_core::quota::Spent;
use keyward_core::secret;
use keyward_core::store::{NotNow, Verifier};
use keyward_core::text::Env;
use keyward_core::vault::Vault;
use keyward_core::when::{Clock, Timestamp};
use zeroize::Zeroizing;

/// Request heads and bodies are refused past this size (431, 413).
pub const MAX_HEAD: usize = 16 * 1024;
pub const MAX_BODY: usize = 16 * 1024;
/// A presented secret longer than this is invalid without being hashed.
pub const MAX_SECRET: usize = 512;
/// A connection with no request for this long is closed; a request head
/// must arrive within it too.
const IDLE: Duration = Duration::from_secs(60);
/// How long a request body may take to arrive (408 after).
const BODY_WAIT: Duration = Duration::from_secs(10);
/// How long requests in flight may run on after SIGTERM or SIGINT.
const DRAIN: Duration = Duration::from_secs(9);
/// How long after SIGTERM or SIGINT the last usage counts may take to be
/// written: serve exits within it (and so within 10 s, what supervisors
/// such as Docker wait by default before SIGKILL).
const STOP_WITHIN: Duration = Duration::from_millis(9_500);
/// How long a request retries a vault that another process has locked
/// before it is answered 503.
const BUSY_WAIT: Duration = Duration::from_millis(250);

/// How long a verdict waits for a shared vault's follower whose read of
/// the log is still unanswered (a host under load can delay the answer by
/// seconds), before the request is answered 503. Memory over 1 s old whose
/// follower knows its connection failed is a 503 without waiting.
const CONFIRM_WAIT: Duration = Duration::from_secs(2);

/// What every request shares.
pub struct App {
    verifier: Arc<dyn Verifier>,
    clock: Arc<dyn Clock>,
    usage: Arc<usage::Usage>,
    metrics: metrics::Metrics,
    /// The request log.
    log: logs::Requests,
    /// `--env` (else `$KEYWARD_ENV`): only keys of this environment are
    /// keys here, on every route; a request may narrow further, never widen.
    env: Option<Env>,
    /// SHA-256 of the root key that `/v2/keys.verifyKey` requires; the
    /// route is off without one.
    root_key: Option<[u8; 32]>,
    /// Requests answered, for the last log line.
    served: AtomicU64,
    requests: AtomicU64,
    /// Random per process, so request ids differ between runs.
    request_id_base: u64,
    /// Spends keys' quotas in the vault.
    quotas: quotas::Spender,
    /// Opens the vault for a write (the admin routes).
    open_vault: usage::Opener,
    /// `--admin-env`: keys of this environment are root keys.
    admin_env: Option<Env>,
    /// `--admin-allow-plain-http`.
    admin_plain_http: bool,
    /// `--github-keys`: GitHub's key list, for its reports.
    github_keys: Option<leaks::GithubKeys>,
    /// SHA-256 of `--gitlab-token-env`'s token, for GitLab's reports.
    gitlab_token: Option<[u8; 32]>,
    /// How many leak reports came lately, per route.
    github_pace: leaks::Pace,
    gitlab_pace: leaks::Pace,
}

/// What a lookup found, judged at `now`.
pub struct Judged {
    pub code: VerifyCode,
    pub key: Option<Brief>,
    pub now: Timestamp,
    /// What the key's quota said (a key with one, otherwise valid).
    pub spent: Option<Spent>,
}

/// The vault could not be read: the request is answered 503, never 200.
pub struct Unavailable;

impl App {
    /// Looks up a presented secret and judges it against the required
    /// scopes (`allows`) and environment (`env`, within serve's own): a key
    /// of another environment is not a key here. Counts the verification.
    pub async fn judge(
        &self,
        presented: &[u8],
        env: Option<&Env>,
        allows: &(dyn Fn(&Brief) -> bool + Sync),
        ask: &Ask,
    ) -> std::result::Result<Judged, Unavailable> {
        let unavailable = |u: Unavailable| {
            self.metrics.verified("VAULT_UNAVAILABLE");
            u
        };
        let key = self.lookup(presented).await.map_err(unavailable)?;
        let now = self.clock.now();
        let key = key.filter(|k| {
            [self.env.as_ref(), env]
                .into_iter()
                .flatten()
                .all(|e| k.env == *e)
        });
        let mut code = match &key {
            None => VerifyCode::Invalid,
            Some(k) => VerifyCode::judge(k.status(now), || allows(k)),
        };
        let mut spent = None;
        let asks_limits = !ask.limits.is_empty();
        if let Some(k) = key
            .as_ref()
            .filter(|k| (k.quota.is_some() || asks_limits) && code == VerifyCode::Valid)
        {
            let s = self
                .spend(&k.id, k.quota.as_ref(), ask)
                .await
                .map_err(unavailable)?;
            if !s.admitted {
                code = match s.out_of_credits {
                    true => VerifyCode::UsageExceeded,
                    false => VerifyCode::RateLimited,
                };
            }
            spent = Some(s);
        }
        if let Some(k) = &key {
            self.usage.record(&k.id, now, code == VerifyCode::Valid);
        }
        self.metrics.verified(code.as_str());
        Ok(Judged {
            code,
            key,
            now,
            spent,
        })
    }

    /// Spends what a verification of key `id` costs from its quota, in
    /// the vault (one write transaction, off the request threads): exact
    /// across every process verifying with the vault. A request the ask
    /// itself makes impossible (a limit the key lacks, with no terms) is
    /// refused as over that limit.
    async fn spend(
        &self,
        id: &KeyId,
        quota: Option<&QuotaRef>,
        ask: &Ask,
    ) -> std::result::Result<Spent, Unavailable> {
        match self
            .quotas
            .spend(id, quota, self.verifier.vault_id(), ask)
            .await
        {
            Some(Ok(s)) => Ok(s),
            Some(Err(e)) => {
                self.metrics.vault_error();
                tracing::warn!(error = %format!("{e:#}"), "cannot spend a key's quota in the vault");
                Err(Unavailable)
            }
            None => {
                self.metrics.vault_error();
                Err(Unavailable)
            }
        }
    }

    pub(crate) async fn lookup(
        &self,
        presented: &[u8],
    ) -> std::result::Result<Option<Brief>, Unavailable> {
        if presented.len() > MAX_SECRET {
            return Ok(None);
        }
        let Some(Ok(hash)) = std::str::from_utf8(presented)
            .ok()
            .map(|t| secret::hash_presented(t.trim()))
        else {
            return Ok(None);
        };
        // Read only once a try fails: a first try that answers needs no clock.
        let mut started = None;
        loop {
            let waited = || started.map_or(Duration::ZERO, |s: Instant| s.elapsed());
            match self.verifier.key_by_secret(&hash) {
                Ok(key) => return Ok(key),
                Err(NotNow::Busy(_)) if waited() < BUSY_WAIT => {
                    started.get_or_insert_with(Instant::now);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                // A shared vault's follower waits for the server's answer:
                // the verdict waits for it too, for a while.
                Err(NotNow::Unconfirmed(_)) if waited() < CONFIRM_WAIT => {
                    started.get_or_insert_with(Instant::now);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(e) => {
                    self.metrics.vault_error();
                    tracing::warn!(error = %format!("{e:#}"), "cannot read the vault");
                    return Err(Unavailable);
                }
            }
        }
    }

    /// A key's full record, read from the vault now, off the request
    /// threads (a PostgreSQL client blocks on a runtime of its own).
    pub async fn record(&self, id: &KeyId) -> std::result::Result<Option<Key>, Unavailable> {
        let verifier = Arc::clone(&self.verifier);
        let id = id.clone();
        let read = tokio::task::spawn_blocking(move || verifier.key(&id))
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("the read of the key failed: {e}").into()));
        read.map_err(|e| {
            self.metrics.vault_error();
            tracing::warn!(error = %format!("{e:#}"), "cannot read the vault");
            Unavailable
        })
    }

    pub fn ready(&self) -> std::result::Result<(), NotNow> {
        self.verifier.ready()
    }

    /// Credits this process holds reserved, for the metric.
    pub fn quotas_reserved(&self) -> u64 {
        self.quotas.reserved()
    }

    pub fn count_request(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    pub fn next_request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        format!("req_{:016x}", self.request_id_base.wrapping_add(n))
    }
}

/// What serve runs with: plain values, read from the command line by
/// `cmd::serve` (serve sees neither clap nor the commands).
pub struct Config {
    pub listen: SocketAddr,
    /// Only keys of this environment verify.
    pub env: Option<Env>,
    /// The root key Unkey's SDKs must send, when `/v2/keys.verifyKey` is on.
    pub root_key: Option<Zeroizing<Vec<u8>>>,
    pub log_format: logs::Format,
    /// Where verdicts come from.
    pub verifier: Arc<dyn Verifier>,
    /// Opens the vault for a usage flush: anew each time, so that a vault
    /// file replaced under serve is the one written.
    pub open_vault: usage::Opener,
    /// `--admin-env`: the environment whose keys are root keys (the admin
    /// routes are off without one).
    pub admin_env: Option<Env>,
    /// `--admin-allow-plain-http`: the admin routes answer plain HTTP from
    /// other hosts too.
    pub admin_plain_http: bool,
    /// `--github-keys FILE|URL`: GitHub's secret-scanning key list.
    pub github_keys: Option<String>,
    /// `--gitlab-token-env VAR`: the token GitLab's revocation calls carry.
    pub gitlab_token: Option<Zeroizing<Vec<u8>>>,
    /// The vault's location as messages show it, and its engine's name.
    pub shown: String,
    pub engine: &'static str,
    pub clock: Arc<dyn Clock>,
}

/// What serve says at start about the vault it opened (found by
/// [`inspect`] while the vault was open to check it).
pub struct Found {
    /// Keys holding a stored scope that is not a token.
    pub loose: Vec<Key>,
    /// The environment serve is narrowed to has no keys yet.
    pub env_is_empty: bool,
}

/// Looks at the vault before serving: keys with scopes that are not tokens,
/// and whether the environment serve is narrowed to has keys.
pub fn inspect(vault: &Vault, env: Option<&Env>, shown: &str) -> Result<Found> {
    // The scan below reads every key once: its pages need not stay mapped.
    vault.unmapped()?;
    let loose = vault
        .keys_with_loose_scopes()
        .with_context(|| format!("cannot read the keys of {shown}"))?;
    let env_is_empty = match env {
        Some(e) => !vault.envs()?.contains(e),
        None => false,
    };
    Ok(Found {
        loose,
        env_is_empty,
    })
}

/// Serves until SIGINT or SIGTERM; returns how many requests it answered.
pub fn run(config: Config, found: Found) -> Result<u64> {
    let Config {
        listen,
        env,
        root_key,
        log_format,
        verifier,
        open_vault,
        admin_env,
        admin_plain_http,
        github_keys,
        gitlab_token,
        shown,
        engine,
        clock,
    } = config;
    // GitHub's key list is read (or fetched) before serving: a list that
    // cannot be had is a configuration mistake.
    let github_keys = match github_keys {
        None => None,
        Some(source) => Some(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(leaks::GithubKeys::load(leaks::KeySource::parse(&source)))
                .context("--github-keys")?,
        ),
    };
    let Found {
        loose,
        env_is_empty,
    } = found;
    let listener = std::net::TcpListener::bind(listen)
        .with_context(|| format!("cannot listen on {listen}"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let logs = logs::init(log_format);
    if let Some(e) = env.as_ref().filter(|_| env_is_empty) {
        tracing::warn!(
            env = %keyward_core::shown::escape(e.as_str()),
            "the environment serve is narrowed to (--env or $KEYWARD_ENV) has no keys yet: \
             every key is refused until one is created there"
        );
    }
    for k in &loose {
        for scope in k.scopes.iter().filter(|s| !s.is_token()) {
            tracing::warn!(
                key_id = %k.id,
                name = %keyward_core::shown::escape(k.name.as_str()),
                scope = %keyward_core::shown::escape(scope.as_str()),
                "a stored scope holds a comma or whitespace: it meets no requirement and is left \
                 out of X-Keyward-Scopes; replace it (keyward update KEY --remove-scope ... --add-scope ...)"
            );
        }
    }
    let usage = Arc::new(usage::Usage::default());
    let flusher = usage::Flusher::start(Arc::clone(&usage), Arc::clone(&open_vault))?;
    let app = Arc::new(App {
        verifier,
        clock,
        usage,
        metrics: metrics::Metrics::default(),
        log: logs.requests(),
        env,
        root_key: root_key.map(|k| secret::hash(&k)),
        served: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        request_id_base: rand::random(),
        quotas: quotas::Spender::start(Arc::clone(&open_vault))?,
        open_vault: Arc::clone(&open_vault),
        admin_env,
        admin_plain_http,
        github_keys,
        gitlab_token: gitlab_token.map(|t| secret::hash(&t)),
        github_pace: leaks::Pace::default(),
        gitlab_pace: leaks::Pace::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keyward-serve")
        .build()?;
    tracing::info!(
        address = %bound,
        vault = %shown,
        engine,
        env = %app.env.as_ref().map_or("(all)", Env::as_str),
        unkey = app.root_key.is_some(),
        "listening"
    );
    let stopping = runtime.block_on(accept(listener, Arc::clone(&app)))?;
    app.quotas.finish(app.verifier.vault_id());
    flusher.finish(stopping + STOP_WITHIN);
    let served = app.served.load(Ordering::Relaxed);
    tracing::info!(requests = served, "stopped");
    Ok(served)
}

/// Accepts connections until SIGINT or SIGTERM, then lets the requests in
/// flight finish (at most [`DRAIN`]). Returns when the signal came: the
/// last usage flush must end within [`STOP_WITHIN`] of it.
async fn accept(listener: std::net::TcpListener, app: Arc<App>) -> Result<Instant> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .max_header_size(MAX_HEAD)
        .header_read_timeout(IDLE)
        .half_close(true)
        .keep_alive(true);
    let stop = http::stop_signal()?;
    tokio::pin!(stop);
    let ending = Arc::new(AtomicU64::new(0));
    tokio::spawn(watch_readiness(Arc::clone(&app)));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, mostly: wait, keep serving.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let for_requests = Arc::clone(&app);
                let conn = builder.serve_connection(
                    TokioIo::new(stream),
                    service_fn(move |req| routes::handle(Arc::clone(&for_requests), req, peer)),
                );
                let conn = graceful.watch(conn);
                let app = Arc::clone(&app);
                let counted = ConnectionEnding::new(&ending);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        if let Some(status) = routes::refused_by_parser(&e) {
                            routes::log_refused(&app, status);
                        }
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(counted);
                });
            }
            signal = &mut stop => {
                tracing::info!(signal, "stopping: no new connections, finishing requests in flight");
                break;
            }
        }
    }
    let stopping = Instant::now();
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {
            // A connection hyper has finished may still be logging the
            // request it refused: a moment for that line.
            let started = Instant::now();
            while ending.load(Ordering::Acquire) > 0 && started.elapsed() < Duration::from_millis(200) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!("requests still in flight after {} s were cut off", DRAIN.as_secs());
        }
    }
    Ok(stopping)
}

/// Counts a connection's task until it ends (its last log line written).
struct ConnectionEnding(Arc<AtomicU64>);

impl ConnectionEnding {
    fn new(count: &Arc<AtomicU64>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        ConnectionEnding(Arc::clone(count))
    }
}

impl Drop for ConnectionEnding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Logs each change of readiness (the vault became unreadable, and back),
/// so that an operator reading the log learns why requests get 503.
async fn watch_readiness(app: Arc<App>) {
    let mut last: Option<String> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = app.ready().err().map(|e| format!("{e:#}"));
        if now != last {
            match &now {
                Some(why) => tracing::warn!(reason = %why, "not ready: the vault cannot be read"),
                None if last.is_some() => tracing::info!("ready again: the vault answers"),
                None => {}
            }
            last = now;
        }
    }
}

/// How the request log names a key: its id and hint, never its secret.
pub fn shown_key(k: &Brief) -> logs::ShownKey {
    logs::ShownKey {
        id: k.id.clone(),
        prefix: k.prefix.clone(),
        hint: k.hint.clone(),
    }
}
