//! How a vault location is written: a SQLite file path, or a PostgreSQL
//! database named by a URL or a libpq `key=value` string. Telling them
//! apart needs no PostgreSQL client, so a build without one still names
//! what it refuses. (The `keyward` crate's `Location` picks the engine.)

use crate::error::Result;

/// A SQLite path as messages show it: anything in it shaped like a secret
/// as its hint, and hidden characters escaped.
pub fn shown_path(path: &std::path::Path) -> String {
    crate::shown::escape(&crate::secret::mask(&path.display().to_string()))
}

/// Refuses a location that would otherwise be taken for a SQLite file name
/// although it is plainly none, most often a PostgreSQL location written
/// another way, with its password in it: quotes or blanks around it (as
/// docker's `--env-file` keeps them), a `://` that is not where a
/// `postgres://` URL has it, or a `password=`. The message says what looks
/// wrong and never quotes the location.
pub fn refuse_lookalike(text: &str) -> Result<()> {
    let quote = |c: char| matches!(c, '"' | '\'' | '`');
    let edge = |c: char| c.is_whitespace() || quote(c);
    // A key=value string may end with a quoted value: `password='a b'`.
    let conninfo = looks_like_conninfo(text);
    let why = if text.starts_with(edge)
        || text.ends_with(char::is_whitespace)
        || (text.ends_with(quote) && !conninfo)
    {
        "the vault location starts or ends with a quote or a blank: give it without them \
         (docker --env-file and systemd's EnvironmentFile keep quotes as they are)"
    } else if names_postgres(text) {
        return Ok(());
    } else if text.contains("://") {
        "the vault location holds :// but is no postgres:// or postgresql:// URL, the only \
         URLs keyward reads (a JDBC URL is written without its jdbc: for libpq)"
    } else if holds_password(text) {
        "the vault location holds password=, so it is no file name: a libpq key=value string \
         starts with an option (host=…, dbname=…), a URL with postgres://, and nothing \
         comes before either"
    } else {
        return Ok(());
    };
    Err(crate::error::Error::usage(why.to_string()).into())
}

/// Whether `text` has `password` in any letter case, then `=` (blanks
/// between allowed).
fn holds_password(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.match_indices("password").any(|(at, word)| {
        lower[at + word.len()..]
            .trim_start_matches(char::is_whitespace)
            .starts_with('=')
    })
}

/// Whether a vault location is for PostgreSQL rather than a SQLite
/// file name: a URL whose scheme is `postgres` or `postgresql` in any
/// letter case or spacing (libpq reads only `postgres://` and
/// `postgresql://` at the very start; parsing says so rather than taking
/// the rest for a file name), a URL of another scheme (refused, for it is
/// no file name either), or a libpq `key=value` string (it starts with a
/// word and `=`; a SQLite file of such a name is written `./name`).
pub fn names_postgres(location: &str) -> bool {
    scheme(location).is_some() || looks_like_conninfo(location)
}

/// The scheme of a location that looks like a URL: `postgres:` or
/// `postgresql:` in any case, or `SCHEME://`.
pub fn scheme(location: &str) -> Option<&str> {
    let text = location.trim_start_matches(is_space_char);
    let (scheme, rest) = text.split_once(':')?;
    let well_formed = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let postgres =
        scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql");
    (well_formed && (postgres || rest.starts_with("//"))).then_some(scheme)
}

/// Whether a location starts as a libpq `key=value` string: a word, `=`.
pub fn looks_like_conninfo(location: &str) -> bool {
    let text = location.trim_start_matches(is_space_char);
    let word = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    word > 0
        && text[word..]
            .trim_start_matches(is_space_char)
            .starts_with('=')
}

/// libpq's `isspace`.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

pub fn is_space_char(c: char) -> bool {
    u8::try_from(c).is_ok_and(is_space)
}
