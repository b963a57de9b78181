//! One request parser for every route: the credential headers, the
//! requirements of `/v1/authz` (query and `X-Keyward-*` headers) and of the
//! JSON routes, and JSON bodies. The rules are the same everywhere: a
//! header or member given twice, a parameter or member keyward does not
//! know, an empty or malformed requirement are refused, never guessed at,
//! so that no misspelling can drop a requirement. A [`Problem`] names what
//! is wrong (a parameter, header or member) but never quotes a value from
//! the request, which may hold a secret; each route renders it in its own
//! error shape.

use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use keyward_core::shown::quote;
use keyward_core::text::{Env, Scope};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// What is wrong with a request: a 400 (or another 4xx) naming where.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// Where, in Unkey's notation: `header.Authorization`, `query.scope`,
    /// `body.key`, `body`.
    pub location: String,
    pub message: String,
}

impl Problem {
    pub fn bad(location: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::BAD_REQUEST,
            location: location.into(),
            message: message.into(),
        }
    }
}

pub static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
static REQUIRE_SCOPE: HeaderName = HeaderName::from_static("x-keyward-require-scope");
static COST: HeaderName = HeaderName::from_static("x-keyward-cost");

/// The secret of `Authorization: Bearer SECRET`, if that is the header's
/// scheme.
fn bearer(value: &HeaderValue) -> Option<&[u8]> {
    let value = value.as_bytes();
    let (scheme, rest) = value.split_at(value.iter().position(|&b| b == b' ')?);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| rest.trim_ascii())
}

/// The one value of a header that may be given once (None when absent).
/// Two would let a proxy and keyward each read a different one.
fn once<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    shown: &str,
) -> Result<Option<&'a HeaderValue>, Problem> {
    let mut all = headers.get_all(name).iter();
    let first = all.next();
    if all.next().is_some() {
        return Err(twice(shown));
    }
    Ok(first)
}

/// A header that may be given once was given more often.
fn twice(shown: &str) -> Problem {
    Problem::bad(
        format!("header.{shown}"),
        format!("send one {shown} header, not several"),
    )
}

/// The bearer secret of the one `Authorization` header (None when there is
/// none, or it is not `Bearer`).
pub fn bearer_once(headers: &HeaderMap) -> Result<Option<&[u8]>, Problem> {
    Ok(once(headers, &AUTHORIZATION, "Authorization")?.and_then(bearer))
}

/// The secret a client presents to `/v1/authz`: `Authorization: Bearer`,
/// else `X-API-Key`; each header at most once.
pub fn presented(headers: &HeaderMap) -> Result<Option<&[u8]>, Problem> {
    let (authorization, api_key) = credential_headers(headers)?;
    let bearer = authorization.and_then(bearer);
    let api_key = api_key.map(HeaderValue::as_bytes);
    Ok(bearer.or(api_key).filter(|p| !p.is_empty()))
}

/// What a request requires of a key besides being live.
#[derive(Debug, Default)]
pub struct Requirements {
    pub scopes: Vec<Scope>,
    pub env: Option<Env>,
    /// What the request costs in credits and rate limits (`?cost=`,
    /// `X-Keyward-Cost`); None = 1.
    pub cost: Option<u64>,
}

/// A cost: a whole number from 0 to the largest count keyward takes.
pub fn cost(location: &str, text: &str, cost: &mut Option<u64>) -> Result<(), Problem> {
    if cost.is_some() {
        return Err(Problem::bad(location, "give the cost once"));
    }
    let n = keyward_core::quota::count(text).ok_or_else(|| {
        Problem::bad(
            location,
            format!(
                "the cost must be a whole number from 0 to {}",
                keyward_core::quota::MAX_COUNT
            ),
        )
    })?;
    *cost = Some(n);
    Ok(())
}

/// An empty scope in a requirement is most likely a proxy's variable that
/// was never set: taken as "no scope required", it would let every key in.
const EMPTY_SCOPE: &str = "an empty scope in a requirement: name the scope, or leave the \
     requirement out";

