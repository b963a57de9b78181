//! Administration over HTTP, in Unkey's v2 shapes, so that a product can
//! offer its customers key dialogs and Unkey's SDKs can manage keys:
//! `keys.createKey`, `keys.rerollKey`, `keys.updateKey`, `keys.deleteKey`,
//! `keys.getKey`, `keys.whoami`, `apis.listKeys` (`apiId` = environment).
//!
//! On only with `serve --admin-env ENV`: keys of ENV are root keys, and
//! their scopes are Unkey's root permissions (`api.*.create_key`,
//! `api.<env>.read_key`, …). A root key is an ordinary key: rotated,
//! revoked and audited with the CLI, looked up on every request like any
//! other (so its revocation is honoured by the next one). It never
//! administers its own environment. Every write runs the intent the CLI
//! command runs, in one transaction, with the actor `root:KEY_ID`.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{Map, Value, json};

use keyward_core::error::Error;
use keyward_core::intents::{NewKey, Rotation, Update};
use keyward_core::key::{Brief, Key, KeyId, Status};
use keyward_core::quota::{self, Interval, QuotaChange, Ratelimit, Refill};
use keyward_core::shown::quote;
use keyward_core::text::{Actor, Env, Meta, Name, Owner, Scope};
use keyward_core::vault::Vault;
use keyward_core::when::{Expiry, Moment, Timestamp};

use super::http;
use super::request;
use super::routes::Outcome;
use super::{App, Unavailable};

/// An admin route, and the root permission it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Reroll,
    Update,
    Delete,
    Get,
    Whoami,
    List,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Create,
        Action::Reroll,
        Action::Update,
        Action::Delete,
        Action::Get,
        Action::Whoami,
        Action::List,
    ];

    pub fn of(path: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.path() == path)
    }

    pub fn path(self) -> &'static str {
        match self {
            Action::Create => "/v2/keys.createKey",
            Action::Reroll => "/v2/keys.rerollKey",
            Action::Update => "/v2/keys.updateKey",
            Action::Delete => "/v2/keys.deleteKey",
            Action::Get => "/v2/keys.getKey",
            Action::Whoami => "/v2/keys.whoami",
            Action::List => "/v2/apis.listKeys",
        }
    }

    fn permission(self) -> &'static str {
        match self {
            Action::Create => "create_key",
            Action::Reroll => "create_key",
            Action::Update => "update_key",
            Action::Delete => "delete_key",
            Action::Get | Action::Whoami | Action::List => "read_key",
        }
    }

    /// The members of the request keyward reads; any other is refused.
    fn members(self) -> &'static [&'static str] {
        match self {
            Action::Create => &[
                "apiId",
                "prefix",
                "name",
                "byteLength",
                "externalId",
                "meta",
                "roles",
                "permissions",
                "expires",
                "credits",
                "ratelimits",
                "enabled",
                "recoverable",
            ],
            Action::Reroll => &["keyId", "expiration"],
            Action::Update => &[
                "keyId",
                "name",
                "externalId",
                "meta",
                "expires",
                "credits",
                "ratelimits",
                "enabled",
                "roles",
                "permissions",
            ],
            Action::Delete => &["keyId", "permanent"],
            Action::Get => &["keyId", "decrypt"],
            Action::Whoami => &["key"],
            Action::List => &[
                "apiId",
                "limit",
                "cursor",
                "externalId",
                "decrypt",
                "revalidateKeysCache",
            ],
        }
    }
}

/// An Unkey-shaped error (see [`super::unkey::error`]). A 400 adds `errors`.
fn error(request_id: &str, status: StatusCode, kind: &str, detail: &str) -> Fail {
    let errors = (status == StatusCode::BAD_REQUEST)
        .then(|| json!([{"location": "body", "message": detail}]));
    Box::new(super::unkey::error(request_id, status, kind, detail, errors).into())
}

fn invalid(request_id: &str, location: &str, message: &str) -> Fail {
    let errors = json!([{"location": location, "message": message}]);
    Box::new(
        super::unkey::error(
            request_id,
            StatusCode::BAD_REQUEST,
            "unkey/application/invalid_input",
            message,
            Some(errors),
        )
        .into(),
    )
}

fn unavailable(request_id: &str) -> Fail {
    error(
        request_id,
        StatusCode::SERVICE_UNAVAILABLE,
        "unkey/application/service_unavailable",
        "the vault cannot be read or written right now; nothing was changed",
    )
}

