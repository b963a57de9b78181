//! keyward's core: the typed values ([`text`], [`id`], [`key`], [`when`],
//! [`secret`]), the pure rules ([`lifecycle`]), the vault's settings and
//! its activity log ([`event`]), the storage contract every engine
//! implements ([`store`], with the rows engines hand back and their
//! decoding), the key rules written once over it ([`intents`]), a
//! [`vault::Vault`] over any engine, and one [`error::Error`]. It names no
//! engine, no HTTP and no command line: the engines, serve and the binary
//! are the crates above it.
//!
//! Each module imports only the modules listed before it in
//! `tests/layers.rs` (the leaves first: `secret`, `shown`, `id`, `status`).

pub mod error;
pub mod event;
pub mod id;
pub mod intents;
pub mod json;
pub mod key;
pub mod lifecycle;
pub mod quota;
pub mod secret;
#[cfg(feature = "seed")]
pub mod seed;
pub mod settings;
pub mod shown;
pub mod status;
pub mod store;
pub mod striped;
pub mod text;
pub mod vault;
pub mod when;
