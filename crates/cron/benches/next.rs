//! Goal: know what one `Schedule::next` call costs, since the controller calls it
//! a few times per CronJob sync and the simulator millions of times.
//!
//! Method: for each schedule and zone, call `next` on 1,024 fixed start instants
//! (spread over two years by a seeded generator, with arbitrary seconds), repeat
//! the pass 31 times and print the median nanoseconds per call. Run with
//! `cargo bench -p corral-cron`.

// Benches measure wall time; the crate's purity rules apply to the library.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::Instant;

use corral_cron::Schedule;
use jiff::Timestamp;
use jiff::tz::TimeZone;

const STARTS_COUNT: usize = 1_024;
const SAMPLES_COUNT: usize = 31;

/// 2024-01-01T00:00:00Z plus seeded pseudo-random offsets within two years.
fn starts() -> Vec<Timestamp> {
    let mut state: u64 = 0x5eed_c0ff_ee00_0001;
    (0..STARTS_COUNT)
        .map(|_| {
            // SplitMix64.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut mixed = state;
            mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            mixed ^= mixed >> 31;
            let offset = (mixed % (2 * 365 * 86_400)) as i64;
            Timestamp::from_second(1_704_067_200 + offset).unwrap()
        })
        .collect()
}

fn median_nanoseconds_per_call(schedule: &Schedule, zone: &TimeZone, starts: &[Timestamp]) -> f64 {
    let mut samples: Vec<f64> = (0..SAMPLES_COUNT)
        .map(|_| {
            let began = Instant::now();
            for start in starts {
                black_box(schedule.next(black_box(*start), zone));
            }
            began.elapsed().as_nanos() as f64 / starts.len() as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES_COUNT / 2]
}

fn main() {
    let cases = [
        ("*/1 * * * *", "UTC"),
        ("*/1 * * * *", "America/New_York"),
        ("0 9 * * 1-5", "America/New_York"),
        ("30 2 * * *", "America/New_York"),
        ("0 0 29 2 *", "UTC"),
        ("5 4 * * SUN,wed", "Europe/Berlin"),
        ("@hourly", "Asia/Kolkata"),
        ("@every 90m", "UTC"),
    ];
    let starts = starts();
    println!("{:<20} {:<18} {:>12}", "schedule", "zone", "ns/next()");
    for (spec, zone_name) in cases {
        let schedule = Schedule::parse(spec).unwrap();
        let zone = TimeZone::get(zone_name).unwrap();
        // Warm up caches and the branch predictor once.
        median_nanoseconds_per_call(&schedule, &zone, &starts);
        let median = median_nanoseconds_per_call(&schedule, &zone, &starts);
        println!("{spec:<20} {zone_name:<18} {median:>12.0}");
    }
}
