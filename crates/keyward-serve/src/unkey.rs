//! `POST /v2/keys.verifyKey`: Unkey's v2 verify, so that Unkey's own SDKs
//! (unkey-py 3.x, @unkey/api 2.x) pointed at keyward work unchanged. Every
//! verdict is a 200 with `data.valid` and `data.code`; problems with the
//! request are Unkey-shaped errors (RFC 7807 fields under `error`).

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use keyward_core::intents::{Ask, AskLimit};
use keyward_core::key::{Brief, VerifyCode};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::App;
use super::Unavailable;
use super::http::{self, Reply};
use super::permissions::Query;
use super::request;
use super::routes::Outcome;
use keyward_core::shown::quote;

const DOCS: &str = "https://unkey.com/docs/errors";

/// An Unkey-shaped error: `{"meta":{"requestId"},"error":{"title","detail","status","type"}}`,
/// plus `errors` for a 400.
pub(crate) fn error(
    request_id: &str,
    status: StatusCode,
    kind: &str,
    detail: &str,
    errors: Option<Value>,
) -> Reply {
    let mut error = json!({
        "title": status.canonical_reason().unwrap_or("Error"),
        "detail": detail,
        "status": status.as_u16(),
        "type": format!("{DOCS}/{kind}"),
    });
    if status == StatusCode::BAD_REQUEST {
        error["errors"] = errors.unwrap_or_else(|| json!([]));
    }
    http::json(
        status,
        &json!({"meta": {"requestId": request_id}, "error": error}),
    )
}

fn invalid(request_id: &str, location: &str, message: &str, fix: &str) -> Outcome {
    error(
        request_id,
        StatusCode::BAD_REQUEST,
        "unkey/application/invalid_input",
        message,
        Some(json!([{"location": location, "message": message, "fix": fix}])),
    )
    .into()
}

fn unkey_code(code: VerifyCode) -> &'static str {
    match code {
        VerifyCode::Valid => "VALID",
        VerifyCode::Invalid => "NOT_FOUND",
        VerifyCode::Expired => "EXPIRED",
        VerifyCode::Revoked => "DISABLED",
        VerifyCode::InsufficientScope => "INSUFFICIENT_PERMISSIONS",
        VerifyCode::RateLimited => "RATE_LIMITED",
        VerifyCode::UsageExceeded => "USAGE_EXCEEDED",
    }
}

/// The members of Unkey's v2 `V2KeysVerifyKeyRequestBody` that keyward
/// honours: `key`, `permissions`, and `tags` (which Unkey uses for
/// analytics only; keyward checks their shape and keeps nothing).
const HONOURED: [&str; 5] = ["key", "permissions", "tags", "credits", "ratelimits"];

/// Unkey's tags: at most this many, each 1-512 characters.
const MAX_TAGS: usize = 20;
const MAX_TAG_LEN: usize = 512;

/// Members of Unkey's request that keyward has no counterpart for.
const UNSUPPORTED: [(&str, &str); 3] = [
    ("apiId", "a keyward vault is one API: drop the field"),
    (
        "migrationId",
        "keyward does not migrate keys from other systems",
    ),
    (
        "keyspaces",
        "a keyward vault is one keyspace: drop the field",
    ),
];

