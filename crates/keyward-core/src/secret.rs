//! API key secrets: `{prefix}_{body}`, where the body is 32 base62 characters
//! from the OS CSPRNG followed by 6 base62 characters encoding a CRC32 of
//! those 32. The checksum lets `verify` reject typos without the vault and
//! lets secret scanners match `\bkw_[0-9A-Za-z]{38}\b`.
//!
//! A [`Secret`] cannot be printed by accident (its `Debug` is redacted and it
//! has no `Display`) and its memory is wiped when it is dropped.

use std::fmt;

use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 32;
const CHECK_LEN: usize = 6;
pub const BODY_LEN: usize = RANDOM_LEN + CHECK_LEN;
pub const HINT_LEN: usize = 4;
pub const MAX_PREFIX_LEN: usize = 16;

/// A secret in full. Only `expose` gives the text out.
pub struct Secret(String);

impl Secret {
    /// The secret's text, for the one place that must print or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 of the secret: all the vault ever stores of it.
    pub fn hash(&self) -> [u8; 32] {
        hash(self.0.as_bytes())
    }

    /// The last characters of the secret, stored to help a person recognise it.
    pub fn hint(&self) -> String {
        let body = self.0.as_bytes();
        String::from_utf8_lossy(&body[body.len().saturating_sub(HINT_LEN)..]).into_owned()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// SHA-256 of the presented bytes.
pub fn hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Makes a new secret with the given (already validated) prefix.
pub fn generate(prefix: &str) -> anyhow::Result<Secret> {
    let mut random = Zeroizing::new([0u8; RANDOM_LEN]);
    fill_base62(&mut random[..])?;
    Ok(Secret(encode(prefix, &random)))
}

/// `{prefix}_{random}{checksum}` for a random part of base62 characters.
fn encode(prefix: &str, random: &[u8; RANDOM_LEN]) -> String {
    let mut text = String::with_capacity(prefix.len() + 1 + BODY_LEN);
    text.push_str(prefix);
    text.push('_');
    text.extend(random.iter().map(|&b| char::from(b)));
    text.extend(checksum(&random[..]).iter().map(|&b| char::from(b)));
    text
}

/// Fills `out` with base62 characters drawn uniformly from the OS CSPRNG
/// (rejection sampling: bytes ≥ 248 are drawn again, so no character is favoured).
fn fill_base62(out: &mut [u8]) -> anyhow::Result<()> {
    let mut pool = Zeroizing::new([0u8; 64]);
    let mut filled = 0;
    while filled < out.len() {
        SysRng
            .try_fill_bytes(&mut pool[..])
            .map_err(|e| anyhow::anyhow!("the system random number generator failed: {e}"))?;
        for &b in pool.iter().filter(|&&b| b < 248) {
            if filled == out.len() {
                break;
            }
            out[filled] = BASE62[usize::from(b % 62)];
            filled += 1;
        }
    }
    Ok(())
}

/// CRC32 of the random part, as 6 base62 digits, most significant first.
/// CRC-32 (IEEE), table-driven: no CPU feature detection at run time,
/// which costs a short-lived process (a VM traps every CPUID) more than the
/// 32 bytes it checks.
const CRC32: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);

/// The checksum's base62 digits (ASCII), for the random part.
fn checksum(random: &[u8]) -> [u8; CHECK_LEN] {
    let mut n = u64::from(CRC32.checksum(random));
    let mut digits = [b'0'; CHECK_LEN];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    digits
}

/// Why a presented string is not a well-formed secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    Shape,
    Checksum,
}

/// Checks a presented secret's form and checksum, without any vault.
pub fn parse(presented: &str) -> Result<Secret, Malformed> {
    check(presented)?;
    Ok(Secret(presented.to_string()))
}

/// The hash of a presented secret whose form and checksum hold, without
/// copying it (a verification's path: the text stays where it arrived).
pub fn hash_presented(presented: &str) -> Result<[u8; 32], Malformed> {
    check(presented)?;
    Ok(hash(presented.as_bytes()))
}

