//! Goal: `human_duration` and `short_human_duration` print exactly what apimachinery's
//! `duration.HumanDuration` and `ShortHumanDuration` print.
//!
//! Method: upstream's own tables (`duration_test.go`: `TestHumanDuration`,
//! `TestHumanDurationBoundaries`, `TestShortHumanDurationBoundaries`), plus the points
//! around each unit change that kubectl users meet most.

use corral_printers::{human_duration, short_human_duration};
use jiff::SignedDuration;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const M: i64 = 60 * S;
const H: i64 = 60 * M;
const D: i64 = 24 * H;
const Y: i64 = 365 * D;

fn check(f: fn(SignedDuration) -> String, cases: &[(i64, &str)]) {
    for (nanos, want) in cases {
        let got = f(SignedDuration::from_nanos(*nanos));
        assert_eq!(got, *want, "{nanos}ns");
    }
}

#[test]
fn human_duration_matches_upstream_examples() {
    check(
        human_duration,
        &[
            (S, "1s"),
            (70 * S, "70s"),
            (190 * S, "3m10s"),
            (70 * M, "70m"),
            (47 * H, "47h"),
            (49 * H, "2d1h"),
            ((8 * 24 + 2) * H, "8d"),
            (367 * 24 * H, "367d"),
            ((365 * 2 * 24 + 25) * H, "2y1d"),
            ((365 * 8 * 24 + 2) * H, "8y"),
        ],
    );
}

#[test]
fn human_duration_matches_upstream_boundaries() {
    check(
        human_duration,
        &[
            (-2 * S, "<invalid>"),
            (-2 * S + 1, "0s"),
            (0, "0s"),
            (S - MS, "0s"),
            (2 * M - MS, "119s"),
            (2 * M, "2m"),
            (2 * M + S, "2m1s"),
            (10 * M - MS, "9m59s"),
            (10 * M, "10m"),
            (10 * M + S, "10m"),
            (3 * H - MS, "179m"),
            (3 * H, "3h"),
            (3 * H + M, "3h1m"),
            (8 * H - MS, "7h59m"),
            (8 * H, "8h"),
            (8 * H + 59 * M, "8h"),
            (2 * D - MS, "47h"),
            (2 * D, "2d"),
            (2 * D + H, "2d1h"),
            (8 * D - MS, "7d23h"),
            (8 * D, "8d"),
            (8 * D + 23 * H, "8d"),
            (2 * Y - MS, "729d"),
            (2 * Y, "2y"),
            (2 * Y + 23 * H, "2y"),
            (2 * Y + 23 * H + 59 * M, "2y"),
            (2 * Y + D - MS, "2y"),
            (2 * Y + D, "2y1d"),
            (3 * Y, "3y"),
            (4 * Y, "4y"),
            (5 * Y, "5y"),
            (6 * Y, "6y"),
            (7 * Y, "7y"),
            (8 * Y - MS, "7y364d"),
            (8 * Y, "8y"),
            (8 * Y + 364 * D, "8y"),
            (9 * Y, "9y"),
        ],
    );
}

/// The points users meet most. Below two minutes upstream keeps seconds (`60s`, `90s`),
/// and below three hours minutes (`179m`): there is no `1m`, `1m30s` or `2h59m`.
#[test]
fn human_duration_at_everyday_ages() {
    check(
        human_duration,
        &[
            (0, "0s"),
            (59 * S, "59s"),
            (M, "60s"),
            (M + 30 * S, "90s"),
            (9 * M + 59 * S, "9m59s"),
            (10 * M, "10m"),
            (2 * H + 59 * M, "179m"),
            (3 * H, "3h"),
            (7 * H + 59 * M, "7h59m"),
            (8 * H, "8h"),
            (47 * H, "47h"),
            (2 * D, "2d"),
            (7 * D + 23 * H, "7d23h"),
            (8 * D, "8d"),
            (729 * D, "729d"),
            (2 * Y, "2y"),
            (2 * Y + 3 * D, "2y3d"),
            (-S, "0s"),
            (-S - 999 * MS, "0s"),
            (-3 * S, "<invalid>"),
            (-400 * D, "<invalid>"),
        ],
    );
}

#[test]
fn short_human_duration_matches_upstream_boundaries() {
    check(
        short_human_duration,
        &[
            (-2 * S, "<invalid>"),
            (-2 * S + 1, "0s"),
            (0, "0s"),
            (S - MS, "0s"),
            (S, "1s"),
            (2 * S - MS, "1s"),
            (M - MS, "59s"),
            (M, "1m"),
            (2 * M - MS, "1m"),
            (H - MS, "59m"),
            (H, "1h"),
            (2 * H - MS, "1h"),
            (D - MS, "23h"),
            (D, "1d"),
            (2 * D - MS, "1d"),
            (Y - MS, "364d"),
            (Y, "1y"),
            (2 * Y - MS, "1y"),
            (2 * Y, "2y"),
        ],
    );
}
