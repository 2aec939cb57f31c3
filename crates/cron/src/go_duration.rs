//! A port of Go's `time.ParseDuration`, the parser behind `@every <duration>`.
//!
//! Why a port and not jiff's friendly-duration parser: robfig accepts exactly Go's
//! grammar (`1h30m`, `1.5h`, `-5m`, `+0`, `300ms`, `2µs`), and Kubernetes shows Go's
//! error text (`time: unknown unit "d" in duration "1d"`).

use crate::go_text::go_time_quote;

const NANOS_PER_MICROSECOND: u64 = 1_000;
const NANOS_PER_MILLISECOND: u64 = 1_000_000;
const NANOS_PER_SECOND: u64 = 1_000_000_000;
const LIMIT: u64 = 1 << 63;

/// Parses a Go duration string into signed nanoseconds, or Go's error message.
pub(crate) fn parse_go_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_time_quote(text));
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (term, remainder) = parse_term(rest, text)?;
        rest = remainder;
        // Go adds in uint64 and checks against 2^63 afterwards.
        total = total.wrapping_add(term);
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(total as i64)
}

/// One `[0-9]*(\.[0-9]*)?unit` term: its value in nanoseconds and the rest.
fn parse_term<'a>(rest: &'a str, original: &str) -> Result<(u64, &'a str), String> {
    let invalid = || format!("time: invalid duration {}", go_time_quote(original));
    let first = rest.as_bytes()[0];
    if !(first == b'.' || first.is_ascii_digit()) {
        return Err(invalid());
    }
    let (whole, after_whole) = leading_int(rest).ok_or_else(invalid)?;
    let had_whole = after_whole.len() != rest.len();
    let (fraction, scale, after_fraction, had_fraction) = match after_whole.strip_prefix('.') {
        Some(after_point) => {
            let (fraction, scale, remainder) = leading_fraction(after_point);
            (
                fraction,
                scale,
                remainder,
                remainder.len() != after_point.len(),
            )
        }
        None => (0, 1.0, after_whole, false),
    };
    if !had_whole && !had_fraction {
        return Err(invalid());
    }
    let unit_length = after_fraction
        .bytes()
        .position(|byte| byte == b'.' || byte.is_ascii_digit())
        .unwrap_or(after_fraction.len());
    if unit_length == 0 {
        return Err(format!(
            "time: missing unit in duration {}",
            go_time_quote(original)
        ));
    }
    let (unit_text, remainder) = after_fraction.split_at(unit_length);
    let unit = unit_nanoseconds(unit_text).ok_or_else(|| {
        format!(
            "time: unknown unit {} in duration {}",
            go_time_quote(unit_text),
            go_time_quote(original)
        )
    })?;
    if whole > LIMIT / unit {
        return Err(invalid());
    }
    let mut value = whole * unit;
    if fraction > 0 {
        // Go uses float64 here to stay nanosecond-accurate for fractions of hours.
        value += (fraction as f64 * (unit as f64 / scale)) as u64;
        if value > LIMIT {
            return Err(invalid());
        }
    }
    Ok((value, remainder))
}

fn unit_nanoseconds(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => NANOS_PER_MICROSECOND,
        "ms" => NANOS_PER_MILLISECOND,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3_600 * NANOS_PER_SECOND,
        _ => return None,
    })
}

/// Go's `leadingInt`: the leading digits as a number, `None` past 2^63.
fn leading_int(text: &str) -> Option<(u64, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let mut value: u64 = 0;
    for byte in text[..digits].bytes() {
        if value > LIMIT / 10 {
            return None;
        }
        value = value * 10 + u64::from(byte - b'0');
        if value > LIMIT {
            return None;
        }
    }
    Some((value, &text[digits..]))
}

/// Go's `leadingFraction`: digits after the point, and the power of ten they are
/// scaled by. Precision stops accumulating instead of overflowing.
fn leading_fraction(text: &str) -> (u64, f64, &str) {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let mut value: u64 = 0;
    let mut scale = 1.0_f64;
    let mut overflow = false;
    for byte in text[..digits].bytes() {
        if overflow {
            continue;
        }
        if value > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let next = value * 10 + u64::from(byte - b'0');
        if next > LIMIT {
            overflow = true;
            continue;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale, &text[digits..])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn parses_the_forms_go_accepts() {
        assert_eq!(parse_go_duration("90m"), Ok(90 * 60 * SECOND));
        assert_eq!(parse_go_duration("1h30m"), Ok(90 * 60 * SECOND));
        assert_eq!(parse_go_duration("1.5h"), Ok(90 * 60 * SECOND));
        assert_eq!(parse_go_duration("-5m"), Ok(-300 * SECOND));
        assert_eq!(parse_go_duration("+0"), Ok(0));
        assert_eq!(parse_go_duration(".5s"), Ok(SECOND / 2));
        assert_eq!(parse_go_duration("2µs"), Ok(2_000));
        assert_eq!(parse_go_duration("2μs"), Ok(2_000));
        assert_eq!(parse_go_duration("1s500ms"), Ok(SECOND + SECOND / 2));
        assert_eq!(parse_go_duration("2562047h47m16.854775807s"), Ok(i64::MAX));
        assert_eq!(parse_go_duration("-2562047h47m16.854775808s"), Ok(i64::MIN));
    }

    #[test]
    fn rejects_with_go_error_text() {
        assert_eq!(
            parse_go_duration(""),
            Err("time: invalid duration \"\"".to_owned())
        );
        assert_eq!(
            parse_go_duration("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".to_owned())
        );
        assert_eq!(
            parse_go_duration("10"),
            Err("time: missing unit in duration \"10\"".to_owned())
        );
        assert_eq!(
            parse_go_duration(".s"),
            Err("time: invalid duration \".s\"".to_owned())
        );
        assert_eq!(
            parse_go_duration("1h 30m"),
            Err("time: unknown unit \"h \" in duration \"1h 30m\"".to_owned())
        );
        assert_eq!(
            parse_go_duration("2562047h47m16.854775808s"),
            Err("time: invalid duration \"2562047h47m16.854775808s\"".to_owned())
        );
    }
}
