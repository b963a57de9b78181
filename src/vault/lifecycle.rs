//! The writes of a key's life after creation: rotate, change grace or
//! expiry, revoke. Each resolves the key, applies the pure rule from
//! [`crate::lifecycle`] and writes, all inside one IMMEDIATE transaction.

use rusqlite::Connection;
use serde_json::{Map, json};

use super::keys::{self, key_event};
use super::{Vault, events};
use crate::error::Result;
use crate::event::EventKind;
use crate::key::{self, Key, KeyRef};
use crate::lifecycle::{self, Revocation};
use crate::secret::{self, Secret};
use crate::when::{Deadline, Timestamp};

/// What a rotation asks for.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// When the old key stops verifying (`now` = at once).
    pub grace_ends: Timestamp,
    /// The new key's expiry; None = the old key's lifetime again, or never.
    pub expires: Option<Deadline>,
    /// The new key's name; None = the old key's.
    pub name: Option<String>,
}

#[derive(Debug)]
pub struct Rotated {
    pub key: Key,
    pub secret: Secret,
    pub previous: Key,
}

impl Vault {
    /// Replaces an active key: the successor is active at once with the old
    /// key's env, name, prefix, scopes and default flag, and takes its place
    /// in the limit; the old key verifies until `grace_ends`.
    pub fn rotate(
        &mut self,
        key: &KeyRef,
        env: &str,
        r: Rotation,
        actor: &str,
        now: Timestamp,
    ) -> Result<Rotated> {
        self.write(|tx| rotate(tx, key, env, r, actor, now))
    }

    /// Ends a running grace period at `ends` instead (sooner or later).
    pub fn change_grace(
        &mut self,
        key: &KeyRef,
        env: &str,
        ends: Timestamp,
        actor: &str,
        now: Timestamp,
    ) -> Result<Key> {
        self.write(|tx| change_grace(tx, key, env, ends, actor, now))
    }

    /// Sets an active key's expiry (None = never).
    pub fn change_expiry(
        &mut self,
        key: &KeyRef,
        env: &str,
        expires: Deadline,
        actor: &str,
        now: Timestamp,
    ) -> Result<Key> {
        self.write(|tx| change_expiry(tx, key, env, expires, actor, now))
    }

    /// Revokes a key at once. A revoked key stays revoked and unchanged;
    /// the default key is refused.
    pub fn revoke(
        &mut self,
        key: &KeyRef,
        env: &str,
        reason: Option<&str>,
        actor: &str,
        now: Timestamp,
    ) -> Result<(Key, Revocation)> {
        self.write(|tx| revoke(tx, key, env, reason, actor, now))
    }
}

pub(super) fn rotate(
    tx: &Connection,
    key: &KeyRef,
    env: &str,
    r: Rotation,
    actor: &str,
    now: Timestamp,
) -> Result<Rotated> {
    let old = keys::find(tx, key, env, now)?;
    lifecycle::may_rotate(&old, now)?;
    let name = r.name.clone().unwrap_or_else(|| old.name.clone());
    if name != old.name {
        let others: Vec<Key> = keys::active_in_env(tx, &old.env, now)?
            .into_iter()
            .filter(|k| k.id != old.id)
            .collect();
        lifecycle::name_is_free(&others, &name, &old.env)?;
    }
    let expires_at = match r.expires {
        Some(d) => d.timestamp(),
        None => old.lifetime_secs().map(|secs| now.plus_secs(secs)),
    };
    let secret = secret::generate(&old.prefix)?;
    let new = Key {
        id: key::new_id()?,
        name,
        hint: secret.hint(),
        created_at: now,
        expires_at,
        revoked_at: None,
        revoke_reason: None,
        last_used_at: None,
        rotated_from: Some(old.id.clone()),
        rotated_to: None,
        ..old.clone()
    };
    keys::insert(tx, &new, &secret)?;
    tx.prepare_cached(
        "UPDATE keys SET rotated_to = ?1, expires_at = ?2, is_default = 0 WHERE id = ?3",
    )?
    .execute(rusqlite::params![new.id, r.grace_ends.unix(), old.id])?;
    let mut details = Map::new();
    details.insert(
        "grace_seconds".into(),
        json!(r.grace_ends.unix() - now.unix()),
    );
    details.insert("grace_ends_at".into(), json!(r.grace_ends.rfc3339()));
    details.insert(
        "old_expires_at".into(),
        json!(old.expires_at.map(Timestamp::rfc3339)),
    );
    details.insert("new_name".into(), json!(new.name));
    details.insert(
        "new_expires_at".into(),
        json!(new.expires_at.map(Timestamp::rfc3339)),
    );
    events::append(
        tx,
        key_event(EventKind::Rotated, &old, Some(&new.id), actor, now, details),
    )?;
    let previous = reload(tx, &old.id)?;
    Ok(Rotated {
        key: new,
        secret,
        previous,
    })
}

