//! A minimal model of Go's `time.Time` viewed in a `*time.Location`: exactly the
//! arithmetic robfig/cron's `SpecSchedule.Next` relies on.
//!
//! Why not jiff's own civil arithmetic: robfig's daylight-saving behaviour (runs in
//! a spring-forward gap are skipped, runs in a fall-back overlap happen twice, the
//! Sao Paulo "no midnight" fix-up) falls out of how Go's `time.Date` resolves a wall
//! clock that does not exist or exists twice, and of `AddDate`/`Add`/`Truncate`
//! working on civil fields versus absolute instants. jiff disambiguates differently
//! (and more sensibly), so we reproduce Go's rule on top of jiff's zone offsets.
//!
//! All functions return `None` when an instant leaves jiff's supported range; the
//! schedule then reports "no next activation" instead of panicking.

use jiff::Timestamp;
use jiff::tz::TimeZone;

const SECONDS_PER_DAY: i64 = 86_400;

/// An instant (whole Unix seconds, as robfig only ever produces whole seconds after
/// its first step) together with its civil fields in the zone being viewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WallTime {
    pub unix_second: i64,
    pub year: i64,
    /// 1 = January, as Go's `time.Month`.
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday, as Go's `time.Weekday`.
    pub weekday: u32,
}

/// The offset in force over a half-open range of Unix seconds, so that stepping
/// minute by minute does not search the zone's transition table every time.
#[derive(Clone, Copy, Debug)]
struct OffsetWindow {
    start: i64,
    end: i64,
    offset_second: i64,
}

/// A time zone as robfig sees it: a source of UTC offsets for instants, plus Go's
/// rules for turning civil fields back into an instant.
pub(crate) struct ZoneView<'a> {
    zone: &'a TimeZone,
    window: Option<OffsetWindow>,
}

impl<'a> ZoneView<'a> {
    pub(crate) fn new(zone: &'a TimeZone) -> Self {
        // A fixed-offset zone (UTC included) has one window covering all time.
        let window = zone.to_fixed_offset().ok().map(|offset| OffsetWindow {
            start: i64::MIN,
            end: i64::MAX,
            offset_second: i64::from(offset.seconds()),
        });
        ZoneView { zone, window }
    }

    /// The UTC offset in seconds at `unix_second`, like Go's `Location.lookup`.
    pub(crate) fn offset_at(&mut self, unix_second: i64) -> Option<i64> {
        if let Some(window) = self.window
            && window.start <= unix_second
            && unix_second < window.end
        {
            return Some(window.offset_second);
        }
        let window = self.window_at(unix_second)?;
        self.window = Some(window);
        Some(window.offset_second)
    }

    /// Finds the offset at `unix_second` and the transitions bracketing it.
    /// Transitions fall on whole seconds, so "preceding `unix_second + 1`" includes
    /// a transition exactly at `unix_second`.
    fn window_at(&self, unix_second: i64) -> Option<OffsetWindow> {
        let instant = Timestamp::from_second(unix_second).ok()?;
        let offset_second = i64::from(self.zone.to_offset(instant).seconds());
        let start = Timestamp::from_second(unix_second.checked_add(1)?)
            .ok()
            .and_then(|after| self.zone.preceding(after).next())
            .map_or(i64::MIN, |transition| transition.timestamp().as_second());
        let end = self
            .zone
            .following(instant)
            .next()
            .map_or(i64::MAX, |transition| transition.timestamp().as_second());
        Some(OffsetWindow {
            start,
            end,
            offset_second,
        })
    }

    /// True when no offset change happens in `[from, to]`, so civil fields move in
    /// lock-step with the instant and a multi-step loop may be jumped in one go.
    fn offset_constant_between(&mut self, from: i64, to: i64) -> bool {
        if self.offset_at(from).is_none() {
            return false;
        }
        self.window
            .is_some_and(|window| window.start <= from && to < window.end)
    }

    /// Go's `t.In(loc)` for an instant given in whole Unix seconds.
    pub(crate) fn at(&mut self, unix_second: i64) -> Option<WallTime> {
        let offset_second = self.offset_at(unix_second)?;
        Some(wall_time_from_local(
            unix_second,
            unix_second + offset_second,
        ))
    }

    /// Go's `t.Add(d)` for whole seconds: absolute arithmetic on the instant.
    pub(crate) fn add_seconds(&mut self, time: WallTime, seconds: i64) -> Option<WallTime> {
        self.at(time.unix_second.checked_add(seconds)?)
    }

    /// `steps` applications of `t = t.Add(step_seconds)`, done as one jump when the
    /// offset is constant over the whole stretch (then each step moves the civil
    /// field by exactly one unit), else as a single step: the caller's loop re-checks
    /// after each call, so a single step is always faithful.
    pub(crate) fn add_steps(
        &mut self,
        time: WallTime,
        step_seconds: i64,
        steps: i64,
    ) -> Option<WallTime> {
        let target = time
            .unix_second
            .checked_add(step_seconds.checked_mul(steps)?)?;
        if steps > 1 && self.offset_constant_between(time.unix_second, target) {
            return self.at(target);
        }
        self.add_seconds(time, step_seconds)
    }

