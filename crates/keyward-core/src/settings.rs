//! Vault settings: `max-keys` and `prefix`. Unset settings read as defaults;
//! a stored value that breaks its rule is an error, never a default.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::shown::quote;

pub const DEFAULT_MAX_KEYS: u32 = 3;
pub const DEFAULT_PREFIX: &str = "kw";
/// The largest `max-keys` accepted: a typo guard, not a design limit.
pub const MAX_MAX_KEYS: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    MaxKeys,
    Prefix,
    RotateEvery,
    MaxKeysPerOwner,
}

impl Setting {
    pub const ALL: [Setting; 4] = [
        Setting::MaxKeys,
        Setting::Prefix,
        Setting::RotateEvery,
        Setting::MaxKeysPerOwner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Setting::MaxKeys => "max-keys",
            Setting::Prefix => "prefix",
            Setting::RotateEvery => "rotate-every",
            Setting::MaxKeysPerOwner => "max-keys-per-owner",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Setting {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Setting::ALL
            .into_iter()
            .find(|setting| setting.as_str() == s)
            .ok_or_else(|| {
                Error::usage(format!(
                    "'{}' is not a setting: use max-keys, prefix, rotate-every or max-keys-per-owner",
                    quote(s)
                ))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub max_keys: u32,
    pub prefix: String,
    /// The rotation policy new keys get (seconds; None = never).
    pub rotate_every: Option<i64>,
    /// Active keys an owner may have in an environment (None: any number).
    pub max_keys_per_owner: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_keys: DEFAULT_MAX_KEYS,
            prefix: DEFAULT_PREFIX.to_string(),
            rotate_every: None,
            max_keys_per_owner: None,
        }
    }
}

impl Settings {
    /// A setting's value in its stored form.
    pub fn get(&self, setting: Setting) -> String {
        match setting {
            Setting::MaxKeys => self.max_keys.to_string(),
            Setting::Prefix => self.prefix.clone(),
            Setting::RotateEvery => self
                .rotate_every
                .map_or_else(|| "never".to_string(), crate::when::policy_text),
            Setting::MaxKeysPerOwner => self
                .max_keys_per_owner
                .map_or_else(|| "unlimited".to_string(), |n| n.to_string()),
        }
    }

    /// Checks `value` against the setting's rule and takes it.
    pub fn set(&mut self, setting: Setting, value: &str) -> Result<(), Error> {
        match setting {
            Setting::MaxKeys => {
                self.max_keys = match value.parse::<u32>() {
                    Ok(n) if (1..=MAX_MAX_KEYS).contains(&n) && n.to_string() == value => n,
                    _ => {
                        return Err(Error::usage(format!(
                            "'{}' is not a valid max-keys: give a whole number from 1 to {MAX_MAX_KEYS}, e.g. 5",
                            quote(value)
                        )));
                    }
                }
            }
            Setting::Prefix => {
                crate::text::validate_prefix(value)?;
                self.prefix = value.to_string();
            }
            Setting::RotateEvery => {
                self.rotate_every = crate::when::parse_policy("rotate-every", value)?;
            }
            Setting::MaxKeysPerOwner => {
                self.max_keys_per_owner = match value {
                    "unlimited" => None,
                    v => match v.parse::<u32>() {
                        Ok(n) if (1..=MAX_MAX_KEYS).contains(&n) && n.to_string() == v => Some(n),
                        _ => {
                            return Err(Error::usage(format!(
                                "'{}' is not a valid max-keys-per-owner: give a whole number from 1 to {MAX_MAX_KEYS}, or unlimited",
                                quote(value)
                            )));
                        }
                    },
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_their_rules() {
        let mut s = Settings::default();
        s.set(Setting::MaxKeys, "5").expect("5");
        assert_eq!(s.max_keys, 5);
        for bad in ["0", "-1", "10001", "five", "", " 5", "05"] {
            assert!(s.set(Setting::MaxKeys, bad).is_err(), "{bad:?}");
        }
        s.set(Setting::Prefix, "sk_live").expect("prefix");
        assert!(s.set(Setting::Prefix, "Bad").is_err());
        assert_eq!(s.get(Setting::Prefix), "sk_live");
    }
}
