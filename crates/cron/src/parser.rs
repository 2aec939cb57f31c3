//! A port of robfig/cron v3.0.1 `ParseStandard` (`parser.go`): five fields
//! (minute, hour, day of month, month, day of week), descriptors, and an optional
//! `TZ=`/`CRON_TZ=` prefix.
//!
//! Why a port rather than a grammar of our own: Kubernetes accepts and rejects
//! exactly what robfig does, including its oddities. `*-5` is `*` (the part after
//! the star is ignored), `,` alone is an empty but valid field, `+5` and `007` are
//! numbers, `5/15` means `5-59/15`, `*/1` keeps the star bit while `*/2` drops it,
//! and `TZ=Local` means "no zone".

use jiff::tz::TimeZone;

use crate::error::CronError;
use crate::go_duration::parse_go_duration;
use crate::go_text::{atoi, go_lower_for_name};
use crate::spec::{ConstantDelaySchedule, STAR_BIT, SpecSchedule};
use crate::time_zone::{LoadedLocation, LocationFailure, load_location};

/// A parsed schedule before it is wrapped in the public type.
#[derive(Clone, Debug)]
pub(crate) struct ParsedSchedule {
    pub prefix: Option<ZonePrefix>,
    pub kind: ScheduleKind,
}

/// A `TZ=<name> ` or `CRON_TZ=<name> ` prefix: the name as written, and the zone
/// it selects (`None` for `Local`, which means "the caller's zone").
#[derive(Clone, Debug)]
pub(crate) struct ZonePrefix {
    pub name: String,
    pub zone: Option<TimeZone>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScheduleKind {
    Spec(SpecSchedule),
    Every(ConstantDelaySchedule),
}

/// The allowed values of a field, and its names (lower case).
struct Bounds {
    minimum: u64,
    maximum: u64,
    names: &'static [(&'static str, u64)],
}

