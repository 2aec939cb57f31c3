//! The two kinds of robfig schedule and their `Next` functions: `SpecSchedule`
//! (bit sets per field) and `ConstantDelaySchedule` (`@every`).
//!
//! `SpecSchedule::next` is a line-by-line port of robfig/cron v3.0.1 `spec.go`,
//! including its quirks, which Kubernetes users observe: the field loops restart
//! ("WRAP") when a field rolls over, the day loop patches up days whose midnight
//! does not exist, and nothing is searched more than five years ahead. The only
//! liberty taken is speed: a loop that adds one hour/minute/second at a time may
//! jump several steps at once when no UTC offset change lies in between, because
//! the civil fields then move in lock-step and the result is identical.

use crate::go_time::{WallTime, ZoneView};

/// Set in a field's bits when the field was written as `*` or `?` (robfig's
/// `starBit`); it turns the day-of-month/day-of-week OR into an AND.
pub(crate) const STAR_BIT: u64 = 1 << 63;

/// An upper bound on loop iterations in one `next` call. A search needs at most
/// a few thousand (five years of month and day steps, the hour, minute and
/// second loops being jumped). robfig itself never returns in one case, a civil
/// day that does not exist at all (Samoa skipped 2011-12-30: its day loop keeps
/// landing on the 29th); there, and in any case we did not foresee, we answer
/// "no activation" instead of spinning.
const STEPS_MAX: u32 = 100_000;

/// A parsed five-field schedule: one bit per allowed value, plus [`STAR_BIT`].
/// Seconds are always `{0}` for the standard parser, but kept as a field so the
/// algorithm stays the same as robfig's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpecSchedule {
    pub second: u64,
    pub minute: u64,
    pub hour: u64,
    pub day_of_month: u64,
    pub month: u64,
    pub day_of_week: u64,
}

/// `@every <duration>`: a fixed delay in whole seconds (at least one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConstantDelaySchedule {
    pub delay_nanoseconds: i64,
}

impl ConstantDelaySchedule {
    /// robfig's `Every`: below one second becomes one second, and the sub-second
    /// part is truncated.
    pub(crate) fn every(duration_nanoseconds: i64) -> Self {
        const SECOND: i64 = 1_000_000_000;
        let duration = duration_nanoseconds.max(SECOND);
        ConstantDelaySchedule {
            delay_nanoseconds: duration - duration % SECOND,
        }
    }

    /// robfig's `ConstantDelaySchedule.Next`: `t + delay`, rounded down to the
    /// second. Time zones play no part.
    pub(crate) fn next(&self, after: jiff::Timestamp) -> Option<jiff::Timestamp> {
        let nanoseconds = after.as_nanosecond();
        let whole_second = nanoseconds - nanoseconds.rem_euclid(1_000_000_000);
        let next = whole_second.checked_add(i128::from(self.delay_nanoseconds))?;
        jiff::Timestamp::from_nanosecond(next).ok()
    }
}

/// Mutable state of one `next` search: the candidate time, robfig's `added` flag
/// (whether a field was already bumped, after which lower fields start from zero)
/// and the step budget.
struct Search<'z, 'a> {
    view: &'z mut ZoneView<'a>,
    time: WallTime,
    added: bool,
    steps: u32,
}

/// What a field loop decided.
enum Outcome {
    /// The field matches; go on to the next one.
    Matched,
    /// A higher field rolled over; restart from the year check.
    Wrap,
}

impl SpecSchedule {
    /// The first activation strictly after the whole second `after_unix_second`
    /// (the caller rounds down, as robfig drops nanoseconds), evaluated in
    /// `view`'s zone; `None` when there is none within robfig's five-year horizon.
    pub(crate) fn next(&self, view: &mut ZoneView<'_>, after_unix_second: i64) -> Option<i64> {
        if self.can_never_match() {
            return None;
        }
        // Start at the earliest possible time (the upcoming second).
        let time = view.at(after_unix_second.checked_add(1)?)?;
        let year_limit = time.year + 5;
        let mut search = Search {
            view,
            time,
            added: false,
            steps: 0,
        };
        loop {
            if search.time.year > year_limit {
                return None;
            }
            if let Outcome::Wrap = self.find_month(&mut search)? {
                continue;
            }
            if let Outcome::Wrap = self.find_day(&mut search)? {
                continue;
            }
            if let Outcome::Wrap = self.find_hour(&mut search)? {
                continue;
            }
            if let Outcome::Wrap = self.find_minute(&mut search)? {
                continue;
            }
            if let Outcome::Wrap = self.find_second(&mut search)? {
                continue;
            }
            return Some(search.time.unix_second);
        }
    }