/// What a refused intent says, as Unkey's error with keyward's code: a
/// usage problem is a 400, a missing key 404, a refusal (limit reached,
/// name taken, default key, wrong state) 412.
fn refused(request_id: &str, e: &anyhow::Error) -> Fail {
    let Some(k) = e.downcast_ref::<Error>() else {
        tracing::warn!(error = %format!("{e:#}"), "an admin write failed");
        return unavailable(request_id);
    };
    let detail = format!("{}: {k}", k.code());
    match k.exit_code() {
        keyward_core::error::exit::USAGE => invalid(request_id, "body", &detail),
        keyward_core::error::exit::NOT_FOUND => error(
            request_id,
            StatusCode::NOT_FOUND,
            "unkey/data/key_not_found",
            &detail,
        ),
        keyward_core::error::exit::REFUSED => error(
            request_id,
            StatusCode::PRECONDITION_FAILED,
            "unkey/application/precondition_failed",
            &detail,
        ),
        _ => {
            tracing::warn!(error = %format!("{e:#}"), "an admin write failed");
            unavailable(request_id)
        }
    }
}

/// The root key of a request, checked: a live key of the admin
/// environment, with its scopes.
struct Root {
    key: Brief,
}

impl Root {
    /// Whether any of its permissions reaches `env`.
    fn reaches(&self, env: &Env) -> bool {
        const PERMISSIONS: [&str; 5] = [
            "create_key",
            "read_key",
            "update_key",
            "delete_key",
            "verify_key",
        ];
        self.key.scopes.iter().any(|s| {
            PERMISSIONS.iter().any(|p| {
                s.as_str()
                    .strip_prefix("api.")
                    .and_then(|rest| rest.strip_suffix(&format!(".{p}")))
                    .is_some_and(|e| e == "*" || e == env.as_str())
            })
        })
    }

    fn may(&self, action: Action, env: &Env) -> bool {
        let p = action.permission();
        self.key.scopes.iter().any(|s| {
            let s = s.as_str();
            s == format!("api.*.{p}") || s == format!("api.{env}.{p}")
        })
    }

    fn actor(&self) -> Actor {
        Actor::stored(format!("root:{}", self.key.id))
    }
}

/// A refusal, boxed: an outcome is large.
type Fail = Box<Outcome>;

type Handled = std::result::Result<Outcome, Fail>;

