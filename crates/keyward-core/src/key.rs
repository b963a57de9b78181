//! A key as the vault records it, and its status, derived from its
//! timestamps and a given `now` (never stored).

use std::sync::Arc;

use compact_str::CompactString;

use crate::error::Error;
use crate::id::is_id_body;
pub use crate::id::{ID_BODY_LEN, ID_PREFIX, KeyId, MIN_ID_PREFIX};
use crate::shown::quote;
pub use crate::status::Status;
use crate::text::{Env, Name, Scope};
use crate::when::Timestamp;

/// The answer `verify` gives for a presented secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyCode {
    Valid,
    Invalid,
    Expired,
    Revoked,
    InsufficientScope,
    /// Valid, but over one of its rate limits.
    RateLimited,
    /// Valid, but out of credits.
    UsageExceeded,
}

impl VerifyCode {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyCode::Valid => "VALID",
            VerifyCode::Invalid => "API_KEY_INVALID",
            VerifyCode::Expired => "API_KEY_EXPIRED",
            VerifyCode::Revoked => "API_KEY_REVOKED",
            VerifyCode::InsufficientScope => "INSUFFICIENT_SCOPE",
            VerifyCode::RateLimited => "RATE_LIMITED",
            VerifyCode::UsageExceeded => "USAGE_EXCEEDED",
        }
    }

    /// A known key's answer at `now`: its status first, then the scopes it grants.
    pub fn for_key(key: &Key, required: &[Scope], now: Timestamp) -> Self {
        Self::judge(key.status(now), || {
            required.iter().all(|s| key.has_scope(s.as_str()))
        })
    }

    /// The verdict on a key in `status` whose scopes meet the requirement
    /// when `meets` says so (asked only of a key that is otherwise valid).
    pub fn judge(status: Status, meets: impl FnOnce() -> bool) -> Self {
        match status {
            Status::Revoked => VerifyCode::Revoked,
            Status::Expired => VerifyCode::Expired,
            Status::Active | Status::Grace => {
                if meets() {
                    VerifyCode::Valid
                } else {
                    VerifyCode::InsufficientScope
                }
            }
        }
    }
}

impl Key {
    /// When its rotation policy says this key is due: `rotate_every` after
    /// it was created, while it is active; None without a policy or once
    /// it is no longer active.
    pub fn rotation_due_at(&self, now: Timestamp) -> Option<Timestamp> {
        let every = self.rotate_every?;
        (self.status(now) == Status::Active).then(|| self.created_at.plus_secs(every))
    }
}

/// One key record. Holds no secret: only what the vault stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: KeyId,
    pub name: Name,
    pub env: Env,
    pub prefix: String,
    pub hint: String,
    pub scopes: Vec<Scope>,
    pub is_default: bool,
    pub created_at: Timestamp,
    /// Expiry while active (None = never); end of grace once rotated.
    pub expires_at: Option<Timestamp>,
    /// The expiry the key had while it was active, kept once it is rotated:
    /// a grace never runs past it.
    pub own_expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoke_reason: Option<String>,
    pub last_used_at: Option<Timestamp>,
    pub rotated_from: Option<KeyId>,
    pub rotated_to: Option<KeyId>,
    /// A free-text note for people (`create --note`, `update --note`).
    pub note: Option<String>,
    /// The rotation policy: rotate this often, in seconds (None = no policy).
    pub rotate_every: Option<i64>,
    /// The quota this key draws from, shared with its lineage (None = none).
    pub quota_id: Option<KeyId>,
    /// That quota's terms and credits, as read with the key.
    pub quota: Option<crate::quota::Quota>,
    /// Who the key belongs to (`create --owner`, Unkey's `externalId`).
    pub owner: Option<crate::text::Owner>,
    /// A JSON object for the product that holds the key (`--meta`).
    pub meta: Option<crate::text::Meta>,
}

impl Key {
    pub fn status(&self, now: Timestamp) -> Status {
        status_of(
            self.revoked_at.is_some(),
            self.expires_at,
            self.rotated_to.is_some(),
            now,
        )
    }

    /// The hint as a person sees it: `kw_…a1B2`.
    pub fn masked(&self) -> String {
        format!("{}_…{}", self.prefix, self.hint)
    }

    /// The key's lifetime from creation to its own expiry, if it has one.
    pub fn lifetime_secs(&self) -> Option<i64> {
        self.life_ends_at()
            .map(|e| e.unix() - self.created_at.unix())
            .filter(|&s| s > 0)
    }

