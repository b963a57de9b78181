//! Pure rules of a key's life: may this be done to this key at `now`?
//! A refusal is [`Error::Refused`] or [`Error::LimitReached`] (exit 4).

use crate::error::Error;
use crate::key::{Key, Status};
use crate::text::escape as quote;
use crate::when::Timestamp;

/// An environment holds at most `max` active keys.
pub fn may_add_active(active: usize, max: u32, env: &str) -> Result<(), Error> {
    if active >= usize::try_from(max).unwrap_or(usize::MAX) {
        return Err(Error::LimitReached {
            env: quote(env),
            max,
        });
    }
    Ok(())
}

/// Names are unique among an environment's active keys.
pub fn name_is_free(active: &[Key], name: &str, env: &str) -> Result<(), Error> {
    match active.iter().find(|k| k.name == name) {
        Some(holder) => Err(Error::refused(format!(
            "an active key in environment '{}' is already named '{}' ({}): rotate it, or choose another --name",
            quote(env),
            quote(name),
            holder.id
        ))),
        None => Ok(()),
    }
}

/// Only an active key can be rotated; a superseded one names its successor.
pub fn may_rotate(key: &Key, now: Timestamp) -> Result<(), Error> {
    match key.status(now) {
        Status::Active => Ok(()),
        Status::Grace => Err(Error::refused(format!(
            "{} was already rotated: its successor is {}; rotate that one instead",
            key.id,
            key.rotated_to.as_deref().unwrap_or("unknown")
        ))),
        status => Err(never_back(key, status, "rotated")),
    }
}

/// Only a key in grace has a grace period to change.
pub fn may_change_grace(key: &Key, now: Timestamp) -> Result<(), Error> {
    match key.status(now) {
        Status::Grace => Ok(()),
        Status::Active => Err(Error::refused(format!(
            "{} is active, not in grace: only a rotated key has a grace period{}",
            key.id,
            match &key.rotated_from {
                Some(prev) => format!(" (it replaced {prev}: give that id)"),
                None => "; to change its expiry use --expires".to_string(),
            }
        ))),
        status => Err(never_back(key, status, "given a grace period")),
    }
}

/// Only an active key has an expiry to change.
pub fn may_change_expiry(key: &Key, now: Timestamp) -> Result<(), Error> {
    match key.status(now) {
        Status::Active => Ok(()),
        Status::Grace => Err(Error::refused(format!(
            "{} is in grace: change when its grace ends with --grace",
            key.id
        ))),
        status => Err(never_back(key, status, "given a new expiry")),
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
        return Err(Error::refused(format!(
            "{} is the default key of environment '{}' and cannot be revoked: \
             rotate it first (`keyward rotate {} --grace now`), then revoke the old key if need be",
            key.id,
            quote(&key.env),
            key.id
        )));
    }
    Ok(Revocation::Revoke)
}

fn never_back(key: &Key, status: Status, what: &str) -> Error {
    Error::refused(format!(
        "{} is {status} and cannot be {what}: an {status} key is never brought back",
        key.id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            rotated_to: Some("key_bbbbbbbbbbbbbbbb".into()),
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
        assert!(may_add_active(2, 3, "default").is_ok());
        assert!(matches!(
            may_add_active(3, 3, "default"),
            Err(Error::LimitReached { max: 3, .. })
        ));
    }

    #[test]
    fn only_active_keys_rotate_and_a_rotated_one_names_its_successor() {
        assert!(may_rotate(&key(), NOW).is_ok());
        let err = may_rotate(&in_grace(), NOW).expect_err("grace");
        assert!(err.to_string().contains("key_bbbbbbbbbbbbbbbb"), "{err}");
        assert!(may_rotate(&expired(), NOW).is_err());
        assert!(may_rotate(&revoked(), NOW).is_err());
    }

    #[test]
    fn grace_changes_only_while_in_grace_and_never_revives() {
        assert!(may_change_grace(&in_grace(), NOW).is_ok());
        assert!(
            may_change_grace(&in_grace(), NOW.plus_secs(60)).is_err(),
            "grace over"
        );
        assert!(may_change_grace(&key(), NOW).is_err());
        let err = may_change_grace(&revoked(), NOW).expect_err("revoked");
        assert!(err.to_string().contains("never brought back"), "{err}");
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
        assert!(err.to_string().contains("rotate it first"), "{err}");
    }
}
