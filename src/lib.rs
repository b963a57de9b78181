//! keyward: issue and administer API keys in a local SQLite vault.
//!
//! Data flows one way: [`cli`] → [`cmd`] → the core ([`key`], [`secret`],
//! [`lifecycle`], [`when`]) → [`vault`], and results flow back to [`output`].

pub mod cli;
pub mod cmd;
pub mod error;
pub mod event;
pub mod generated;
pub mod key;
pub mod lifecycle;
pub mod output;
pub mod secret;
pub mod seed;
pub mod text;
pub mod vault;
pub mod when;
