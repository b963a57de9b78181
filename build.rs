//! Links keyward's binaries on Linux (glibc) with packed relative
//! relocations (`-z pack-relative-relocs`, DT_RELR): a PIE keyward has
//! about 9,000 relative relocations, whose 220 KiB table the dynamic
//! loader reads at every start; packed, it is 2 KiB, and `keyward verify`
//! starts sooner (bench/RESULTS-startup.md). The binary stays
//! position-independent (its addresses still randomised). Only the
//! binaries are linked so: libraries, tests and proc-macros are untouched.
//!
//! Such a binary runs only on glibc 2.36 or later (the linker records
//! that, and an older glibc refuses it), so it is built so only where the
//! building machine's glibc is that recent and the binary is for this
//! machine. `KEYWARD_PACKED_RELOCS=0` or `=1` at build time decides
//! instead.

use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=KEYWARD_PACKED_RELOCS");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let glibc = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    let wanted = match var("KEYWARD_PACKED_RELOCS").as_str() {
        "0" => false,
        "1" => glibc,
        _ => glibc && var("HOST") == var("TARGET") && glibc_here_at_least(2, 36),
    };
    if wanted {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this machine's glibc (`getconf GNU_LIBC_VERSION`: `glibc 2.36`)
/// is at least `major.minor`; false when it cannot tell.
fn glibc_here_at_least(major: u32, minor: u32) -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text
        .trim()
        .strip_prefix("glibc ")
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}