    /// When the key's own life ends (None = never): its expiry while active,
    /// the expiry it had before its rotation once in grace.
    pub fn life_ends_at(&self) -> Option<Timestamp> {
        if self.rotated_to.is_some() {
            self.own_expires_at
        } else {
            self.expires_at
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether a scope of this key is not a token (stored by an older
    /// keyward with a comma or whitespace inside). Such a scope meets no
    /// requirement, since every requirement is a token.
    pub fn has_loose_scope(&self) -> bool {
        self.scopes.iter().any(|s| !s.is_token())
    }
}

/// What a verdict needs of a key, and all that serve keeps of one in
/// memory (see [`crate::store::memory`]); the full record is read from the
/// vault where a response shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brief {
    pub id: KeyId,
    pub name: Name,
    pub env: Env,
    pub prefix: CompactString,
    pub hint: CompactString,
    pub scopes: Arc<[Scope]>,
    pub is_default: bool,
    pub created_at: Timestamp,
    /// As [`Key::expires_at`]: the expiry while active, the end of grace
    /// once rotated.
    pub expires_at: Option<Timestamp>,
    pub revoked: bool,
    pub rotated: bool,
    /// The quota it draws from: a valid verdict must be admitted by it.
    pub quota: Option<QuotaRef>,
    /// It has an owner or metadata (read with the full record when asked).
    pub described: bool,
}

/// Which quota a key draws from, and that quota's epoch when the key was
/// read ([`crate::quota::Quota::epoch`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaRef {
    pub id: KeyId,
    pub epoch: u64,
}

impl Brief {
    pub fn status(&self, now: Timestamp) -> Status {
        status_of(self.revoked, self.expires_at, self.rotated, now)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The hint as a person sees it: `kw_…a1B2` (inline, no allocation).
    pub fn masked(&self) -> CompactString {
        compact_str::format_compact!("{}_…{}", self.prefix, self.hint)
    }
}

impl From<&Key> for Brief {
    fn from(k: &Key) -> Self {
        Brief {
            id: k.id.clone(),
            name: k.name.clone(),
            env: k.env.clone(),
            prefix: k.prefix.as_str().into(),
            hint: k.hint.as_str().into(),
            scopes: k.scopes.iter().cloned().collect(),
            is_default: k.is_default,
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked: k.revoked_at.is_some(),
            rotated: k.rotated_to.is_some(),
            quota: k.quota_id.as_ref().map(|id| QuotaRef {
                id: id.clone(),
                epoch: k.quota.as_ref().map_or(0, |q| q.epoch),
            }),
            described: k.owner.is_some() || k.meta.is_some(),
        }
    }
}

/// The status of a key from the fields it is derived from.
fn status_of(
    revoked: bool,
    expires_at: Option<Timestamp>,
    superseded: bool,
    now: Timestamp,
) -> Status {
    if revoked {
        Status::Revoked
    } else if expires_at.is_some_and(|t| t <= now) {
        Status::Expired
    } else if superseded {
        Status::Grace
    } else {
        Status::Active
    }
}

#[cfg(test)]
impl Key {
    /// An active key with no expiry, for unit tests.
    pub(crate) fn sample(id: &str, name: &str, env: &str, created_at: Timestamp) -> Key {
        Key {
            id: KeyId::stored(id.to_string()),
            name: Name::stored(name.to_string()),
            env: Env::stored(env.to_string()),
            prefix: "kw".to_string(),
            hint: "a1B2".to_string(),
            scopes: vec![],
            is_default: false,
            created_at,
            expires_at: None,
            own_expires_at: None,
            revoked_at: None,
            revoke_reason: None,
            last_used_at: None,
            rotated_from: None,
            rotated_to: None,
            note: None,
            rotate_every: None,
            quota_id: None,
            quota: None,
            owner: None,
            meta: None,
        }
    }
}

/// How a user addresses a key on the command line (docs/reference.md "Words": KEY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A complete id: `key_` + 16 characters.
    Id(String),
    /// `key_` + at least 4 characters: an id prefix, or possibly a name.
    IdPrefixOrName(String),
    /// Anything else: the name of an active key in the environment.
    Name(String),
}

impl KeyRef {
    pub fn parse(s: &str) -> Self {
        match s.strip_prefix(ID_PREFIX) {
            Some(rest) if rest.len() == ID_BODY_LEN && is_id_body(rest) => {
                KeyRef::Id(s.to_string())
            }
            Some(rest) if rest.len() >= MIN_ID_PREFIX && is_id_body(rest) => {
                KeyRef::IdPrefixOrName(s.to_string())
            }
            _ => KeyRef::Name(s.to_string()),
        }
    }

