//! Pure rules of a key's life: may this be done to this key at `now`, and
//! which times follow from it? A refusal is one of the exit-4 situations of
//! [`Error`]. Nothing here reads the clock or the vault.

use crate::error::Error;
use crate::key::{Key, Status};
use crate::shown::quote;
use crate::text::{Env, Name};
use crate::when::{MAX_AHEAD_SECS, Timestamp};

/// An environment holds at most `max` active keys.
pub fn may_add_active(active: usize, max: u32, env: &Env) -> Result<(), Error> {
    if active >= usize::try_from(max).unwrap_or(usize::MAX) {
        return Err(Error::LimitReached {
            env: quote(env.as_str()),
            max,
        });
    }
    Ok(())
}

/// An owner has at most `max` (None: any number of) active keys in an
/// environment: `owners_active` of theirs are active there now.
pub fn may_add_for_owner(
    owners_active: usize,
    max: Option<u32>,
    owner: &crate::text::Owner,
    env: &Env,
) -> Result<(), Error> {
    match max {
        Some(max) if owners_active >= usize::try_from(max).unwrap_or(usize::MAX) => {
            Err(Error::OwnerLimitReached {
                owner: quote(owner.as_str()),
                env: quote(env.as_str()),
                max,
            })
        }
        _ => Ok(()),
    }
}

/// Names are unique among an environment's active keys.
pub fn name_is_free(active: &[Key], name: &Name, env: &Env) -> Result<(), Error> {
    match active.iter().find(|k| &k.name == name) {
        Some(holder) => Err(Error::NameTaken {
            env: quote(env.as_str()),
            name: quote(name.as_str()),
            holder: holder.id.clone(),
        }),
        None => Ok(()),
    }
}

/// Only an active key can be rotated; a superseded one names its successor.
pub fn may_rotate(key: &Key, now: Timestamp) -> Result<(), Error> {
    match key.status(now) {
        Status::Active => Ok(()),
        Status::Grace => Err(already_rotated(key)),
        status => Err(never_back(key, status, "rotated")),
    }
}

/// Only a key in grace has a grace period to change. `predecessor` is the
/// key an active one replaced, if it was read: it is pointed to only while
/// its own grace runs.
pub fn may_change_grace(key: &Key, predecessor: Option<&Key>, now: Timestamp) -> Result<(), Error> {
    match key.status(now) {
        Status::Grace => Ok(()),
        Status::Active => Err(Error::WrongState {
            id: key.id.clone(),
            status: Status::Active,
            action: "given a grace period",
            hint: match (&key.rotated_from, predecessor.map(|p| p.status(now))) {
                (Some(prev), Some(Status::Grace)) => {
                    format!(": only a rotated key has one (it replaced {prev}: give that id)")
                }
                (Some(prev), Some(status)) => format!(
                    ": only a rotated key has one, and {prev}, which it replaced, is {status}: \
                     there is no grace to change; to change this key's expiry use --expires"
                ),
                _ => ": only a rotated key has one; to change its expiry use --expires".to_string(),
            },
        }),
        status => Err(never_back(key, status, "given a grace period")),
    }
}

/// Only an active key has an expiry to change.
pub fn may_change_expiry(key: &Key, now: Timestamp) -> Result<(), Error> {
    match key.status(now) {
        Status::Active => Ok(()),
        Status::Grace => Err(Error::WrongState {
            id: key.id.clone(),
            status: Status::Grace,
            action: "given a new expiry",
            hint: ": change when its grace ends with --grace".to_string(),
        }),
        status => Err(never_back(key, status, "given a new expiry")),
    }
}

/// Only an active key's name, scopes and note change; a rotated key names
/// its successor.
pub fn may_update(key: &Key, now: Timestamp) -> Result<(), Error> {
    match key.status(now) {
        Status::Active => Ok(()),
        Status::Grace => Err(already_rotated(key)),
        status => Err(never_back(key, status, "updated")),
    }
}