pub async fn handle(
    app: &App,
    action: Action,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Outcome {
    let request_id = app.next_request_id();
    match run(app, action, req, peer, &request_id).await {
        Ok(o) => o,
        Err(o) => *o,
    }
}

async fn run(
    app: &App,
    action: Action,
    req: Request<Incoming>,
    peer: SocketAddr,
    rid: &str,
) -> Handled {
    let Some(admin_env) = app.admin_env.clone() else {
        return Err(error(
            rid,
            StatusCode::NOT_FOUND,
            "unkey/data/route_not_found",
            "administration is off: start keyward serve with --admin-env ENV",
        ));
    };
    let loopback = match peer.ip() {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        // A dual-stack listener sees 127.0.0.1 as ::ffff:127.0.0.1.
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    };
    if !loopback && !app.admin_plain_http {
        return Err(error(
            rid,
            StatusCode::FORBIDDEN,
            "unkey/authorization/insecure",
            "administration over plain HTTP is refused from another host: put a TLS proxy on \
             this host in front of keyward, or start serve with --admin-allow-plain-http",
        ));
    }
    let checked = request::credentials(req.headers())
        .and_then(|()| request::body_only(action.path(), req.uri().query(), req.headers()));
    let presented = match checked.and_then(|()| request::bearer_once(req.headers())) {
        Ok(Some(p)) if !p.is_empty() => p.to_vec(),
        Err(p) => return Err(invalid(rid, &p.location, &p.message)),
        Ok(_) => {
            return Err(error(
                rid,
                StatusCode::UNAUTHORIZED,
                "unkey/authentication/missing",
                "send a root key as Authorization: Bearer ROOT_KEY",
            ));
        }
    };
    let root = root(app, &presented, &admin_env, rid).await?;
    if !http::json_or_unlabelled(&req) {
        return Err(invalid(rid, "header.Content-Type", "the body must be JSON"));
    }
    let body = http::body(req).await.map_err(|e| {
        error(
            rid,
            e.status(),
            "unkey/application/invalid_input",
            &e.message(),
        )
    })?;
    let body = request::json_object(&body).map_err(|p| invalid(rid, &p.location, &p.message))?;
    if let Some(name) = body
        .keys()
        .find(|n| !action.members().contains(&n.as_str()))
    {
        let name = quote(name);
        return Err(invalid(
            rid,
            &format!("body.{name}"),
            &format!(
                "'{name}' is not a member of Unkey's {} request",
                action.path()
            ),
        ));
    }
    // Only updateKey gives null a meaning (clear it).
    if action != Action::Update {
        request::no_nulls(&body).map_err(|p| invalid(rid, &p.location, &p.message))?;
    }
    let out = match action {
        Action::Create => create(app, &root, &admin_env, &body, rid).await?,
        Action::Reroll => reroll(app, &root, &admin_env, &body, rid).await?,
        Action::Update => update(app, &root, &admin_env, &body, rid).await?,
        Action::Delete => delete(app, &root, &admin_env, &body, rid).await?,
        Action::Get => {
            let key = target(app, &root, Action::Get, &admin_env, &body, rid).await?;
            ok(rid, key_data(&key, now(app)))
        }
        Action::Whoami => whoami(app, &root, &admin_env, &body, rid).await?,
        Action::List => list(app, &root, &admin_env, &body, rid).await?,
    };
    Ok(Outcome {
        key: Some(super::shown_key(&root.key)),
        ..out
    })
}

fn now(app: &App) -> Timestamp {
    app.clock.now()
}

fn ok(rid: &str, data: Value) -> Outcome {
    answer(rid, "OK", data)
}

/// A 200 in Unkey's shape, with what the request log calls it.
fn answer(rid: &str, code: &'static str, data: Value) -> Outcome {
    Outcome {
        reply: http::json(
            StatusCode::OK,
            &json!({"meta": {"requestId": rid}, "data": data}),
        ),
        code: Some(code),
        key: None,
    }
}

async fn root(
    app: &App,
    presented: &[u8],
    admin_env: &Env,
    rid: &str,
) -> std::result::Result<Root, Fail> {
    let found = app
        .lookup(presented)
        .await
        .map_err(|Unavailable| unavailable(rid))?;
    let live = |k: &Brief| matches!(k.status(now(app)), Status::Active | Status::Grace);
    match found {
        Some(key) if key.env == *admin_env && live(&key) => Ok(Root { key }),
        _ => Err(error(
            rid,
            StatusCode::UNAUTHORIZED,
            "unkey/authentication/key_not_found",
            "the root key is not a live key of the admin environment",
        )),
    }
}

/// The environment a request names (`apiId`), checked against the root
/// key: never the admin environment, and only with the permission.
fn environment(
    app: &App,
    root: &Root,
    action: Action,
    admin_env: &Env,
    env: &Env,
    rid: &str,
) -> std::result::Result<(), Fail> {
    if env == admin_env {
        return Err(error(
            rid,
            StatusCode::FORBIDDEN,
            "unkey/authorization/forbidden",
            "root keys never administer the admin environment: use the CLI",
        ));
    }
    // serve --env narrows the admin routes as it narrows verdicts.
    if app.env.as_ref().is_some_and(|only| only != env) {
        return Err(error(
            rid,
            StatusCode::FORBIDDEN,
            "unkey/authorization/forbidden",
            "this server administers only the environment of its --env",
        ));
    }
    if !root.may(action, env) {
        return Err(error(
            rid,
            StatusCode::FORBIDDEN,
            "unkey/authorization/insufficient_permissions",
            &format!(
                "the root key lacks the permission api.*.{p} or api.{}.{p}",
                quote(env.as_str()),
                p = action.permission()
            ),
        ));
    }
    Ok(())
}

fn string<'a>(
    body: &'a Map<String, Value>,
    name: &str,
    rid: &str,
) -> std::result::Result<Option<&'a str>, Fail> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(
            rid,
            &format!("body.{name}"),
            &format!("{name} must be a string"),
        )),
    }
}

fn required<'a>(
    body: &'a Map<String, Value>,
    name: &str,
    rid: &str,
) -> std::result::Result<&'a str, Fail> {
    string(body, name, rid)?.ok_or_else(|| {
        invalid(
            rid,
            &format!("body.{name}"),
            &format!("{name} is required and must be a string"),
        )
    })
}

/// A usage error of a member: the CLI's flag names (`--meta: `) are not
/// what an HTTP caller wrote.
fn usage(rid: &str, location: &str, e: &Error) -> Fail {
    let text = e.to_string();
    let text = text
        .strip_prefix("--meta: ")
        .or_else(|| text.strip_prefix("--expires: "))
        .or_else(|| text.strip_prefix("--grace: "))
        .unwrap_or(&text)
        .to_string();
    invalid(rid, location, &text)
}

fn api_env(body: &Map<String, Value>, rid: &str) -> std::result::Result<Env, Fail> {
    let api = required(body, "apiId", rid)?;
    Env::parse(api).map_err(|e| usage(rid, "body.apiId", &e))
}

