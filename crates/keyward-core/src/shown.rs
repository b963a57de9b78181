//! Text as keyward shows it in messages and tables: hidden characters
//! escaped, secret shapes masked to their hint, long values cut. A leaf:
//! it needs only the secret shape it masks.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// How much of a value an error message quotes.
const MAX_QUOTED: usize = 64;

/// Characters that are never stored and never shown raw: control (Cc),
/// format (Cf: zero-width, bidi overrides and isolates, BOM) and the line
/// and paragraph separators.
pub(crate) fn is_hidden(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// Escapes hidden characters (`\n`, `\u{1b}`, `\u{200b}`, `\u{202e}`, …);
/// other text is unchanged.
pub fn escape(value: &str) -> String {
    if !value.chars().any(is_hidden) {
        return value.to_string();
    }
    value
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c.escape_default().to_string(),
            c if is_hidden(c) => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A value as an error message quotes it: secret shapes masked to their
/// hint, hidden characters escaped, and at most 64 characters.
pub fn quote(value: &str) -> String {
    let shown = escape(&crate::secret::mask(value));
    if shown.chars().count() <= MAX_QUOTED {
        return shown;
    }
    let mut cut: String = shown.chars().take(MAX_QUOTED - 1).collect();
    cut.push('…');
    cut
}
