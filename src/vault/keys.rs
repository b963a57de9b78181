//! Key queries and writes, one intent per method, each write in one
//! `BEGIN IMMEDIATE` transaction with its checks inside.

use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::{Map, Value, json};

use super::{Vault, events, settings};
use crate::error::Result;
use crate::event::{EventKind, NewEvent};
use crate::key::{self, Key, KeyRef, Status, VerifyCode};
use crate::lifecycle;
use crate::secret::{self, Secret};
use crate::when::{Deadline, Timestamp};

/// Minimum seconds between two last-used writes for one key.
pub const LAST_USED_RESOLUTION: i64 = 60;

/// The answer for a presented secret, and which key it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub code: VerifyCode,
    /// The key the secret belongs to, whatever its status.
    pub key_id: Option<String>,
    pub last_used_at: Option<Timestamp>,
}

/// What `create` asks for; already validated by the caller.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub name: Option<String>,
    pub env: String,
    pub expires: Deadline,
    pub scopes: Vec<String>,
    /// None: the vault's `prefix` setting.
    pub prefix: Option<String>,
}

/// Which keys `list` shows.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    pub env: Option<String>,
    /// Include expired and revoked keys.
    pub all: bool,
    /// Only keys whose expiry or grace ends after now and by this time.
    pub expiring_by: Option<Timestamp>,
    /// Only keys not used since this time (or never).
    pub unused_since: Option<Timestamp>,
}

impl KeyFilter {
    fn matches(&self, k: &Key, now: Timestamp) -> bool {
        (self.all || k.status(now).is_live())
            && self
                .expiring_by
                .is_none_or(|by| k.expires_at.is_some_and(|t| t > now && t <= by))
            && self
                .unused_since
                .is_none_or(|since| k.last_used_at.is_none_or(|t| t <= since))
    }
}

/// `SELECT <every key column> FROM keys <tail>`, as a literal.
macro_rules! select_keys {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, env, prefix, hint, scopes, is_default, created_at, expires_at, ",
            "revoked_at, revoke_reason, last_used_at, rotated_from, rotated_to FROM keys ",
            $tail
        )
    };
}

// The hot statements, named so that the query-plan test checks exactly these.
pub(super) const KEY_BY_ID: &str = select_keys!("WHERE id = ?1");
/// Ids are [a-z2-7], all below '~', so this range is "starts with".
pub(super) const KEYS_BY_ID_PREFIX: &str =
    select_keys!("WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT 10");
pub(super) const CURRENT_BY_NAME: &str =
    select_keys!("WHERE env = ?1 AND name = ?2 AND revoked_at IS NULL AND rotated_to IS NULL");
pub(super) const ACTIVE_IN_ENV: &str = select_keys!(
    "WHERE env = ?1 AND revoked_at IS NULL AND rotated_to IS NULL AND (expires_at IS NULL OR expires_at > ?2)"
);
pub(super) const KEYS_IN_ENV: &str = select_keys!("WHERE env = ?1 ORDER BY env, created_at, rowid");
const ALL_KEYS: &str = select_keys!("ORDER BY env, created_at, rowid");
pub(super) const CHECK_SECRET: &str = "SELECT id, revoked_at IS NOT NULL, expires_at, rotated_to IS NOT NULL, \
     scopes, last_used_at FROM keys WHERE secret_sha256 = ?1";
pub(super) const ENV_HAS_KEYS: &str = "SELECT 1 FROM keys WHERE env = ?1 LIMIT 1";

impl Vault {
    /// Creates a key, unless its environment is at `max-keys` active keys or
    /// an active key there has the name. Returns the key and its secret.
    pub fn create(&mut self, new: NewKey, actor: &str, now: Timestamp) -> Result<(Key, Secret)> {
        self.write(|tx| create(tx, new, actor, now))
    }

    /// The one key a KEY argument names: an id, a unique id prefix, or the
    /// name of an active key in `env`.
    pub fn find(&self, key: &KeyRef, env: &str, now: Timestamp) -> Result<Key> {
        find(&self.conn, key, env, now)
    }

