//! Virtual time. The simulator counts nanoseconds since the scenario start ([`SimTime`]);
//! cores receive a [`Timestamp`] (`start + t`). Scenario files write durations the way
//! Kubernetes users do (`90s`, `6h`, `1h30m`, `500ms`, `2d`) and instants either as an
//! offset from the start (`+2h`, `2h`), a time of day on the start's date (`09:00`,
//! `09:00:30`, UTC) or an RFC 3339 timestamp.

use std::time::Duration;

use corral_core::{Timestamp, clock};

/// Nanoseconds since the scenario start.
pub type SimTime = u64;

pub const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// A duration in virtual nanoseconds, saturating.
pub fn nanos(d: Duration) -> SimTime {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `start + t` as the cores see it.
pub fn timestamp(start: Timestamp, t: SimTime) -> Timestamp {
    clock::add(start, Duration::from_nanos(t))
}

/// The offset of `at` from `start` (zero if before it).
pub fn offset(start: Timestamp, at: Timestamp) -> SimTime {
    nanos(clock::since(at, start))
}

/// Parses `90s`, `6h`, `1h30m`, `500ms`, `1.5h`, `2d`, `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed == "0" {
        return Ok(Duration::ZERO);
    }
    if trimmed.is_empty() {
        return Err("empty duration".to_string());
    }
    let bad = || format!("invalid duration {trimmed:?}: expected e.g. 90s, 500ms, 6h, 1h30m, 2d");
    let mut total = 0f64;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if number_end == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..number_end].parse().map_err(|_| bad())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_end..];
        total += value * seconds;
    }
    if !total.is_finite() || !(0.0..=1e10).contains(&total) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parses an instant relative to the scenario `start`.
pub fn parse_instant(text: &str, start: Timestamp) -> Result<SimTime, String> {
    let trimmed = text.trim();
    if let Some(offset_text) = trimmed.strip_prefix('+') {
        return parse_duration(offset_text).map(nanos);
    }
    if let Some(t) = parse_time_of_day(trimmed) {
        let day_start = start.as_second() - start.as_second().rem_euclid(86_400);
        let at = day_start + t;
        if at < start.as_second() {
            return Err(format!(
                "time of day {trimmed} is before the scenario start ({start}); write +DURATION or a full timestamp"
            ));
        }
        return Ok((at - start.as_second()) as u64 * NANOS_PER_SECOND);
    }
    if trimmed.contains('T') {
        let at: Timestamp = trimmed
            .parse()
            .map_err(|e| format!("invalid timestamp {trimmed:?}: {e}"))?;
        if at < start {
            return Err(format!("{trimmed} is before the scenario start ({start})"));
        }
        return Ok(offset(start, at));
    }
    parse_duration(trimmed).map(nanos).map_err(|_| {
        format!(
            "invalid instant {trimmed:?}: expected +DURATION, DURATION, HH:MM or an RFC 3339 time"
        )
    })
}

/// `HH:MM` or `HH:MM:SS` → seconds since midnight.
fn parse_time_of_day(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let numbers: Vec<i64> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (h, m, s) = (numbers[0], numbers[1], numbers.get(2).copied().unwrap_or(0));
    (h < 24 && m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

/// `+HH:MM:SS` (days prefixed as `Nd `), the clock format of traces and reports.
pub fn format_offset(t: SimTime) -> String {
    let total = t / NANOS_PER_SECOND;
    let millis = (t % NANOS_PER_SECOND) / 1_000_000;
    let (days, rem) = (total / 86_400, total % 86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    if days > 0 {
        format!("+{days}d{h:02}:{m:02}:{s:02}.{millis:03}")
    } else {
        format!("+{h:02}:{m:02}:{s:02}.{millis:03}")
    }
}

/// A short human duration: `45s`, `12m30s`, `1h05m`.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".to_string();
    }
    let s = seconds.round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_core::clock::epoch;

    #[test]
    fn durations_parse_like_kubernetes_users_write_them() {
        let rows = [
            ("90s", 90.0),
            ("500ms", 0.5),
            ("6h", 21_600.0),
            ("1h30m", 5_400.0),
            ("1.5h", 5_400.0),
            ("2d", 172_800.0),
            ("0", 0.0),
        ];
        for (text, secs) in rows {
            assert_eq!(parse_duration(text).unwrap().as_secs_f64(), secs, "{text}");
        }
        for bad in ["", "s", "10", "10x", "-5s", "h1"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn instants_are_offsets_times_of_day_or_timestamps() {
        let start = epoch();
        assert_eq!(
            parse_instant("+2h", start).unwrap(),
            7_200 * NANOS_PER_SECOND
        );
        assert_eq!(
            parse_instant("2h", start).unwrap(),
            7_200 * NANOS_PER_SECOND
        );
        assert_eq!(
            parse_instant("09:00", start).unwrap(),
            32_400 * NANOS_PER_SECOND
        );
        assert_eq!(
            parse_instant("2026-01-01T01:00:00Z", start).unwrap(),
            3_600 * NANOS_PER_SECOND
        );
        let later = clock::add(start, Duration::from_secs(10 * 3600));
        assert!(parse_instant("09:00", later).is_err());
    }

    #[test]
    fn offsets_format_as_a_clock() {
        assert_eq!(
            format_offset(3_723 * NANOS_PER_SECOND + 5_000_000),
            "+01:02:03.005"
        );
        assert_eq!(format_offset(90_000 * NANOS_PER_SECOND), "+1d01:00:00.000");
        assert_eq!(format_duration(750.0), "12m30s");
    }
}
