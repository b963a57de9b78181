//! keyward: issue and administer API keys in a vault: a local SQLite file,
//! or a schema of a PostgreSQL database shared between hosts.
//!
//! Data flows one way: the binary's `cli` → `cmd` → the core ([`key`],
//! [`secret`], [`text`], [`lifecycle`], [`when`]) and the key rules in
//! [`intents`] → the storage contract in [`store`], reached through
//! [`vault::Vault`]; results flow back to the binary's `output`.

pub mod error;
pub mod event;
pub mod id;
pub mod intents;
pub mod json;
pub mod key;
pub mod lifecycle;
pub mod secret;
#[cfg(feature = "seed")]
pub mod seed;
pub mod settings;
pub mod shown;
pub mod status;
pub mod store;
pub mod text;
pub mod vault;
pub mod when;
