//! Runs `verify`'s in-process path (parse, SHA-256, lookup) N times against a
//! seeded vault, for an instruction profile: bench/run.sh runs it under
//! callgrind.
//!
//! cargo run --release --example profile_verify -- VAULT SECRETS [N]

use anyhow::Context;
use keyward::secret;
use keyward::store::Access;
use keyward::when::Timestamp;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (vault, secrets) = (
        args.next().context("VAULT")?,
        args.next().context("SECRETS")?,
    );
    let n: usize = args.next().map_or(Ok(20_000), |n| n.parse())?;
    let vault = keyward::Location::Sqlite(std::path::PathBuf::from(std::path::Path::new(&vault)))
        .open(Access::Read, std::sync::Arc::new(Timestamp::now_utc()))?;
    let texts: Vec<String> = std::fs::read_to_string(secrets)?
        .lines()
        .map(String::from)
        .collect();
    anyhow::ensure!(!texts.is_empty(), "no secrets");
    let mut found = 0;
    for i in 0..n {
        let s = secret::parse(&texts[i % texts.len()]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        found += usize::from(vault.check(&s, &[], None)?.key.is_some());
    }
    println!("{found} of {n} found");
    Ok(())
}