/// Unkey's `credits: {"cost": N}` and `ratelimits: [{"name", "cost",
/// "limit", "duration"}]`, read into what the quota is asked; or the
/// member at fault and why.
fn ask(request: &serde_json::Map<String, Value>) -> Result<Ask, (String, String)> {
    use keyward_core::quota::{MAX_COUNT, MAX_DURATION_MS, MAX_LIMITS, MIN_DURATION_MS};
    let count = |at: &str, v: Option<&Value>, min: u64| -> Result<Option<u64>, (String, String)> {
        match v {
            None => Ok(None),
            Some(v) => match v.as_u64().filter(|n| (min..=MAX_COUNT).contains(n)) {
                Some(n) => Ok(Some(n)),
                None => Err((
                    at.to_string(),
                    format!("{at} must be a whole number from {min} to {MAX_COUNT}"),
                )),
            },
        }
    };
    let only = |at: &str, map: &serde_json::Map<String, Value>, known: &[&str]| match map
        .keys()
        .find(|k| !known.contains(&k.as_str()))
    {
        Some(k) => Err((
            format!("{at}.{}", quote(k)),
            format!("'{}' is not a field of Unkey's {at}", quote(k)),
        )),
        None => Ok(()),
    };
    let mut ask = Ask {
        cost: 1,
        limits: Vec::new(),
    };
    if let Some(credits) = request.get("credits") {
        let Some(map) = credits.as_object() else {
            return Err((
                "body.credits".into(),
                "credits must be an object: {\"cost\": N}".into(),
            ));
        };
        only("body.credits", map, &["cost"])?;
        ask.cost = count("body.credits.cost", map.get("cost"), 0)?.unwrap_or(1);
    }
    if let Some(limits) = request.get("ratelimits") {
        let Some(all) = limits.as_array().filter(|a| a.len() <= MAX_LIMITS) else {
            return Err((
                "body.ratelimits".into(),
                format!("ratelimits must be a list of at most {MAX_LIMITS} objects"),
            ));
        };
        for (i, l) in all.iter().enumerate() {
            let at = format!("body.ratelimits[{i}]");
            let Some(map) = l.as_object() else {
                return Err((at.clone(), format!("{at} must be an object")));
            };
            only(&at, map, &["name", "cost", "limit", "duration"])?;
            let name = map
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    (
                        format!("{at}.name"),
                        format!("{at}.name is required and must be a string"),
                    )
                })
                .and_then(|n| {
                    keyward_core::quota::limit_name(n).map_err(|why| (format!("{at}.name"), why))
                })?;
            if ask.limits.iter().any(|l: &AskLimit| l.name == name) {
                return Err((format!("{at}.name"), "a rate limit is named twice".into()));
            }
            let cost = count(&format!("{at}.cost"), map.get("cost"), 0)?;
            let limit = count(&format!("{at}.limit"), map.get("limit"), 1)?;
            let duration = match map.get("duration") {
                None => None,
                Some(v) => match v
                    .as_i64()
                    .filter(|ms| (MIN_DURATION_MS..=MAX_DURATION_MS).contains(ms))
                {
                    Some(ms) => Some(ms),
                    None => {
                        return Err((
                            format!("{at}.duration"),
                            format!(
                                "{at}.duration must be milliseconds from {MIN_DURATION_MS} to {MAX_DURATION_MS}"
                            ),
                        ));
                    }
                },
            };
            let limit = match (limit, duration) {
                (Some(n), Some(ms)) => Some((n, ms)),
                (None, None) => None,
                _ => {
                    return Err((
                        at.clone(),
                        format!("{at}: give limit and duration together, or neither"),
                    ));
                }
            };
            ask.limits.push(AskLimit { name, cost, limit });
        }
    }
    Ok(ask)
}

/// An id in Unkey's shape (`PREFIX_` and 16 hex digits) for what keyward
/// names otherwise: the first 8 bytes of SHA-256 over `text`, stable.
fn unkey_id(prefix: &str, text: &str) -> String {
    let hash = keyward_core::secret::hash(text.as_bytes());
    let hex: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}

/// A rate limit's id: stable for a lineage's limit (the quota it draws
/// from, else the key, and the limit's name).
pub(crate) fn limit_id(quota_or_key: &str, name: &str) -> String {
    unkey_id("rl", &format!("{quota_or_key}\n{name}"))
}

/// Unkey's `identity` for a key's owner: `{"id", "externalId"}`.
pub(crate) fn identity(owner: &keyward_core::text::Owner) -> Value {
    json!({"id": unkey_id("id", owner.as_str()), "externalId": owner.as_str()})
}

fn valid_tags(tags: &Value) -> bool {
    match tags {
        Value::Null => true,
        Value::Array(all) => {
            all.len() <= MAX_TAGS
                && all.iter().all(|t| {
                    t.as_str()
                        .is_some_and(|t| (1..=MAX_TAG_LEN).contains(&t.chars().count()))
                })
        }
        _ => false,
    }
}

