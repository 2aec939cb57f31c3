//! Distributions of durations for run times and latencies, written as short strings:
//! `30s` (fixed), `uniform(10s, 60s)`, `exp(30s)` (exponential with that mean),
//! `normal(30s, 5s)` (clamped at zero) and `never` (for run times: the container never
//! exits). Samples come from the caller's seeded [`SimRng`].

use std::time::Duration;

use corral_core::SimRng;

use crate::time::parse_duration;

#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    Fixed(Duration),
    Uniform(Duration, Duration),
    Exponential(Duration),
    Normal { mean: Duration, stddev: Duration },
    Never,
}

impl Dist {
    pub fn parse(text: &str) -> Result<Dist, String> {
        let t = text.trim();
        if t == "never" {
            return Ok(Dist::Never);
        }
        let call = |name: &str| -> Option<Vec<&str>> {
            let inner = t
                .strip_prefix(name)?
                .trim()
                .strip_prefix('(')?
                .strip_suffix(')')?;
            Some(inner.split(',').map(str::trim).collect())
        };
        let args = |parts: Vec<&str>, n: usize| -> Result<Vec<Duration>, String> {
            if parts.len() != n {
                return Err(format!("{t:?} needs {n} argument(s)"));
            }
            parts.iter().map(|p| parse_duration(p)).collect()
        };
        if let Some(parts) = call("uniform") {
            let d = args(parts, 2)?;
            if d[0] > d[1] {
                return Err(format!("{t:?}: the minimum is above the maximum"));
            }
            return Ok(Dist::Uniform(d[0], d[1]));
        }
        if let Some(parts) = call("exp") {
            return Ok(Dist::Exponential(args(parts, 1)?[0]));
        }
        if let Some(parts) = call("normal") {
            let d = args(parts, 2)?;
            return Ok(Dist::Normal {
                mean: d[0],
                stddev: d[1],
            });
        }
        parse_duration(t).map(Dist::Fixed).map_err(|_| {
            format!(
                "invalid distribution {t:?}: expected 30s, uniform(10s, 60s), exp(30s), normal(30s, 5s) or never"
            )
        })
    }

    /// A sample; `None` for [`Dist::Never`].
    pub fn sample(&self, rng: &mut SimRng) -> Option<Duration> {
        let secs = match self {
            Dist::Never => return None,
            Dist::Fixed(d) => return Some(*d),
            Dist::Uniform(a, b) => {
                a.as_secs_f64() + rng.unit_f64() * (b.as_secs_f64() - a.as_secs_f64())
            }
            Dist::Exponential(mean) => -mean.as_secs_f64() * (1.0 - rng.unit_f64()).ln(),
            Dist::Normal { mean, stddev } => {
                // Box-Muller.
                let (u1, u2) = (1.0 - rng.unit_f64(), rng.unit_f64());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                mean.as_secs_f64() + z * stddev.as_secs_f64()
            }
        };
        Some(Duration::from_secs_f64(secs.clamp(0.0, 1e9)))
    }

    /// Whether every sample is zero (a call with this latency completes inline).
    pub fn is_zero(&self) -> bool {
        matches!(self, Dist::Fixed(d) if d.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_parse_and_sample_within_bounds() {
        let mut rng = SimRng::seed_from_u64(1);
        assert_eq!(
            Dist::parse("30s").unwrap(),
            Dist::Fixed(Duration::from_secs(30))
        );
        assert_eq!(Dist::parse("never").unwrap().sample(&mut rng), None);
        let uniform = Dist::parse("uniform(10s, 20s)").unwrap();
        for _ in 0..100 {
            let s = uniform.sample(&mut rng).unwrap().as_secs_f64();
            assert!((10.0..=20.0).contains(&s));
        }
        assert!(Dist::parse("exp(1m)").is_ok());
        assert!(Dist::parse("normal(1m, 10s)").is_ok());
        for bad in ["uniform(1s)", "uniform(20s, 10s)", "often", "exp()"] {
            assert!(Dist::parse(bad).is_err(), "{bad}");
        }
    }
}
