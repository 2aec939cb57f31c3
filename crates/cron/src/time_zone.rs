//! Time zone names: Go's `time.LoadLocation` (for `TZ=` prefixes) and the
//! Kubernetes CronJob `timeZone` field rules (upstream `validateTimeZone` in
//! `pkg/apis/batch/validation/validation.go`).
//!
//! Why both: robfig resolves a `TZ=` prefix with plain `LoadLocation`, which also
//! accepts `""` (UTC) and `Local`; the API server validates `timeZone` more
//! strictly first. Both look names up case-sensitively, as Go does with its
//! embedded tz database, while jiff's lookup ignores case, so we compare the
//! canonical name jiff returns with the name given.

use jiff::tz::TimeZone;

use crate::error::CronError;

/// What a `TZ=` prefix selected.
#[derive(Clone, Debug)]
pub(crate) enum LoadedLocation {
    /// `Local`: evaluate in the caller's zone, as if there were no prefix.
    Local,
    Zone(TimeZone),
}

/// Why `LoadLocation` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LocationFailure {
    /// Contains `..` or starts with a slash or backslash.
    InvalidName,
    /// Not in the database.
    Unknown,
}

/// Go's `time.LoadLocation`, answered from jiff's bundled IANA database.
pub(crate) fn load_location(name: &str) -> Result<LoadedLocation, LocationFailure> {
    match name {
        "" | "UTC" => return Ok(LoadedLocation::Zone(TimeZone::UTC)),
        "Local" => return Ok(LoadedLocation::Local),
        _ => {}
    }
    if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
        return Err(LocationFailure::InvalidName);
    }
    lookup_exact(name)
        .map(LoadedLocation::Zone)
        .ok_or(LocationFailure::Unknown)
}

/// A case-sensitive lookup in the bundled database.
fn lookup_exact(name: &str) -> Option<TimeZone> {
    let zone = TimeZone::get(name).ok()?;
    (zone.iana_name() == Some(name)).then_some(zone)
}

/// Validates and resolves a CronJob `spec.timeZone` value the way the API server
/// (`validateTimeZone`) and then the controller (`time.LoadLocation`) do.
///
/// Rejected: the empty string, `Local` in any case, names whose `/`-separated
/// parts are `.` or `..`, start with `-`, are longer than 14 characters or use
/// characters other than ASCII letters, digits, `.`, `-`, `_` and `+`, and names
/// not in the IANA database. A missing field (`None` in the API) needs no call:
/// the controller then uses its own local zone.
///
/// # Errors
///
/// [`CronError::EmptyTimeZone`], [`CronError::LocalTimeZone`] or
/// [`CronError::UnknownTimeZone`], with the API server's messages.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, CronError> {
    if name.is_empty() {
        return Err(CronError::EmptyTimeZone);
    }
    if !name.split('/').all(is_valid_time_zone_part) {
        return Err(CronError::UnknownTimeZone(name.to_owned()));
    }
    if name.eq_ignore_ascii_case("Local") {
        return Err(CronError::LocalTimeZone);
    }
    match load_location(name) {
        Ok(LoadedLocation::Zone(zone)) => Ok(zone),
        Ok(LoadedLocation::Local) | Err(_) => Err(CronError::UnknownTimeZone(name.to_owned())),
    }
}

/// Upstream's `validTimeZoneCharacters` (`^[A-Za-z\.\-_0-9+]{1,14}$`) plus its
/// `.`, `..` and leading `-` checks, for one `/`-separated part.
fn is_valid_time_zone_part(part: &str) -> bool {
    let allowed =
        |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'+');
    (1..=14).contains(&part.len())
        && part.bytes().all(allowed)
        && part != "."
        && part != ".."
        && !part.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zone_field_accepts_iana_names_exactly_as_spelled() {
        for name in [
            "UTC",
            "Etc/UTC",
            "America/New_York",
            "Asia/Kolkata",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "US/Eastern",
        ] {
            let zone = parse_time_zone(name).unwrap();
            assert_eq!(zone.iana_name(), Some(name));
        }
    }

    #[test]
    fn time_zone_field_rejects_what_kubernetes_rejects() {
        assert_eq!(parse_time_zone(""), Err(CronError::EmptyTimeZone));
        assert_eq!(parse_time_zone("Local"), Err(CronError::LocalTimeZone));
        assert_eq!(parse_time_zone("local"), Err(CronError::LocalTimeZone));
        for name in [
            "Not/AZone",
            "america/new_york",
            "America/New York",
            "../etc/passwd",
            "/etc/localtime",
            "America/-Foo",
            "America/ABCDEFGHIJKLMNO",
        ] {
            assert_eq!(
                parse_time_zone(name),
                Err(CronError::UnknownTimeZone(name.to_owned())),
                "{name}"
            );
        }
    }

    #[test]
    fn load_location_treats_empty_as_utc_and_local_as_no_zone() {
        assert!(
            matches!(load_location(""), Ok(LoadedLocation::Zone(zone)) if zone == TimeZone::UTC)
        );
        assert!(matches!(load_location("Local"), Ok(LoadedLocation::Local)));
        assert_eq!(
            load_location("a/../b").unwrap_err(),
            LocationFailure::InvalidName
        );
        assert_eq!(
            load_location("Europe/Atlantis").unwrap_err(),
            LocationFailure::Unknown
        );
    }
}
