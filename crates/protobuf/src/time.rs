//! Go's JSON forms of `metav1.Time`, `metav1.MicroTime` and `metav1.Duration`, computed
//! from protobuf's (seconds, nanos) without reading any clock.
//!
//! `metav1.Time` keeps whole seconds only: its protobuf `Unmarshal` drops `nanos`
//! (`time.Unix(p.Seconds, 0)`) and its JSON is RFC 3339 without a fraction,
//! `2024-05-01T10:00:00Z`. `MicroTime` keeps the nanos and prints exactly six fractional
//! digits (Go's `Format` truncates, it does not round). Go's zero `time.Time`
//! (0001-01-01T00:00:00Z) marshals as JSON `null`.

use crate::ProtobufError;

/// Unix seconds of Go's zero time, 0001-01-01T00:00:00Z.
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;
/// Unix seconds of 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: Go's RFC 3339
/// marshaller refuses years outside 0..=9999.
const MIN_UNIX: i64 = -62_167_219_200;
const MAX_UNIX_EXCLUSIVE: i64 = 253_402_300_800;
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// The JSON of a `metav1.Time` holding `seconds` (nanos are dropped, as upstream does).
pub(crate) fn time_json(seconds: i64) -> Result<serde_json::Value, ProtobufError> {
    if seconds == GO_ZERO_TIME_UNIX {
        return Ok(serde_json::Value::Null);
    }
    Ok(serde_json::Value::String(format!("{}Z", civil(seconds)?)))
}

/// The JSON of a `metav1.MicroTime`: RFC 3339 with six fractional digits.
pub(crate) fn micro_time_json(
    seconds: i64,
    nanos: i64,
) -> Result<serde_json::Value, ProtobufError> {
    // time.Unix normalises nanos outside [0, 1e9) into the seconds.
    let seconds = seconds
        .checked_add(nanos.div_euclid(NANOS_PER_SECOND))
        .ok_or_else(|| ProtobufError::Malformed("MicroTime out of range".into()))?;
    let nanos = nanos.rem_euclid(NANOS_PER_SECOND);
    if seconds == GO_ZERO_TIME_UNIX && nanos == 0 {
        return Ok(serde_json::Value::Null);
    }
    Ok(serde_json::Value::String(format!(
        "{}.{:06}Z",
        civil(seconds)?,
        nanos / 1_000
    )))
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC for Unix `seconds`.
fn civil(seconds: i64) -> Result<String, ProtobufError> {
    if !(MIN_UNIX..MAX_UNIX_EXCLUSIVE).contains(&seconds) {
        return Err(ProtobufError::Malformed(format!(
            "time {seconds}s since the epoch is outside years 0000-9999"
        )));
    }
    let days = seconds.div_euclid(86_400);
    let secs_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Ok(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    ))
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day count since
/// 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Go's `time.Duration.String()`, which is `metav1.Duration`'s JSON form:
/// `1h2m3.5s`, `150ms`, `0s`.
pub(crate) fn go_duration_string(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let negative = nanos < 0;
    let u = nanos.unsigned_abs();
    let sign = if negative { "-" } else { "" };
    if u < 1_000_000_000 {
        // Sub-second durations use the largest unit that keeps the integer part non-zero.
        let (unit, scale) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", fraction(u, scale));
    }
    let hours = u / 3_600_000_000_000;
    let minutes = (u / 60_000_000_000) % 60;
    let secs = fraction(u % 60_000_000_000, 1_000_000_000);
    let mut out = String::from(sign);
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&format!("{secs}s"));
    out
}

/// `value / scale` with the remainder as trailing-zero-free decimal digits.
fn fraction(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let rem = value % scale;
    if rem == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{rem:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_prints_rfc3339_seconds_in_utc() {
        assert_eq!(
            time_json(1_714_557_600).unwrap(),
            json!("2024-05-01T10:00:00Z")
        );
        assert_eq!(time_json(0).unwrap(), json!("1970-01-01T00:00:00Z"));
        assert_eq!(time_json(-1).unwrap(), json!("1969-12-31T23:59:59Z"));
        assert_eq!(
            time_json(951_782_400).unwrap(),
            json!("2000-02-29T00:00:00Z")
        );
        assert_eq!(
            time_json(253_402_300_799).unwrap(),
            json!("9999-12-31T23:59:59Z")
        );
    }

    #[test]
    fn go_zero_time_is_null_and_out_of_range_years_are_errors() {
        assert_eq!(
            time_json(GO_ZERO_TIME_UNIX).unwrap(),
            serde_json::Value::Null
        );
        assert!(time_json(MAX_UNIX_EXCLUSIVE).is_err());
        assert!(time_json(MIN_UNIX - 1).is_err());
        assert!(time_json(i64::MIN).is_err());
    }

    #[test]
    fn micro_time_prints_six_truncated_fraction_digits() {
        assert_eq!(
            micro_time_json(1_714_557_600, 123_456_789).unwrap(),
            json!("2024-05-01T10:00:00.123456Z")
        );
        assert_eq!(
            micro_time_json(1_714_557_600, 0).unwrap(),
            json!("2024-05-01T10:00:00.000000Z")
        );
        assert_eq!(
            micro_time_json(0, -1).unwrap(),
            json!("1969-12-31T23:59:59.999999Z")
        );
        assert!(micro_time_json(i64::MAX, i64::MAX).is_err());
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration_string(0), "0s");
        assert_eq!(go_duration_string(1), "1ns");
        assert_eq!(go_duration_string(1_500), "1.5µs");
        assert_eq!(go_duration_string(150_000_000), "150ms");
        assert_eq!(go_duration_string(1_000_000_000), "1s");
        assert_eq!(go_duration_string(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration_string(3_723_500_000_000), "1h2m3.5s");
        assert_eq!(go_duration_string(-90_000_000_000), "-1m30s");
        assert_eq!(go_duration_string(i64::MIN), "-2562047h47m16.854775808s");
    }
}
