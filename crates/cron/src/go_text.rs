//! Ports of the few Go standard-library text routines whose exact behaviour shows
//! up in robfig/cron's accepted inputs or error messages: `strconv.Atoi`,
//! `strconv.Quote`, the `time` package's private `quote`, and `strings.ToLower` as
//! used for month and weekday names.
//!
//! Why: Kubernetes surfaces robfig's error text verbatim in validation errors and
//! events, and `Atoi` decides which numbers are accepted (`+5` and `007` are).

use std::fmt::Write as _;

/// Why `strconv.Atoi` rejected its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtoiFailure {
    /// Not an optionally signed run of ASCII digits.
    Syntax,
    /// Digits, but outside the 64-bit signed range.
    Range,
}

impl std::fmt::Display for AtoiFailure {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            AtoiFailure::Syntax => "invalid syntax",
            AtoiFailure::Range => "value out of range",
        })
    }
}

/// Go's `strconv.Atoi` on a 64-bit platform. Strings shorter than 19 bytes take
/// Go's fast path (any non-digit is a syntax error); longer ones go through
/// `ParseInt`, which reports overflow as soon as it happens, even if a non-digit
/// follows.
pub(crate) fn atoi(text: &str) -> Result<i64, AtoiFailure> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first() {
        None => return Err(AtoiFailure::Syntax),
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        Some(_) => (false, bytes),
    };
    if digits.is_empty() {
        return Err(AtoiFailure::Syntax);
    }
    let mut magnitude: u64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return Err(AtoiFailure::Syntax);
        }
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|value| value.checked_add(u64::from(byte - b'0')))
            .ok_or(AtoiFailure::Range)?;
    }
    let limit = 1_u64 << 63;
    match (negative, magnitude) {
        (false, value) if value >= limit => Err(AtoiFailure::Range),
        (true, value) if value > limit => Err(AtoiFailure::Range),
        (true, value) => Ok((value as i64).wrapping_neg()),
        (false, value) => Ok(value as i64),
    }
}

/// Go's `strconv.Quote`: a double-quoted Go string literal. Printable characters
/// stay as they are; the rest become `\a`-style, `\x`, `\u` or `\U` escapes.
/// "Printable" follows Go's `unicode.IsPrint` for everything a cron field can hold
/// (no whitespace reaches here); unassigned code points are printed raw, where Go
/// would escape them.
pub(crate) fn go_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(character);
            }
            '\u{7}' => quoted.push_str("\\a"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{b}' => quoted.push_str("\\v"),
            _ if is_go_printable(character) => quoted.push(character),
            _ if (character as u32) < 0x20 || character == '\u{7f}' => {
                let _ = write!(quoted, "\\x{:02x}", character as u32);
            }
            _ if (character as u32) < 0x1_0000 => {
                let _ = write!(quoted, "\\u{:04x}", character as u32);
            }
            _ => {
                let _ = write!(quoted, "\\U{:08x}", character as u32);
            }
        }
    }
    quoted.push('"');
    quoted
}

/// Approximates Go's `unicode.IsPrint` (letters, marks, numbers, punctuation,
/// symbols and the ASCII space) without Unicode tables: control and format
/// characters, other spaces, private-use characters and noncharacters are not
/// printable.
fn is_go_printable(character: char) -> bool {
    let code = character as u32;
    if character == ' ' {
        return true;
    }
    if character.is_control() || character.is_whitespace() {
        return false;
    }
    let format_or_private = matches!(code,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
        | 0xE000..=0xF8FF | 0xF_0000..=0xF_FFFD | 0x10_0000..=0x10_FFFD
        | 0xFDD0..=0xFDEF);
    let noncharacter = code & 0xFFFE == 0xFFFE;
    !(format_or_private || noncharacter)
}

/// The `time` package's private `quote`, used in `ParseDuration` errors: ASCII
/// control characters and every byte of a non-ASCII character become `\xNN`.
pub(crate) fn go_time_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        if (character as u32) < 0x20 || !character.is_ascii() {
            let mut buffer = [0_u8; 4];
            for byte in character.encode_utf8(&mut buffer).bytes() {
                let _ = write!(quoted, "\\x{byte:02x}");
            }
            continue;
        }
        if character == '"' || character == '\\' {
            quoted.push('\\');
        }
        quoted.push(character);
    }
    quoted.push('"');
    quoted
}

/// `strings.ToLower(text)` restricted to what can match an ASCII name such as
/// `jan` or `fri`: Go maps U+0130 (İ) to `i` and U+212A (Kelvin sign) to `k`, so
/// `FRİ` names Friday in robfig. Returns `None` when no name can match.
pub(crate) fn go_lower_for_name(text: &str) -> Option<String> {
    text.chars()
        .map(|character| match character {
            '\u{130}' => Some('i'),
            '\u{212A}' => Some('k'),
            _ if character.is_ascii() => Some(character.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_accepts_signs_and_leading_zeros_like_go() {
        assert_eq!(atoi("+5"), Ok(5));
        assert_eq!(atoi("007"), Ok(7));
        assert_eq!(atoi("-0"), Ok(0));
        assert_eq!(atoi("-12"), Ok(-12));
        assert_eq!(atoi("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(atoi("-9223372036854775808"), Ok(i64::MIN));
    }

    #[test]
    fn atoi_rejects_what_go_rejects() {
        for text in ["", "+", "-", "1_000", "0x10", " 1", "1.0", "5#3", "L"] {
            assert_eq!(atoi(text), Err(AtoiFailure::Syntax), "{text:?}");
        }
        assert_eq!(atoi("9223372036854775808"), Err(AtoiFailure::Range));
        // Overflow is noticed before the trailing garbage, as in Go's ParseUint.
        assert_eq!(atoi("99999999999999999999x"), Err(AtoiFailure::Range));
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote("5#3"), "\"5#3\"");
        assert_eq!(go_quote("a\"b\\"), "\"a\\\"b\\\\\"");
        assert_eq!(go_quote("\u{1}\u{7f}"), "\"\\x01\\x7f\"");
        assert_eq!(go_quote("é\u{200b}"), "\"é\\u200b\"");
        assert_eq!(go_quote("\u{10ffff}"), "\"\\U0010ffff\"");
    }

    #[test]
    fn go_time_quote_hex_escapes_every_non_ascii_byte() {
        assert_eq!(go_time_quote("1µs"), "\"1\\xc2\\xb5s\"");
        assert_eq!(go_time_quote("x\"y"), "\"x\\\"y\"");
    }

    #[test]
    fn go_lower_for_name_keeps_the_two_non_ascii_letters_go_maps_to_ascii() {
        assert_eq!(go_lower_for_name("FRİ").as_deref(), Some("fri"));
        assert_eq!(go_lower_for_name("Jan").as_deref(), Some("jan"));
        assert_eq!(go_lower_for_name("jän"), None);
    }
}