    pub fn text(&self) -> &str {
        match self {
            KeyRef::Id(s) | KeyRef::IdPrefixOrName(s) | KeyRef::Name(s) => s,
        }
    }
}

/// Picks the one key a KEY argument means among the candidates found for it
/// in `env` (a key found twice, by id prefix and by name, is one key).
pub fn pick(key: &KeyRef, env: &Env, mut candidates: Vec<Key>) -> Result<Key, Error> {
    candidates.sort_by(|a, b| a.id.cmp(&b.id));
    candidates.dedup_by(|a, b| a.id == b.id);
    match candidates.len() {
        1 => Ok(candidates.remove(0)),
        0 => Err(not_found(key, env)),
        _ => Err(Error::Ambiguous {
            key: quote(key.text()),
            candidates: candidates
                .iter()
                .map(|k| format!("{} ({})", k.id, quote(k.name.as_str())))
                .collect(),
        }),
    }
}

fn not_found(key: &KeyRef, env: &Env) -> Error {
    let text = key.text();
    let note = match text.strip_prefix(ID_PREFIX) {
        Some(rest) if rest.len() < MIN_ID_PREFIX => {
            format!("; an id prefix needs at least {MIN_ID_PREFIX} characters after key_")
        }
        _ => String::new(),
    };
    Error::NotFound {
        key: quote(text),
        env: quote(env.as_str()),
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

    fn key(id: &str) -> Key {
        Key::sample(id, "web", "default", NOW.plus_secs(-100))
    }

    #[test]
    fn ids_have_the_documented_shape() {
        let id = KeyId::generate().expect("rng");
        assert_eq!(id.as_str().len(), 20);
        assert!(matches!(KeyRef::parse(id.as_str()), KeyRef::Id(_)));
        assert_ne!(id, KeyId::generate().expect("rng"));
    }

    #[test]
    fn status_is_derived_from_timestamps_and_now() {
        let mut k = key("key_aaaaaaaaaaaaaaaa");
        assert_eq!(k.status(NOW), Status::Active);
        k.expires_at = Some(NOW.plus_secs(10));
        assert_eq!(k.status(NOW), Status::Active);
        assert_eq!(k.status(NOW.plus_secs(10)), Status::Expired);
        k.rotated_to = Some(KeyId::stored("key_bbbbbbbbbbbbbbbb".into()));
        assert_eq!(k.status(NOW), Status::Grace);
        assert_eq!(k.status(NOW.plus_secs(11)), Status::Expired);
        k.revoked_at = Some(NOW);
        assert_eq!(k.status(NOW), Status::Revoked);
        assert!(!Status::Expired.is_live() && Status::Grace.is_live());
    }

    #[test]
    fn key_refs_are_ids_prefixes_or_names() {
        assert!(matches!(
            KeyRef::parse("key_abcdefghijklmnop"),
            KeyRef::Id(_)
        ));
        assert!(matches!(
            KeyRef::parse("key_abcd"),
            KeyRef::IdPrefixOrName(_)
        ));
        assert!(matches!(KeyRef::parse("key_abc"), KeyRef::Name(_)));
        assert!(matches!(KeyRef::parse("key_ABCD"), KeyRef::Name(_)));
        assert!(matches!(KeyRef::parse("web"), KeyRef::Name(_)));
    }

    #[test]
    fn pick_needs_exactly_one_candidate() {
        let r = KeyRef::parse("key_aaaa");
        let env = Env::default_env();
        assert!(matches!(
            pick(&r, &env, vec![]),
            Err(Error::NotFound { .. })
        ));
        let one = pick(&r, &env, vec![key("key_aaaaaaaaaaaaaaaa")]).expect("one");
        assert_eq!(one.id.as_str(), "key_aaaaaaaaaaaaaaaa");
        let both = vec![key("key_aaaaaaaaaaaaaaaa"), key("key_aaaabbbbbbbbbbbb")];
        match pick(&r, &env, both) {
            Err(Error::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates.len(), 2);
                assert!(candidates[1].contains("key_aaaabbbbbbbbbbbb"));
            }
            other => panic!("expected ambiguity, got {other:?}"),
        }
        let same = vec![key("key_aaaaaaaaaaaaaaaa"), key("key_aaaaaaaaaaaaaaaa")];
        assert!(pick(&r, &env, same).is_ok(), "a key found twice is one key");
    }

    /// A key found by id prefix and again by name, with another
    /// key between them, is listed once.
    #[test]
    fn an_ambiguity_lists_each_key_once() {
        let r = KeyRef::parse("key_aaaa");
        let (a, b) = (key("key_aaaaaaaaaaaaaaaa"), key("key_aaaabbbbbbbbbbbb"));
        match pick(&r, &Env::default_env(), vec![a.clone(), b, a]) {
            Err(Error::Ambiguous { candidates, .. }) => assert_eq!(
                candidates,
                ["key_aaaaaaaaaaaaaaaa (web)", "key_aaaabbbbbbbbbbbb (web)"]
            ),
            other => panic!("expected ambiguity, got {other:?}"),
        }
    }

    #[test]
    fn too_short_id_prefix_says_how_long_it_must_be() {
        let err = pick(&KeyRef::parse("key_ab"), &Env::default_env(), vec![]).expect_err("none");
        assert!(err.to_string().contains("at least 4"), "{err}");
    }
}