fn check(presented: &str) -> Result<(), Malformed> {
    // The body is the last BODY_LEN characters, letters and digits, after
    // the last `_` (so that `_` comes just before them).
    let bytes = presented.as_bytes();
    let under = bytes
        .len()
        .checked_sub(BODY_LEN + 1)
        .filter(|&at| bytes[at] == b'_')
        .ok_or(Malformed::Shape)?;
    let (prefix, body) = (&presented[..under], &presented[under + 1..]);
    if !is_valid_prefix(prefix) || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Malformed::Shape);
    }
    let (random, check) = body.split_at(RANDOM_LEN);
    if checksum(random.as_bytes()) != check.as_bytes() {
        return Err(Malformed::Checksum);
    }
    Ok(())
}

/// Masks everything in `text` that has a secret's shape (`_` followed by 38
/// or more letters and digits) to its hint: `kw_…a1B2`. Checksums are not
/// checked: a mistyped secret is still a secret. Other text is unchanged.
pub fn mask(text: &str) -> std::borrow::Cow<'_, str> {
    let bytes = text.as_bytes();
    let run_at = |i: usize| {
        bytes[i..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count()
    };
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'_' {
            let run = run_at(i + 1);
            if run >= BODY_LEN {
                let body_end = i + 1 + run;
                let masked = out.get_or_insert_with(|| String::with_capacity(text.len()));
                masked.push_str(&text[copied..=i]);
                masked.push('…');
                masked.push_str(&text[body_end - HINT_LEN..body_end]);
                copied = body_end;
                i = body_end;
                continue;
            }
        }
        i += 1;
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut masked) => {
            masked.push_str(&text[copied..]);
            std::borrow::Cow::Owned(masked)
        }
    }
}