/// The key a `keyId` names, read now, of an environment the root key may
/// act on with `action`.
async fn target(
    app: &App,
    root: &Root,
    action: Action,
    admin_env: &Env,
    body: &Map<String, Value>,
    rid: &str,
) -> std::result::Result<Key, Fail> {
    let id = required(body, "keyId", rid)?;
    let missing = || {
        error(
            rid,
            StatusCode::NOT_FOUND,
            "unkey/data/key_not_found",
            "no key has this keyId",
        )
    };
    if id.len() > 64 || !id.starts_with("key_") {
        return Err(missing());
    }
    let key = app
        .record(&KeyId::stored(id.to_string()))
        .await
        .map_err(|Unavailable| unavailable(rid))?
        .ok_or_else(missing)?;
    // A key of an environment the root key cannot reach at all (or of the
    // admin environment, or outside serve's --env) is not there for it.
    if key.env == *admin_env
        || !root.reaches(&key.env)
        || app.env.as_ref().is_some_and(|only| *only != key.env)
    {
        return Err(missing());
    }
    environment(app, root, action, admin_env, &key.env, rid)?;
    Ok(key)
}

/// Runs `f` on the vault, opened for this write, off the request threads.
async fn write<T: Send + 'static>(
    app: &App,
    rid: &str,
    f: impl FnOnce(&mut Vault) -> keyward_core::error::Result<T> + Send + 'static,
) -> std::result::Result<T, Fail> {
    let open = std::sync::Arc::clone(&app.open_vault);
    let done = tokio::task::spawn_blocking(move || open().and_then(|mut v| f(&mut v))).await;
    match done {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(refused(rid, &e)),
        Err(_) => Err(unavailable(rid)),
    }
}

fn scopes(body: &Map<String, Value>, rid: &str) -> std::result::Result<Option<Vec<Scope>>, Fail> {
    match body.get("permissions") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(all)) => all
            .iter()
            .map(|p| match p.as_str() {
                Some(s) => Scope::parse(s).map_err(|e| usage(rid, "body.permissions", &e)),
                None => Err(invalid(
                    rid,
                    "body.permissions",
                    "permissions must be a list of strings",
                )),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid(
            rid,
            "body.permissions",
            "permissions must be a list of strings",
        )),
    }
}

fn no_roles(body: &Map<String, Value>, rid: &str) -> std::result::Result<(), Fail> {
    match body.get("roles") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(_) => Err(invalid(
            rid,
            "body.roles",
            "keyward has no roles: give the key's scopes as permissions",
        )),
    }
}

fn meta(body: &Map<String, Value>, rid: &str) -> std::result::Result<Option<Option<Meta>>, Fail> {
    match body.get("meta") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v @ Value::Object(_)) => Meta::parse(&v.to_string())
            .map(|m| Some(Some(m)))
            .map_err(|e| usage(rid, "body.meta", &e)),
        Some(_) => Err(invalid(rid, "body.meta", "meta must be an object")),
    }
}

fn owner(body: &Map<String, Value>, rid: &str) -> std::result::Result<Option<Option<Owner>>, Fail> {
    match body.get("externalId") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Owner::parse(s)
            .map(|o| Some(Some(o)))
            .map_err(|e| usage(rid, "body.externalId", &e)),
        Some(_) => Err(invalid(
            rid,
            "body.externalId",
            "externalId must be a string",
        )),
    }
}

/// `expires` in unix milliseconds (null: never), as an expiry.
fn expires(
    body: &Map<String, Value>,
    now: Timestamp,
    rid: &str,
) -> std::result::Result<Option<Expiry>, Fail> {
    match body.get("expires") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Expiry::Never)),
        Some(v) => {
            let at = v
                .as_i64()
                .and_then(|ms| Timestamp::checked_from_unix(ms.div_euclid(1000)))
                .ok_or_else(|| {
                    invalid(
                        rid,
                        "body.expires",
                        "expires must be a time in unix milliseconds",
                    )
                })?;
            // As on the command line: after now, at most 10 years ahead.
            let ahead = at.unix() - now.unix();
            if ahead <= 0 || ahead > keyward_core::when::MAX_AHEAD_SECS {
                return Err(invalid(
                    rid,
                    "body.expires",
                    "expires must be a time after now and at most 10 years ahead, in unix milliseconds",
                ));
            }
            Ok(Some(Expiry::At(Moment::At(at))))
        }
    }
}

