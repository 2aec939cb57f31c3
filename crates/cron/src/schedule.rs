//! The public [`Schedule`]: a parsed CronJob schedule that answers "when is the
//! next run after this instant, in this zone?".

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::error::CronError;
use crate::go_time::ZoneView;
use crate::parser::{ParsedSchedule, ScheduleKind, parse_standard};
use crate::spec::SpecSchedule;

/// A CronJob schedule with robfig/cron v3.0.1 (`ParseStandard`) semantics.
///
/// Parse once with [`Schedule::parse`], then ask [`Schedule::next`] as often as
/// needed; a `Schedule` is immutable and cheap to clone.
#[derive(Clone, Debug)]
pub struct Schedule {
    parsed: ParsedSchedule,
}

impl Schedule {
    /// Parses a schedule as robfig's `ParseStandard` does: five fields (minute,
    /// hour, day of month, month, day of week) with names, ranges, lists and steps;
    /// the descriptors `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
    /// `@midnight`, `@hourly` and `@every <Go duration>`; and an optional leading
    /// `TZ=<zone> ` or `CRON_TZ=<zone> ` prefix, remembered in the schedule.
    ///
    /// # Errors
    ///
    /// Whatever robfig rejects, with robfig's wording, e.g. `expected exactly 5
    /// fields, found 6: [0 0 0 * * *]` or `end of range (7) above maximum (6): 7`.
    pub fn parse(spec: &str) -> Result<Schedule, CronError> {
        Ok(Schedule {
            parsed: parse_standard(spec)?,
        })
    }

    /// Whether the schedule began with `TZ=` or `CRON_TZ=`. Kubernetes API
    /// validation rejects those (use [`contains_tz_prefix`] for its exact test);
    /// the controller still honours them for old objects.
    #[must_use]
    pub fn has_timezone_prefix(&self) -> bool {
        self.parsed.prefix.is_some()
    }

    /// The zone name written in the `TZ=`/`CRON_TZ=` prefix, if any.
    #[must_use]
    pub fn timezone_prefix(&self) -> Option<&str> {
        self.parsed
            .prefix
            .as_ref()
            .map(|prefix| prefix.name.as_str())
    }

    /// Whether this is an `@every <duration>` schedule, which ignores time zones
    /// and counts from the instant it is asked about.
    #[must_use]
    pub fn is_constant_delay(&self) -> bool {
        matches!(self.parsed.kind, ScheduleKind::Every(_))
    }

    /// The first activation strictly after `after`, evaluated in `zone` (a
    /// `TZ=` prefix in the schedule overrides `zone`; `TZ=Local` does not).
    ///
    /// Reproduces robfig's `Next`: day of month and day of week are ORed unless
    /// either was written as `*` or `?` (including `*/1`); a run whose wall time
    /// falls in a spring-forward gap is skipped; a run in a fall-back overlap
    /// happens twice; nothing is searched beyond five years, and `None` stands for
    /// robfig's zero time. Sub-second parts of `after` are ignored except that the
    /// result is always strictly later.
    #[must_use]
    pub fn next(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        match &self.parsed.kind {
            ScheduleKind::Every(every) => every.next(after),
            ScheduleKind::Spec(spec) => {
                let zone = self.effective_zone(zone);
                next_spec(spec, after, zone)
            }
        }
    }

    /// See [`parse_time_zone`](crate::parse_time_zone): the CronJob `timeZone`
    /// field's validation and lookup.
    ///
    /// # Errors
    ///
    /// The name is empty, `Local`, malformed or not in the IANA database.
    pub fn parse_time_zone(name: &str) -> Result<TimeZone, CronError> {
        crate::time_zone::parse_time_zone(name)
    }

    fn effective_zone<'a>(&'a self, zone: &'a TimeZone) -> &'a TimeZone {
        self.parsed
            .prefix
            .as_ref()
            .and_then(|prefix| prefix.zone.as_ref())
            .unwrap_or(zone)
    }
}

fn next_spec(spec: &SpecSchedule, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
    let after_second = i64::try_from(after.as_nanosecond().div_euclid(1_000_000_000)).ok()?;
    let mut view = ZoneView::new(zone);
    let next_second = spec.next(&mut view, after_second)?;
    Timestamp::from_second(next_second).ok()
}

/// Kubernetes' test for a time zone inside a schedule string: upstream
/// `validateScheduleFormat` rejects any schedule containing `TZ` (so `CRON_TZ=`
/// too, and even `TZ` elsewhere) with `cannot use TZ or CRON_TZ in schedule, use
/// timeZone field instead`, and the controller's `formatSchedule` uses the same
/// test to decide whether to prepend `TZ=<timeZone>`.
#[must_use]
pub fn contains_tz_prefix(spec: &str) -> bool {
    spec.contains("TZ")
}

/// The message Kubernetes API validation gives when [`contains_tz_prefix`] holds.
pub const TZ_IN_SCHEDULE_MESSAGE: &str =
    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead";