    pub fn keys(&self, filter: &KeyFilter, now: Timestamp) -> Result<Vec<Key>> {
        let mut keys = match &filter.env {
            Some(env) => query_keys(&self.conn, KEYS_IN_ENV, [env])?,
            None => query_keys(&self.conn, ALL_KEYS, [])?,
        };
        keys.retain(|k| filter.matches(k, now));
        Ok(keys)
    }

    /// What `verify` answers for a presented secret: one indexed lookup of
    /// the SHA-256, reading only what the answer needs. The scopes are
    /// parsed only when some are required.
    pub fn check(&self, secret: &Secret, required: &[String], now: Timestamp) -> Result<Check> {
        let found = self
            .conn
            .prepare_cached(CHECK_SECRET)?
            .query_row([&secret.hash()[..]], |r| {
                let status = Status::derive(
                    r.get(1)?,
                    r.get::<_, Option<i64>>(2)?.map(Timestamp::from_unix),
                    r.get(3)?,
                    now,
                );
                let code = VerifyCode::for_status(status, required, |want| {
                    let scopes = r
                        .get_ref(4)
                        .ok()
                        .and_then(|v| v.as_str().ok())
                        .unwrap_or("[]");
                    serde_json::from_str::<Vec<String>>(scopes)
                        .is_ok_and(|have| have.iter().any(|s| s == want))
                });
                Ok(Check {
                    code,
                    key_id: Some(r.get(0)?),
                    last_used_at: r.get::<_, Option<i64>>(5)?.map(Timestamp::from_unix),
                })
            })
            .optional()?;
        Ok(found.unwrap_or(Check {
            code: VerifyCode::Invalid,
            key_id: None,
            last_used_at: None,
        }))
    }

    /// Records that the key was used at `now`, at most once a minute per key.
    /// Returns whether it wrote.
    pub fn touch(&mut self, check: &Check, now: Timestamp) -> Result<bool> {
        let Some(id) = &check.key_id else {
            return Ok(false);
        };
        if check
            .last_used_at
            .is_some_and(|t| now.unix() - t.unix() < LAST_USED_RESOLUTION)
        {
            return Ok(false);
        }
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE keys SET last_used_at = ?1 WHERE id = ?2
                 AND (last_used_at IS NULL OR last_used_at <= ?1 - ?3)",
            )
            .and_then(|mut s| s.execute(rusqlite::params![now.unix(), id, LAST_USED_RESOLUTION]))
            .map_err(|e| super::read_only(&self.path, e.into()))?;
        Ok(changed > 0)
    }
}

pub(super) fn create(
    tx: &Connection,
    new: NewKey,
    actor: &str,
    now: Timestamp,
) -> Result<(Key, Secret)> {
    let config = settings::read(tx)?;
    let active = active_in_env(tx, &new.env, now)?;
    lifecycle::may_add_active(active.len(), config.max_keys, &new.env)?;
    let id = key::new_id()?;
    let name = new.name.clone().unwrap_or_else(|| id.clone());
    lifecycle::name_is_free(&active, &name, &new.env)?;
    let prefix = new.prefix.clone().unwrap_or(config.prefix);
    let secret = secret::generate(&prefix)?;
    let key = Key {
        id,
        name,
        env: new.env.clone(),
        prefix,
        hint: secret.hint(),
        scopes: new.scopes.clone(),
        is_default: !env_has_keys(tx, &new.env)?,
        created_at: now,
        expires_at: new.expires.timestamp(),
        revoked_at: None,
        revoke_reason: None,
        last_used_at: None,
        rotated_from: None,
        rotated_to: None,
    };
    insert(tx, &key, &secret)?;
    let mut details = Map::new();
    details.insert("name".into(), json!(key.name));
    details.insert("prefix".into(), json!(key.prefix));
    details.insert(
        "expires_at".into(),
        json!(key.expires_at.map(Timestamp::rfc3339)),
    );
    details.insert("scopes".into(), json!(key.scopes));
    details.insert("default".into(), json!(key.is_default));
    events::append(
        tx,
        key_event(EventKind::Created, &key, None, actor, now, details),
    )?;
    Ok((key, secret))
}

