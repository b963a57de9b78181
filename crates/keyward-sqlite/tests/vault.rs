//! The vault's rules (resolving keys, defaults, limits, last-used, the time
//! of a write) over a real SQLite store.

use std::sync::atomic::{AtomicI64, Ordering};

use std::sync::Arc;

use keyward_core::error::{Error, Result};
use keyward_core::intents::{Created, NewKey, Rotation};
use keyward_core::key::{Key, KeyId, KeyRef, VerifyCode};
use keyward_core::secret;
use keyward_core::settings::Setting;
use keyward_core::store::Access;
use keyward_core::text::{Actor, Env, Name};
use keyward_core::vault::Vault;
use keyward_core::when::{Clock, Expiry, Moment, Timestamp};
use keyward_sqlite::Sqlite;

const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

/// A clock the test moves.
struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.0.load(Ordering::SeqCst))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    vault: Vault,
    clock: Arc<TestClock>,
}

impl Fixture {
    fn set_now(&self, t: Timestamp) {
        self.clock.0.store(t.unix(), Ordering::SeqCst);
    }

    fn create(&mut self, name: &str, env: &str) -> Result<Created> {
        self.create_with(name, env, Expiry::Never)
    }

    fn create_with(&mut self, name: &str, env: &str, expires: Expiry) -> Result<Created> {
        let new = NewKey {
            name: Some(Name::parse(name)?),
            env: Env::parse(env)?,
            expires,
            scopes: vec![],
            prefix: None,
            note: None,
            rotate_every: None,
            quota: Default::default(),
            owner: None,
            meta: None,
        };
        self.vault.create(&new, &actor())
    }

    /// Stores a copy of `template` under another id, as a tamperer or an
    /// older keyward might have.
    fn insert_as(&mut self, template: &Key, id: &str, name: &str) {
        let k = Key {
            id: KeyId::stored(id.to_string()),
            name: Name::stored(name.to_string()),
            is_default: false,
            ..template.clone()
        };
        let hash = secret::generate("kw").expect("rng").hash();
        self.vault
            .write(|tx, _| tx.insert_key(&k, &hash))
            .expect("insert");
    }