/// `credits` and `ratelimits` as a change to the quota.
fn quota_change(
    body: &Map<String, Value>,
    rid: &str,
    replace: Option<&[Ratelimit]>,
) -> std::result::Result<QuotaChange, Fail> {
    let mut change = QuotaChange::default();
    match body.get("credits") {
        None => {}
        Some(Value::Null) => {
            change.credits = Some(None);
            change.refill = Some(None);
        }
        Some(Value::Object(c)) => {
            if let Some(k) = c
                .keys()
                .find(|k| !["remaining", "refill"].contains(&k.as_str()))
            {
                return Err(invalid(
                    rid,
                    "body.credits",
                    &format!("'{}' is not a member of credits", quote(k)),
                ));
            }
            match c.get("remaining") {
                None => {}
                Some(Value::Null) => change.credits = Some(None),
                Some(v) => {
                    let n = v
                        .as_u64()
                        .filter(|n| *n <= quota::MAX_COUNT)
                        .ok_or_else(|| {
                            invalid(
                                rid,
                                "body.credits.remaining",
                                "remaining must be a whole number from 0 to 1000000000000",
                            )
                        })?;
                    change.credits = Some(Some(n));
                }
            }
            match c.get("refill") {
                None => {}
                Some(Value::Null) => change.refill = Some(None),
                Some(Value::Object(r)) => {
                    let amount = r
                        .get("amount")
                        .and_then(Value::as_u64)
                        .filter(|n| (1..=quota::MAX_COUNT).contains(n))
                        .ok_or_else(|| {
                            invalid(
                                rid,
                                "body.credits.refill.amount",
                                "amount must be a whole number from 1 to 1000000000000",
                            )
                        })?;
                    let interval = match (
                        r.get("interval").and_then(Value::as_str),
                        r.get("refillDay"),
                    ) {
                        (Some("daily"), None) => Interval::Daily,
                        (Some("monthly"), None) => Interval::Monthly { day: 1 },
                        (Some("monthly"), Some(d)) => match d.as_u64() {
                            Some(day @ 1..=28) => Interval::Monthly {
                                day: u8::try_from(day).unwrap_or(1),
                            },
                            _ => {
                                return Err(invalid(
                                    rid,
                                    "body.credits.refill.refillDay",
                                    "refillDay must be from 1 to 28",
                                ));
                            }
                        },
                        _ => {
                            return Err(invalid(
                                rid,
                                "body.credits.refill.interval",
                                "interval is daily or monthly (refillDay only with monthly)",
                            ));
                        }
                    };
                    change.refill = Some(Some(Refill { amount, interval }));
                }
                Some(_) => {
                    return Err(invalid(
                        rid,
                        "body.credits.refill",
                        "refill must be an object",
                    ));
                }
            }
        }
        Some(_) => return Err(invalid(rid, "body.credits", "credits must be an object")),
    }
    match body.get("ratelimits") {
        None => {}
        Some(Value::Null) => {
            change.remove_limits = replace
                .unwrap_or(&[])
                .iter()
                .map(|l| l.name.clone())
                .collect();
        }
        Some(Value::Array(all)) => {
            for (i, l) in all.iter().enumerate() {
                let at = format!("body.ratelimits[{i}]");
                let Some(m) = l.as_object() else {
                    return Err(invalid(rid, &at, "each rate limit is an object"));
                };
                if let Some(k) = m
                    .keys()
                    .find(|k| !["name", "limit", "duration", "autoApply"].contains(&k.as_str()))
                {
                    return Err(invalid(
                        rid,
                        &at,
                        &format!("'{}' is not a member of a rate limit", quote(k)),
                    ));
                }
                // keyward applies every limit of a key to every verification:
                // `autoApply: false` (the SDKs' default) only makes it stricter.
                if m.get("autoApply").is_some_and(|a| !a.is_boolean()) {
                    return Err(invalid(
                        rid,
                        &format!("{at}.autoApply"),
                        "autoApply must be true or false",
                    ));
                }
                let name = m
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(rid, &format!("{at}.name"), "name is required"))
                    .and_then(|n| {
                        quota::limit_name(n)
                            .map_err(|why| invalid(rid, &format!("{at}.name"), &why))
                    })?;
                let limit = m
                    .get("limit")
                    .and_then(Value::as_u64)
                    .filter(|n| (1..=quota::MAX_COUNT).contains(n))
                    .ok_or_else(|| {
                        invalid(
                            rid,
                            &format!("{at}.limit"),
                            "limit must be a whole number from 1 to 1000000000000",
                        )
                    })?;
                let duration_ms = m
                    .get("duration")
                    .and_then(Value::as_i64)
                    .filter(|ms| (quota::MIN_DURATION_MS..=quota::MAX_DURATION_MS).contains(ms))
                    .ok_or_else(|| {
                        invalid(
                            rid,
                            &format!("{at}.duration"),
                            "duration must be milliseconds from 1000 to 86400000",
                        )
                    })?;
                change.set_limits.push(Ratelimit {
                    name,
                    limit,
                    duration_ms,
                });
            }
            // updateKey's list replaces the key's: the others go.
            if let Some(old) = replace {
                change.remove_limits = old
                    .iter()
                    .filter(|o| !change.set_limits.iter().any(|l| l.name == o.name))
                    .map(|o| o.name.clone())
                    .collect();
            }
        }
        Some(_) => return Err(invalid(rid, "body.ratelimits", "ratelimits must be a list")),
    }
    Ok(change)
}

