//! The keys serve holds in memory, by their secrets' hashes: per key only
//! what a verdict needs ([`Brief`]), packed so that a vault of a million
//! keys fits in well under 256 MiB (docs/performance.md, "At scale").
//!
//! An entry is about 136 bytes: the hash, the id, name and hint as inline
//! strings (no allocation up to 24 bytes, which covers every id keyward
//! makes and most names), the times as seconds, and the environment,
//! prefix and scope set as numbers into tables shared by every key (a
//! vault has few environments and, typically, few distinct scope sets).
//! The entries live in one vector; the index over them holds only their
//! positions (4 bytes a slot), hashed by the first bytes of the secret's
//! hash, which SHA-256 already spreads evenly.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use compact_str::CompactString;
use hashbrown::HashTable;

use crate::key::{Brief, KeyId, QuotaRef};
use crate::text::{Env, Name, Scope};
use crate::when::Timestamp;

/// `expires_at` of a key that never expires.
const NEVER: i64 = i64::MAX;

const DEFAULT: u8 = 1;
const REVOKED: u8 = 2;
const ROTATED: u8 = 4;
const DESCRIBED: u8 = 8;

/// The `quota` of a key that draws from none.
const NO_QUOTA: u32 = u32::MAX;

/// Keys by their secrets' hashes. Entries are replaced, never removed
/// (keys are never deleted); [`clear`](Self::clear) drops them all.
#[derive(Default)]
pub struct Held {
    entries: Vec<Entry>,
    index: HashTable<u32>,
    envs: Interned<Env>,
    prefixes: Interned<CompactString>,
    scopes: Interned<Arc<[Scope]>>,
    quotas: Interned<QuotaRef>,
}

struct Entry {
    hash: [u8; 32],
    id: KeyId,
    name: Name,
    hint: CompactString,
    created_at: i64,
    expires_at: i64,
    env: u32,
    prefix: u32,
    scopes: u32,
    /// Into `quotas`, or [`NO_QUOTA`].
    quota: u32,
    flags: u8,
}

/// Values shared by many keys, each stored once and named by its position.
struct Interned<T> {
    values: Vec<T>,
    positions: HashMap<T, u32>,
}

impl<T> Default for Interned<T> {
    fn default() -> Self {
        Interned {
            values: Vec::new(),
            positions: HashMap::new(),
        }
    }
}

impl<T: Hash + Eq + Clone> Interned<T> {
    fn position(&mut self, value: &T) -> u32 {
        if let Some(&p) = self.positions.get(value) {
            return p;
        }
        let p = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        self.values.push(value.clone());
        self.positions.insert(value.clone(), p);
        p
    }

    fn get(&self, position: u32) -> Option<&T> {
        self.values.get(usize::try_from(position).ok()?)
    }
}

/// The index's hash of a secret's hash: its first 8 bytes.
fn spread(hash: &[u8; 32]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(first)
}

impl Held {
    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every key and the memory they used.
    pub fn clear(&mut self) {
        *self = Held::default();
    }

    /// Where the entry held under this hash is.
    fn position(&self, hash: &[u8; 32]) -> Option<usize> {
        let at = *self.index.find(spread(hash), |&i| {
            self.entries
                .get(i as usize)
                .is_some_and(|e| e.hash == *hash)
        })?;
        Some(at as usize)
    }

    /// The key whose secret has this hash.
    pub fn get(&self, hash: &[u8; 32]) -> Option<Brief> {
        self.brief(self.entries.get(self.position(hash)?)?)
    }

