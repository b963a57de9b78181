//! Links keyward's binaries on Linux (glibc) with packed relative
//! relocations (`-z pack-relative-relocs`, DT_RELR): a PIE keyward has
//! about 9,000 relative relocations, whose 220 KiB table the dynamic
//! loader reads at every start; packed, it is 2 KiB. `keyward verify`
//! starts 5-8% sooner (bench/RESULTS-startup.md), and the binary stays
//! position-independent (its addresses still randomised). Only the
//! binaries are linked so: libraries, tests and proc-macros are untouched.
//!
//! Such a binary needs glibc 2.36 or later where it runs (the linker
//! records that). `KEYWARD_PACKED_RELOCS=0` at build time links without.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=KEYWARD_PACKED_RELOCS");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let wanted = std::env::var("KEYWARD_PACKED_RELOCS").map_or(true, |v| v != "0");
    if os == "linux" && env == "gnu" && wanted {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
