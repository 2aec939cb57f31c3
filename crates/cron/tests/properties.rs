//! Goal: `Schedule::parse` never panics, and `Schedule::next` only ever moves
//! forward and only returns instants that satisfy the schedule's fields.
//!
//! Method: proptest. Arbitrary strings (and strings over the cron alphabet) go to
//! `parse`. For `next`, random five-field schedules are built from a reference
//! model (the set of allowed values per field, computed here independently of
//! the parser) and random start instants; each of several consecutive results is
//! converted to wall time in the zone and checked against the model.
//!
//! Zones are limited to ones whose offset changes happen on whole hours away from
//! midnight. Where midnight itself is skipped (Sao Paulo 2018, Santiago) or a
//! change is 30 minutes (Lord Howe), robfig itself can return a time that does
//! not match its fields; `tests/parse.rs` pins one such case.

use corral_cron::Schedule;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use proptest::prelude::*;

const ZONES: [&str; 7] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
];

/// One comma-separated item of a field, as written and as a set of values.
#[derive(Clone, Debug)]
enum Item {
    Star { step: u32 },
    Value(u32),
    Range { low: u32, high: u32, step: u32 },
    ValueStep { low: u32, step: u32 },
}

#[derive(Clone, Debug)]
struct Field {
    items: Vec<Item>,
}

impl Field {
    fn text(&self) -> String {
        let items: Vec<String> = self
            .items
            .iter()
            .map(|item| match item {
                Item::Star { step: 1 } => "*".to_owned(),
                Item::Star { step } => format!("*/{step}"),
                Item::Value(value) => value.to_string(),
                Item::Range { low, high, step: 1 } => format!("{low}-{high}"),
                Item::Range { low, high, step } => format!("{low}-{high}/{step}"),
                Item::ValueStep { low, step } => format!("{low}/{step}"),
            })
            .collect();
        items.join(",")
    }

    fn allows(&self, value: u32, minimum: u32, maximum: u32) -> bool {
        self.items.iter().any(|item| match *item {
            Item::Star { step } => (value - minimum).is_multiple_of(step),
            Item::Value(allowed) => value == allowed,
            Item::Range { low, high, step } => {
                (low..=high).contains(&value) && (value - low).is_multiple_of(step)
            }
            Item::ValueStep { low, step } => {
                (low..=maximum).contains(&value) && (value - low).is_multiple_of(step)
            }
        })
    }

    /// robfig's star bit survives for `*` and `*/1` only.
    fn has_star_bit(&self) -> bool {
        self.items
            .iter()
            .any(|item| matches!(item, Item::Star { step: 1 }))
    }
}

fn item(minimum: u32, maximum: u32) -> impl Strategy<Value = Item> {
    let value = minimum..=maximum;
    let step = 1..=(maximum - minimum + 1);
    prop_oneof![
        1 => step.clone().prop_map(|step| Item::Star { step }),
        3 => value.clone().prop_map(Item::Value),
        2 => (value.clone(), value.clone(), step.clone()).prop_map(|(a, b, step)| Item::Range {
            low: a.min(b),
            high: a.max(b),
            step,
        }),
        1 => (value, step).prop_map(|(low, step)| Item::ValueStep { low, step }),
    ]
}

fn field(minimum: u32, maximum: u32) -> impl Strategy<Value = Field> {
    prop::collection::vec(item(minimum, maximum), 1..=3).prop_map(|items| Field { items })
}

/// A star field on its own, so that day-of-month/day-of-week ANDs are common.
fn field_or_star(minimum: u32, maximum: u32) -> impl Strategy<Value = Field> {
    prop_oneof![
        1 => Just(Field { items: vec![Item::Star { step: 1 }] }),
        2 => field(minimum, maximum),
    ]
}

#[derive(Clone, Debug)]
struct Model {
    minute: Field,
    hour: Field,
    day_of_month: Field,
    month: Field,
    day_of_week: Field,
}

impl Model {
    fn text(&self) -> String {
        [
            &self.minute,
            &self.hour,
            &self.day_of_month,
            &self.month,
            &self.day_of_week,
        ]
        .map(Field::text)
        .join(" ")
    }

    fn matches(&self, time: &jiff::Zoned) -> bool {
        let day_of_month = self.day_of_month.allows(time.day() as u32, 1, 31);
        let weekday = time.weekday().to_sunday_zero_offset() as u32;
        let day_of_week = self.day_of_week.allows(weekday, 0, 6);
        let day = if self.day_of_month.has_star_bit() || self.day_of_week.has_star_bit() {
            day_of_month && day_of_week
        } else {
            day_of_month || day_of_week
        };
        time.second() == 0
            && time.subsec_nanosecond() == 0
            && self.minute.allows(time.minute() as u32, 0, 59)
            && self.hour.allows(time.hour() as u32, 0, 23)
            && self.month.allows(time.month() as u32, 1, 12)
            && day
    }
}

fn model() -> impl Strategy<Value = Model> {
    (
        field(0, 59),
        field_or_star(0, 23),
        field_or_star(1, 31),
        field_or_star(1, 12),
        field_or_star(0, 6),
    )
        .prop_map(|(minute, hour, day_of_month, month, day_of_week)| Model {
            minute,
            hour,
            day_of_month,
            month,
            day_of_week,
        })
}

fn instant() -> impl Strategy<Value = Timestamp> {
    // 1990 to 2060, with sub-second parts.
    (631_152_000_i64..2_840_140_800, 0..1_000_000_000_i32)
        .prop_map(|(second, nanosecond)| Timestamp::new(second, nanosecond).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn parse_never_panics_on_arbitrary_strings(spec in any::<String>()) {
        let _ = Schedule::parse(&spec);
    }

    #[test]
    fn parse_never_panics_on_cron_like_strings(
        spec in "(TZ=|CRON_TZ=)?[0-9a-zA-Z*?/,@#+ \t-]{0,40}",
    ) {
        if let Ok(schedule) = Schedule::parse(&spec) {
            let _ = schedule.next(Timestamp::UNIX_EPOCH, &TimeZone::UTC);
        }
    }

    #[test]
    fn next_moves_forward_and_matches_the_fields(
        model in model(),
        start in instant(),
        zone_index in 0..ZONES.len(),
    ) {
        let zone = TimeZone::get(ZONES[zone_index]).unwrap();
        let spec = model.text();
        let schedule = Schedule::parse(&spec).unwrap();
        let mut after = start;
        for _ in 0..5 {
            let Some(next) = schedule.next(after, &zone) else { break };
            prop_assert!(next > after, "{spec}: {next} not after {after}");
            let wall = next.to_zoned(zone.clone());
            prop_assert!(model.matches(&wall), "{spec} in {}: {wall} does not match", ZONES[zone_index]);
            after = next;
        }
    }

    #[test]
    fn every_is_strictly_increasing_by_whole_seconds(
        seconds in 1_i64..1_000_000,
        start in instant(),
    ) {
        let schedule = Schedule::parse(&format!("@every {seconds}s")).unwrap();
        let next = schedule.next(start, &TimeZone::UTC).unwrap();
        prop_assert!(next > start);
        prop_assert_eq!(next.subsec_nanosecond(), 0);
        prop_assert_eq!(next.as_second() - start.as_second(), seconds);
    }
}