/// What revoking a key would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// Revoke it now.
    Revoke,
    /// It is revoked already: nothing changes.
    AlreadyRevoked,
}

/// Any key but an environment's default key can be revoked; revoking a
/// revoked key changes nothing.
pub fn may_revoke(key: &Key, now: Timestamp) -> Result<Revocation, Error> {
    if key.status(now) == Status::Revoked {
        return Ok(Revocation::AlreadyRevoked);
    }
    if key.is_default {
        return Err(Error::DefaultKey {
            id: key.id.clone(),
            env: quote(key.env.as_str()),
            action: "revoked",
        });
    }
    Ok(Revocation::Revoke)
}

/// When a grace asked to end at `requested` really ends: never after the
/// key's own expiry (a rotation never lengthens a key's life). Returns the
/// end and whether it was capped.
pub fn grace_end(key: &Key, requested: Timestamp) -> (Timestamp, bool) {
    match key.life_ends_at() {
        Some(life) if life < requested => (life, true),
        _ => (requested, false),
    }
}

/// A successor's expiry when none is asked for: the old key's lifetime
/// again from `now` (at most ten years ahead), else none.
pub fn successor_expiry(old: &Key, now: Timestamp) -> Option<Timestamp> {
    old.lifetime_secs()
        .map(|secs| now.plus_secs(secs.min(MAX_AHEAD_SECS)))
}

fn already_rotated(key: &Key) -> Error {
    match &key.rotated_to {
        Some(successor) => Error::AlreadyRotated {
            id: key.id.clone(),
            successor: successor.clone(),
        },
        None => never_back(key, Status::Grace, "rotated"),
    }
}

