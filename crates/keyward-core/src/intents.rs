//! The key rules, written once over the storage contract: create, rotate,
//! change a grace or an expiry, revoke, change a setting, and append to the
//! chain. Each runs inside one [`WriteTx`] and is handed the `now` read
//! while that transaction holds the vault's write lock; the pure rules are
//! in [`crate::lifecycle`]. No SQL and no engine type here.

use crate::error::{Error, Result};
use crate::event::{self, Canonical, Details, GENESIS, NewEvent, chain_hash};
use crate::key::{Key, KeyId, Status};
use crate::lifecycle::{self, Revocation};
use crate::quota::{self, LimitState, Quota, QuotaChange, Ratelimit, Spent};
use crate::secret::{self, Secret};
use crate::settings::{Setting, Settings};
use crate::store::{StoredEvent, WriteTx};
use crate::text::{Actor, Env, Meta, Name, Note, Owner, Reason, Scope};
use crate::when::{Expiry, Moment, Timestamp};

/// What `create` asks for, already checked at the edge.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// None: the key is named after its id.
    pub name: Option<Name>,
    pub env: Env,
    pub expires: Expiry,
    pub scopes: Vec<Scope>,
    /// None: the vault's `prefix` setting.
    pub prefix: Option<String>,
    pub note: Option<Note>,
    /// The rotation policy in seconds: None = the vault's `rotate-every`
    /// setting, Some(None) = none.
    pub rotate_every: Option<Option<i64>>,
    /// Rate limits and credits for the new key's lineage.
    pub quota: QuotaChange,
    /// Who it belongs to: at most `max-keys-per-owner` active keys each.
    pub owner: Option<Owner>,
    pub meta: Option<Meta>,
}

/// What `update` asks for; empty fields change nothing.
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub name: Option<Name>,
    pub add_scopes: Vec<Scope>,
    pub remove_scopes: Vec<Scope>,
    /// Some(None) clears the note.
    pub note: Option<Option<Note>>,
    /// A change to the lineage's rate limits and credits.
    pub quota: QuotaChange,
    /// Some(None) clears the owner, the metadata.
    pub owner: Option<Option<Owner>>,
    pub meta: Option<Option<Meta>>,
}

/// What a rotation asks for.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// When the old key stops verifying (`After(0)` = at once).
    pub grace: Moment,
    /// The new key's expiry; None = the old key's lifetime again, or never.
    pub expires: Option<Expiry>,
    /// The new key's name; None = the old key's.
    pub name: Option<Name>,
    /// The new key's rotation policy: None = the old key's.
    pub rotate_every: Option<Option<i64>>,
    /// Why, for the `rotated` event (`revoke --leaked`).
    pub reason: Option<Reason>,
    /// A change to the lineage's rate limits and credits, made with the rotation.
    pub quota: QuotaChange,
}

#[derive(Debug)]
pub struct Created {
    pub key: Key,
    pub secret: Secret,
}

#[derive(Debug)]
pub struct Rotated {
    pub key: Key,
    pub secret: Secret,
    pub previous: Key,
    /// The grace asked for would have outlived the old key's own expiry.
    pub grace_capped: bool,
}

/// A key after `extend --grace`, and whether the grace was capped.
#[derive(Debug)]
pub struct GraceChanged {
    pub key: Key,
    pub capped: bool,
}

/// The key a resolved id names, as it is inside the transaction.
fn current(tx: &dyn WriteTx, id: &KeyId) -> Result<Key> {
    tx.key(id)?.ok_or_else(|| {
        Error::NotFound {
            key: id.to_string(),
            env: "any".to_string(),
            note: String::new(),
        }
        .into()
    })
}

/// The name `key` will have: `asked`, if no other active key of its
/// environment holds it, else its own.
fn new_name(tx: &dyn WriteTx, key: &Key, asked: Option<&Name>, now: Timestamp) -> Result<Name> {
    let Some(name) = asked.filter(|n| **n != key.name) else {
        return Ok(key.name.clone());
    };
    let others: Vec<Key> = tx
        .active_in_env(&key.env, now)?
        .into_iter()
        .filter(|k| k.id != key.id)
        .collect();
    lifecycle::name_is_free(&others, name, &key.env)?;
    Ok(name.clone())
}

/// A new expiry must still be in the future at the time the write is judged.
fn future(flag: &str, expires: Expiry, now: Timestamp) -> Result<Option<Timestamp>> {
    if let Expiry::At(m) = expires {
        reachable(flag, m, now)?;
    }
    match expires.at(now) {
        Some(t) if t <= now => Err(Error::usage(format!(
            "{flag} {t} is no longer in the future: give a later time, a duration or never"
        ))
        .into()),
        at => Ok(at),
    }
}

/// A time at most 10 years from `now`, as every time keyward is given
/// (docs/reference.md "Durations and times"), whoever gives it: the CLI
/// checks as it parses, the HTTP routes rely on this.
fn reachable(flag: &str, m: Moment, now: Timestamp) -> Result<Timestamp> {
    let far = match m {
        Moment::After(secs) => !(0..=crate::when::MAX_AHEAD_SECS).contains(&secs),
        Moment::At(t) => {
            t < now || t.unix().saturating_sub(now.unix()) > crate::when::MAX_AHEAD_SECS
        }
    };
    if far {
        return Err(Error::usage(format!(
            "{flag}: the time is in the past or more than 10 years away: give one from now to 10 years ahead"
        ))
        .into());
    }
    Ok(m.at(now))
}

