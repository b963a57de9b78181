//! Fills a new vault for benchmarks, through the library (see keyward::seed):
//!
//! cargo run --release --example seed -- --vault PATH --keys N --envs E \
//!     --events M --secrets-out FILE
//!
//! Every 1000th secret is written to FILE, one a line, so that benchmarks
//! can verify real keys. An existing vault is refused.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use keyward::seed::{Plan, fill};
use keyward::store::Access;
use keyward::when::Timestamp;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    vault: PathBuf,
    #[arg(long)]
    keys: u64,
    #[arg(long, default_value_t = 10)]
    envs: u64,
    /// About this many events in all [default: one per key]
    #[arg(long)]
    events: Option<u64>,
    #[arg(long)]
    secrets_out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.vault.exists() {
        bail!(
            "{} exists: the seed tool only fills a new vault",
            args.vault.display()
        );
    }
    let started = Instant::now();
    let mut vault = keyward::Location::Sqlite(std::path::PathBuf::from(&args.vault))
        .open(Access::Create, std::sync::Arc::new(Timestamp::now_utc()))?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&args.secrets_out)
            .with_context(|| format!("cannot create {}", args.secrets_out.display()))?,
    );
    let plan = Plan {
        keys: args.keys,
        envs: args.envs,
        events: args.events.unwrap_or(args.keys),
    };
    let events = fill(
        &mut vault,
        plan,
        |n, secret| {
            if n % 1000 == 0 {
                writeln!(out, "{}", secret.expose())?;
            }
            Ok(())
        },
        |done, total| eprint!("\r{done}/{total}"),
    )?;
    out.flush()?;
    eprintln!(
        "\nseeded {} keys over {} environments, {events} events, in {:.1}s",
        args.keys,
        args.envs,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
