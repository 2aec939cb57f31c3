//! Ages and durations as kubectl shows them: a port of
//! `k8s.io/apimachinery/pkg/util/duration/duration.go`.
//!
//! Every AGE, DURATION, LAST SEEN and "restarted N ago" cell goes through
//! [`human_duration`], so its boundaries (`119s` then `2m`, `9m59s` then `10m`, `7h59m` then
//! `8h`, ...) are what users compare against a real cluster. Go computes these on
//! `time.Duration`, a saturating count of nanoseconds; [`since`] reproduces the saturation.

use jiff::{SignedDuration, Timestamp};

/// Go's `time.Duration` range: ±(2^63 − 1) ns, about 292 years.
const GO_DURATION_MAX: SignedDuration = SignedDuration::new(9_223_372_036, 854_775_807);
const GO_DURATION_MIN: SignedDuration = SignedDuration::new(-9_223_372_036, -854_775_808);

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const YEAR: i64 = 365 * DAY;

/// `now − then`, saturated as Go's `time.Time.Sub` does.
pub(crate) fn since(now: Timestamp, then: Timestamp) -> SignedDuration {
    now.duration_since(then)
        .clamp(GO_DURATION_MIN, GO_DURATION_MAX)
}

/// `end − start`, saturated as Go's `time.Time.Sub` does.
pub(crate) fn between(start: Timestamp, end: Timestamp) -> SignedDuration {
    since(end, start)
}

/// Upstream `duration.HumanDuration`: about two or three significant figures.
///
/// A duration below −1 s prints `<invalid>`; −1 s up to 0 prints `0s` (clock skew between
/// machines is tolerated). Then `Ns` below 2 minutes, `NmSs` below 10 minutes (`Nm` when the
/// seconds are 0), `Nm` below 3 hours, `NhMm` below 8 hours, `Nh` below 48 hours, `NdHh`
/// below 8 days, `Nd` below 2 years, `NyDd` below 8 years, then `Ny`.
pub fn human_duration(d: SignedDuration) -> String {
    // Go: `int(d.Seconds())`, which truncates toward zero.
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 2 * MINUTE {
        return format!("{seconds}s");
    }
    let minutes = seconds / MINUTE;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % MINUTE, "s");
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = seconds / HOUR;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = seconds / DAY;
    if days < 8 {
        return with_remainder(days, "d", hours % 24, "h");
    }
    if seconds < 2 * YEAR {
        return format!("{days}d");
    }
    let years = seconds / YEAR;
    if years < 8 {
        return with_remainder(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

/// Upstream `duration.ShortHumanDuration`: one unit only (`59s`, `1m`, `23h`, `364d`, `1y`).
///
/// Not used by the ported printers (upstream's printers call `HumanDuration` only); kept for
/// callers that print upstream's short form, such as `kubectl`-style event summaries.
pub fn short_human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < MINUTE {
        return format!("{seconds}s");
    }
    if seconds < HOUR {
        return format!("{}m", seconds / MINUTE);
    }
    if seconds < DAY {
        return format!("{}h", seconds / HOUR);
    }
    if seconds < YEAR {
        return format!("{}d", seconds / DAY);
    }
    format!("{}y", seconds / YEAR)
}

/// `"{major}{unit}"`, or `"{major}{unit}{minor}{minor_unit}"` when `minor` is not zero.
fn with_remainder(major: i64, unit: &str, minor: i64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{unit}")
    } else {
        format!("{major}{unit}{minor}{minor_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_saturates_like_go_time_sub() {
        let now: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let ancient: Timestamp = "0001-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(since(now, ancient), GO_DURATION_MAX);
        assert_eq!(since(ancient, now), GO_DURATION_MIN);
        assert_eq!(human_duration(since(now, ancient)), "292y");
    }
}