/// Any change to a key that has already ended names the successor when
/// there is one: that is the key the caller is after.
fn never_back(key: &Key, status: Status, action: &'static str) -> Error {
    let article = if status == Status::Expired { "an" } else { "a" };
    let hint = match &key.rotated_to {
        Some(successor) => format!(
            ": {article} {status} key is never brought back (it was replaced by {successor})"
        ),
        None => format!(": {article} {status} key is never brought back"),
    };
    Error::WrongState {
        id: key.id.clone(),
        status,
        action,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyId;

    const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

    fn key() -> Key {
        Key::sample(
            "key_aaaaaaaaaaaaaaaa",
            "web",
            "default",
            NOW.plus_secs(-100),
        )
    }

    fn in_grace() -> Key {
        Key {
            rotated_to: Some(KeyId::stored("key_bbbbbbbbbbbbbbbb".into())),
            expires_at: Some(NOW.plus_secs(60)),
            ..key()
        }
    }

    fn expired() -> Key {
        Key {
            expires_at: Some(NOW),
            ..key()
        }
    }

    fn revoked() -> Key {
        Key {
            revoked_at: Some(NOW),
            ..key()
        }
    }

    #[test]
    fn the_limit_is_reached_at_max() {
        let env = Env::default_env();
        assert!(may_add_active(2, 3, &env).is_ok());
        assert!(matches!(
            may_add_active(3, 3, &env),
            Err(Error::LimitReached { max: 3, .. })
        ));
    }

    #[test]
    fn only_active_keys_rotate_and_a_rotated_one_names_its_successor() {
        assert!(may_rotate(&key(), NOW).is_ok());
        let err = may_rotate(&in_grace(), NOW).expect_err("grace");
        assert!(matches!(err, Error::AlreadyRotated { .. }));
        assert!(err.to_string().contains("key_bbbbbbbbbbbbbbbb"), "{err}");
        assert!(may_rotate(&expired(), NOW).is_err());
        assert!(may_rotate(&revoked(), NOW).is_err());
    }

    #[test]
    fn grace_changes_only_while_in_grace_and_never_revives() {
        assert!(may_change_grace(&in_grace(), None, NOW).is_ok());
        assert!(
            may_change_grace(&in_grace(), None, NOW.plus_secs(60)).is_err(),
            "grace over"
        );
        assert!(may_change_grace(&key(), None, NOW).is_err());
        let err = may_change_grace(&revoked(), None, NOW).expect_err("revoked");
        assert!(err.to_string().contains("never brought back"), "{err}");
    }

    /// Found by a tester: after `rotate --grace now` the refusal pointed to
    /// the predecessor, whose grace was over, and giving it was refused
    /// again. The predecessor is named only while it is in grace.
    #[test]
    fn an_active_key_points_to_its_predecessor_only_while_that_is_in_grace() {
        let successor = Key {
            rotated_from: Some(KeyId::stored("key_pppppppppppppppp".into())),
            ..key()
        };
        let predecessor = |k: Key| Key {
            id: KeyId::stored("key_pppppppppppppppp".into()),
            ..k
        };
        let err = may_change_grace(&successor, Some(&predecessor(in_grace())), NOW)
            .expect_err("active")
            .to_string();
        assert!(
            err.contains("give that id") && err.contains("key_pppp"),
            "{err}"
        );
        for (gone, word) in [(expired(), "expired"), (revoked(), "revoked")] {
            for shown in [Some(predecessor(gone.clone())), None] {
                let err = may_change_grace(&successor, shown.as_ref(), NOW)
                    .expect_err("active")
                    .to_string();
                assert!(!err.contains("give that id"), "{err}");
                if shown.is_some() {
                    assert!(err.contains("no grace to change"), "{err}");
                    assert!(err.contains(word), "{err}");
                }
            }
        }
    }

    /// The article agrees with the status.
    #[test]
    fn refusals_read_as_english() {
        let err = may_rotate(&revoked(), NOW)
            .expect_err("revoked")
            .to_string();
        assert!(err.contains("a revoked key is never brought back"), "{err}");
        let err = may_rotate(&expired(), NOW)
            .expect_err("expired")
            .to_string();
        assert!(
            err.contains("an expired key is never brought back"),
            "{err}"
        );
    }

    #[test]
    fn expiry_changes_only_while_active() {
        assert!(may_change_expiry(&key(), NOW).is_ok());
        assert!(may_change_expiry(&in_grace(), NOW).is_err());
        assert!(may_change_expiry(&expired(), NOW).is_err());
    }

    #[test]
    fn the_default_key_is_never_revoked_and_revoking_twice_is_a_no_op() {
        assert_eq!(may_revoke(&key(), NOW), Ok(Revocation::Revoke));
        assert_eq!(may_revoke(&in_grace(), NOW), Ok(Revocation::Revoke));
        assert_eq!(may_revoke(&revoked(), NOW), Ok(Revocation::AlreadyRevoked));
        let default = Key {
            is_default: true,
            ..key()
        };
        let err = may_revoke(&default, NOW).expect_err("default");
        assert!(matches!(err, Error::DefaultKey { .. }));
        assert!(err.to_string().contains("rotate it first"), "{err}");
    }

    /// A grace never outlives the key's own expiry, and a
    /// carried-over lifetime never reaches past ten years.
    #[test]
    fn times_are_capped() {
        let short = Key {
            expires_at: Some(NOW.plus_secs(3_600)),
            ..key()
        };
        assert_eq!(
            grace_end(&short, NOW.plus_secs(86_400)),
            (NOW.plus_secs(3_600), true)
        );
        assert_eq!(
            grace_end(&short, NOW.plus_secs(60)),
            (NOW.plus_secs(60), false)
        );
        let rotated = Key {
            own_expires_at: Some(NOW.plus_secs(3_600)),
            ..in_grace()
        };
        assert!(grace_end(&rotated, NOW.plus_secs(7_200)).1);

        let old_long = Key {
            created_at: NOW.plus_secs(-86_400),
            expires_at: Some(NOW.plus_secs(MAX_AHEAD_SECS)),
            ..key()
        };
        let next = successor_expiry(&old_long, NOW).expect("a lifetime");
        assert_eq!(next, NOW.plus_secs(MAX_AHEAD_SECS));
        assert_eq!(successor_expiry(&key(), NOW), None);
    }
}