/// Creates a key, unless its environment is at `max-keys` active keys or
/// an active key there has the name. The first key of an environment, or
/// the first after its default key expired, is the environment's default.
pub fn create(tx: &dyn WriteTx, new: &NewKey, actor: &Actor, now: Timestamp) -> Result<Created> {
    let settings = tx.settings()?;
    let active = tx.active_in_env(&new.env, now)?;
    lifecycle::may_add_active(active.len(), settings.max_keys, &new.env)?;
    let id = KeyId::generate()?;
    let name = new
        .name
        .clone()
        .unwrap_or_else(|| Name::stored(id.to_string()));
    lifecycle::name_is_free(&active, &name, &new.env)?;
    if let Some(owner) = &new.owner {
        let theirs = active
            .iter()
            .filter(|k| k.owner.as_ref() == Some(owner))
            .count();
        lifecycle::may_add_for_owner(theirs, settings.max_keys_per_owner, owner, &new.env)?;
    }
    let expires_at = future("--expires", new.expires, now)?;
    let prefix = new.prefix.clone().unwrap_or(settings.prefix);
    let secret = secret::generate(&prefix)?;
    let key = Key {
        id,
        name,
        env: new.env.clone(),
        prefix,
        hint: secret.hint(),
        scopes: new.scopes.clone(),
        is_default: !active.iter().any(|k| k.is_default),
        created_at: now,
        expires_at,
        own_expires_at: None,
        revoked_at: None,
        revoke_reason: None,
        last_used_at: None,
        rotated_from: None,
        rotated_to: None,
        note: new.note.as_ref().map(Note::to_string),
        rotate_every: new.rotate_every.unwrap_or(settings.rotate_every),
        quota_id: None,
        quota: None,
        owner: new.owner.clone(),
        meta: new.meta.clone(),
    };
    let quota = new.quota.apply(&Quota::default(), now.unix())?;
    let key = match quota.is_empty() {
        true => key,
        false => Key {
            quota_id: Some(key.id.clone()),
            quota: Some(quota.clone()),
            ..key
        },
    };
    tx.insert_key(&key, &secret.hash())?;
    if let Some(id) = &key.quota_id {
        tx.put_quota(id, &quota)?;
    }
    let details = Details::Created(event::Created {
        default: key.is_default,
        expires_at: key.expires_at.map(Timestamp::rfc3339),
        name: key.name.to_string(),
        owner: key.owner.as_ref().map(Owner::to_string),
        prefix: key.prefix.clone(),
        rotate_every: key.rotate_every.map(crate::when::policy_text),
        scopes: key.scopes.iter().map(Scope::to_string).collect(),
    });
    append(tx, key_event(&key, None, actor, now, details))?;
    if let Some(id) = &key.quota_id {
        let details = quota_changed(id, &Quota::default(), &quota);
        append(tx, key_event(&key, None, actor, now, details))?;
    }
    Ok(Created { key, secret })
}

/// Replaces an active key: the successor is active at once with the old
/// key's env, name, prefix, scopes and default flag, and takes its place
/// in the limit; the old key verifies until its grace ends, never after its
/// own expiry.
pub fn rotate(
    tx: &dyn WriteTx,
    id: &KeyId,
    r: &Rotation,
    actor: &Actor,
    now: Timestamp,
) -> Result<Rotated> {
    let old = current(tx, id)?;
    lifecycle::may_rotate(&old, now)?;
    let name = new_name(tx, &old, r.name.as_ref(), now)?;
    let asked = r.expires.map(|e| future("--expires", e, now)).transpose()?;
    let expires_at = match asked {
        Some(at) => at,
        None => lifecycle::successor_expiry(&old, now),
    };
    let asked_end = reachable("--grace", r.grace, now)?;
    let (grace_ends, grace_capped) = lifecycle::grace_end(&old, asked_end.max(now));
    let secret = secret::generate(&old.prefix)?;
    let new = Key {
        id: KeyId::generate()?,
        name,
        hint: secret.hint(),
        created_at: now,
        expires_at,
        own_expires_at: None,
        revoked_at: None,
        revoke_reason: None,
        last_used_at: None,
        rotated_from: Some(old.id.clone()),
        rotated_to: None,
        rotate_every: r.rotate_every.unwrap_or(old.rotate_every),
        ..old.clone()
    };
    tx.insert_key(&new, &secret.hash())?;
    let previous = Key {
        expires_at: Some(grace_ends),
        own_expires_at: old.expires_at,
        rotated_to: Some(new.id.clone()),
        is_default: false,
        ..old.clone()
    };
    tx.update_key(&previous)?;
    let details = Details::Rotated(event::Rotated {
        grace_ends_at: grace_ends.rfc3339(),
        grace_seconds: grace_ends.unix() - now.unix(),
        new_expires_at: new.expires_at.map(Timestamp::rfc3339),
        new_name: new.name.to_string(),
        new_rotate_every: new.rotate_every.map(crate::when::policy_text),
        old_expires_at: old.expires_at.map(Timestamp::rfc3339),
        reason: r.reason.as_ref().map(Reason::to_string),
    });
    append(tx, key_event(&old, Some(&new.id), actor, now, details))?;
    let (new, previous) = if r.quota.is_empty() {
        (new, previous)
    } else {
        let (new, _) = change_quota(tx, &new, &r.quota, actor, now)?;
        let previous = tx.key(&previous.id)?.unwrap_or(previous);
        (new, previous)
    };
    Ok(Rotated {
        key: new,
        secret,
        previous,
        grace_capped,
    })
}