/// One required scope: a token (see [`Scope::parse`]), never empty.
fn required_scope(location: &str, text: &str) -> Result<Scope, Problem> {
    if text.is_empty() {
        return Err(Problem::bad(
            location,
            format!("{EMPTY_SCOPE} ({location})"),
        ));
    }
    Scope::parse(text).map_err(|_| {
        Problem::bad(
            location,
            format!(
                "a scope in {location} is not a scope keyward accepts: scopes are 1-64 visible \
                 characters without commas or whitespace (give several as a,b)"
            ),
        )
    })
}

/// The scopes of a comma-separated list (`a,b`, `a, b`); none may be empty.
fn scope_list(location: &str, list: &str, into: &mut Vec<Scope>) -> Result<(), Problem> {
    for piece in list.split(',') {
        let scope = required_scope(location, piece.trim())?;
        if !into.contains(&scope) {
            into.push(scope);
        }
    }
    Ok(())
}

/// The environment a request narrows to: never empty.
fn required_env(location: &str, text: &str) -> Result<Env, Problem> {
    if text.is_empty() {
        return Err(Problem::bad(
            location,
            format!("{location} is empty: name the environment, or leave it out"),
        ));
    }
    Env::parse(text).map_err(|_| {
        Problem::bad(
            location,
            format!("{location} is not an environment keyward accepts (1-64 visible characters)"),
        )
    })
}

/// `/v1/authz`'s requirements: `?scope=` (repeatable, comma-separated) and
/// `?env=` (once) from the query, and `X-Keyward-Require-Scope` headers.
/// A query parameter or `X-Keyward-*` header keyward does not know is
/// refused, so that a misspelt requirement (`?scopes=`, `?Scope=`,
/// `?scope[]=`) is never quietly dropped.
///
/// `own_query` is false below `/v1/authz/` (Envoy's `path_prefix`), where
/// the query is the client's: it is never read for requirements, which
/// there come only from headers the proxy adds. Its other parameters are
/// the client's business, but one named like a requirement (`scope`,
/// `Scopes`, `env[]`, …) is refused: keyward cannot tell it from a proxy
/// address written `/v1/authz/?scope=…`, whose requirement would be lost.
pub fn authz(
    query: Option<&str>,
    own_query: bool,
    headers: &HeaderMap,
) -> Result<Requirements, Problem> {
    let mut req = Requirements::default();
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if !own_query {
            if looks_like_a_requirement(&name) {
                return Err(Problem::bad(
                    format!("query.{}", quote(&name)),
                    format!(
                        "below /v1/authz/ the query is the client's and keyward reads no \
                         requirement from it, yet it has the parameter '{}': send requirements in \
                         X-Keyward-Require-Scope, or call /v1/authz?scope=... (no slash before ?)",
                        quote(&name)
                    ),
                ));
            }
            continue;
        }
        match &*name {
            "scope" => scope_list("?scope=", &value, &mut req.scopes)?,
            "env" if req.env.is_some() => {
                return Err(Problem::bad("query.env", "give ?env= once"));
            }
            "env" => req.env = Some(required_env("?env=", &value)?),
            "cost" => cost("query.cost", &value, &mut req.cost)?,
            other => {
                return Err(Problem::bad(
                    format!("query.{}", quote(other)),
                    format!(
                        "the query parameter '{}' is not one keyward knows: /v1/authz takes \
                         ?scope= (repeatable, or a,b), ?env= and ?cost=",
                        quote(other)
                    ),
                ));
            }
        }
    }
    for (name, value) in headers {
        let lower = name.as_str();
        if !is_keywards(lower) {
            continue;
        }
        if name == COST {
            let Ok(text) = value.to_str() else {
                return Err(Problem::bad(
                    "header.X-Keyward-Cost",
                    "X-Keyward-Cost must be a number",
                ));
            };
            cost("header.X-Keyward-Cost", text, &mut req.cost)?;
            // Proxies pass a client's headers on to the check: a cost taken
            // from one may only make a verification dearer, never free.
            if req.cost == Some(0) {
                return Err(Problem::bad(
                    "header.X-Keyward-Cost",
                    "X-Keyward-Cost must be at least 1: a check that spends nothing (cost 0) is \
                     asked for in the query, ?cost=0, which the proxy's configuration writes",
                ));
            }
            continue;
        }
        if name != REQUIRE_SCOPE {
            return Err(Problem::bad(
                format!("header.{lower}"),
                format!(
                    "the request header '{}' is not one keyward knows: /v1/authz reads \
                     X-Keyward-Require-Scope and X-Keyward-Cost (the other X-Keyward-* headers are keyward's answer)",
                    quote(lower)
                ),
            ));
        }
        let Ok(list) = value.to_str() else {
            return Err(Problem::bad(
                "header.X-Keyward-Require-Scope",
                "X-Keyward-Require-Scope must be visible ASCII text",
            ));
        };
        scope_list("X-Keyward-Require-Scope", list, &mut req.scopes)?;
    }
    Ok(req)
}