    /// Holds `key` under `hash`, in place of what was held under it.
    pub fn insert(&mut self, hash: [u8; 32], key: &Brief) {
        let entry = Entry {
            hash,
            id: key.id.clone(),
            name: key.name.clone(),
            hint: key.hint.clone(),
            created_at: key.created_at.unix(),
            expires_at: key.expires_at.map_or(NEVER, Timestamp::unix),
            env: self.envs.position(&key.env),
            prefix: self.prefixes.position(&key.prefix),
            scopes: self.scopes.position(&key.scopes),
            quota: key
                .quota
                .as_ref()
                .map_or(NO_QUOTA, |q| self.quotas.position(q)),
            flags: [
                (key.is_default, DEFAULT),
                (key.revoked, REVOKED),
                (key.rotated, ROTATED),
                (key.described, DESCRIBED),
            ]
            .iter()
            .filter(|(set, _)| *set)
            .fold(0, |flags, (_, bit)| flags | bit),
        };
        if let Some(at) = self.position(&hash)
            && let Some(slot) = self.entries.get_mut(at)
        {
            *slot = entry;
            return;
        }
        let Ok(at) = u32::try_from(self.entries.len()) else {
            // Four billion keys: not held, so looked up in the vault.
            return;
        };
        self.entries.push(entry);
        let entries = &self.entries;
        self.index.insert_unique(spread(&hash), at, |&i| {
            entries.get(i as usize).map_or(0, |e| spread(&e.hash))
        });
    }

    fn brief(&self, e: &Entry) -> Option<Brief> {
        Some(Brief {
            id: e.id.clone(),
            name: e.name.clone(),
            env: self.envs.get(e.env)?.clone(),
            prefix: self.prefixes.get(e.prefix)?.clone(),
            hint: e.hint.clone(),
            scopes: Arc::clone(self.scopes.get(e.scopes)?),
            is_default: e.flags & DEFAULT != 0,
            created_at: Timestamp::from_unix(e.created_at),
            expires_at: match e.expires_at {
                NEVER => None,
                secs => Some(Timestamp::from_unix(secs)),
            },
            revoked: e.flags & REVOKED != 0,
            rotated: e.flags & ROTATED != 0,
            described: e.flags & DESCRIBED != 0,
            quota: match e.quota {
                NO_QUOTA => None,
                at => Some(self.quotas.get(at)?.clone()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;

    fn brief(id: &str, name: &str, env: &str) -> Brief {
        Brief::from(&Key::sample(
            id,
            name,
            env,
            Timestamp::from_unix(1_700_000_000),
        ))
    }

    #[test]
    fn a_held_key_reads_back_as_it_was_put() {
        let mut held = Held::default();
        let mut key = Key::sample(
            "key_aaaaaaaaaaaaaaaa",
            "a name longer than twenty-four bytes, kept whole",
            "prod",
            Timestamp::from_unix(1_700_000_000),
        );
        key.scopes = vec![Scope::stored("deploy".into()), Scope::stored("read".into())];
        key.expires_at = Some(Timestamp::from_unix(1_800_000_000));
        key.revoked_at = Some(Timestamp::from_unix(1_750_000_000));
        key.rotated_to = Some(KeyId::stored("key_bbbbbbbbbbbbbbbb".into()));
        key.is_default = true;
        let b = Brief::from(&key);
        held.insert([7; 32], &b);
        assert_eq!(held.get(&[7; 32]), Some(b));
        assert_eq!(held.get(&[8; 32]), None);
    }

    #[test]
    fn putting_a_key_again_replaces_it() {
        let mut held = Held::default();
        held.insert([1; 32], &brief("key_aaaaaaaaaaaaaaaa", "old", "prod"));
        let mut renamed = brief("key_aaaaaaaaaaaaaaaa", "new", "prod");
        renamed.revoked = true;
        held.insert([1; 32], &renamed);
        assert_eq!(held.len(), 1);
        assert_eq!(held.get(&[1; 32]), Some(renamed));
    }

    #[test]
    fn hashes_alike_in_their_first_bytes_are_told_apart() {
        let mut held = Held::default();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        a[31] = 1;
        b[31] = 2;
        held.insert(a, &brief("key_aaaaaaaaaaaaaaaa", "a", "prod"));
        held.insert(b, &brief("key_bbbbbbbbbbbbbbbb", "b", "dev"));
        assert_eq!(held.get(&a).map(|k| k.name.to_string()), Some("a".into()));
        assert_eq!(held.get(&b).map(|k| k.env.to_string()), Some("dev".into()));
        assert_eq!(held.get(&[0; 32]), None);
    }

    #[test]
    fn clearing_drops_every_key() {
        let mut held = Held::default();
        held.insert([1; 32], &brief("key_aaaaaaaaaaaaaaaa", "a", "prod"));
        held.clear();
        assert!(held.is_empty());
        assert_eq!(held.get(&[1; 32]), None);
    }
}
