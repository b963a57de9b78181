//! Text that users give keyward (names, environments, scopes, actors,
//! reasons): the rule it must follow, the typed values that carry it once
//! checked, and how any text is shown: escaped so that stored control,
//! format and bidi characters never reach a terminal, with secret shapes
//! masked, and cut when quoted in a message.

use std::fmt;

use compact_str::CompactString;

use crate::shown::{escape, is_hidden, quote};
use serde::Serialize;

use crate::error::Error;

pub const MAX_TEXT_LEN: usize = 64;
/// Which user-given text a rule applies to, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Env,
    Scope,
    Actor,
    Reason,
    Note,
    Owner,
}

/// Notes are sentences for people, longer than names.
pub const MAX_NOTE_LEN: usize = 500;

/// An owner is another system's id for an account (Unkey's `externalId`).
pub const MAX_OWNER_LEN: usize = 255;

impl Field {
    fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Env => "environment",
            Field::Scope => "scope",
            Field::Actor => "actor",
            Field::Reason => "reason",
            Field::Note => "note",
            Field::Owner => "owner",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Field::Name => "web-prod",
            Field::Env => "prod",
            Field::Scope => "deploy",
            Field::Actor => "ci@deploy",
            Field::Reason => "leaked in ticket 42",
            Field::Note => "owned by the payments team",
            Field::Owner => "acct_1234",
        }
    }
}

/// docs/reference.md "Rules that hold everywhere", Text: 1–64 characters
/// (notes 500),
/// no control, format or separator characters, no leading or trailing
/// whitespace; and no secret inside, so a secret can never be stored by
/// way of a name or a reason. Names may not start with `key_`, so that a
/// name can never be taken for an id.
pub fn validate(field: Field, value: &str) -> Result<(), Error> {
    check(field, value, true)
}

/// [`validate`], with the token rule for scopes only when `tokens`.
fn check(field: Field, value: &str, tokens: bool) -> Result<(), Error> {
    let max = match field {
        Field::Note => MAX_NOTE_LEN,
        Field::Owner => MAX_OWNER_LEN,
        _ => MAX_TEXT_LEN,
    };
    let count = value.chars().count();
    let problem = if value.trim().is_empty() {
        "is empty".to_string()
    } else if count > max {
        format!("is {count} characters long (at most {max})")
    } else if value.chars().any(is_hidden) {
        "contains invisible or control characters (such as zero-width, bidi or line breaks)"
            .to_string()
    } else if value.trim() != value {
        "starts or ends with whitespace".to_string()
    } else if crate::secret::mask(value) != value {
        "contains what looks like a secret (never put a secret in a name, scope or reason)"
            .to_string()
    } else if field == Field::Name && value.starts_with(crate::id::ID_PREFIX) {
        "starts with key_, which is kept for key ids".to_string()
    } else if tokens && field == Field::Scope && !is_token(value) {
        "contains a comma or whitespace (a scope is one token: a comma separates scopes in \
         X-Keyward-Scopes, X-Keyward-Require-Scope and ?scope=; give each scope on its own)"
            .to_string()
    } else {
        return Ok(());
    };
    Err(Error::usage(format!(
        "the {} '{}' {problem}: use 1-{max} visible characters, e.g. {}",
        field.as_str(),
        quote(value),
        field.example()
    )))
}

/// Whether a scope is one token: no comma (which separates scopes in
/// `X-Keyward-Scopes`, `X-Keyward-Require-Scope` and `?scope=`) and no
/// whitespace.
fn is_token(value: &str) -> bool {
    !value.chars().any(|c| c == ',' || c.is_whitespace())
}

/// A scope as a list of scopes shows it: escaped, and quoted when it is
/// not a token (stored by an older keyward), so that its comma or space
/// never reads as a separator between two scopes.
pub fn shown_scope(value: &str) -> String {
    if is_token(value) {
        escape(value)
    } else {
        format!("'{}'", escape(value))
    }
}