pub(super) fn change_grace(
    tx: &Connection,
    key: &KeyRef,
    env: &str,
    ends: Timestamp,
    actor: &str,
    now: Timestamp,
) -> Result<Key> {
    let k = keys::find(tx, key, env, now)?;
    lifecycle::may_change_grace(&k, now)?;
    set_expires(tx, &k, Some(ends))?;
    let mut details = Map::new();
    details.insert(
        "old_ends_at".into(),
        json!(k.expires_at.map(Timestamp::rfc3339)),
    );
    details.insert("new_ends_at".into(), json!(ends.rfc3339()));
    events::append(
        tx,
        key_event(EventKind::GraceChanged, &k, None, actor, now, details),
    )?;
    reload(tx, &k.id)
}

pub(super) fn change_expiry(
    tx: &Connection,
    key: &KeyRef,
    env: &str,
    expires: Deadline,
    actor: &str,
    now: Timestamp,
) -> Result<Key> {
    let k = keys::find(tx, key, env, now)?;
    lifecycle::may_change_expiry(&k, now)?;
    set_expires(tx, &k, expires.timestamp())?;
    let mut details = Map::new();
    details.insert(
        "old_expires_at".into(),
        json!(k.expires_at.map(Timestamp::rfc3339)),
    );
    details.insert(
        "new_expires_at".into(),
        json!(expires.timestamp().map(Timestamp::rfc3339)),
    );
    events::append(
        tx,
        key_event(EventKind::ExpiryChanged, &k, None, actor, now, details),
    )?;
    reload(tx, &k.id)
}

pub(super) fn revoke(
    tx: &Connection,
    key: &KeyRef,
    env: &str,
    reason: Option<&str>,
    actor: &str,
    now: Timestamp,
) -> Result<(Key, Revocation)> {
    let k = keys::find(tx, key, env, now)?;
    let outcome = lifecycle::may_revoke(&k, now)?;
    if outcome == Revocation::AlreadyRevoked {
        return Ok((k, outcome));
    }
    tx.prepare_cached("UPDATE keys SET revoked_at = ?1, revoke_reason = ?2 WHERE id = ?3")?
        .execute(rusqlite::params![now.unix(), reason, k.id])?;
    let mut details = Map::new();
    details.insert("reason".into(), json!(reason));
    details.insert("status_before".into(), json!(k.status(now).as_str()));
    events::append(
        tx,
        key_event(EventKind::Revoked, &k, None, actor, now, details),
    )?;
    Ok((reload(tx, &k.id)?, outcome))
}

fn set_expires(tx: &Connection, k: &Key, at: Option<Timestamp>) -> Result<()> {
    tx.prepare_cached("UPDATE keys SET expires_at = ?1 WHERE id = ?2")?
        .execute(rusqlite::params![at.map(Timestamp::unix), k.id])?;
    Ok(())
}

fn reload(tx: &Connection, id: &str) -> Result<Key> {
    keys::find(tx, &KeyRef::Id(id.to_string()), "", Timestamp::from_unix(0))
}
