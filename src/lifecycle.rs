//! Pure rules of a key's life: may this be done to this key at `now`?
//! A refusal is [`Error::Refused`] or [`Error::LimitReached`] (exit 4).

use crate::error::Error;
use crate::key::Key;
use crate::text::escape as quote;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_reached_at_max() {
        assert!(may_add_active(2, 3, "default").is_ok());
        assert!(matches!(
            may_add_active(3, 3, "default"),
            Err(Error::LimitReached { max: 3, .. })
        ));
        assert!(may_add_active(0, 1, "default").is_ok());
    }
}