async fn create(
    app: &App,
    root: &Root,
    admin_env: &Env,
    body: &Map<String, Value>,
    rid: &str,
) -> Handled {
    let env = api_env(body, rid)?;
    environment(app, root, Action::Create, admin_env, &env, rid)?;
    no_roles(body, rid)?;
    match body.get("byteLength") {
        None => {}
        Some(v) if v.as_u64() == Some(16) => {}
        Some(_) => {
            return Err(invalid(
                rid,
                "body.byteLength",
                "keyward's secrets have one length: leave byteLength out",
            ));
        }
    }
    if body.get("enabled").is_some_and(|v| v != &Value::Bool(true)) {
        return Err(invalid(
            rid,
            "body.enabled",
            "a key is enabled when created: revoke it with keys.deleteKey",
        ));
    }
    if body
        .get("recoverable")
        .is_some_and(|v| v != &Value::Bool(false))
    {
        return Err(invalid(
            rid,
            "body.recoverable",
            "keyward never stores a secret: keys are not recoverable",
        ));
    }
    let name = string(body, "name", rid)?
        .map(Name::parse)
        .transpose()
        .map_err(|e| usage(rid, "body.name", &e))?;
    let prefix = match string(body, "prefix", rid)? {
        None => None,
        Some(p) => {
            keyward_core::text::validate_prefix(p).map_err(|e| usage(rid, "body.prefix", &e))?;
            Some(p.to_string())
        }
    };
    let new = NewKey {
        name,
        env,
        expires: expires(body, now(app), rid)?.unwrap_or(Expiry::Never),
        scopes: scopes(body, rid)?.unwrap_or_default(),
        prefix,
        note: None,
        rotate_every: None,
        quota: quota_change(body, rid, None)?,
        owner: owner(body, rid)?.flatten(),
        meta: meta(body, rid)?.flatten(),
    };
    let actor = root.actor();
    let created = write(app, rid, move |v| v.create(&new, &actor)).await?;
    Ok(answer(
        rid,
        "CREATED",
        json!({"keyId": created.key.id.as_str(), "key": created.secret.expose()}),
    ))
}

async fn reroll(
    app: &App,
    root: &Root,
    admin_env: &Env,
    body: &Map<String, Value>,
    rid: &str,
) -> Handled {
    let key = target(app, root, Action::Reroll, admin_env, body, rid).await?;
    let grace = match body.get("expiration") {
        Some(v) => v
            .as_i64()
            .filter(|ms| (0..=keyward_core::when::MAX_AHEAD_SECS.saturating_mul(1000)).contains(ms))
            .map(|ms| Moment::After(ms.div_euclid(1000)))
            .ok_or_else(|| {
                invalid(
                    rid,
                    "body.expiration",
                    "expiration is the old key's grace in milliseconds, from 0 (now) to 10 years",
                )
            })?,
        None => {
            return Err(invalid(
                rid,
                "body.expiration",
                "expiration is required: the old key's grace in milliseconds (0: now)",
            ));
        }
    };
    let rotation = Rotation {
        grace,
        expires: None,
        name: None,
        rotate_every: None,
        reason: None,
        quota: QuotaChange::default(),
    };
    let actor = root.actor();
    let id = key.id.clone();
    let rotated = write(app, rid, move |v| v.rotate(&id, &rotation, &actor)).await?;
    Ok(answer(
        rid,
        "ROTATED",
        json!({"keyId": rotated.key.id.as_str(), "key": rotated.secret.expose()}),
    ))
}