const MINUTES: Bounds = Bounds {
    minimum: 0,
    maximum: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    minimum: 0,
    maximum: 23,
    names: &[],
};
const DAYS_OF_MONTH: Bounds = Bounds {
    minimum: 1,
    maximum: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    minimum: 1,
    maximum: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DAYS_OF_WEEK: Bounds = Bounds {
    minimum: 0,
    maximum: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// robfig's `ParseStandard`.
pub(crate) fn parse_standard(spec: &str) -> Result<ParsedSchedule, CronError> {
    if spec.is_empty() {
        return Err(CronError::EmptySpec);
    }
    let (prefix, spec) = split_zone_prefix(spec)?;
    let kind = if spec.starts_with('@') {
        parse_descriptor(spec)?
    } else {
        ScheduleKind::Spec(parse_fields(spec)?)
    };
    Ok(ParsedSchedule { prefix, kind })
}

/// Splits off a `TZ=`/`CRON_TZ=` prefix. Like robfig, the zone name runs from the
/// first `=` to the first ASCII space anywhere in the string.
fn split_zone_prefix(spec: &str) -> Result<(Option<ZonePrefix>, &str), CronError> {
    if !(spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=")) {
        return Ok((None, spec));
    }
    let space = spec
        .find(' ')
        .ok_or(CronError::TimeZonePrefixWithoutSpace)?;
    let name = spec
        .find('=')
        .and_then(|equals| spec.get(equals + 1..space))
        .ok_or(CronError::TimeZonePrefixWithoutSpace)?;
    let zone = match load_location(name) {
        Ok(LoadedLocation::Local) => None,
        Ok(LoadedLocation::Zone(zone)) => Some(zone),
        Err(LocationFailure::InvalidName) => {
            return Err(CronError::InvalidLocationName {
                name: name.to_owned(),
            });
        }
        Err(LocationFailure::Unknown) => {
            return Err(CronError::UnknownLocation {
                name: name.to_owned(),
            });
        }
    };
    let prefix = ZonePrefix {
        name: name.to_owned(),
        zone,
    };
    Ok((Some(prefix), spec[space..].trim()))
}

/// robfig's `parseDescriptor`: exact names only (no trailing spaces), or
/// `@every ` followed by a Go duration.
fn parse_descriptor(descriptor: &str) -> Result<ScheduleKind, CronError> {
    let all = |bounds: &Bounds| bits_between(bounds.minimum, bounds.maximum, 1) | STAR_BIT;
    let first = |bounds: &Bounds| 1_u64 << bounds.minimum;
    let midnight = SpecSchedule {
        second: 1,
        minute: first(&MINUTES),
        hour: first(&HOURS),
        day_of_month: all(&DAYS_OF_MONTH),
        month: all(&MONTHS),
        day_of_week: all(&DAYS_OF_WEEK),
    };
    let spec = match descriptor {
        "@yearly" | "@annually" => SpecSchedule {
            day_of_month: first(&DAYS_OF_MONTH),
            month: first(&MONTHS),
            ..midnight
        },
        "@monthly" => SpecSchedule {
            day_of_month: first(&DAYS_OF_MONTH),
            ..midnight
        },
        "@weekly" => SpecSchedule {
            day_of_week: first(&DAYS_OF_WEEK),
            ..midnight
        },
        "@daily" | "@midnight" => midnight,
        "@hourly" => SpecSchedule {
            hour: all(&HOURS),
            ..midnight
        },
        _ => return parse_every(descriptor),
    };
    Ok(ScheduleKind::Spec(spec))
}

fn parse_every(descriptor: &str) -> Result<ScheduleKind, CronError> {
    let Some(duration_text) = descriptor.strip_prefix("@every ") else {
        return Err(CronError::UnrecognizedDescriptor(descriptor.to_owned()));
    };
    let duration =
        parse_go_duration(duration_text).map_err(|reason| CronError::InvalidDuration {
            descriptor: descriptor.to_owned(),
            reason,
        })?;
    Ok(ScheduleKind::Every(ConstantDelaySchedule::every(duration)))
}

/// Splits on Unicode whitespace (Go's `strings.Fields`) and parses the five
/// fields in robfig's order; the first error wins.
fn parse_fields(spec: &str) -> Result<SpecSchedule, CronError> {
    let fields: Vec<&str> = spec.split_whitespace().collect();
    let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
        return Err(CronError::FieldCount {
            expected: 5,
            found: fields.len(),
            fields: fields.iter().map(|field| (*field).to_owned()).collect(),
        });
    };
    Ok(SpecSchedule {
        second: 1,
        minute: parse_field(minute, &MINUTES)?,
        hour: parse_field(hour, &HOURS)?,
        day_of_month: parse_field(day_of_month, &DAYS_OF_MONTH)?,
        month: parse_field(month, &MONTHS)?,
        day_of_week: parse_field(day_of_week, &DAYS_OF_WEEK)?,
    })
}

/// robfig's `getField`: a comma-separated list of ranges; empty items are
/// skipped (Go's `strings.FieldsFunc`), so `,` yields no bits and no error.
fn parse_field(field: &str, bounds: &Bounds) -> Result<u64, CronError> {
    field
        .split(',')
        .filter(|expression| !expression.is_empty())
        .try_fold(0, |bits, expression| {
            Ok(bits | parse_range(expression, bounds)?)
        })
}

/// robfig's `getRange`: `*`, `?`, `n`, `a-b`, each optionally `/step`. The checks
/// run in robfig's order so the same error is reported for the same input.
fn parse_range(expression: &str, bounds: &Bounds) -> Result<u64, CronError> {
    let range_and_step: Vec<&str> = expression.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single_value = low_and_high.len() == 1;
    let (start, mut end, mut extra) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (bounds.minimum, bounds.maximum, STAR_BIT)
    } else {
        let start = parse_int_or_name(low_and_high[0], bounds)?;
        let end = match low_and_high[..] {
            [_] => start,
            [_, high] => parse_int_or_name(high, bounds)?,
            _ => return Err(CronError::TooManyHyphens(expression.to_owned())),
        };
        (start, end, 0)
    };
    let step = match range_and_step[..] {
        [_] => 1,
        [_, step_text] => {
            let step = parse_non_negative_int(step_text)?;
            // "N/step" means "N-max/step".
            if single_value {
                end = bounds.maximum;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(CronError::TooManySlashes(expression.to_owned())),
    };
    check_range(start, end, step, bounds, expression)?;
    Ok(bits_between(start, end, step) | extra)
}

fn check_range(
    start: u64,
    end: u64,
    step: u64,
    bounds: &Bounds,
    expression: &str,
) -> Result<(), CronError> {
    let expression = expression.to_owned();
    if start < bounds.minimum {
        return Err(CronError::BelowMinimum {
            start,
            minimum: bounds.minimum,
            expression,
        });
    }
    if end > bounds.maximum {
        return Err(CronError::AboveMaximum {
            end,
            maximum: bounds.maximum,
            expression,
        });
    }
    if start > end {
        return Err(CronError::ReversedRange {
            start,
            end,
            expression,
        });
    }
    if step == 0 {
        return Err(CronError::ZeroStep(expression));
    }
    Ok(())
}

/// robfig's `parseIntOrName`: a (case-insensitive) name if the field has names,
/// else a number.
fn parse_int_or_name(text: &str, bounds: &Bounds) -> Result<u64, CronError> {
    if !bounds.names.is_empty()
        && let Some(lower) = go_lower_for_name(text)
        && let Some(&(_, value)) = bounds.names.iter().find(|(name, _)| *name == lower)
    {
        return Ok(value);
    }
    parse_non_negative_int(text)
}

/// robfig's `mustParseInt`: `strconv.Atoi`, then a sign check.
fn parse_non_negative_int(text: &str) -> Result<u64, CronError> {
    let number = atoi(text).map_err(|failure| CronError::InvalidNumber {
        text: text.to_owned(),
        failure,
    })?;
    u64::try_from(number).map_err(|_| CronError::NegativeNumber {
        number,
        text: text.to_owned(),
    })
}

/// robfig's `getBits`: every `step`-th value from `start` to `end` inclusive.
/// Callers guarantee `end <= 59` and `step >= 1`.
fn bits_between(start: u64, end: u64, step: u64) -> u64 {
    let mut bits = 0;
    let mut value = start;
    while value <= end {
        bits |= 1 << value;
        match value.checked_add(step) {
            Some(next) => value = next,
            None => break,
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> SpecSchedule {
        match parse_standard(text).unwrap().kind {
            ScheduleKind::Spec(spec) => spec,
            ScheduleKind::Every(_) => panic!("{text} parsed as @every"),
        }
    }

    #[test]
    fn star_slash_one_keeps_the_star_bit_and_star_slash_two_drops_it() {
        assert_ne!(spec("0 0 * * */1").day_of_week & STAR_BIT, 0);
        assert_eq!(spec("0 0 * * */2").day_of_week & STAR_BIT, 0);
        assert_ne!(spec("0 0 ? * *").day_of_month & STAR_BIT, 0);
    }

    #[test]
    fn single_value_with_step_runs_to_the_field_maximum() {
        let minutes = spec("5/15 * * * *").minute;
        assert_eq!(minutes, (1 << 5) | (1 << 20) | (1 << 35) | (1 << 50));
    }

    #[test]
    fn text_after_a_star_and_hyphen_is_ignored_as_in_robfig() {
        assert_eq!(spec("*-5 * * * *").minute, spec("* * * * *").minute);
    }

    #[test]
    fn a_lone_comma_is_an_empty_field() {
        assert_eq!(spec("0 0 , * *").day_of_month, 0);
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(spec("0 0 * jan-MAR Mon").month, 0b1110);
        assert_eq!(spec("0 0 * * sun,WED").day_of_week, 0b1001);
    }
}
