//! The `--json` shapes only the CLI prints (settings, leak reports); the
//! rest, shared with serve, are [`keyward::json`]'s.

use serde::Serialize;

pub use keyward::json::*;

use crate::cmd::Whereabouts;
use crate::key::Key;
use crate::settings::Settings;
use crate::when::Timestamp;

#[derive(Debug, Serialize)]
pub struct Config<'a> {
    pub max_keys: u32,
    pub prefix: &'a str,
    /// New keys' rotation policy, or null for none.
    pub rotate_every: Option<String>,
    /// Active keys an owner may have in an environment, or null for any number.
    pub max_keys_per_owner: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
    /// The vault's location: a path (or, for a server, a URL without password).
    pub vault: String,
    pub engine: &'static str,
    /// False before the first write creates it: the settings are the defaults.
    pub exists: bool,
}

impl<'a> Config<'a> {
    pub fn new(s: &'a Settings, changed: Option<bool>, at: &'a Whereabouts) -> Self {
        Config {
            max_keys: s.max_keys,
            prefix: &s.prefix,
            rotate_every: s.rotate_every.map(crate::when::policy_text),
            max_keys_per_owner: s.max_keys_per_owner,
            changed,
            vault: at.shown.clone(),
            engine: at.engine,
            exists: at.exists,
        }
    }
}

/// `revoke --leaked`: what happened, by kind; lines by number and hint.
pub fn leaked(r: &crate::cmd::LeakReport, now: Timestamp) -> serde_json::Value {
    use crate::intents::Leaked;
    let key = |k: &Key| serde_json::to_value(KeyJson::new(k, now)).unwrap_or_default();
    let (mut revoked, mut rotated, mut already, mut unmatched) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (line, hint, outcome) in &r.ended {
        match outcome {
            Leaked::Revoked(k) => revoked.push(key(k)),
            Leaked::Rotated(rot) => rotated.push(serde_json::json!({
                "key": key(&rot.key),
                "secret": rot.secret.expose(),
                "previous": key(&rot.previous),
            })),
            Leaked::AlreadyEnded(k) => already.push(key(k)),
            Leaked::Unmatched => unmatched.push(serde_json::json!({
                "line": line, "hint": hint, "reason": "matches no key",
            })),
        }
    }
    for n in &r.not_secrets {
        unmatched.push(serde_json::json!({"line": n.line, "hint": n.hint, "reason": n.why}));
    }
    serde_json::json!({
        "revoked": revoked,
        "rotated": rotated,
        "already_ended": already,
        "unmatched": unmatched,
    })
}
