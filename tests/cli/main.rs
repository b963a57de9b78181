//! Integration tests: the real binary against a temporary vault each.
//! Built without `serve` or `postgres` (`--no-default-features`), the
//! tests of what is left out are left out too, and some helpers go unused.
#![cfg_attr(
    not(all(feature = "serve", feature = "postgres")),
    allow(dead_code, unused_imports)
)]

#[cfg(feature = "serve")]
mod admin;
mod bad_input;
mod common;
mod concurrency;
mod config;
mod crash;
mod create;
mod features;
#[cfg(all(feature = "serve", feature = "postgres"))]
mod follow;
mod help;
mod hygiene;
mod leaks;
#[cfg(feature = "serve")]
mod leaks_http;
mod lifecycle;
mod list_show;
mod locations;
mod log;
mod migration;
mod owners;
#[cfg(feature = "postgres")]
mod postgres;
mod prompts;
#[cfg(feature = "serve")]
mod proxy;
mod quotas;
#[cfg(feature = "serve")]
mod replace;
mod revoke;
mod rotate;
mod scopes;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "serve")]
mod serve_requests;
#[cfg(feature = "serve")]
mod unkey_sdk;
mod update;
mod vault_file;
mod verify;