/// Declares a validated text value: made once at the edge with `parse`,
/// read back from the vault with `stored` (which trusts the vault's rules
/// of the time it was written).
macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $field:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(CompactString);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, Error> {
                validate($field, value)?;
                Ok($name(value.into()))
            }

            /// A value as the vault stores it.
            pub fn stored(value: String) -> Self {
                $name(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

text_value!(
    /// A key's name, unique among its environment's active keys.
    Name,
    Field::Name
);
text_value!(
    /// An environment: keys, limits and the default key are per environment.
    Env,
    Field::Env
);
text_value!(
    /// A scope a key grants.
    Scope,
    Field::Scope
);
text_value!(
    /// Who acted, for the activity log.
    Actor,
    Field::Actor
);
text_value!(
    /// Why, for the activity log.
    Reason,
    Field::Reason
);

text_value!(
    /// A note on a key, for people.
    Note,
    Field::Note
);

text_value!(
    /// Who a key belongs to, as another system names them (an account id:
    /// Unkey's `externalId`); `max-keys-per-owner` counts by it.
    Owner,
    Field::Owner
);

/// The most a key's metadata may take, as compact JSON.
pub const MAX_META_LEN: usize = 4096;

/// A key's metadata: a JSON object of at most [`MAX_META_LEN`] bytes
/// (compact), each member name given once, nothing shaped like a secret in
/// it. Kept as compact JSON text; shown as the object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Meta(std::sync::Arc<str>);

impl Meta {
    pub fn parse(text: &str) -> Result<Meta, Error> {
        let bad = |why: &str| {
            Error::usage(format!(
                "--meta: {why}: give a JSON object of at most {MAX_META_LEN} bytes, e.g. '{{\"plan\": \"pro\"}}'"
            ))
        };
        if let Some(name) = first_duplicate(text) {
            return Err(bad(&format!(
                "the member '{}' is given twice",
                quote(&name)
            )));
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| bad("it is not JSON, or it is nested deeper than 128 levels"))?;
        if !value.is_object() {
            return Err(bad("it is not an object"));
        }
        let compact = value.to_string();
        if compact.len() > MAX_META_LEN {
            return Err(bad(&format!("it takes {} bytes", compact.len())));
        }
        if crate::secret::mask(&compact) != compact {
            return Err(bad(
                "it contains what looks like a secret (never put a secret in metadata)",
            ));
        }
        Ok(Meta(compact.into()))
    }

    /// Metadata as the vault stores it.
    pub fn stored(text: String) -> Meta {
        Meta(text.into())
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object (an empty one if the stored text is not one).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0)
            .ok()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()))
    }
}

impl Serialize for Meta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

impl Scope {
    /// Whether this scope is one token (see [`Scope::parse`]). A stored
    /// scope from an older keyward may not be: it is reported, never split
    /// or joined, and it meets no requirement (a requirement is a token).
    pub fn is_token(&self) -> bool {
        is_token(&self.0)
    }

    /// A scope to remove from a key: the text rules without the token rule,
    /// so that a scope stored by an older keyward (`read,admin`) can still
    /// be named and removed.
    pub fn existing(value: &str) -> Result<Self, Error> {
        check(Field::Scope, value, false)?;
        Ok(Scope(value.into()))
    }
}

impl Env {
    pub fn default_env() -> Self {
        Env("default".into())
    }
}

