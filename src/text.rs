//! Text that users give keyward (names, environments, scopes, actors,
//! reasons): the rule it must follow, and how it is escaped before it is
//! shown, so stored control characters never reach a terminal.

use crate::error::Error;

pub const MAX_TEXT_LEN: usize = 64;

/// Escapes control characters (`\n`, `\u{1b}`, …); other text is unchanged.
pub fn escape(value: &str) -> String {
    if !value.chars().any(char::is_control) {
        return value.to_string();
    }
    value
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Which user-given text a rule applies to, for the message.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    Name,
    Env,
    Scope,
    Actor,
    Reason,
}

impl Field {
    fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Env => "environment",
            Field::Scope => "scope",
            Field::Actor => "actor",
            Field::Reason => "reason",
        }
    }
}

/// Names, environments, scopes and actors are 1–64 printable characters
/// with no control characters (SPEC "Commands": `create`).
pub fn validate_text(field: Field, value: &str) -> Result<(), Error> {
    validate_text_len(field, value, MAX_TEXT_LEN)
}

/// As [`validate_text`], with another length limit (reasons are longer).
pub fn validate_text_len(field: Field, value: &str, max: usize) -> Result<(), Error> {
    let count = value.chars().count();
    let problem = if count == 0 || value.trim().is_empty() {
        Some("is empty".to_string())
    } else if count > max {
        Some(format!("is {count} characters long (at most {max})"))
    } else if value.chars().any(char::is_control) {
        Some("contains control characters".to_string())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(Error::usage(format!(
            "the {} '{}' {p}: use 1-{max} printable characters, e.g. web-prod",
            field.as_str(),
            escape(value)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_are_one_to_64_printable_characters() {
        assert!(validate_text(Field::Name, "web-prod").is_ok());
        assert!(validate_text(Field::Name, &"é".repeat(64)).is_ok());
        for bad in [
            "",
            "   ",
            &"a".repeat(65),
            "a\nb",
            "a\x1b[31m",
            "tab\there",
            "nul\0",
        ] {
            let err = validate_text(Field::Name, bad).expect_err(bad);
            assert!(matches!(err, Error::Usage(_)));
            assert!(!err.to_string().contains('\x1b'));
        }
    }

    #[test]
    fn escape_makes_control_characters_visible() {
        assert_eq!(escape("plain é"), "plain é");
        assert_eq!(escape("a\nb"), "a\\nb");
        assert_eq!(escape("\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape("\u{7f}"), "\\u{7f}");
    }
}