    fn find(&self, r: &str, env: &str) -> Result<KeyId> {
        Ok(self
            .vault
            .resolve(&KeyRef::parse(r), &Env::stored(env.to_string()))?
            .id)
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(TestClock(AtomicI64::new(NOW.unix())));
    let (store, created) =
        Sqlite::open_reporting(&dir.path().join("v.db"), Access::Create).expect("open");
    let vault = Vault::new(Box::new(store), created, "v.db".into(), clock.clone());
    Fixture {
        _dir: dir,
        vault,
        clock,
    }
}

fn actor() -> Actor {
    Actor::parse("t").expect("actor")
}

#[test]
fn resolves_by_id_prefix_and_active_name() {
    let mut f = fixture();
    let web = f.create("web", "default").expect("create").key;
    let id = web.id.as_str();
    assert_eq!(
        f.find(id, "other").ok(),
        Some(web.id.clone()),
        "ids ignore --env"
    );
    assert_eq!(f.find(&id[..8], "default").ok(), Some(web.id.clone()));
    assert_eq!(f.find("web", "default").ok(), Some(web.id.clone()));
    assert!(
        f.find("web", "staging").is_err(),
        "names are per environment"
    );
    assert!(f.find("nope", "default").is_err());
}

#[test]
fn shared_id_prefix_is_ambiguous_and_names_the_candidates() {
    let mut f = fixture();
    let template = f.create("a", "default").expect("create").key;
    for id in ["key_zzzzbbbbbbbbbbbb", "key_zzzzcccccccccccc"] {
        f.insert_as(&template, id, id);
    }
    let msg = f
        .find("key_zzzz", "default")
        .expect_err("ambiguous")
        .to_string();
    assert!(
        msg.contains("key_zzzzbbbbbbbbbbbb") && msg.contains("key_zzzzcccccccccccc"),
        "{msg}"
    );
    let one = f.find("key_zzzzc", "default").expect("unique");
    assert_eq!(one.as_str(), "key_zzzzcccccccccccc");
}

#[test]
fn id_prefixes_reach_the_ends_of_the_alphabet() {
    let mut f = fixture();
    let template = f.create("a", "default").expect("create").key;
    for id in [
        "key_qqqqzzzzzzzzzzzz",
        "key_qqqq222222222222",
        "key_qqqq7aaaaaaaaaaa",
    ] {
        f.insert_as(&template, id, id);
    }
    let find = |q: &str| f.find(q, "default").map(|k| k.to_string());
    assert_eq!(
        find("key_qqqqz").ok().as_deref(),
        Some("key_qqqqzzzzzzzzzzzz")
    );
    assert_eq!(
        find("key_qqqq2").ok().as_deref(),
        Some("key_qqqq222222222222")
    );
    assert_eq!(
        find("key_qqqq7").ok().as_deref(),
        Some("key_qqqq7aaaaaaaaaaa")
    );
    let err = find("key_qqqq").expect_err("three match").to_string();
    assert!(
        err.contains("key_qqqqzzzzzzzzzzzz") && err.contains("key_qqqq222222222222"),
        "{err}"
    );
}

#[test]
fn expired_keys_do_not_count_against_the_limit_or_hold_names() {
    let mut f = fixture();
    f.create_with("web", "default", Expiry::At(Moment::After(60)))
        .expect("create");
    f.create("b", "default").expect("b");
    f.create("c", "default").expect("c");
    assert!(f.create("d", "default").is_err(), "limit of 3");
    f.set_now(NOW.plus_secs(61));
    f.create("web", "default")
        .expect("name and slot are free again");
}

#[test]
fn the_first_key_of_an_environment_is_its_default_and_so_is_the_next_after_it_expired() {
    let mut f = fixture();
    let a = f
        .create_with("a", "default", Expiry::At(Moment::After(60)))
        .expect("a")
        .key;
    let b = f.create("b", "default").expect("b").key;
    let c = f.create("c", "prod").expect("c").key;
    assert!(a.is_default && !b.is_default && c.is_default);
    f.set_now(NOW.plus_secs(61));
    let d = f.create("d", "default").expect("d").key;
    assert!(
        d.is_default,
        "the default key expired: the next key takes over"
    );
}

#[test]
fn last_used_is_written_at_most_once_a_minute() {
    let mut f = fixture();
    let created = f.create("a", "default").expect("a");
    let v = f
        .vault
        .verify(&created.secret, &[], None, &Default::default())
        .expect("verify");
    assert_eq!(v.code, VerifyCode::Valid);
    let last = |f: &Fixture| {
        f.vault
            .resolve(&KeyRef::parse("a"), &Env::default_env())
            .expect("a")
            .last_used_at
    };
    assert_eq!(last(&f), Some(NOW));
    f.set_now(NOW.plus_secs(59));
    f.vault
        .verify(&created.secret, &[], None, &Default::default())
        .expect("verify");
    assert_eq!(last(&f), Some(NOW));
    f.set_now(NOW.plus_secs(60));
    f.vault
        .verify(&created.secret, &[], None, &Default::default())
        .expect("verify");
    assert_eq!(last(&f), Some(NOW.plus_secs(60)));
}

/// A write judges by the time it reads once
/// it holds the lock, not by the time its command started.
#[test]
fn writes_judge_by_the_time_under_the_lock_and_never_go_back() {
    let mut f = fixture();
    let web = f
        .create_with("web", "default", Expiry::At(Moment::After(60)))
        .expect("web")
        .key;
    f.create("other", "default").expect("other");
    // The command resolved `web` at NOW; the lock is taken after it expired.
    f.set_now(NOW.plus_secs(61));
    let r = Rotation {
        grace: Moment::After(3_600),
        expires: None,
        name: None,
        rotate_every: None,
        reason: None,
        quota: Default::default(),
    };
    let err = f.vault.rotate(&web.id, &r, &actor()).expect_err("expired");
    assert!(matches!(
        err.downcast_ref::<Error>(),
        Some(Error::WrongState { .. })
    ));
    // A clock behind the log's newest event is taken as that event's time.
    f.set_now(NOW.plus_secs(-3_600));
    let late = f.create("late", "default").expect("late").key;
    assert_eq!(late.created_at, NOW);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    const STEMS: [&str; 3] = ["aaaa", "aaab", "zz77"];
    const ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz234567";

    /// A vault holding 40 keys whose ids share a few stems, so that
    /// prefixes collide; their ids in order.
    fn vault_with_ids() -> (Fixture, Vec<String>) {
        let mut f = fixture();
        f.vault
            .write(|tx, now| {
                keyward_core::intents::set_setting(tx, Setting::MaxKeys, "100", &actor(), now)
            })
            .expect("max-keys");
        let template = f.create("template", "default").expect("create").key;
        let mut ids = vec![template.id.to_string()];
        for i in 0..40usize {
            let tail: String = (0..12)
                .map(|j| ALPHABET.as_bytes()[(i * 7 + j * 13 + i * j) % 32] as char)
                .collect();
            let id = format!("key_{}{tail}", STEMS[i % 3]);
            f.insert_as(&template, &id, &format!("n{i}"));
            ids.push(id);
        }
        ids.sort();
        ids.dedup();
        (f, ids)
    }

    fn query() -> impl Strategy<Value = String> {
        prop_oneof![
            (0usize..3, "[a-z2-7]{0,12}").prop_map(|(s, t)| format!("key_{}{t}", STEMS[s])),
            "key_[a-z2-7]{0,16}",
            "n[0-9]{1,2}",
            any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The vault resolves a KEY exactly as the contract says: a full id,
        /// else the one key whose id starts with it (4+ chars after key_) or
        /// that is active with that name; none is not found, several ambiguous.
        #[test]
        fn resolution_matches_the_contract(q in query()) {
            thread_local!(static VAULT: (Fixture, Vec<String>) = vault_with_ids());
            VAULT.with(|(f, ids)| {
                let found = f.find(&q, "default");
                let by_prefix: Vec<&String> = match q.strip_prefix("key_") {
                    Some(rest) if rest.len() >= 4 && rest.bytes().all(|b| ALPHABET.as_bytes().contains(&b)) => {
                        ids.iter().filter(|id| id.starts_with(&q)).collect()
                    }
                    _ => vec![],
                };
                let by_name: Vec<String> = (0..40)
                    .filter(|i| q == format!("n{i}"))
                    .map(|i| format!("n{i}"))
                    .chain((q == "template").then(|| "template".to_string()))
                    .collect();
                let expected = if ids.contains(&q) { 1 } else { by_prefix.len() + by_name.len() };
                match (expected, found) {
                    (1, Ok(_)) => {}
                    (0, Err(e)) => {
                        let not_found = matches!(e.downcast_ref::<Error>(), Some(Error::NotFound { .. }));
                        prop_assert!(not_found, "{:?}: {}", q, e);
                    }
                    (n, Err(e)) if n > 1 => {
                        let ambiguous = matches!(e.downcast_ref::<Error>(), Some(Error::Ambiguous { .. }));
                        prop_assert!(ambiguous, "{:?}: {}", q, e);
                    }
                    (n, other) => prop_assert!(false, "{} candidates for {:?}, got {:?}", n, q, other.map(|k| k.to_string())),
                }
                Ok(())
            })?;
        }
    }
}