/// Ends a running grace period at `ends` instead (sooner or later, never
/// past the key's own expiry).
pub fn change_grace(
    tx: &dyn WriteTx,
    id: &KeyId,
    ends: Moment,
    actor: &Actor,
    now: Timestamp,
) -> Result<GraceChanged> {
    change_grace_because(tx, id, ends, None, actor, now)
}

/// The keys in grace (of `env`, or all) that nothing has used for more than
/// `quiet_for` seconds: whose last use, or their rotation if they were not
/// used since, is longer ago than that.
pub fn quiet(
    store: &dyn crate::store::Read,
    env: Option<&crate::text::Env>,
    quiet_for: i64,
    now: Timestamp,
) -> Result<Vec<(Key, Timestamp)>> {
    let keys = store.keys(env)?;
    // A key was rotated when its successor, in the same environment and so
    // among `keys`, was created.
    let created: std::collections::HashMap<&KeyId, Timestamp> =
        keys.iter().map(|k| (&k.id, k.created_at)).collect();
    let mut quiet = Vec::new();
    for k in &keys {
        if k.status(now) != crate::key::Status::Grace {
            continue;
        }
        let rotated_at = k
            .rotated_to
            .as_ref()
            .and_then(|next| created.get(next).copied());
        let since = [k.last_used_at, rotated_at]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(k.created_at);
        if now.unix().saturating_sub(since.unix()) > quiet_for {
            quiet.push((k.clone(), since));
        }
    }
    Ok(quiet)
}

/// Ends the grace of every quiet key (see [`quiet`]) now, one
/// `grace_changed` event each with the reason `quiet`.
pub fn retire(
    tx: &dyn WriteTx,
    env: Option<&crate::text::Env>,
    quiet_for: i64,
    only: Option<&[KeyId]>,
    actor: &Actor,
    now: Timestamp,
) -> Result<Vec<(Key, Timestamp)>> {
    let mut ended = Vec::new();
    for (k, since) in quiet(tx, env, quiet_for, now)? {
        if only.is_some_and(|ids| !ids.contains(&k.id)) {
            continue;
        }
        let changed = change_grace_because(tx, &k.id, Moment::After(0), Some("quiet"), actor, now)?;
        ended.push((changed.key, since));
    }
    Ok(ended)
}

fn change_grace_because(
    tx: &dyn WriteTx,
    id: &KeyId,
    ends: Moment,
    reason: Option<&str>,
    actor: &Actor,
    now: Timestamp,
) -> Result<GraceChanged> {
    let k = current(tx, id)?;
    let predecessor = match &k.rotated_from {
        Some(prev) if k.status(now) == Status::Active => tx.key(prev)?,
        _ => None,
    };
    lifecycle::may_change_grace(&k, predecessor.as_ref(), now)?;
    let asked_end = reachable("--grace", ends, now)?;
    let (ends, capped) = lifecycle::grace_end(&k, asked_end.max(now));
    let changed = Key {
        expires_at: Some(ends),
        ..k.clone()
    };
    tx.update_key(&changed)?;
    let details = Details::GraceChanged(event::GraceChanged {
        new_ends_at: ends.rfc3339(),
        old_ends_at: k.expires_at.map(Timestamp::rfc3339),
        reason: reason.map(str::to_string),
    });
    append(tx, key_event(&k, None, actor, now, details))?;
    Ok(GraceChanged {
        key: changed,
        capped,
    })
}

/// Sets an active key's expiry (never, or a time still in the future).
pub fn change_expiry(
    tx: &dyn WriteTx,
    id: &KeyId,
    expires: Expiry,
    actor: &Actor,
    now: Timestamp,
) -> Result<Key> {
    let k = current(tx, id)?;
    lifecycle::may_change_expiry(&k, now)?;
    let expires_at = future("--expires", expires, now)?;
    let changed = Key {
        expires_at,
        ..k.clone()
    };
    tx.update_key(&changed)?;
    let details = Details::ExpiryChanged(event::ExpiryChanged {
        new_expires_at: expires_at.map(Timestamp::rfc3339),
        old_expires_at: k.expires_at.map(Timestamp::rfc3339),
    });
    append(tx, key_event(&k, None, actor, now, details))?;
    Ok(changed)
}

/// Revokes a key at once. A revoked key stays revoked and unchanged; the
/// default key is refused.
pub fn revoke(
    tx: &dyn WriteTx,
    id: &KeyId,
    reason: Option<&Reason>,
    actor: &Actor,
    now: Timestamp,
) -> Result<(Key, Revocation)> {
    let k = current(tx, id)?;
    let outcome = lifecycle::may_revoke(&k, now)?;
    if outcome == Revocation::AlreadyRevoked {
        return Ok((k, outcome));
    }
    let revoked = Key {
        revoked_at: Some(now),
        revoke_reason: reason.map(Reason::to_string),
        ..k.clone()
    };
    tx.update_key(&revoked)?;
    let details = Details::Revoked(event::Revoked {
        location: None,
        reason: reason.map(Reason::to_string),
        status_before: k.status(now).as_str().to_string(),
    });
    append(tx, key_event(&k, None, actor, now, details))?;
    Ok((revoked, outcome))
}

/// What `revoke --leaked` did with one presented secret.
#[derive(Debug)]
pub enum Leaked {
    /// A key (active and not the default, or in grace): revoked.
    Revoked(Key),
    /// An environment's default key: rotated with grace `now`.
    Rotated(Box<Rotated>),
    /// The key was already revoked or expired: nothing changed.
    AlreadyEnded(Key),
    /// No key has this secret.
    Unmatched,
}