pub(super) fn find(conn: &Connection, key: &KeyRef, env: &str, now: Timestamp) -> Result<Key> {
    let mut candidates = Vec::new();
    match key {
        KeyRef::Id(id) => {
            if let Some(k) = conn
                .prepare_cached(KEY_BY_ID)?
                .query_row([id], key_from_row)
                .optional()?
            {
                return Ok(k);
            }
        }
        KeyRef::IdPrefixOrName(prefix) => {
            candidates = query_keys(conn, KEYS_BY_ID_PREFIX, [prefix])?;
        }
        KeyRef::Name(_) => {}
    }
    let named = query_keys(conn, CURRENT_BY_NAME, [env, key.text()])?;
    candidates.extend(
        named
            .into_iter()
            .filter(|k| k.status(now) == Status::Active),
    );
    Ok(key::pick(key, candidates)?)
}

/// The keys of `env` that are active at `now` (they count against max-keys).
pub(super) fn active_in_env(conn: &Connection, env: &str, now: Timestamp) -> Result<Vec<Key>> {
    query_keys(conn, ACTIVE_IN_ENV, rusqlite::params![env, now.unix()])
}

fn query_keys(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Key>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, key_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn env_has_keys(conn: &Connection, env: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(ENV_HAS_KEYS)?
        .query_row([env], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(super) fn insert(conn: &Connection, k: &Key, secret: &Secret) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO keys (id, name, env, prefix, hint, secret_sha256, scopes, is_default, created_at,
                           expires_at, rotated_from)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(rusqlite::params![
        k.id,
        k.name,
        k.env,
        k.prefix,
        k.hint,
        &secret.hash()[..],
        serde_json::to_string(&k.scopes)?,
        k.is_default,
        k.created_at.unix(),
        k.expires_at.map(Timestamp::unix),
        k.rotated_from,
    ])?;
    Ok(())
}

/// An event about one key, carrying its environment.
pub(super) fn key_event(
    kind: EventKind,
    key: &Key,
    related: Option<&str>,
    actor: &str,
    now: Timestamp,
    details: Map<String, Value>,
) -> NewEvent {
    NewEvent {
        at: now,
        kind,
        key_id: Some(key.id.clone()),
        related_key_id: related.map(str::to_string),
        env: Some(key.env.clone()),
        actor: actor.to_string(),
        details,
    }
}

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<Key> {
    let ts = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp::from_unix))
    };
    let scopes: String = r.get(5)?;
    Ok(Key {
        id: r.get(0)?,
        name: r.get(1)?,
        env: r.get(2)?,
        prefix: r.get(3)?,
        hint: r.get(4)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        is_default: r.get(6)?,
        created_at: Timestamp::from_unix(r.get(7)?),
        expires_at: ts(8)?,
        revoked_at: ts(9)?,
        revoke_reason: r.get(10)?,
        last_used_at: ts(11)?,
        rotated_from: r.get(12)?,
        rotated_to: r.get(13)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::Access;

    const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

    fn vault() -> (tempfile::TempDir, Vault) {
        let dir = tempfile::tempdir().expect("tempdir");
        let v = Vault::open(&dir.path().join("v.db"), Access::OrCreate).expect("open");
        (dir, v)
    }

    fn new(name: &str, env: &str) -> NewKey {
        NewKey {
            name: Some(name.to_string()),
            env: env.to_string(),
            expires: Deadline::Never,
            scopes: vec![],
            prefix: None,
        }
    }

    #[test]
    fn resolves_by_id_prefix_and_active_name() {
        let (_d, mut v) = vault();
        let (web, _) = v.create(new("web", "default"), "t", NOW).expect("create");
        let found = |r: &str, env: &str| v.find(&KeyRef::parse(r), env, NOW).map(|k| k.id);
        assert_eq!(
            found(&web.id, "other").ok(),
            Some(web.id.clone()),
            "ids ignore --env"
        );
        assert_eq!(found(&web.id[..8], "default").ok(), Some(web.id.clone()));
        assert_eq!(found("web", "default").ok(), Some(web.id.clone()));
        assert!(
            found("web", "staging").is_err(),
            "names are per environment"
        );
        assert!(found("nope", "default").is_err());
    }

    #[test]
    fn shared_id_prefix_is_ambiguous_and_names_the_candidates() {
        let (_d, mut v) = vault();
        let (template, _) = v.create(new("a", "default"), "t", NOW).expect("create");
        for id in ["key_zzzzbbbbbbbbbbbb", "key_zzzzcccccccccccc"] {
            let k = Key {
                id: id.to_string(),
                name: id.to_string(),
                ..template.clone()
            };
            insert(&v.conn, &k, &secret::generate("kw").expect("rng")).expect("insert");
        }
        let err = v
            .find(&KeyRef::parse("key_zzzz"), "default", NOW)
            .expect_err("ambiguous");
        let msg = err.to_string();
        assert!(
            msg.contains("key_zzzzbbbbbbbbbbbb") && msg.contains("key_zzzzcccccccccccc"),
            "{msg}"
        );
        let one = v
            .find(&KeyRef::parse("key_zzzzc"), "default", NOW)
            .expect("unique");
        assert_eq!(one.id, "key_zzzzcccccccccccc");
    }

    #[test]
    fn id_prefixes_reach_the_ends_of_the_alphabet() {
        let (_d, mut v) = vault();
        let (template, _) = v.create(new("a", "default"), "t", NOW).expect("create");
        for id in [
            "key_qqqqzzzzzzzzzzzz",
            "key_qqqq222222222222",
            "key_qqqq7aaaaaaaaaaa",
        ] {
            let k = Key {
                id: id.to_string(),
                name: id.to_string(),
                ..template.clone()
            };
            insert(&v.conn, &k, &secret::generate("kw").expect("rng")).expect("insert");
        }
        let find = |q: &str| v.find(&KeyRef::parse(q), "default", NOW).map(|k| k.id);
        assert_eq!(
            find("key_qqqqz").ok().as_deref(),
            Some("key_qqqqzzzzzzzzzzzz")
        );
        assert_eq!(
            find("key_qqqq2").ok().as_deref(),
            Some("key_qqqq222222222222")
        );
        assert_eq!(
            find("key_qqqq7").ok().as_deref(),
            Some("key_qqqq7aaaaaaaaaaa")
        );
        let err = find("key_qqqq").expect_err("three match").to_string();
        assert!(
            err.contains("key_qqqqzzzzzzzzzzzz") && err.contains("key_qqqq222222222222"),
            "{err}"
        );
    }

    #[test]
    fn expired_keys_do_not_count_against_the_limit_or_hold_names() {
        let (_d, mut v) = vault();
        let mut short = new("web", "default");
        short.expires = Deadline::At(NOW.plus_secs(60));
        v.create(short, "t", NOW).expect("create");
        v.create(new("b", "default"), "t", NOW).expect("b");
        v.create(new("c", "default"), "t", NOW).expect("c");
        assert!(
            v.create(new("d", "default"), "t", NOW).is_err(),
            "limit of 3"
        );
        let later = NOW.plus_secs(61);
        v.create(new("web", "default"), "t", later)
            .expect("name and slot are free again");
    }

    #[test]
    fn the_first_key_of_an_environment_is_its_default() {
        let (_d, mut v) = vault();
        let (a, _) = v.create(new("a", "default"), "t", NOW).expect("a");
        let (b, _) = v.create(new("b", "default"), "t", NOW).expect("b");
        let (c, _) = v.create(new("c", "prod"), "t", NOW).expect("c");
        assert!(a.is_default && !b.is_default && c.is_default);
    }

    #[test]
    fn last_used_is_written_at_most_once_a_minute() {
        let (_d, mut v) = vault();
        let (_, s) = v.create(new("a", "default"), "t", NOW).expect("a");
        let check = v.check(&s, &[], NOW).expect("check");
        assert_eq!(check.code, VerifyCode::Valid);
        assert!(v.touch(&check, NOW).expect("touch"));
        let check = v.check(&s, &[], NOW).expect("check");
        assert_eq!(check.last_used_at, Some(NOW));
        assert!(!v.touch(&check, NOW.plus_secs(59)).expect("touch"));
        assert!(v.touch(&check, NOW.plus_secs(60)).expect("touch"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::error::Error;

        const STEMS: [&str; 3] = ["aaaa", "aaab", "zz77"];
        const ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz234567";

        /// A vault holding 40 keys whose ids share a few stems, so that
        /// prefixes collide; their ids in order.
        fn vault_with_ids() -> (tempfile::TempDir, Vault, Vec<String>) {
            let (dir, mut v) = vault();
            let (template, _) = v
                .create(new("template", "default"), "t", NOW)
                .expect("create");
            let mut ids = vec![template.id.clone()];
            for i in 0..40usize {
                let tail: String = (0..12)
                    .map(|j| ALPHABET.as_bytes()[(i * 7 + j * 13 + i * j) % 32] as char)
                    .collect();
                let id = format!("key_{}{tail}", STEMS[i % 3]);
                let k = Key {
                    id: id.clone(),
                    name: format!("n{i}"),
                    is_default: false,
                    ..template.clone()
                };
                insert(&v.conn, &k, &secret::generate("kw").expect("rng")).expect("insert");
                ids.push(id);
            }
            ids.sort();
            ids.dedup();
            (dir, v, ids)
        }

        fn query() -> impl Strategy<Value = String> {
            prop_oneof![
                (0usize..3, "[a-z2-7]{0,12}").prop_map(|(s, t)| format!("key_{}{t}", STEMS[s])),
                "key_[a-z2-7]{0,16}",
                "n[0-9]{1,2}",
                any::<String>(),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]

            /// The vault resolves a KEY exactly as the contract says: a full id,
            /// else the one key whose id starts with it (4+ chars after key_) or
            /// that is active with that name; none is not found, several ambiguous.
            #[test]
            fn resolution_matches_the_contract(q in query()) {
                thread_local!(static VAULT: (tempfile::TempDir, Vault, Vec<String>) = vault_with_ids());
                VAULT.with(|(_, v, ids)| {
                    let found = v.find(&KeyRef::parse(&q), "default", NOW);
                    let by_prefix: Vec<&String> = match q.strip_prefix("key_") {
                        Some(rest) if rest.len() >= 4 && rest.bytes().all(|b| ALPHABET.as_bytes().contains(&b)) => {
                            ids.iter().filter(|id| id.starts_with(&q)).collect()
                        }
                        _ => vec![],
                    };
                    let by_name: Vec<String> = (0..40)
                        .filter(|i| q == format!("n{i}"))
                        .map(|i| format!("n{i}"))
                        .chain((q == "template").then(|| "template".to_string()))
                        .collect();
                    let expected = if ids.contains(&q) { 1 } else { by_prefix.len() + by_name.len() };
                    match (expected, found) {
                        (1, Ok(k)) => prop_assert!(k.id == q || k.id.starts_with(&q) || k.name == q),
                        (0, Err(e)) => {
                            let not_found = matches!(e.downcast_ref::<Error>(), Some(Error::NotFound { .. }));
                            prop_assert!(not_found, "{:?}: {}", q, e);
                        }
                        (n, Err(e)) if n > 1 => {
                            let ambiguous = matches!(e.downcast_ref::<Error>(), Some(Error::Ambiguous { .. }));
                            prop_assert!(ambiguous, "{:?}: {}", q, e);
                        }
                        (n, other) => prop_assert!(false, "{} candidates for {:?}, got {:?}", n, q, other.map(|k| k.id)),
                    }
                    Ok(())
                })?;
            }
        }
    }
}
