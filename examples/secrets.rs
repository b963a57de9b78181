//! Prints N well-formed secrets (prefix `kw`, valid checksum) that belong
//! to no vault, one per line: the "distinct invalid keys" of
//! bench/serve.sh, which pass the checksum and so reach the lookup.
//!
//!     cargo run --release --example secrets -- 1000000 > keys.txt

use std::io::{BufWriter, Write};

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1000);
    let mut out = BufWriter::new(std::io::stdout().lock());
    for _ in 0..n {
        writeln!(out, "{}", keyward::secret::generate("kw")?.expose())?;
    }
    out.flush()?;
    Ok(())
}