async fn update(
    app: &App,
    root: &Root,
    admin_env: &Env,
    body: &Map<String, Value>,
    rid: &str,
) -> Handled {
    let key = target(app, root, Action::Update, admin_env, body, rid).await?;
    no_roles(body, rid)?;
    if body.get("enabled").is_some_and(|v| v != &Value::Bool(true)) {
        return Err(invalid(
            rid,
            "body.enabled",
            "keyward cannot disable a key and enable it again: revoke it with keys.deleteKey",
        ));
    }
    let name = match body.get("name") {
        None => None,
        Some(Value::String(s)) => Some(Name::parse(s).map_err(|e| usage(rid, "body.name", &e))?),
        Some(_) => return Err(invalid(rid, "body.name", "name must be a string")),
    };
    let (add_scopes, remove_scopes) = match scopes(body, rid)? {
        None => (Vec::new(), Vec::new()),
        Some(wanted) => (
            wanted
                .iter()
                .filter(|s| !key.scopes.contains(s))
                .cloned()
                .collect(),
            key.scopes
                .iter()
                .filter(|s| !wanted.contains(s))
                .cloned()
                .collect(),
        ),
    };
    let limits = key
        .quota
        .as_ref()
        .map(|q| q.ratelimits.clone())
        .unwrap_or_default();
    let u = Update {
        name,
        add_scopes,
        remove_scopes,
        note: None,
        quota: quota_change(body, rid, Some(&limits))?,
        owner: owner(body, rid)?,
        meta: meta(body, rid)?,
    };
    // `expires` of a key in its grace (rerolled) moves the end of the
    // grace, as `extend --grace` does; of an active key, its expiry.
    let expiry = expires(body, now(app), rid)?;
    let in_grace = key.status(now(app)) == Status::Grace;
    let grace_end = match (in_grace, expiry) {
        (true, Some(Expiry::At(m))) => Some(m),
        (true, Some(Expiry::Never)) => {
            return Err(invalid(
                rid,
                "body.expires",
                "a key in its grace stops at a time: give expires in unix milliseconds",
            ));
        }
        _ => None,
    };
    let actor = root.actor();
    let id = key.id.clone();
    let changes_more = u.name.is_some()
        || !u.add_scopes.is_empty()
        || !u.remove_scopes.is_empty()
        || !u.quota.is_empty()
        || u.owner.is_some()
        || u.meta.is_some();
    // One transaction: all of it, or nothing.
    write(app, rid, move |v| {
        v.write(|tx, now| {
            match (grace_end, expiry) {
                (Some(end), _) => {
                    keyward_core::intents::change_grace(tx, &id, end, &actor, now)?;
                }
                (None, Some(e)) => {
                    keyward_core::intents::change_expiry(tx, &id, e, &actor, now)?;
                }
                (None, None) => {}
            }
            if changes_more {
                keyward_core::intents::update(tx, &id, &u, &actor, now)?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(answer(rid, "UPDATED", json!({})))
}

async fn delete(
    app: &App,
    root: &Root,
    admin_env: &Env,
    body: &Map<String, Value>,
    rid: &str,
) -> Handled {
    let key = target(app, root, Action::Delete, admin_env, body, rid).await?;
    if body
        .get("permanent")
        .is_some_and(|v| v != &Value::Bool(false))
    {
        return Err(invalid(
            rid,
            "body.permanent",
            "keyward keeps every key's record for audit: permanent must be false",
        ));
    }
    let actor = root.actor();
    let id = key.id.clone();
    let reason = keyward_core::text::Reason::stored("deleted over HTTP".to_string());
    write(app, rid, move |v| {
        v.write(|tx, now| keyward_core::intents::revoke(tx, &id, Some(&reason), &actor, now))
    })
    .await?;
    Ok(answer(rid, "REVOKED", json!({})))
}

async fn whoami(
    app: &App,
    root: &Root,
    admin_env: &Env,
    body: &Map<String, Value>,
    rid: &str,
) -> Handled {
    let secret = required(body, "key", rid)?;
    let missing = || {
        error(
            rid,
            StatusCode::NOT_FOUND,
            "unkey/data/key_not_found",
            "no key has this secret",
        )
    };
    // serve's memory first; a key made a moment ago (a PostgreSQL serve
    // learns of it within a second) is read from the vault itself.
    let found = match app
        .lookup(secret.as_bytes())
        .await
        .map_err(|Unavailable| unavailable(rid))?
    {
        Some(k) => Some(k.id),
        None => from_vault(app, secret).await,
    };
    let key = match found {
        Some(id) => app
            .record(&id)
            .await
            .map_err(|Unavailable| unavailable(rid))?,
        None => None,
    }
    .ok_or_else(missing)?;
    if key.env == *admin_env
        || !root.may(Action::Whoami, &key.env)
        || app.env.as_ref().is_some_and(|only| *only != key.env)
    {
        return Err(missing());
    }
    Ok(ok(rid, key_data(&key, now(app))))
}

/// The id of the key a secret belongs to, read from the vault (None: no
/// key, not a secret, or the vault cannot be read).
async fn from_vault(app: &App, presented: &str) -> Option<KeyId> {
    let secret = keyward_core::secret::parse(presented.trim()).ok()?;
    let open = std::sync::Arc::clone(&app.open_vault);
    tokio::task::spawn_blocking(move || {
        let vault = open().ok()?;
        vault.check(&secret, &[], None).ok()?.key.map(|k| k.id)
    })
    .await
    .ok()
    .flatten()
}

/// At most this many keys a page.
const MAX_PAGE: u64 = 100;

async fn list(
    app: &App,
    root: &Root,
    admin_env: &Env,
    body: &Map<String, Value>,
    rid: &str,
) -> Handled {
    let env = api_env(body, rid)?;
    environment(app, root, Action::List, admin_env, &env, rid)?;
    let limit = match body.get("limit") {
        None => MAX_PAGE,
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                invalid(
                    rid,
                    "body.limit",
                    "limit must be a whole number from 1 to 100",
                )
            })?,
    };
    if body
        .get("decrypt")
        .is_some_and(|v| v != &Value::Bool(false))
    {
        return Err(invalid(
            rid,
            "body.decrypt",
            "keyward never stores a secret: decrypt must be false",
        ));
    }
    let after = string(body, "cursor", rid)?.map(str::to_string);
    let owner = string(body, "externalId", rid)?
        .map(Owner::parse)
        .transpose()
        .map_err(|e| usage(rid, "body.externalId", &e))?;
    let open = std::sync::Arc::clone(&app.open_vault);
    let for_env = env.clone();
    let keys = tokio::task::spawn_blocking(move || -> keyward_core::error::Result<Vec<Key>> {
        let vault = open()?;
        let filter = keyward_core::vault::KeyFilter {
            env: Some(for_env),
            all: false,
            expiring_by: None,
            unused_since: None,
            due_by: None,
            owner,
        };
        vault.keys(&filter)
    })
    .await;
    let mut keys = match keys {
        Ok(Ok(k)) => k,
        Ok(Err(e)) => return Err(refused(rid, &e)),
        Err(_) => return Err(unavailable(rid)),
    };
    // Pages in id order; the cursor is the last id of the page before.
    keys.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let start = after
        .as_deref()
        .map_or(0, |c| keys.partition_point(|k| k.id.as_str() <= c));
    let page_len = usize::try_from(limit).unwrap_or(100);
    let page: Vec<&Key> = keys.iter().skip(start).take(page_len).collect();
    let more = start + page.len() < keys.len();
    let now = now(app);
    let mut pagination = json!({"hasMore": more});
    if let (true, Some(last)) = (more, page.last()) {
        pagination["cursor"] = json!(last.id.as_str());
    }
    let data: Vec<Value> = page.iter().map(|k| key_data(k, now)).collect();
    Ok(Outcome {
        reply: http::json(
            StatusCode::OK,
            &json!({"meta": {"requestId": rid}, "data": data, "pagination": pagination}),
        ),
        code: Some("OK"),
        key: None,
    })
}

/// A key in Unkey's `KeyResponseData` shape.
fn key_data(k: &Key, now: Timestamp) -> Value {
    let ms = |t: Timestamp| t.unix().saturating_mul(1000);
    let mut d = json!({
        "keyId": k.id.as_str(),
        "start": format!("{}_", k.prefix),
        "enabled": k.status(now).is_live(),
        "createdAt": ms(k.created_at),
        "name": k.name.as_str(),
        "permissions": k.scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
        "roles": [],
    });
    if let Some(m) = &k.meta {
        d["meta"] = m.value();
    }
    if let Some(t) = k.last_used_at {
        d["lastUsedAt"] = json!(ms(t));
    }
    if let Some(t) = k.expires_at {
        d["expires"] = json!(ms(t));
    }
    if let Some(o) = &k.owner {
        d["identity"] = super::unkey::identity(o);
    }
    if let Some(q) = &k.quota {
        if q.credits.is_some() || q.refill.is_some() {
            let mut credits = json!({"remaining": q.credits_at(now.unix())});
            if let Some(r) = q.refill {
                credits["refill"] = match r.interval {
                    Interval::Daily => json!({"interval": "daily", "amount": r.amount}),
                    Interval::Monthly { day } => {
                        json!({"interval": "monthly", "amount": r.amount, "refillDay": day})
                    }
                };
            }
            d["credits"] = credits;
        }
        if !q.ratelimits.is_empty() {
            d["ratelimits"] = q
                .ratelimits
                .iter()
                .map(|l| {
                    let quota = k.quota_id.as_ref().map_or(k.id.as_str(), |id| id.as_str());
                    json!({"id": super::unkey::limit_id(quota, &l.name), "name": l.name.as_str(),
                           "limit": l.limit, "duration": l.duration_ms, "autoApply": true})
                })
                .collect();
        }
    }
    d
}