    /// Go's `time.Date(year, month, day, hour, minute, second, 0, loc)`, including
    /// its normalisation of out-of-range fields and its choice for wall times that
    /// fall in a gap or an overlap: look up the offset at the wall time read as UTC,
    /// then re-look it up at the instant that offset implies. In a gap this lands
    /// before the gap; in an overlap it picks whichever side the first lookup hit.
    pub(crate) fn date(
        &mut self,
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
    ) -> Option<WallTime> {
        let month_index = month.checked_sub(1)?;
        let year = year.checked_add(month_index.div_euclid(12))?;
        let month = month_index.rem_euclid(12) + 1;
        let days = days_from_civil(year, month, 1).checked_add(day.checked_sub(1)?)?;
        let local_second = days
            .checked_mul(SECONDS_PER_DAY)?
            .checked_add(hour.checked_mul(3_600)?)?
            .checked_add(minute.checked_mul(60)?)?
            .checked_add(second)?;
        let first_guess = self.offset_at(local_second)?;
        let offset_second = self.offset_at(local_second.checked_sub(first_guess)?)?;
        self.at(local_second.checked_sub(offset_second)?)
    }

    /// Go's `t.AddDate(years, months, days)`: civil arithmetic, then `time.Date`.
    pub(crate) fn add_date(
        &mut self,
        time: WallTime,
        years: i64,
        months: i64,
        days: i64,
    ) -> Option<WallTime> {
        self.date(
            time.year.checked_add(years)?,
            i64::from(time.month).checked_add(months)?,
            i64::from(time.day).checked_add(days)?,
            i64::from(time.hour),
            i64::from(time.minute),
            i64::from(time.second),
        )
    }

    /// Go's `t.Truncate(d)` for `d` dividing a day: it rounds the absolute instant
    /// (counted from Go's zero time, a whole number of days before the Unix epoch),
    /// not the wall clock, which matters only for zones with odd-second offsets.
    pub(crate) fn truncate(&mut self, time: WallTime, unit_seconds: i64) -> Option<WallTime> {
        debug_assert!(unit_seconds > 0 && SECONDS_PER_DAY % unit_seconds == 0);
        self.at(time.unix_second - time.unix_second.rem_euclid(unit_seconds))
    }
}

/// Builds the civil fields of an instant from its local (offset-applied) seconds.
fn wall_time_from_local(unix_second: i64, local_second: i64) -> WallTime {
    let days = local_second.div_euclid(SECONDS_PER_DAY);
    let second_of_day = local_second.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    WallTime {
        unix_second,
        year,
        month: month as u32,
        day: day as u32,
        hour: (second_of_day / 3_600) as u32,
        minute: (second_of_day / 60 % 60) as u32,
        second: (second_of_day % 60) as u32,
        // 1970-01-01 was a Thursday (4).
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
/// `month` must be in 1..=12; the day may be anything (it is added linearly).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month 1..=12, day 1..=31).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_holds_across_four_centuries() {
        for days in (-800_000..800_000).step_by(97) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn cached_offsets_agree_with_jiff_around_transitions() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let mut view = ZoneView::new(&zone);
        // Around the 2024 spring-forward (07:00Z) and fall-back (06:00Z) transitions.
        for center in [1_710_054_000_i64, 1_730_613_600] {
            for unix_second in (center - 7_200..center + 7_200).step_by(61) {
                let expected = zone.to_offset(Timestamp::from_second(unix_second).unwrap());
                assert_eq!(
                    view.offset_at(unix_second),
                    Some(i64::from(expected.seconds()))
                );
            }
        }
    }

    #[test]
    fn go_date_resolves_a_gap_to_the_earlier_offset_rule() {
        // 2024-03-10 02:30 does not exist in New York; Go yields 01:30 EST (06:30Z).
        let zone = TimeZone::get("America/New_York").unwrap();
        let mut view = ZoneView::new(&zone);
        let time = view.date(2024, 3, 10, 2, 30, 0).unwrap();
        assert_eq!(time.unix_second, 1_710_052_200);
        assert_eq!((time.hour, time.minute), (1, 30));
    }

    #[test]
    fn go_date_picks_the_first_overlap_instant_west_of_utc_and_the_second_east_of_it() {
        let new_york = TimeZone::get("America/New_York").unwrap();
        let mut view = ZoneView::new(&new_york);
        // 2024-11-03 01:30 EDT = 05:30Z.
        assert_eq!(
            view.date(2024, 11, 3, 1, 30, 0).unwrap().unix_second,
            1_730_611_800
        );
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let mut view = ZoneView::new(&berlin);
        // 2024-10-27 02:30 CET = 01:30Z (the second occurrence).
        assert_eq!(
            view.date(2024, 10, 27, 2, 30, 0).unwrap().unix_second,
            1_729_992_600
        );
    }

    #[test]
    fn go_date_normalises_overflowing_days_and_months() {
        let utc = TimeZone::UTC;
        let mut view = ZoneView::new(&utc);
        let time = view.date(2024, 13, 32, 0, 0, 0).unwrap();
        assert_eq!((time.year, time.month, time.day), (2025, 2, 1));
        let time = view.date(2024, 4, 31, 0, 0, 0).unwrap();
        assert_eq!((time.month, time.day), (5, 1));
    }
}