/// Whether a query parameter's name, in any case and with anything but
/// letters left out, is `scope`, `scopes` or `env`.
fn looks_like_a_requirement(name: &str) -> bool {
    let letters: String = name
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    matches!(letters.as_str(), "scope" | "scopes" | "env")
}

/// A header name's letters and digits, lowercased: what CGI, WSGI, Rack
/// and PHP make of it, whatever separators it is spelt with
/// (`X_Keyward_Scopes`, `X.Keyward-Scopes` and `x-keyward-scopes` all read
/// as `HTTP_X_KEYWARD_SCOPES` to some application).
fn letters(lower: &str) -> impl Iterator<Item = u8> + '_ {
    lower.bytes().filter(u8::is_ascii_alphanumeric)
}

/// Whether `lower`'s letters and digits begin with `start` (no allocation:
/// this runs for every header of every request).
fn letters_start_with(lower: &str, start: &str) -> bool {
    let mut ours = letters(lower);
    start.bytes().all(|b| ours.next() == Some(b))
}

/// Whether a (lowercase) header name is in keyward's `X-Keyward-*` family,
/// however it is spelt (`x_keyward_require_scope`, `x.keyward-scopes`,
/// `x-keywardscope`): a near miss is refused, not ignored.
fn is_keywards(lower: &str) -> bool {
    letters_start_with(lower, "xkeyward")
}

/// The rules for credential headers on every route: `Authorization` and
/// `X-API-Key` at most once each, and `X-API-Key` spelt only so. A secret
/// sent as `X_API_KEY` or `X.Api-Key` would be ignored by keyward yet read
/// by an application behind the proxy as `X-API-Key`; it is refused.
pub fn credentials(headers: &HeaderMap) -> Result<(), Problem> {
    credential_headers(headers).map(drop)
}

/// The one `Authorization` and the one `X-API-Key` header, if any, under
/// the rules of [`credentials`]: one pass over the headers (this runs for
/// every request).
fn credential_headers(
    headers: &HeaderMap,
) -> Result<(Option<&HeaderValue>, Option<&HeaderValue>), Problem> {
    let (mut authorization, mut api_key) = (None, None);
    let (mut authorizations, mut api_keys) = (0, 0);
    let mut misspelt = None;
    for (name, value) in headers {
        if *name == AUTHORIZATION {
            authorizations += 1;
            authorization.get_or_insert(value);
        } else if *name == X_API_KEY {
            api_keys += 1;
            api_key.get_or_insert(value);
        } else if misspelt.is_none() && letters(name.as_str()).eq("xapikey".bytes()) {
            misspelt = Some(name);
        }
    }
    if authorizations > 1 {
        return Err(twice("Authorization"));
    }
    if api_keys > 1 {
        return Err(twice("X-API-Key"));
    }
    if let Some(name) = misspelt {
        return Err(Problem::bad(
            format!("header.{}", name.as_str()),
            format!(
                "the request header '{}' is not how keyward takes a secret: send it as \
                 X-API-Key or Authorization: Bearer",
                quote(name.as_str())
            ),
        ));
    }
    Ok((authorization, api_key))
}