/// A prefix is 1–16 characters of `[a-z][a-z0-9_]*`.
pub fn is_valid_prefix(prefix: &str) -> bool {
    let mut bytes = prefix.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    first_ok && rest_ok && prefix.len() <= MAX_PREFIX_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_scannable(s: &str, prefix: &str) -> bool {
        let Some(body) = s.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')) else {
            return false;
        };
        body.len() == 38 && body.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    #[test]
    fn generated_secrets_match_the_scanner_pattern_and_parse() {
        for prefix in ["kw", "sk_live", "a", "abcdefghijklmnop"] {
            let s = generate(prefix).expect("rng");
            assert!(is_scannable(s.expose(), prefix), "{}", s.expose());
            assert!(parse(s.expose()).is_ok());
        }
    }

    #[test]
    fn secrets_differ() {
        let a = generate("kw").expect("rng");
        let b = generate("kw").expect("rng");
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let s = generate("kw").expect("rng");
        let text = s.expose().to_string();
        for i in 3..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(bytes).expect("ascii");
            assert_eq!(
                parse(&changed).err(),
                Some(Malformed::Checksum),
                "position {i}"
            );
        }
    }

    #[test]
    fn checksum_is_crc32_in_base62() {
        assert_eq!(CRC32.checksum(b"123456789"), 0xCBF4_3926);
        // Every secret issued so far carries crc32fast's checksum.
        for _ in 0..1000 {
            let random: [u8; 32] = rand::random();
            assert_eq!(CRC32.checksum(&random), crc32fast::hash(&random));
        }
        let random = [b'0'; 32];
        let n = u64::from(crc32fast::hash(&random));
        let digits = checksum(&random);
        let decoded = digits.iter().fold(0u64, |acc, &b| {
            acc * 62 + BASE62.iter().position(|&c| c == b).expect("base62") as u64
        });
        assert_eq!(decoded, n);
        assert_eq!(digits.len(), 6);
    }

    #[test]
    fn malformed_shapes_are_rejected() {
        let good = generate("kw").expect("rng");
        let g = good.expose();
        for bad in [
            "",
            "kw",
            "kw_",
            "nounderscore",
            &g[..g.len() - 1],
            &format!("{g}x"),
            &g.replacen("kw_", "KW_", 1),
            &g.replacen("kw_", "_", 1),
            &format!("{}!{}", &g[..10], &g[11..]),
            "kw_ääääääääääääääääääääääääääääääääääääää",
        ] {
            assert_eq!(parse(bad).err(), Some(Malformed::Shape), "{bad:?}");
        }
    }

    #[test]
    fn prefixes_follow_the_rule() {
        for ok in ["kw", "uspl", "sk_live", "a1", "abcdefghijklmnop"] {
            assert!(is_valid_prefix(ok), "{ok}");
        }
        for bad in ["", "1kw", "_kw", "Kw", "k-w", "abcdefghijklmnopq", "kw\n"] {
            assert!(!is_valid_prefix(bad), "{bad:?}");
        }
    }

    #[test]
    fn hint_is_the_last_four_characters_and_debug_is_redacted() {
        let s = generate("kw").expect("rng");
        assert_eq!(s.hint(), &s.expose()[s.expose().len() - 4..]);
        let debug = format!("{s:?}");
        assert!(!debug.contains(&s.expose()[3..]), "{debug}");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn base62() -> impl Strategy<Value = [u8; RANDOM_LEN]> {
            proptest::array::uniform32(proptest::sample::select(BASE62.to_vec()))
        }

        fn prefix() -> impl Strategy<Value = String> {
            "[a-z][a-z0-9_]{0,15}"
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4000))]

            #[test]
            fn parse_never_panics(s in any::<String>()) {
                let _ = parse(&s);
            }

            /// Masking never panics on any text, and what it returns holds no
            /// secret shape.
            #[test]
            fn masked_text_holds_no_secret(s in any::<String>(), p in prefix(), random in base62()) {
                let text = format!("{s}{}{s}", encode(&p, &random));
                let masked = mask(&text);
                prop_assert_eq!(mask(&masked), masked.clone());
                prop_assert!(parse(&masked).is_err());
            }

            #[test]
            fn every_encoded_secret_parses(p in prefix(), random in base62()) {
                let text = encode(&p, &random);
                prop_assert_eq!(parse(&text).map(|s| s.expose().to_string()).ok(), Some(text));
            }

            #[test]
            fn any_single_character_change_in_the_body_is_caught(
                p in prefix(),
                random in base62(),
                at in 0..BODY_LEN,
                with in proptest::sample::select(BASE62.to_vec()),
            ) {
                let text = encode(&p, &random);
                let mut bytes = text.clone().into_bytes();
                let i = p.len() + 1 + at;
                prop_assume!(bytes[i] != with);
                bytes[i] = with;
                let changed = String::from_utf8(bytes).expect("ascii");
                prop_assert_eq!(parse(&changed).err(), Some(Malformed::Checksum));
            }
        }
    }

    #[test]
    fn secret_shapes_are_masked_to_their_hint_wherever_they_stand() {
        let s = generate("kw").expect("rng");
        let t = s.expose();
        let hint = &t[t.len() - 4..];
        assert_eq!(mask(t), format!("kw_…{hint}"));
        assert_eq!(
            mask(&format!("API_KEY={t}!")),
            format!("API_KEY=kw_…{hint}!")
        );
        let typo = format!("{}x", &t[..t.len() - 1]);
        assert!(!mask(&typo).contains(&t[3..20]), "a typo is still masked");
        assert_eq!(mask("web_prod"), "web_prod");
        assert_eq!(mask("é_ü"), "é_ü");
    }

    #[test]
    fn hash_is_sha256() {
        assert_eq!(
            hash(b"abc")[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256(\"abc\") starts ba7816bf"
        );
    }

    #[test]
    fn a_presented_secret_hashes_as_its_parsed_secret_does_or_is_refused_alike() {
        let good = generate("kw_live").expect("rng");
        let g = good.expose().to_string();
        assert_eq!(hash_presented(&g), Ok(good.hash()));
        let mut typo = g.clone().into_bytes();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).expect("ascii");
        for bad in [
            "",
            "_",
            "kw_",
            &typo,
            &g[..g.len() - 1],
            &format!("{g}x"),
            "Kw_0123456789012345678901234567890123456789",
        ] {
            assert_eq!(hash_presented(bad).err(), parse(bad).err(), "{bad:?}");
            assert!(hash_presented(bad).is_err(), "{bad:?}");
        }
    }
}
