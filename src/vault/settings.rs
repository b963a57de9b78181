//! Vault settings: `max-keys` and `prefix`. Unset settings read as defaults.

use std::fmt;
use std::str::FromStr;

use rusqlite::OptionalExtension;
use serde_json::json;

use super::{Vault, events};
use crate::error::{Error, Result};
use crate::event::{EventKind, NewEvent};
use crate::when::Timestamp;

pub const DEFAULT_MAX_KEYS: u32 = 3;
pub const DEFAULT_PREFIX: &str = "kw";
/// The largest `max-keys` accepted: a typo guard, not a design limit.
pub const MAX_MAX_KEYS: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    MaxKeys,
    Prefix,
}

impl Setting {
    pub fn as_str(self) -> &'static str {
        match self {
            Setting::MaxKeys => "max-keys",
            Setting::Prefix => "prefix",
        }
    }

    /// Checks a value and returns it in its stored form.
    pub fn validate(self, value: &str) -> Result<String, Error> {
        match self {
            Setting::MaxKeys => match value.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_MAX_KEYS).contains(&n) => Ok(n.to_string()),
                _ => Err(Error::usage(format!(
                    "'{}' is not a valid max-keys: give a whole number from 1 to {MAX_MAX_KEYS}, e.g. 5",
                    crate::text::escape(value)
                ))),
            },
            Setting::Prefix => {
                crate::secret::validate_prefix(value)?;
                Ok(value.to_string())
            }
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
        match s {
            "max-keys" => Ok(Setting::MaxKeys),
            "prefix" => Ok(Setting::Prefix),
            _ => Err(Error::usage(format!(
                "'{}' is not a setting: use max-keys or prefix",
                crate::text::escape(s)
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub max_keys: u32,
    pub prefix: String,
}

impl Vault {
    pub fn settings(&self) -> Result<Settings> {
        read(&self.conn)
    }

    /// Sets a setting and records a `config_changed` event, unless the value
    /// is already the one in force. Returns the settings and whether it changed.
    pub fn set_setting(
        &mut self,
        setting: Setting,
        value: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<(Settings, bool)> {
        let value = setting.validate(value)?;
        self.write(|tx| {
            let before = read(tx)?;
            let old = match setting {
                Setting::MaxKeys => before.max_keys.to_string(),
                Setting::Prefix => before.prefix.clone(),
            };
            if old == value {
                return Ok((before, false));
            }
            tx.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (setting.as_str(), &value),
            )?;
            let mut details = serde_json::Map::new();
            details.insert("setting".into(), json!(setting.as_str()));
            details.insert("old".into(), json!(old));
            details.insert("new".into(), json!(value));
            events::append(
                tx,
                NewEvent {
                    at: now,
                    kind: EventKind::ConfigChanged,
                    key_id: None,
                    related_key_id: None,
                    env: None,
                    actor: actor.to_string(),
                    details,
                },
            )?;
            Ok((read(tx)?, true))
        })
    }
}

pub(super) fn read(conn: &rusqlite::Connection) -> Result<Settings> {
    let get = |name: &str| -> Result<Option<String>> {
        Ok(conn
            .prepare_cached("SELECT value FROM settings WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?)
    };
    let max_keys = match get("max-keys")? {
        Some(v) => v.parse().unwrap_or(DEFAULT_MAX_KEYS),
        None => DEFAULT_MAX_KEYS,
    };
    let prefix = get("prefix")?.unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    Ok(Settings { max_keys, prefix })
}
