//! The shape of the code: every import runs down. Cargo refuses a circle
//! between crates; these tests hold the rest, reading the sources' `use`
//! lines and paths (test modules aside, which may use anything):
//! the floors inside keyward-core and inside the binary, what each crate
//! may depend on, and where engine types may be named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A file's code before its test module, without comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let before_tests = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    before_tests
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names that follow `prefix` in `code` (`crate::key::Key` → `key`).
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
    names
}

/// Which floor a file of a crate's `src/` is on: its module's name (a
/// folder's files share their folder's floor).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative
        .components()
        .next()
        .expect("a component")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_string()
}

/// Checks that each file of `src` names (through `crate::`) only modules on
/// its floor or below; returns the arrows that run up.
fn arrows_up(src: &Path, floors: &[&str], roots: &[&str]) -> Vec<String> {
    let floor = |m: &str| floors.iter().position(|f| *f == m);
    let mut wrong = Vec::new();
    for file in sources(src) {
        let module = module_of(src, &file);
        if roots.contains(&module.as_str()) {
            continue;
        }
        let Some(at) = floor(&module) else {
            wrong.push(format!(
                "{} is on no floor: add it to the list in tests/layers.rs",
                file.display()
            ));
            continue;
        };
        for named in named_after(&code(&file), "crate::") {
            match floor(&named) {
                Some(to) if to > at => wrong.push(format!(
                    "{} ({module}) imports {named}, which is above it",
                    file.display()
                )),
                _ => {}
            }
        }
    }
    wrong
}

#[test]
fn inside_the_core_every_import_runs_down() {
    // Bottom first: what a module may import is what comes before it.
    let floors = [
        "striped",   // per-thread stripes of shared state: no imports
        "secret",    // the secret's shape, hash and mask: no imports
        "shown",     // escape, quote: text as messages show it
        "id",        // a key's id
        "status",    // a key's status
        "error",     // one variant per situation, with its exit code
        "when",      // times, durations, the clock
        "quota",     // rate limits and credits: the pure rules
        "text",      // typed user text: names, envs, scopes, actors
        "key",       // the key record and its verdict
        "lifecycle", // the pure rules of rotate, revoke, extend
        "settings",  // the vault's configuration
        "event",     // the activity log and its hash chain
        "store",     // the storage contract, the in-memory key index
        "intents",   // the key rules, written once over the contract
        "vault",     // a vault over a store: resolution, transactions, copy
        "json",      // the JSON shapes shared by the CLI and serve
        "seed",      // bulk-filling, for benchmarks
    ];
    let wrong = arrows_up(&root().join("crates/keyward-core/src"), &floors, &["lib"]);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn inside_the_binary_commands_never_reach_up_to_the_printer() {
    // clap's types, then the commands, then the printer, then main.
    let floors = ["cli", "cmd", "output", "main"];
    // lib.rs and location.rs are the library half: they name no binary module.
    let wrong = arrows_up(&root().join("src"), &floors, &["lib", "location"]);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for library in ["src/lib.rs", "src/location.rs"] {
        let named = named_after(&code(&root().join(library)), "crate::");
        for module in floors {
            assert!(!named.contains(module), "{library} imports {module}");
        }
    }
}

/// The `[dependencies]` section of a manifest, as names.
fn dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).expect("manifest");
    let section = text.split("\n[dependencies]\n").nth(1).unwrap_or_default();
    section
        .split("\n[")
        .next()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(['.', ' ', '=']).next())
        .filter(|n| !n.is_empty() && !n.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn crates_depend_only_on_those_below_them() {
    let crates = root().join("crates");
    let keyward_deps = |name: &str| -> BTreeSet<String> {
        dependencies(&crates.join(name).join("Cargo.toml"))
            .into_iter()
            .filter(|d| d.starts_with("keyward"))
            .collect()
    };
    let core_only: BTreeSet<String> = ["keyward-core".to_string()].into();
    assert!(keyward_deps("keyward-core").is_empty());
    for engine_or_server in ["keyward-sqlite", "keyward-postgres", "keyward-serve"] {
        assert_eq!(
            keyward_deps(engine_or_server),
            core_only,
            "{engine_or_server}"
        );
    }
    // serve is handed a Config and a Verifier: it never sees clap or an engine.
    let serve = dependencies(&crates.join("keyward-serve/Cargo.toml"));
    for never in [
        "clap",
        "rusqlite",
        "postgres",
        "keyward-sqlite",
        "keyward-postgres",
    ] {
        assert!(!serve.contains(never), "keyward-serve depends on {never}");
    }
    let core = dependencies(&crates.join("keyward-core/Cargo.toml"));
    for never in ["clap", "rusqlite", "postgres", "tokio", "hyper"] {
        assert!(!core.contains(never), "keyward-core depends on {never}");
    }
}

#[test]
fn engine_types_are_named_only_in_their_engine() {
    let crates = root().join("crates");
    let mut dirs = vec![root().join("src")];
    dirs.extend(
        [
            "keyward-core",
            "keyward-serve",
            "keyward-sqlite",
            "keyward-postgres",
        ]
        .map(|c| crates.join(c).join("src")),
    );
    for dir in dirs {
        for file in sources(&dir) {
            let code = code(&file);
            let in_sqlite = dir.ends_with("keyward-sqlite/src");
            let in_postgres = dir.ends_with("keyward-postgres/src");
            if !in_sqlite {
                assert!(
                    named_after(&code, "rusqlite::").is_empty(),
                    "{} names rusqlite",
                    file.display()
                );
            }
            if !in_postgres {
                assert!(
                    named_after(&code, "postgres::").is_empty()
                        && named_after(&code, "tokio_postgres").is_empty(),
                    "{} names postgres",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn both_engines_use_the_same_file_names_for_the_same_things() {
    let names = |engine: &str| -> BTreeSet<String> {
        sources(&root().join("crates").join(engine).join("src"))
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect()
    };
    let sqlite = names("keyward-sqlite");
    let postgres = names("keyward-postgres");
    for shared in [
        "lib.rs",
        "schema.rs",
        "keys.rs",
        "events.rs",
        "usage.rs",
        "verifier.rs",
    ] {
        assert!(sqlite.contains(shared), "keyward-sqlite has no {shared}");
        assert!(
            postgres.contains(shared),
            "keyward-postgres has no {shared}"
        );
    }
}
