//! L1: CronJob schedules with robfig/cron v3.0.1 semantics and time zones.
//!
//! Kubernetes parses `spec.schedule` with robfig/cron's `ParseStandard` and
//! evaluates it with robfig's `Next`, so the set of accepted schedules, the error
//! messages and the run times (including around daylight-saving changes) are
//! part of the API contract. No Rust cron crate matches them, so this crate ports
//! robfig's parser and search on top of jiff's time zone database, plus the
//! CronJob controller's helpers that turn a schedule into "what is due now and
//! when to look again".
//!
//! Pure: no clock, no I/O. Every function takes the instants it needs.
//!
//! ```
//! use corral_cron::Schedule;
//! use jiff::Timestamp;
//!
//! let schedule = Schedule::parse("30 2 * * *").unwrap();
//! let new_york = Schedule::parse_time_zone("America/New_York").unwrap();
//! let after: Timestamp = "2024-03-09T12:00:00Z".parse().unwrap();
//! // 02:30 does not exist on 2024-03-10 in New York: that day is skipped.
//! let next = schedule.next(after, &new_york).unwrap();
//! assert_eq!(next.to_string(), "2024-03-11T06:30:00Z");
//! ```

mod controller;
mod error;
mod go_duration;
mod go_text;
mod go_time;
mod parser;
mod schedule;
mod spec;
mod time_zone;

pub use controller::{
    MISSED_SCHEDULES_MANY_ABOVE, MissedSchedules, NEXT_SCHEDULE_DELTA, earliest_schedule_time,
    most_recent_schedule_time, next_schedule_time_duration, time_hash_in_minutes,
};
pub use error::{CronError, ScheduleError};
pub use go_text::AtoiFailure;
pub use schedule::{Schedule, TZ_IN_SCHEDULE_MESSAGE, contains_tz_prefix};
pub use time_zone::parse_time_zone;