pub async fn verify_key(app: &App, req: Request<Incoming>) -> Outcome {
    let request_id = app.next_request_id();
    if app.root_key.is_none() && app.admin_env.is_none() {
        return error(
            &request_id,
            StatusCode::NOT_FOUND,
            "unkey/data/route_not_found",
            "Unkey's verify is off: start keyward serve with --root-key-env VAR or --admin-env ENV",
            None,
        )
        .into();
    }
    let checked = request::credentials(req.headers())
        .and_then(|()| request::body_only("/v2/keys.verifyKey", req.uri().query(), req.headers()));
    let presented = match checked.and_then(|()| request::bearer_once(req.headers())) {
        Ok(Some(p)) if !p.is_empty() => p,
        Err(p) => {
            return invalid(
                &request_id,
                &p.location,
                &p.message,
                "send one Authorization header, the key in the body, no query parameters and no \
                 X-Keyward-* headers",
            );
        }
        Ok(_) => {
            return error(
                &request_id,
                StatusCode::BAD_REQUEST,
                "unkey/authentication/missing",
                "send the root key as Authorization: Bearer ROOT_KEY",
                Some(json!([{"location": "header.Authorization", "message": "the root key is missing"}])),
            )
            .into();
        }
    };
    let given = keyward_core::secret::hash(presented);
    let shared = app.root_key.is_some_and(|r| bool::from(given.ct_eq(&r)));
    // Else a root key of --admin-env with verify_key, for the environments
    // it names (never the admin environment's own keys).
    let scope: Option<Vec<String>> = match (shared, &app.admin_env) {
        (true, _) => None,
        (false, Some(admin)) => match app.lookup(presented).await {
            Ok(Some(k))
                if k.env == *admin
                    && matches!(
                        k.status(app.clock.now()),
                        keyward_core::key::Status::Active | keyward_core::key::Status::Grace
                    ) =>
            {
                let envs: Vec<String> = k
                    .scopes
                    .iter()
                    .filter_map(|s| {
                        s.as_str()
                            .strip_prefix("api.")?
                            .strip_suffix(".verify_key")
                            .map(str::to_string)
                    })
                    .collect();
                if envs.is_empty() {
                    return error(
                        &request_id,
                        StatusCode::FORBIDDEN,
                        "unkey/authorization/insufficient_permissions",
                        "the root key lacks the permission api.*.verify_key",
                        None,
                    )
                    .into();
                }
                Some(envs)
            }
            Ok(_) => {
                return error(
                    &request_id,
                    StatusCode::UNAUTHORIZED,
                    "unkey/authentication/key_not_found",
                    "the root key is neither the one this server was started with nor a live root key",
                    None,
                )
                .into();
            }
            Err(Unavailable) => {
                return error(
                    &request_id,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unkey/application/service_unavailable",
                    "the vault cannot be read right now; the key was not checked",
                    None,
                )
                .into();
            }
        },
        (false, None) => {
            return error(
                &request_id,
                StatusCode::UNAUTHORIZED,
                "unkey/authentication/key_not_found",
                "the root key is not the one this server was started with",
                None,
            )
            .into();
        }
    };
    let may_verify = |env: &keyward_core::text::Env| match &scope {
        None => true,
        Some(envs) => {
            app.admin_env.as_ref() != Some(env)
                && envs.iter().any(|e| e == "*" || e == env.as_str())
        }
    };
    // One environment named: verdicts from it alone.
    let only_env = match scope.as_deref() {
        Some([one]) if one != "*" => keyward_core::text::Env::parse(one).ok(),
        _ => None,
    };
    if !http::json_or_unlabelled(&req) {
        return invalid(
            &request_id,
            "header.Content-Type",
            "the body must be JSON",
            "send Content-Type: application/json",
        );
    }
    let body = match http::body(req).await {
        Ok(b) => b,
        Err(e) => {
            return error(
                &request_id,
                e.status(),
                "unkey/application/invalid_input",
                &e.message(),
                None,
            )
            .into();
        }
    };
    let request = match request::json_object(&body) {
        Ok(map) => map,
        Err(p) => {
            return invalid(
                &request_id,
                &p.location,
                &format!(
                    "the body is not what Unkey's verifyKey takes: {}",
                    p.message
                ),
                "send {\"key\": \"...\"}",
            );
        }
    };
    for (field, why) in UNSUPPORTED {
        if request.contains_key(field) {
            return invalid(
                &request_id,
                &format!("body.{field}"),
                &format!("{field} is not supported by keyward: {why}"),
                &format!("remove {field} from the request"),
            );
        }
    }
    if let Err(p) = request::no_nulls(&request) {
        return invalid(
            &request_id,
            &p.location,
            &p.message,
            "give the member a value, or leave it out",
        );
    }
    let known =
        |name: &str| HONOURED.contains(&name) || UNSUPPORTED.iter().any(|(f, _)| *f == name);
    if let Some(name) = request.keys().find(|name| !known(name)) {
        let name = quote(name);
        return invalid(
            &request_id,
            &format!("body.{name}"),
            &format!("'{name}' is not a field of Unkey's v2 verifyKey request"),
            "send only key, permissions, tags, credits and ratelimits",
        );
    }
    if let Some(tags) = request.get("tags")
        && !valid_tags(tags)
    {
        return invalid(
            &request_id,
            "body.tags",
            &format!(
                "tags must be a list of at most {MAX_TAGS} strings of 1-{MAX_TAG_LEN} characters"
            ),
            "e.g. [\"endpoint=/orders\"]",
        );
    }
    let Some(key) = request.get("key").and_then(Value::as_str) else {
        return invalid(
            &request_id,
            "body.key",
            "key is required and must be a string",
            "send {\"key\": \"...\"}",
        );
    };
    let query = match request.get("permissions") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match Query::parse(text) {
            Ok(q) => Some(q),
            Err(why) => {
                return invalid(
                    &request_id,
                    "body.permissions",
                    &why,
                    "e.g. \"read AND (write OR admin)\"",
                );
            }
        },
        Some(_) => {
            return invalid(
                &request_id,
                "body.permissions",
                "permissions must be a string",
                "e.g. \"read AND write\"",
            );
        }
    };
    let allows = |k: &Brief| {
        query
            .as_ref()
            .is_none_or(|q| q.allows(&|scope| k.has_scope(scope)))
    };
    let ask = match ask(&request) {
        Ok(a) => a,
        Err((location, message)) => {
            return invalid(
                &request_id,
                &location,
                &message,
                "see Unkey's verifyKey request",
            );
        }
    };
    let judged = match app
        .judge(key.as_bytes(), only_env.as_ref(), &allows, &ask)
        .await
    {
        Ok(j) => j,
        Err(Unavailable) => {
            return Outcome {
                reply: error(
                    &request_id,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unkey/application/service_unavailable",
                    "the vault cannot be read right now; the key was not checked",
                    None,
                ),
                code: Some("VAULT_UNAVAILABLE"),
                key: None,
            };
        }
    };
    if let Some(name) = judged
        .spent
        .as_ref()
        .and_then(|s| s.unknown_limit.as_deref())
    {
        return invalid(
            &request_id,
            "body.ratelimits",
            &format!("the key has no rate limit named '{}'", quote(name)),
            "name one of the key's limits, or give limit and duration to apply one for this call",
        );
    }
    // A key of an environment the root key may not verify in is not there.
    let judged = match judged.key.as_ref() {
        Some(k) if !may_verify(&k.env) => super::Judged {
            code: VerifyCode::Invalid,
            key: None,
            now: judged.now,
            spent: None,
        },
        _ => judged,
    };
    let code = unkey_code(judged.code);
    // A key with an owner or metadata: its full record, read now.
    let described = match judged.key.as_ref().filter(|k| k.described) {
        None => None,
        Some(k) => match app.record(&k.id).await {
            Ok(full) => full,
            Err(Unavailable) => {
                return Outcome {
                    reply: error(
                        &request_id,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unkey/application/service_unavailable",
                        "the vault cannot be read right now",
                        None,
                    ),
                    code: Some("VAULT_UNAVAILABLE"),
                    key: None,
                };
            }
        },
    };
    let data = match &judged.key {
        None => json!({"valid": false, "code": code}),
        Some(k) => {
            // The key's metadata, with `env` naming its environment.
            let mut meta = described
                .as_ref()
                .and_then(|full| full.meta.as_ref())
                .map_or_else(serde_json::Map::new, |m| match m.value() {
                    Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                });
            meta.insert("env".into(), json!(k.env.as_str()));
            let mut data = json!({
                "valid": judged.code == VerifyCode::Valid,
                "code": code,
                "keyId": k.id.as_str(),
                "name": k.name.as_str(),
                "enabled": !k.revoked,
                "permissions": k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "meta": meta,
            });
            if let Some(owner) = described.as_ref().and_then(|full| full.owner.as_ref()) {
                data["identity"] = identity(owner);
            }
            // Unkey leaves `expires` out for a key without expiry: its SDKs
            // validate it as an integer and reject a null.
            if let Some(t) = k.expires_at {
                data["expires"] = json!(t.unix().saturating_mul(1000));
            }
            if let Some(spent) = &judged.spent {
                if let Some(credits) = spent.credits {
                    data["credits"] = json!(credits);
                }
                data["ratelimits"] = spent
                    .limits
                    .iter()
                    .map(|l| {
                        json!({
                            "exceeded": l.exceeded,
                            "id": limit_id(judged.key.as_ref().map_or("", |k| k.quota.as_ref().map_or(k.id.as_str(), |q| q.id.as_str())), &l.limit.name),
                            "name": l.limit.name.as_str(),
                            "limit": l.limit.limit,
                            "duration": l.limit.duration_ms,
                            // Unkey: milliseconds until the window resets
                            // (its schema's least is 1000).
                            "reset": l.reset_ms.max(1000),
                            "remaining": l.remaining,
                            "autoApply": l.auto_apply,
                        })
                    })
                    .collect();
            }
            data
        }
    };
    Outcome {
        reply: http::json(
            StatusCode::OK,
            &json!({"meta": {"requestId": request_id}, "data": data}),
        ),
        code: Some(judged.code.as_str()),
        key: judged.key.as_ref().map(super::shown_key),
    }
}