/// Parses each value of a repeated flag, keeping the first of duplicates.
pub fn parse_all<T: PartialEq>(
    values: &[String],
    parse: impl Fn(&str) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut out: Vec<T> = Vec::with_capacity(values.len());
    for v in values {
        let t = parse(v)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// A secret prefix (`--prefix`, `config set default-prefix`): 1–16
/// characters of `[a-z][a-z0-9_]*`.
pub fn validate_prefix(prefix: &str) -> Result<(), Error> {
    if crate::secret::is_valid_prefix(prefix) {
        return Ok(());
    }
    Err(Error::usage(format!(
        "'{}' is not a valid prefix: use 1-16 characters, a lowercase letter first, \
         then lowercase letters, digits or _ (e.g. kw, sk_live)",
        quote(prefix)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_are_one_to_64_visible_characters() {
        assert!(validate(Field::Name, "web-prod").is_ok());
        assert!(validate(Field::Name, "web prod").is_ok());
        assert!(validate(Field::Name, &"é".repeat(64)).is_ok());
        for bad in [
            "",
            "   ",
            &"a".repeat(65),
            "a\nb",
            "a\x1b[31m",
            "tab\there",
            "nul\0",
            "web ",
            " web",
            "web\u{200b}",
            "\u{feff}web",
            "a\u{202e}b",
            "a\u{2066}b",
            "a\u{2028}b",
            "a\u{2029}b",
            "a\u{00ad}b",
        ] {
            let err = validate(Field::Name, bad).expect_err(bad);
            assert!(matches!(err, Error::Usage(_)));
            let msg = err.to_string();
            assert!(!msg.contains('\x1b') && !msg.contains('\u{202e}'), "{msg}");
        }
    }

    #[test]
    fn scopes_are_tokens_without_commas_or_whitespace() {
        assert!(Scope::parse("documents.read").is_ok());
        assert!(Scope::parse("api:write").is_ok());
        for bad in ["read,admin", "read admin", "a\u{a0}b", "a\u{3000}b", ","] {
            let err = Scope::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("comma or whitespace"), "{err}");
        }
        // A scope stored by an older keyward can still be named to remove it.
        let old = Scope::existing("read,admin").expect("existing");
        assert!(!old.is_token());
        assert!(Scope::existing("").is_err());
        assert!(Scope::existing("a\nb").is_err());
        assert!(Scope::parse("read").expect("scope").is_token());
        assert_eq!(shown_scope("read"), "read");
        assert_eq!(shown_scope("read,admin"), "'read,admin'");
        // Names and environments may still hold spaces.
        assert!(validate(Field::Name, "web prod").is_ok());
        assert!(validate(Field::Env, "eu,west").is_ok());
    }

    #[test]
    fn reasons_are_64_characters_too() {
        assert!(validate(Field::Reason, &"x".repeat(64)).is_ok());
        assert!(validate(Field::Reason, &"x".repeat(65)).is_err());
    }

    #[test]
    fn names_may_not_look_like_ids_but_environments_may() {
        assert!(validate(Field::Name, "key_web").is_err());
        assert!(validate(Field::Env, "key_web").is_ok());
        assert!(validate(Field::Name, "my_key_web").is_ok());
    }

    #[test]
    fn text_holding_a_secret_is_refused_and_not_echoed() {
        let s = crate::secret::generate("kw").expect("rng");
        let name = format!("web {}", s.expose());
        let err = validate(Field::Reason, &name).expect_err("secret");
        let msg = err.to_string();
        assert!(!msg.contains(&s.expose()[3..]), "{msg}");
        assert!(msg.contains(&format!("kw_…{}", s.hint())), "{msg}");
    }

    #[test]
    fn escape_makes_hidden_characters_visible() {
        assert_eq!(escape("plain é"), "plain é");
        assert_eq!(escape("a\nb"), "a\\nb");
        assert_eq!(escape("\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape("\u{7f}"), "\\u{7f}");
        assert_eq!(escape("web\u{200b}"), "web\\u{200b}");
        assert_eq!(escape("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn quotes_are_cut_to_64_characters() {
        let long = "x".repeat(500);
        let q = quote(&long);
        assert_eq!(q.chars().count(), 64);
        assert!(q.ends_with('…'));
        assert_eq!(quote("short"), "short");
    }

    #[test]
    fn repeated_values_are_kept_once_in_order() {
        let v: Vec<String> = ["b", "a", "b"].iter().map(|s| s.to_string()).collect();
        let scopes = parse_all(&v, Scope::parse).expect("valid");
        let names: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
        assert_eq!(names, ["b", "a"]);
    }
}

/// The first member name given twice in one object of JSON `text`, at any
/// depth (serde_json keeps the last and says nothing).
fn first_duplicate(text: &str) -> Option<String> {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    struct Walk<'a>(&'a mut Option<String>);
    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Walk(&mut *self.0))?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(name) = map.next_key::<String>()? {
                if !seen.insert(name.clone()) && self.0.is_none() {
                    *self.0 = Some(name);
                }
                map.next_value_seed(Walk(&mut *self.0))?;
            }
            Ok(())
        }
    }
    let mut found = None;
    let mut d = serde_json::Deserializer::from_str(text);
    let _ = Walk(&mut found).deserialize(&mut d);
    found
}

#[cfg(test)]
mod meta_tests {
    use super::*;

    #[test]
    fn metadata_is_one_small_object_with_each_member_once() {
        let m = Meta::parse(r#"{ "plan": "pro", "seats": 3, "tags": ["a"] }"#).expect("meta");
        assert_eq!(m.as_str(), r#"{"plan":"pro","seats":3,"tags":["a"]}"#);
        for bad in [
            "[1]",
            "\"x\"",
            "null",
            "{",
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": {"b": 1, "b": 1}}"#,
            r#"{"a": [{"c": 1, "c": 2}]}"#,
        ] {
            assert!(Meta::parse(bad).is_err(), "{bad} was taken");
        }
        let big = format!(r#"{{"a": "{}"}}"#, "x".repeat(MAX_META_LEN));
        assert!(Meta::parse(&big).is_err());
        let secret = crate::secret::generate("kw").expect("rng");
        assert!(Meta::parse(&format!(r#"{{"k": "{}"}}"#, secret.expose())).is_err());
    }

    #[test]
    fn an_owner_is_up_to_255_visible_characters() {
        assert!(Owner::parse("acct_1234").is_ok());
        assert!(Owner::parse(&"a".repeat(255)).is_ok());
        assert!(Owner::parse(&"a".repeat(256)).is_err());
        assert!(Owner::parse("").is_err());
        assert!(Owner::parse("a\nb").is_err());
    }
}