    /// A field with no bits at all (robfig accepts `,` as a field) can never
    /// match, and robfig would grind through five years to say so.
    fn can_never_match(&self) -> bool {
        let value_bits = |bits: u64| bits & !STAR_BIT;
        let days_empty = if (self.day_of_month | self.day_of_week) & STAR_BIT != 0 {
            value_bits(self.day_of_month) == 0 || value_bits(self.day_of_week) == 0
        } else {
            value_bits(self.day_of_month) == 0 && value_bits(self.day_of_week) == 0
        };
        days_empty
            || value_bits(self.month) == 0
            || value_bits(self.hour) == 0
            || value_bits(self.minute) == 0
            || value_bits(self.second) == 0
    }

    fn find_month(&self, search: &mut Search<'_, '_>) -> Option<Outcome> {
        while !has_bit(self.month, search.time.month) {
            search.spend_step()?;
            if !search.added {
                search.added = true;
                let time = search.time;
                search.time = search
                    .view
                    .date(time.year, i64::from(time.month), 1, 0, 0, 0)?;
            }
            search.time = search.view.add_date(search.time, 0, 1, 0)?;
            if search.time.month == 1 {
                return Some(Outcome::Wrap);
            }
        }
        Some(Outcome::Matched)
    }

    /// robfig's day loop, including its daylight-saving patch: after adding a day,
    /// an hour other than midnight (because midnight did not exist) is pushed to
    /// the nearest midnight.
    fn find_day(&self, search: &mut Search<'_, '_>) -> Option<Outcome> {
        while !self.day_matches(&search.time) {
            search.spend_step()?;
            if !search.added {
                search.added = true;
                let time = search.time;
                search.time = search.view.date(
                    time.year,
                    i64::from(time.month),
                    i64::from(time.day),
                    0,
                    0,
                    0,
                )?;
            }
            search.time = search.view.add_date(search.time, 0, 0, 1)?;
            let hour = i64::from(search.time.hour);
            if hour != 0 {
                let shift_hours = if hour > 12 { 24 - hour } else { -hour };
                search.time = search.view.add_seconds(search.time, shift_hours * 3_600)?;
            }
            if search.time.day == 1 {
                return Some(Outcome::Wrap);
            }
        }
        Some(Outcome::Matched)
    }

    fn find_hour(&self, search: &mut Search<'_, '_>) -> Option<Outcome> {
        while !has_bit(self.hour, search.time.hour) {
            search.spend_step()?;
            if !search.added {
                search.added = true;
                let time = search.time;
                search.time = search.view.date(
                    time.year,
                    i64::from(time.month),
                    i64::from(time.day),
                    i64::from(time.hour),
                    0,
                    0,
                )?;
            }
            let steps = steps_to_next_bit(self.hour, search.time.hour, 24);
            search.time = search.view.add_steps(search.time, 3_600, steps)?;
            if search.time.hour == 0 {
                return Some(Outcome::Wrap);
            }
        }
        Some(Outcome::Matched)
    }

    fn find_minute(&self, search: &mut Search<'_, '_>) -> Option<Outcome> {
        while !has_bit(self.minute, search.time.minute) {
            search.spend_step()?;
            if !search.added {
                search.added = true;
                search.time = search.view.truncate(search.time, 60)?;
            }
            let steps = steps_to_next_bit(self.minute, search.time.minute, 60);
            search.time = search.view.add_steps(search.time, 60, steps)?;
            if search.time.minute == 0 {
                return Some(Outcome::Wrap);
            }
        }
        Some(Outcome::Matched)
    }

    fn find_second(&self, search: &mut Search<'_, '_>) -> Option<Outcome> {
        while !has_bit(self.second, search.time.second) {
            search.spend_step()?;
            // robfig truncates to the second here; our times are whole seconds.
            search.added = true;
            let steps = steps_to_next_bit(self.second, search.time.second, 60);
            search.time = search.view.add_steps(search.time, 1, steps)?;
            if search.time.second == 0 {
                return Some(Outcome::Wrap);
            }
        }
        Some(Outcome::Matched)
    }

    /// robfig's `dayMatches`: day of month OR day of week, unless either field was
    /// written with a star, in which case both must match.
    fn day_matches(&self, time: &WallTime) -> bool {
        let day_of_month_matches = has_bit(self.day_of_month, time.day);
        let day_of_week_matches = has_bit(self.day_of_week, time.weekday);
        if (self.day_of_month | self.day_of_week) & STAR_BIT != 0 {
            day_of_month_matches && day_of_week_matches
        } else {
            day_of_month_matches || day_of_week_matches
        }
    }
}

impl Search<'_, '_> {
    fn spend_step(&mut self) -> Option<()> {
        self.steps += 1;
        (self.steps <= STEPS_MAX).then_some(())
    }
}

fn has_bit(bits: u64, value: u32) -> bool {
    value < 64 && bits & (1 << value) != 0
}

/// How many unit steps from `current` reach the next set bit below `modulus`, or
/// the roll-over to zero if there is none: the number of iterations robfig's loop
/// would make before it stops or wraps, provided the offset stays constant.
fn steps_to_next_bit(bits: u64, current: u32, modulus: u32) -> i64 {
    let next = (current + 1..modulus)
        .find(|&value| has_bit(bits, value))
        .unwrap_or(modulus);
    i64::from(next - current)
}
