//! In-process benchmarks: `cargo bench --features seed`.
//!
//! Vaults are seeded through keyward::seed into $KEYWARD_BENCH_DIR
//! (default target/bench-vaults) and reused by later runs; the first run
//! at 1M keys spends a few minutes seeding. Set KEYWARD_BENCH_SMALL=1 to
//! skip the 1M-key cases.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keyward::key::VerifyCode;
use keyward::secret::{self, Secret};
use keyward::seed::{Plan, fill};
use keyward::store::{Access, EventFilter};
use keyward::vault::{KeyFilter, Vault};
use keyward::when::{SystemClock, Timestamp};

fn bench_dir() -> PathBuf {
    std::env::var_os("KEYWARD_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-vaults"))
}

/// A seeded vault and a sample of its secrets (every 1000th, at least 50).
fn seeded(name: &str, plan: Plan) -> (Vault, Vec<Secret>) {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join(format!("{name}.db"));
    let secrets_path = dir.join(format!("{name}.secrets"));
    if !path.exists() || !secrets_path.exists() {
        let _ = std::fs::remove_file(&path);
        let mut vault = keyward::Location::Sqlite(std::path::PathBuf::from(&path))
            .open(Access::Create, std::sync::Arc::new(Timestamp::now_utc()))
            .expect("create vault");
        let step = (plan.keys / 1000).clamp(1, 1000);
        let mut kept = String::new();
        eprintln!(
            "seeding {} ({} keys, {} events)…",
            path.display(),
            plan.keys,
            plan.events
        );
        fill(
            &mut vault,
            plan,
            |n, s| {
                if n % step == 0 {
                    kept.push_str(s.expose());
                    kept.push('\n');
                }
                Ok(())
            },
            |_, _| {},
        )
        .expect("seed");
        std::fs::write(&secrets_path, kept).expect("write secrets");
    }
    let secrets = std::fs::read_to_string(&secrets_path)
        .expect("secrets")
        .lines()
        .filter_map(|l| secret::parse(l).ok())
        .collect();
    (
        keyward::Location::Sqlite(std::path::PathBuf::from(&path))
            .open(Access::Read, std::sync::Arc::new(SystemClock))
            .expect("open"),
        secrets,
    )
}

/// The vault sizes of the verify and log benchmarks (the plans of bench/run.sh).
fn sizes() -> Vec<(&'static str, Plan)> {
    let mut sizes = vec![(
        "1k",
        Plan {
            keys: 1_000,
            envs: 10,
            events: 2_000,
        },
    )];
    if std::env::var_os("KEYWARD_BENCH_SMALL").is_none() {
        sizes.push((
            "1m",
            Plan {
                keys: 1_000_000,
                envs: 100,
                events: 2_000_000,
            },
        ));
    }
    sizes
}

fn secret_generation(c: &mut Criterion) {
    c.bench_function("secret/generate", |b| {
        b.iter(|| secret::generate(black_box("kw")).expect("rng"))
    });
    let s = secret::generate("kw").expect("rng");
    let text = s.expose().to_string();
    c.bench_function("secret/parse+checksum", |b| {
        b.iter(|| secret::parse(black_box(&text)).is_ok())
    });
}

/// What `verify` does in-process: checksum, SHA-256, indexed lookup, status.
fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    for (name, plan) in sizes() {
        let (vault, secrets) = seeded(name, plan);
        let texts: Vec<String> = secrets.iter().map(|s| s.expose().to_string()).collect();
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % texts.len();
                let s = secret::parse(&texts[i]).expect("well-formed");
                // Found, whatever its status: bench/run.sh's rotations expire a few.
                let verdict = vault.check(&s, &[], None).expect("query");
                assert!(verdict.key.is_some() && verdict.code != VerifyCode::Invalid);
            })
        });
    }
    group.finish();
}

fn list(c: &mut Criterion) {
    let (vault, _) = seeded(
        "10k",
        Plan {
            keys: 10_000,
            envs: 10,
            events: 10_000,
        },
    );
    let all = KeyFilter {
        all: true,
        ..KeyFilter::default()
    };
    c.bench_function("list/10k keys", |b| {
        b.iter(|| vault.keys(&all).expect("list").len())
    });
}

fn log_page(c: &mut Criterion) {
    let mut group = c.benchmark_group("log page of 50");
    for (name, plan) in sizes() {
        let (vault, _) = seeded(name, plan);
        let page = EventFilter {
            limit: 50,
            ..EventFilter::default()
        };
        group.bench_function(name, |b| {
            b.iter(|| vault.events(&page).expect("events").len())
        });
    }
    group.finish();
}

/// serve's verdict from memory: parse and checksum the presented secret,
/// SHA-256 it, find its key among N held in memory (`store::memory::Held`,
/// as serve's verifiers hold them) and judge its status.
fn verdict_from_memory(c: &mut Criterion) {
    use keyward::key::{Brief, KeyId};
    use keyward::store::memory::Held;
    use keyward::text::{Env, Name};
    use std::sync::Arc;
    let mut group = c.benchmark_group("verdict from memory");
    group.throughput(Throughput::Elements(1));
    let small = std::env::var_os("KEYWARD_BENCH_SMALL").is_some();
    let now = Timestamp::from_unix(1_800_000_000);
    for (name, n) in [("1k", 1_000usize), ("1m", 1_000_000)] {
        if small && n > 1_000 {
            continue;
        }
        let mut held = Held::default();
        let mut texts = Vec::with_capacity(n.min(10_000));
        for i in 0..n {
            let secret = secret::generate("kw").expect("rng");
            let key = Brief {
                id: KeyId::generate().expect("rng"),
                name: Name::stored(format!("svc-{i}")),
                env: Env::stored(format!("env{:03}", i % 100)),
                prefix: "kw".into(),
                hint: secret.hint().into(),
                scopes: Arc::from([]),
                is_default: false,
                created_at: now,
                expires_at: None,
                revoked: false,
                rotated: false,
                quota: None,
                described: false,
            };
            held.insert(secret.hash(), &key);
            if texts.len() < 10_000 {
                texts.push(secret.expose().to_string());
            }
        }
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % texts.len();
                let s = secret::parse(black_box(&texts[i])).expect("well-formed");
                let key = held.get(&s.hash()).expect("held");
                let code = VerifyCode::judge(key.status(now), || true);
                assert_eq!(code, VerifyCode::Valid);
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    secret_generation,
    verify,
    verdict_from_memory,
    list,
    log_page
);
criterion_main!(benches);
