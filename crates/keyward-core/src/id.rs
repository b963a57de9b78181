//! A key's public id, `key_` + 16 lowercase base32 characters. A leaf.

use std::fmt;

use compact_str::CompactString;
use rand::TryRng;
use rand::rngs::SysRng;
use serde::Serialize;

pub const ID_PREFIX: &str = "key_";
const ID_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
pub const ID_BODY_LEN: usize = 16;
/// How much of an id after `key_` a prefix must give to address a key.
pub const MIN_ID_PREFIX: usize = 4;

/// A key's public id: `key_` + 16 lowercase base32 characters. Not secret.
/// Held inline (20 bytes): cloning one allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct KeyId(CompactString);

impl KeyId {
    /// A new random id.
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0u8; ID_BODY_LEN];
        SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| anyhow::anyhow!("the system random number generator failed: {e}"))?;
        let body: String = bytes
            .iter()
            .map(|&b| char::from(ID_ALPHABET[usize::from(b & 31)]))
            .collect();
        Ok(KeyId(compact_str::format_compact!("{ID_PREFIX}{body}")))
    }

    /// An id as the vault stores it.
    pub fn stored(id: String) -> Self {
        KeyId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn is_id_body(s: &str) -> bool {
    s.bytes().all(|b| ID_ALPHABET.contains(&b))
}
