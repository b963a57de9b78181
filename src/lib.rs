//! keyward: issue and administer API keys in a vault: a local SQLite file,
//! or a schema of a PostgreSQL database shared between hosts.
//!
//! The crates, each depending only on those below it:
//! - `keyward-core`: typed values, the key rules ([`intents`]), the storage
//!   contract ([`store`]) and the [`vault::Vault`] over it, errors;
//! - `keyward-sqlite` and `keyward-postgres`: the engines (feature
//!   `postgres`), each implementing the contract;
//! - `keyward-serve`: verdicts over HTTP (feature `serve`);
//! - this crate: [`Location`], the one place that picks an engine, and the
//!   binary (`cli` → `cmd` → the core; results back through `output`).
//!
//! The core's modules are re-exported under their own names.

#[cfg(feature = "seed")]
pub use keyward_core::seed;
pub use keyward_core::{
    error, event, intents, json, key, lifecycle, quota, secret, settings, shown, store, text,
    vault, when,
};

pub mod location;

pub use location::Location;
