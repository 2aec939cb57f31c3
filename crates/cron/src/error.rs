//! The crate's one error type.
//!
//! Messages reproduce robfig/cron v3.0.1 (and, for the `timeZone` field and the
//! controller helpers, Kubernetes) word for word, because Kubernetes surfaces them
//! in API validation errors and events; callers branch on the variant, never on
//! the text.

use crate::go_text::{AtoiFailure, go_quote};

/// Why a schedule, a time zone name or a schedule computation was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// The schedule string is empty.
    #[error("empty spec string")]
    EmptySpec,

    /// A `TZ=`/`CRON_TZ=` prefix with no space after it. robfig panics here
    /// (slicing with index -1); Kubernetes recovers the panic with this message.
    #[error("invalid schedule format: runtime error: slice bounds out of range [:-1]")]
    TimeZonePrefixWithoutSpace,

    /// The `TZ=` prefix names a zone with `..` or a leading slash, which Go's
    /// `time.LoadLocation` refuses before looking anything up.
    #[error("provided bad location {name}: time: invalid location name")]
    InvalidLocationName { name: String },

    /// The `TZ=` prefix names a zone that is not in the time zone database.
    #[error("provided bad location {name}: unknown time zone {name}")]
    UnknownLocation { name: String },

    /// A string starting with `@` that is not a known descriptor.
    #[error("unrecognized descriptor: {0}")]
    UnrecognizedDescriptor(String),

    /// `@every` followed by something Go's `time.ParseDuration` rejects; `reason`
    /// is Go's message.
    #[error("failed to parse duration {descriptor}: {reason}")]
    InvalidDuration { descriptor: String, reason: String },

    /// Not exactly five whitespace-separated fields.
    #[error("expected exactly {expected} fields, found {found}: [{}]", fields.join(" "))]
    FieldCount {
        expected: usize,
        found: usize,
        fields: Vec<String>,
    },

    /// `a-b-c`.
    #[error("too many hyphens: {0}")]
    TooManyHyphens(String),

    /// `a/b/c`.
    #[error("too many slashes: {0}")]
    TooManySlashes(String),

    /// A bound or step that is neither a name nor a number `strconv.Atoi` accepts.
    #[error(
        "failed to parse int from {text}: strconv.Atoi: parsing {}: {failure}",
        go_quote(text)
    )]
    InvalidNumber { text: String, failure: AtoiFailure },

    /// A negative step, as in `*/-1`.
    #[error("negative number ({number}) not allowed: {text}")]
    NegativeNumber { number: i64, text: String },

    /// A range starting below the field's minimum, as in `0` for the day of month.
    #[error("beginning of range ({start}) below minimum ({minimum}): {expression}")]
    BelowMinimum {
        start: u64,
        minimum: u64,
        expression: String,
    },

    /// A range ending above the field's maximum, as in `7` for the day of week.
    #[error("end of range ({end}) above maximum ({maximum}): {expression}")]
    AboveMaximum {
        end: u64,
        maximum: u64,
        expression: String,
    },

    /// A range whose start is after its end, as in `5-1`.
    #[error("beginning of range ({start}) beyond end of range ({end}): {expression}")]
    ReversedRange {
        start: u64,
        end: u64,
        expression: String,
    },

    /// A step of zero, as in `*/0`.
    #[error("step of range should be a positive number: {0}")]
    ZeroStep(String),

    /// The CronJob `timeZone` field is set to the empty string.
    #[error("timeZone must be nil or non-empty string")]
    EmptyTimeZone,

    /// The CronJob `timeZone` field is not a valid IANA zone name.
    #[error("unknown time zone {0}")]
    UnknownTimeZone(String),

    /// The CronJob `timeZone` field is `Local` (in any letter case).
    #[error("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    LocalTimeZone,

    /// Two consecutive activations less than a second apart, or no second
    /// activation at all: Kubernetes reports such a schedule (e.g. `0 0 31 2 *`) as
    /// an `InvalidSchedule` event.
    #[error("time difference between two schedules is less than 1 second")]
    ScheduleSlotsTooClose,
}

/// The name the CronJob controller helpers use for their failures; the same type,
/// kept so callers can name it as upstream's `mostRecentScheduleTime` error.
pub type ScheduleError = CronError;
