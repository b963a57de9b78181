//! Integration tests: the real binary against a temporary vault each.

mod bad_input;
mod common;
mod concurrency;
mod config;
mod crash;
mod create;
mod hardening;
mod help;
mod hygiene;
mod leaks;
mod lifecycle;
mod list_show;
mod log;
mod migration;
mod operator;
mod postgres;
mod prompts;
mod proxy;
mod revoke;
mod rotate;
mod scopes;
mod serve;
mod serve_requests;
mod unkey_sdk;
mod vault_file;
mod verify;