/// The JSON routes take their requirements from the body only: a query
/// parameter or an `X-Keyward-*` header (one meant for `/v1/authz`, most
/// likely) is refused rather than ignored, so that a requirement moved
/// from authz to the body is never silently lost on the way.
pub fn body_only(route: &str, query: Option<&str>, headers: &HeaderMap) -> Result<(), Problem> {
    if let Some((name, _)) = form_urlencoded::parse(query.unwrap_or("").as_bytes()).next() {
        return Err(Problem::bad(
            format!("query.{}", quote(&name)),
            format!(
                "{route} takes no query parameters (it has '{}'): give requirements in the body",
                quote(&name)
            ),
        ));
    }
    if let Some(name) = headers.keys().find(|n| is_keywards(n.as_str())) {
        return Err(Problem::bad(
            format!("header.{}", name.as_str()),
            format!(
                "{route} reads no X-Keyward-* request header (it has '{}'): give requirements in \
                 the body",
                quote(name.as_str())
            ),
        ));
    }
    Ok(())
}

/// A member given as `null` is refused: `{"env": null}` is most likely an
/// unset variable, and taken as "not given" it would drop a requirement.
pub fn no_nulls(map: &Map<String, Value>) -> Result<(), Problem> {
    match map.iter().find(|(_, v)| v.is_null()) {
        Some((name, _)) => Err(Problem::bad(
            format!("body.{}", quote(name)),
            format!(
                "the member '{}' is null: give it a value, or leave it out",
                quote(name)
            ),
        )),
        None => Ok(()),
    }
}

/// `require_scopes` of a JSON route: the same rules as `?scope=`, one
/// scope per item.
pub fn scopes(location: &str, items: &[String]) -> Result<Vec<Scope>, Problem> {
    let mut out: Vec<Scope> = Vec::with_capacity(items.len());
    for item in items {
        let scope = required_scope(location, item)?;
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(out)
}

/// `env` of a JSON route: the same rules as `?env=`.
pub fn env(location: &str, text: Option<&str>) -> Result<Option<Env>, Problem> {
    text.map(|t| required_env(location, t)).transpose()
}

/// A JSON body that must be an object, with no member given twice at any
/// depth (a parser that keeps the last and one that keeps the first would
/// read different requests).
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, Problem> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Strict::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(Strict(Value::Object(map))) => Ok(map),
        Ok(_) => Err(Problem::bad("body", "the body must be a JSON object")),
        Err(e) => Err(Problem::bad("body", json_problem(&e))),
    }
}

/// Any JSON value, each member of each object given once.
pub fn json_strict(body: &[u8]) -> Result<Value, Problem> {
    let mut de = serde_json::Deserializer::from_slice(body);
    match Strict::deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
        Ok(Strict(v)) => Ok(v),
        Err(e) => Err(Problem::bad("body", json_problem(&e))),
    }
}

/// A JSON error without the input it quotes (which may be a secret):
/// where it is, and what kind of problem.
pub fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let text = e.to_string();
    let field = |lead: &str| {
        let rest = text.strip_prefix(lead)?;
        let name = rest.split('`').next()?;
        Some(quote(name))
    };
    let what = match e.classify() {
        Category::Syntax => "it is not valid JSON".to_string(),
        Category::Eof => "it ends too early".to_string(),
        Category::Data => match (
            field("missing field `"),
            field("unknown field `"),
            field("duplicate field `"),
        ) {
            (Some(name), _, _) => format!("the field '{name}' is missing"),
            (_, Some(name), _) => format!("the field '{name}' is not one keyward knows"),
            (_, _, Some(name)) => format!("the field '{name}' appears twice: give it once"),
            _ => "a field has the wrong type".to_string(),
        },
        Category::Io => "it could not be read".to_string(),
    };
    if e.line() == 0 {
        return what;
    }
    format!("{what} (line {}, column {})", e.line(), e.column())
}