/// Ends the keys these secret hashes belong to, at once: a default key is
/// rotated with grace `now` (it may not be revoked), any other live key is
/// revoked; keys already ended and unknown secrets change nothing.
pub fn end_leaked(
    tx: &dyn WriteTx,
    hashes: &[Vec<[u8; 32]>],
    reason: &Reason,
    actor: &Actor,
    now: Timestamp,
) -> Result<Vec<Leaked>> {
    let mut outcomes = Vec::with_capacity(hashes.len());
    for readings in hashes {
        // The first reading that is a key's secret (see `revoke --leaked`).
        let mut found = None;
        for hash in readings {
            if let Some(k) = tx.key_by_secret(hash)? {
                found = Some(k);
                break;
            }
        }
        let outcome = match found {
            None => Leaked::Unmatched,
            Some(k) if !k.status(now).is_live() => Leaked::AlreadyEnded(k),
            Some(k) if k.is_default && k.status(now) == crate::key::Status::Active => {
                let rotation = Rotation {
                    grace: Moment::After(0),
                    expires: None,
                    name: None,
                    rotate_every: None,
                    reason: Some(reason.clone()),
                    quota: QuotaChange::default(),
                };
                Leaked::Rotated(Box::new(rotate(tx, &k.id, &rotation, actor, now)?))
            }
            Some(k) => Leaked::Revoked(revoke(tx, &k.id, Some(reason), actor, now)?.0),
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// What a code host's report did with one token.
#[derive(Debug)]
pub enum Reported {
    /// A live key: revoked now.
    Ended(Key),
    /// A key already revoked or expired: nothing changed.
    AlreadyEnded(Key),
    /// A key of another environment than the one asked for: a real token,
    /// not ended here.
    Elsewhere(Key),
    /// No key has this secret (or it is not one).
    Unmatched,
}

/// The most a location in a report's event keeps.
const MAX_LOCATION: usize = 500;

/// Where a report says a token was found, as the log keeps it: no query,
/// fragment or user info (they may carry credentials), no secret shape
/// even percent-encoded, escaped, at most [`MAX_LOCATION`] characters.
fn clean_location(l: &str) -> String {
    // Decoded as often as it was encoded (a few times at most), with
    // backslashes read as slashes, as a browser reads them.
    let mut l = l.to_string();
    for _ in 0..4 {
        let decoded = percent_decoded(&l);
        if decoded == l {
            break;
        }
        l = decoded;
    }
    let mut l = l.replace('\\', "/");
    l = l.split(['?', '#']).next().unwrap_or("").to_string();
    // The authority after the first `//`, user info dropped.
    if let Some(start) = l.find("//") {
        let rest = &l[start + 2..];
        let host_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..host_end].rfind('@') {
            l = format!("{}{}", &l[..start + 2], &rest[at + 1..]);
        }
    }
    // No secret, nor a secret's body alone: any run of 38 or more letters
    // and digits is cut (a commit's id too: the path keeps the rest).
    let masked = crate::secret::mask(&l).into_owned();
    let mut out = String::with_capacity(masked.len());
    let mut run = String::new();
    for c in masked.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_alphanumeric() {
            run.push(c);
            continue;
        }
        if run.len() >= 38 {
            out.push('…');
        } else {
            out.push_str(&run);
        }
        run.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    crate::shown::escape(&out)
        .chars()
        .take(MAX_LOCATION)
        .collect()
}

/// `%XX` decoded (bytes that are not UTF-8 replaced).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Ends, in one transaction, the keys whose secrets a code host's scanner
/// reported (GitHub's partner webhook, GitLab's revocation API): each live
/// key is revoked at once with the reason `leaked`, the reporter as actor
/// and where the token was found in the event. A default key is revoked
/// too: a leak overrides the default-key rule, there being nobody to hand a
/// successor's secret to; the next key created in its environment becomes
/// the default. Keys already ended and unknown secrets change nothing, so
/// the same report delivered again changes nothing.
pub fn end_reported(
    tx: &dyn WriteTx,
    tokens: &[(Option<[u8; 32]>, Option<String>)],
    env: Option<&Env>,
    actor: &Actor,
    now: Timestamp,
) -> Result<Vec<Reported>> {
    let reason = "leaked".to_string();
    let mut outcomes = Vec::with_capacity(tokens.len());
    for (hash, location) in tokens {
        // A key of another environment than the one asked for (serve's
        // --env) is not one this report can end.
        let Some(k) = hash.map(|h| tx.key_by_secret(&h)).transpose()?.flatten() else {
            outcomes.push(Reported::Unmatched);
            continue;
        };
        if env.is_some_and(|e| k.env != *e) {
            outcomes.push(Reported::Elsewhere(k));
            continue;
        }
        if !k.status(now).is_live() {
            outcomes.push(Reported::AlreadyEnded(k));
            continue;
        }
        let revoked = Key {
            revoked_at: Some(now),
            revoke_reason: Some(reason.clone()),
            ..k.clone()
        };
        tx.update_key(&revoked)?;
        let location = location.as_deref().map(clean_location);
        let details = Details::Revoked(event::Revoked {
            location,
            reason: Some(reason.clone()),
            status_before: k.status(now).as_str().to_string(),
        });
        append(tx, key_event(&k, None, actor, now, details))?;
        outcomes.push(Reported::Ended(revoked));
    }
    Ok(outcomes)
}

/// Changes an active key's name, scopes or note, with an `updated` event
/// holding the old and new values. Returns the key and whether it changed.
pub fn update(
    tx: &dyn WriteTx,
    id: &KeyId,
    u: &Update,
    actor: &Actor,
    now: Timestamp,
) -> Result<(Key, bool)> {
    let k = current(tx, id)?;
    lifecycle::may_update(&k, now)?;
    let name = new_name(tx, &k, u.name.as_ref(), now)?;
    let mut scopes: Vec<Scope> = k
        .scopes
        .iter()
        .filter(|s| !u.remove_scopes.contains(s))
        .cloned()
        .collect();
    for add in &u.add_scopes {
        if !scopes.contains(add) {
            scopes.push(add.clone());
        }
    }
    let note = match &u.note {
        Some(n) => n.as_ref().map(Note::to_string),
        None => k.note.clone(),
    };
    let owner = match &u.owner {
        Some(o) => o.clone(),
        None => k.owner.clone(),
    };
    if let Some(o) = owner.as_ref().filter(|o| k.owner.as_ref() != Some(*o)) {
        let settings = tx.settings()?;
        let theirs = tx
            .active_in_env(&k.env, now)?
            .iter()
            .filter(|a| a.id != k.id && a.owner.as_ref() == Some(o))
            .count();
        lifecycle::may_add_for_owner(theirs, settings.max_keys_per_owner, o, &k.env)?;
    }
    let meta = match &u.meta {
        Some(m) => m.clone(),
        None => k.meta.clone(),
    };
    let changed = Key {
        name,
        scopes,
        note,
        owner,
        meta,
        ..k.clone()
    };
    let (k, quota_changed) = if u.quota.is_empty() {
        (k, false)
    } else {
        change_quota(tx, &k, &u.quota, actor, now)?
    };
    let changed = Key {
        quota_id: k.quota_id.clone(),
        quota: k.quota.clone(),
        ..changed
    };
    if changed == k {
        return Ok((k, quota_changed));
    }
    tx.update_key(&changed)?;
    let texts = |scopes: &[Scope]| scopes.iter().map(Scope::to_string).collect();
    let owners = changed.owner.is_some() || k.owner.is_some();
    let metas = changed.meta.is_some() || k.meta.is_some();
    let owner = |o: &Option<Owner>| o.as_ref().map(Owner::to_string);
    let meta = |m: &Option<Meta>| m.as_ref().map(Meta::value);
    let details = Details::Updated(event::Updated {
        new_meta: meta(&changed.meta).filter(|_| metas),
        new_name: changed.name.to_string(),
        new_note: changed.note.clone(),
        new_owner: owner(&changed.owner).filter(|_| owners),
        new_scopes: texts(&changed.scopes),
        old_meta: meta(&k.meta).filter(|_| metas),
        old_name: k.name.to_string(),
        old_note: k.note.clone(),
        old_owner: owner(&k.owner).filter(|_| owners),
        old_scopes: texts(&k.scopes),
    });
    append(tx, key_event(&k, None, actor, now, details))?;
    Ok((changed, true))
}

fn quota_changed(id: &KeyId, old: &Quota, new: &Quota) -> Details {
    Details::QuotaChanged(event::QuotaChanged {
        new: event::QuotaTerms::of(new),
        old: event::QuotaTerms::of(old),
        quota_id: id.to_string(),
    })
}

/// The keys of `key`'s lineage that still verify before it: its
/// predecessors in grace, newest first.
fn predecessors_in_grace(tx: &dyn WriteTx, key: &Key, now: Timestamp) -> Result<Vec<Key>> {
    let mut found = Vec::new();
    let mut at = key.rotated_from.clone();
    while let Some(id) = at {
        let Some(k) = tx.key(&id)? else { break };
        if k.status(now) != Status::Grace || found.len() > 64 {
            break;
        }
        at = k.rotated_from.clone();
        found.push(k);
    }
    Ok(found)
}

/// Changes the rate limits and credits `key`'s lineage shares (the key,
/// its predecessors in grace, its successors), with a `quota_changed`
/// event. A key with no quota yet starts one, named by its id, that its
/// predecessors still in grace draw from too. Returns the key as it is
/// now, and whether anything changed.
pub fn change_quota(
    tx: &dyn WriteTx,
    key: &Key,
    change: &QuotaChange,
    actor: &Actor,
    now: Timestamp,
) -> Result<(Key, bool)> {
    let before = match &key.quota_id {
        Some(id) => tx.quota(id)?.unwrap_or_default(),
        None => Quota::default(),
    };
    let after = change.apply(&before, now.unix())?;
    if after == before {
        return Ok((key.clone(), false));
    }
    let key = match &key.quota_id {
        Some(_) => key.clone(),
        None => {
            let joined = Key {
                quota_id: Some(key.id.clone()),
                quota: Some(after.clone()),
                ..key.clone()
            };
            tx.update_key(&joined)?;
            for k in predecessors_in_grace(tx, key, now)? {
                tx.update_key(&Key {
                    quota_id: Some(key.id.clone()),
                    quota: Some(after.clone()),
                    ..k
                })?;
            }
            joined
        }
    };
    let Some(id) = key.quota_id.clone() else {
        return Ok((key, false));
    };
    tx.put_quota(&id, &after)?;
    let key = Key {
        quota: Some(after.clone()),
        ..key
    };
    // A limit dropped is forgotten (given again, it starts afresh); one
    // whose terms change keeps what it admitted, so lowering a limit never
    // hands out a fresh allowance.
    for old in &before.ratelimits {
        if after.limit(&old.name).is_none() {
            tx.forget_quota_use(&id, &old.name, i64::MAX)?;
        }
    }
    append(
        tx,
        key_event(&key, None, actor, now, quota_changed(&id, &before, &after)),
    )?;
    Ok((key, true))
}

/// What one verification asks of a quota: its cost in credits and in
/// every rate limit (`cost`), and per-call changes to named limits.
#[derive(Debug, Clone)]
pub struct Ask {
    pub cost: u64,
    /// Limits named by the request: its own cost for that limit, and a
    /// limit and duration in place of the key's (or a limit the key does
    /// not have, applied for this call).
    pub limits: Vec<AskLimit>,
}

/// One verification costs 1, named limits nothing of their own.
impl Default for Ask {
    fn default() -> Self {
        Ask {
            cost: 1,
            limits: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AskLimit {
    pub name: compact_str::CompactString,
    pub cost: Option<u64>,
    pub limit: Option<(u64, i64)>,
}

/// Judges one verification of an otherwise valid key against its quota,
/// at `now_ms` (the vault's clock, in milliseconds), and spends what it
/// costs if every limit and the credits admit it. A key with no quota is
/// admitted and spends nothing.
pub fn spend(tx: &dyn WriteTx, key: &Key, ask: &Ask, now_ms: i64) -> Result<Spent> {
    // Limits a call names for a key without a quota are counted under the
    // key's own id.
    let id = match (&key.quota_id, ask.limits.is_empty()) {
        (Some(id), _) => id,
        (None, false) => &key.id,
        (None, true) => {
            return Ok(Spent {
                admitted: true,
                ..Spent::default()
            });
        }
    };
    let mut q = match &key.quota_id {
        Some(id) => tx.quota(id)?.unwrap_or_default(),
        None => Quota::default(),
    };
    let refilled = q.refill_due(now_ms.div_euclid(1000));
    // The limits this call is judged by: the key's (with the call's cost
    // or terms where it names them), and those it names that the key lacks.
    let mut judged: Vec<(Ratelimit, u64, bool)> = Vec::new();
    for limit in &q.ratelimits {
        let asked = ask.limits.iter().find(|a| a.name == limit.name);
        let mut l = limit.clone();
        if let Some((n, ms)) = asked.and_then(|a| a.limit) {
            l.limit = n;
            l.duration_ms = ms;
        }
        judged.push((l, asked.and_then(|a| a.cost).unwrap_or(ask.cost), true));
    }
    for a in &ask.limits {
        if q.limit(&a.name).is_some() {
            continue;
        }
        let Some((limit, duration_ms)) = a.limit else {
            return Ok(Spent {
                unknown_limit: Some(a.name.to_string()),
                credits: q.credits,
                ..Spent::default()
            });
        };
        let l = Ratelimit {
            name: a.name.clone(),
            limit,
            duration_ms,
        };
        judged.push((l, a.cost.unwrap_or(ask.cost), false));
    }
    let mut states = Vec::with_capacity(judged.len());
    let mut limited = false;
    for (l, cost, auto_apply) in &judged {
        let slots = tx.quota_use(id, &l.name)?;
        let used = quota::used(l, &slots, now_ms);
        let wait = quota::wait_ms(l, &slots, *cost, now_ms);
        let exceeded = wait != Some(0);
        limited |= exceeded;
        states.push((
            LimitState {
                limit: l.clone(),
                exceeded,
                remaining: l.limit.saturating_sub(used),
                reset_ms: quota::reset_ms(l, &slots, now_ms),
                retry_ms: if exceeded {
                    Some(wait.unwrap_or(l.duration_ms))
                } else {
                    None
                },
                auto_apply: *auto_apply,
            },
            *cost,
        ));
    }
    let out_of_credits = !limited && q.credits.is_some_and(|left| left < ask.cost);
    let admitted = !limited && !out_of_credits;
    if admitted {
        for (state, cost) in &mut states {
            if *cost == 0 {
                continue;
            }
            let l = &state.limit;
            tx.add_quota_use(id, &l.name, quota::slot_of(l, now_ms), *cost)?;
            tx.forget_quota_use(id, &l.name, quota::forget_before(l, now_ms))?;
            state.remaining = state.remaining.saturating_sub(*cost);
            if state.reset_ms == 0 {
                let slot_end = quota::slot_of(l, now_ms);
                state.reset_ms = slot_end + l.duration_ms - now_ms;
            }
        }
        if let Some(left) = q.credits {
            q.credits = Some(left - ask.cost);
        }
    }
    if key.quota_id.is_some() && (refilled || (admitted && q.credits.is_some() && ask.cost > 0)) {
        tx.put_quota(id, &q)?;
    }
    Ok(Spent {
        admitted,
        out_of_credits,
        limits: states.into_iter().map(|(s, _)| s).collect(),
        credits: q.credits,
        unknown_limit: None,
    })
}

/// What a serve process still holds of a quota (from earlier
/// reservations): credits, and units of rate limits in the slot they were
/// reserved in.
#[derive(Debug, Clone, Default)]
pub struct Holding {
    pub epoch: u64,
    pub credits: u64,
    /// `(limit name, slot, units)`.
    pub units: Vec<(compact_str::CompactString, i64, u64)>,
    /// How many credits the process would like to hold (it spends fast):
    /// from [`MIN_RESERVED_CREDITS`] to [`MAX_RESERVED_CREDITS`].
    pub want_credits: u64,
    /// How many units of each rate limit it would like to hold for a slot
    /// (from 1 to an eighth of the limit; a sixty-fourth at first).
    pub want_units: Vec<(compact_str::CompactString, u64)>,
}

/// Units of a rate limit a process asks for at first: a sixty-fourth of
/// the limit (at least 1); at most an eighth.
pub fn first_units(limit: &Ratelimit) -> u64 {
    (limit.limit / 64).max(1)
}

fn most_units(limit: &Ratelimit) -> u64 {
    (limit.limit / 8).max(1)
}

/// A rate limit's share held by one process for one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldUnits {
    pub limit: Ratelimit,
    pub slot: i64,
    pub units: u64,
    /// Milliseconds until the slot ends (the units are void then).
    pub ends_in_ms: i64,
    /// What the window had left for others once these were reserved.
    pub room: u64,
    /// Milliseconds until the window has room again.
    pub reset_ms: i64,
}

/// What [`reserve`] left a process holding, or why it could not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reserved {
    pub quota_id: Option<KeyId>,
    pub epoch: u64,
    /// Credits now held; None = unlimited.
    pub credits: Option<u64>,
    /// Credits left in the vault for others.
    pub vault_credits: Option<u64>,
    /// Milliseconds until the credits refill (what is held is void then).
    pub refill_in_ms: Option<i64>,
    pub limits: Vec<HeldUnits>,
    /// The verification could not be covered: the verdict (not admitted).
    pub refused: Option<Spent>,
}

/// Credits a process reserves at once: what it asks for (between these,
/// as fast as it spends), at most a sixteenth of what is left, and at least
/// what the verification at hand needs.
pub const MIN_RESERVED_CREDITS: u64 = 64;
pub const MAX_RESERVED_CREDITS: u64 = 4096;

/// Reserves for a process (serve) what verifications of `key_id` will
/// spend, so that most verdicts are decided in memory: enough credits and
/// units of every rate limit (in the current slot) to cover `cost` beyond
/// what `held` still covers, and some ahead. Everything reserved counts in
/// the vault at once, so nothing is ever overspent across processes; what
/// a process never spends is lost to the window (units) or stranded
/// (credits, until given back with [`give_back`]). Nothing is reserved
/// when `cost` cannot be covered: `refused` says why.
pub fn reserve(
    tx: &dyn WriteTx,
    key_id: &KeyId,
    held: &Holding,
    cost: u64,
    now_ms: i64,
) -> Result<Reserved> {
    let Some(key) = tx.key(key_id)? else {
        return Ok(Reserved::default());
    };
    let Some(id) = key.quota_id.clone() else {
        return Ok(Reserved::default());
    };
    let mut q = tx.quota(&id)?.unwrap_or_default();
    let refilled = q.refill_due(now_ms.div_euclid(1000));
    let fresh = held.epoch == q.epoch;
    let mut limits = Vec::with_capacity(q.ratelimits.len());
    let mut taken_back = Vec::new();
    let mut refused: Option<Spent> = None;
    let mut states = Vec::new();
    for l in &q.ratelimits {
        let slot = quota::slot_of(l, now_ms);
        let mut slots = tx.quota_use(&id, &l.name)?;
        // Units held for a slot that has ended, or reserved under terms
        // that have changed since (another epoch), were not admitted: they
        // go back to the window (written only if this reservation is made;
        // else the process still holds them and they stay counted).
        {
            for (name, s, n) in &held.units {
                if *name == l.name && (*s != slot || !fresh) && *n > 0 {
                    if let Some(row) = slots.iter_mut().find(|(x, _)| x == s) {
                        row.1 = row.1.saturating_sub(*n);
                    }
                    taken_back.push((name.clone(), *s, *n));
                }
            }
        }
        let have = held
            .units
            .iter()
            .find(|(name, s, _)| fresh && *name == l.name && *s == slot)
            .map_or(0, |(_, _, n)| *n);
        let need = cost.saturating_sub(have);
        let ahead = held
            .want_units
            .iter()
            .find(|(name, _)| *name == l.name)
            .map_or_else(|| first_units(l), |(_, n)| *n)
            .clamp(1, most_units(l));
        let used = quota::used(l, &slots, now_ms);
        let room = l.limit.saturating_sub(used);
        let want = match need {
            0 => 0,
            need if room < need => {
                let wait = quota::wait_ms(l, &slots, need, now_ms);
                states.push(LimitState {
                    limit: l.clone(),
                    exceeded: true,
                    remaining: room.saturating_add(have),
                    reset_ms: quota::reset_ms(l, &slots, now_ms),
                    retry_ms: Some(wait.unwrap_or(l.duration_ms).max(1)),
                    auto_apply: true,
                });
                refused.get_or_insert_with(Spent::default);
                continue;
            }
            need => room.min(need.max(ahead)),
        };
        states.push(LimitState {
            limit: l.clone(),
            exceeded: false,
            remaining: room.saturating_add(have),
            reset_ms: quota::reset_ms(l, &slots, now_ms),
            retry_ms: None,
            auto_apply: true,
        });
        limits.push((l.clone(), slot, have, want, room - want));
    }
    let (mut credits_held, mut credits_want) = (None, 0);
    if let Some(left) = q.credits {
        let have = if fresh { held.credits } else { 0 };
        let need = cost.saturating_sub(have);
        if need > left {
            if refused.is_none() {
                refused = Some(Spent {
                    out_of_credits: true,
                    ..Spent::default()
                });
            }
        } else if need > 0 {
            let ahead = held
                .want_credits
                .clamp(MIN_RESERVED_CREDITS, MAX_RESERVED_CREDITS)
                .min(left.div_ceil(16));
            credits_want = left.min(need.max(ahead));
        }
        credits_held = Some(have + credits_want);
    }
    if let Some(mut spent) = refused {
        if refilled {
            tx.put_quota(&id, &q)?;
        }
        spent.admitted = false;
        spent.limits = states;
        spent.credits = q.credits;
        return Ok(Reserved {
            quota_id: Some(id),
            epoch: q.epoch,
            refused: Some(spent),
            ..Reserved::default()
        });
    }
    for (name, slot, n) in &taken_back {
        tx.take_back_quota_use(&id, name, *slot, *n)?;
    }
    let mut held_limits = Vec::with_capacity(limits.len());
    for (l, slot, have, want, room) in limits {
        if want > 0 {
            tx.add_quota_use(&id, &l.name, slot, want)?;
            tx.forget_quota_use(&id, &l.name, quota::forget_before(&l, now_ms))?;
        }
        let slot_end = slot;
        let reset_ms = (slot_end + l.duration_ms - now_ms).max(1);
        held_limits.push(HeldUnits {
            ends_in_ms: slot_end - now_ms,
            slot,
            units: have + want,
            room,
            reset_ms,
            limit: l,
        });
    }
    if let Some(left) = q.credits {
        q.credits = Some(left - credits_want);
    }
    if refilled || credits_want > 0 {
        tx.put_quota(&id, &q)?;
    }
    let refill_in_ms = q
        .refill
        .map(|r| r.next_after(now_ms.div_euclid(1000)).saturating_mul(1000) - now_ms);
    Ok(Reserved {
        quota_id: Some(id),
        epoch: q.epoch,
        credits: credits_held,
        vault_credits: q.credits,
        refill_in_ms,
        limits: held_limits,
        refused: None,
    })
}

/// Gives what a process reserved and did not spend (credits, and units of
/// rate limits) back to quota `id`, unless the quota changed since (its
/// epoch: credits set or refilled, limits changed). Returns whether the
/// credits went back.
pub fn give_back(tx: &dyn WriteTx, id: &KeyId, held: &Holding) -> Result<bool> {
    let Some(mut q) = tx.quota(id)? else {
        return Ok(false);
    };
    let (epoch, credits) = (held.epoch, held.credits);
    // Units were never admitted, whatever changed since; credits go back
    // only to the pool they came from.
    for (name, slot, n) in &held.units {
        if *n > 0 && q.limit(name).is_some() {
            tx.take_back_quota_use(id, name, *slot, *n)?;
        }
    }
    match q.credits {
        Some(left) if q.epoch == epoch && credits > 0 => {
            q.credits = Some(left.saturating_add(credits).min(quota::MAX_COUNT));
            tx.put_quota(id, &q)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Sets a setting and records a `config_changed` event, unless the value
/// is already the one in force. Returns the settings and whether it changed.
pub fn set_setting(
    tx: &dyn WriteTx,
    setting: Setting,
    value: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<(Settings, bool)> {
    // A corrupt stored value of this very setting is what `config set`
    // repairs: it is read as unknown, never as a default. It is the one
    // that cannot be read when all the others can, in this transaction.
    let (before, old) = match tx.settings() {
        Ok(s) => {
            let old = s.get(setting);
            (s, Some(old))
        }
        Err(e) => match tx.settings_but(Some(setting)) {
            Ok(others) => (others, None),
            Err(_) => return Err(e),
        },
    };
    let mut after = before.clone();
    after.set(setting, value)?;
    if after == before && old.is_some() {
        return Ok((before, false));
    }
    tx.put_setting(setting, &after.get(setting))?;
    let details = Details::ConfigChanged(event::ConfigChanged {
        new: after.get(setting),
        old: old.unwrap_or_else(|| "(corrupt)".to_string()),
        setting: setting.as_str().to_string(),
    });
    append(
        tx,
        NewEvent {
            at: now,
            key_id: None,
            related_key_id: None,
            env: None,
            actor: actor.clone(),
            details,
        },
    )?;
    Ok((after, true))
}

/// Appends an event, chained to the newest one. Returns its id.
pub fn append(tx: &dyn WriteTx, e: NewEvent) -> Result<i64> {
    let (id, prev_hash) = match tx.head()? {
        Some(head) => (head.id + 1, head.hash),
        None => (1, GENESIS.to_string()),
    };
    let details = e.details.to_json();
    let kind = e.details.kind();
    let key_id = e.key_id.as_ref().map(KeyId::as_str);
    let related_key_id = e.related_key_id.as_ref().map(KeyId::as_str);
    let env = e.env.as_ref().map(Env::as_str);
    let hash = chain_hash(
        &prev_hash,
        &Canonical {
            id,
            at: e.at.unix(),
            kind: kind.as_str(),
            key_id,
            related_key_id,
            env,
            actor: e.actor.as_str(),
            details: &details,
        },
    );
    tx.insert_event(&StoredEvent {
        id,
        at: e.at,
        kind,
        key_id,
        related_key_id,
        env,
        actor: e.actor.as_str(),
        details: &details,
        prev_hash: &prev_hash,
        hash: &hash,
    })?;
    Ok(id)
}

/// An event about one key, carrying its environment.
fn key_event(
    key: &Key,
    related: Option<&KeyId>,
    actor: &Actor,
    now: Timestamp,
    details: Details,
) -> NewEvent {
    NewEvent {
        at: now,
        key_id: Some(key.id.clone()),
        related_key_id: related.cloned(),
        env: Some(key.env.clone()),
        actor: actor.clone(),
        details,
    }
}