/// A JSON value whose objects never name a member twice.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if out.contains_key(&name) {
                return Err(de::Error::custom(format_args!("duplicate field `{name}`")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(name, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        h
    }

    fn names(r: &Requirements) -> Vec<&str> {
        r.scopes.iter().map(Scope::as_str).collect()
    }

    #[test]
    fn misspelt_requirements_are_refused_not_dropped() {
        for query in [
            "scopes=admin",
            "Scope=admin",
            "SCOPE=admin",
            "scope[]=admin",
            ";scope=admin",
            "scope=read&scopes=admin",
            "ENV=prod",
            "=admin",
            "key=kw_x",
        ] {
            let e = authz(Some(query), true, &HeaderMap::new()).expect_err(query);
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert!(
                !e.message.contains("admin"),
                "never the value: {}",
                e.message
            );
        }
        for header in [
            "x-keyward-require-scopes",
            "x-keyward-scopes",
            "x-keyward-env",
            "x_keyward_require_scope",
            "x-keyward_require-scope",
            "x-keywardrequire-scope",
        ] {
            let e = authz(None, true, &headers(&[(header, "admin")])).expect_err(header);
            assert!(
                e.message.contains(header) && !e.message.contains("admin"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn requirements_are_tokens_and_never_empty() {
        for query in [
            "scope=",
            "scope=read,",
            "scope=read,admin ops",
            "scope=a+b",
            "env=",
            "env",
            "scope",
        ] {
            assert!(
                authz(Some(query), true, &HeaderMap::new()).is_err(),
                "{query}"
            );
        }
        assert!(authz(None, true, &headers(&[("x-keyward-require-scope", ",,")])).is_err());
        let r = authz(
            Some("scope=read&scope=deploy,admin&env=prod"),
            true,
            &headers(&[("x-keyward-require-scope", "read, ops")]),
        )
        .expect("valid");
        assert_eq!(names(&r), ["read", "deploy", "admin", "ops"]);
        assert_eq!(r.env.as_ref().map(Env::as_str), Some("prod"));
    }

    #[test]
    fn below_authz_the_query_is_the_clients_and_is_not_read() {
        let required = headers(&[("x-keyward-require-scope", "read")]);
        let r = authz(Some("page=2&q=a,b&envelope=x&scoped=1"), false, &required)
            .expect("the client's query is not read");
        assert_eq!(names(&r), ["read"]);
        assert!(r.env.is_none());
        // A parameter named like a requirement may be a proxy address
        // written /v1/authz/?scope=...: refused, never dropped.
        for query in [
            "scope=admin",
            "Scopes=admin",
            "scope[]=a",
            ";env=prod",
            "ENV=",
            "x=1&scope=read",
        ] {
            let e = authz(Some(query), false, &required).expect_err(query);
            assert!(
                !e.message.contains("admin") && !e.message.contains("prod"),
                "{}",
                e.message
            );
        }
        assert!(authz(Some(""), false, &headers(&[("x-keyward-env", "x")])).is_err());
    }

    #[test]
    fn json_members_given_twice_are_refused_at_any_depth() {
        assert!(json_object(br#"{"key": "a", "permissions": "x"}"#).is_ok());
        for bad in [
            r#"{"key": "a", "key": "b"}"#,
            r#"{"key": "a", "credits": {"cost": 1, "cost": 2}}"#,
            r#"{"key": "a", "ratelimits": [{"name": "x", "name": "y"}]}"#,
        ] {
            let e = json_object(bad.as_bytes()).expect_err(bad);
            assert!(e.message.contains("appears twice"), "{}", e.message);
        }
        assert!(json_object(b"[]").is_err());
        // A body of brackets is refused, not a stack overflow.
        let deep = format!("{{\"a\": {}", "[".repeat(16 * 1024));
        assert!(json_object(deep.as_bytes()).is_err());
        let deep = "{\"a\":".repeat(4000);
        assert!(json_object(deep.as_bytes()).is_err());
        assert!(json_object(br#"{"key": "a"} x"#).is_err());
    }
}
