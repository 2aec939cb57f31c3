//! Resource quantities (`500m`, `1Gi`, `2e3`) with exact arithmetic and upstream's canonical
//! formatting (`k8s.io/apimachinery/pkg/api/resource/quantity.go`).
//!
//! Values are kept as an integer count of nano-units: upstream rounds anything finer up to
//! 1n, and i128 nano-units cover ±1.7e20 units, well past `Ei`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

const NANO: i128 = 1_000_000_000;

/// How a quantity was written; canonical output keeps the family (upstream's `Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// `Ki`, `Mi`, … (powers of 1024).
    BinarySI,
    /// `m`, `k`, `M`, … (powers of 1000), and plain numbers.
    DecimalSI,
    /// `1e3`, `5E-3`.
    DecimalExponent,
}

/// A parsed quantity.
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    nanos: i128,
    pub format: QuantityFormat,
}

/// A string that is not a quantity. The message is upstream's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    Format,
    #[error("quantity is too large")]
    Overflow,
}

impl Quantity {
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: QuantityFormat::DecimalSI,
    };

    pub fn from_milli(milli: i64) -> Quantity {
        Quantity {
            nanos: i128::from(milli) * 1_000_000,
            format: QuantityFormat::DecimalSI,
        }
    }

    pub fn from_units(units: i64, format: QuantityFormat) -> Quantity {
        Quantity {
            nanos: i128::from(units) * NANO,
            format,
        }
    }

    pub fn from_nanos(nanos: i128, format: QuantityFormat) -> Quantity {
        Quantity { nanos, format }
    }

    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// `MilliValue()`: rounded up to a whole milli-unit, saturating.
    pub fn milli_value(&self) -> i64 {
        saturate(div_ceil(self.nanos, 1_000_000))
    }

    /// `Value()`: rounded up to a whole unit, saturating.
    pub fn value(&self) -> i64 {
        saturate(div_ceil(self.nanos, NANO))
    }

    pub fn add(&mut self, other: &Quantity) {
        self.nanos = self.nanos.saturating_add(other.nanos);
    }

    pub fn sub(&mut self, other: &Quantity) {
        self.nanos = self.nanos.saturating_sub(other.nanos);
    }

    pub fn checked_add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: self.format,
        }
    }

    /// Parses the wire form.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let text = text.trim();
        let (number, suffix) = split_number(text).ok_or(QuantityError::Format)?;
        let (format, base10_exponent, binary_multiplier) = parse_suffix(suffix)?;
        let nanos = number_to_nanos(number, base10_exponent, binary_multiplier)?;
        Ok(Quantity { nanos, format })
    }

    /// Parses a wire quantity from k8s-openapi.
    pub fn from_wire(q: &WireQuantity) -> Result<Quantity, QuantityError> {
        Quantity::parse(&q.0)
    }

    pub fn to_wire(&self) -> WireQuantity {
        WireQuantity(self.to_string())
    }
}

fn saturate(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && a > 0 { q + 1 } else { q }
}

fn split_number(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let mut end = 0;
    if end < bytes.len() && matches!(bytes[end], b'+' | b'-') {
        end += 1;
    }
    let digits_start = end;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
        end += 1;
    }
    let number = &text[..end];
    let body = &text[digits_start..end];
    if body.is_empty() || body == "." || body.matches('.').count() > 1 {
        return None;
    }
    Some((number, &text[end..]))
}

/// Returns (format, power of ten, multiplier for binary suffixes).
fn parse_suffix(suffix: &str) -> Result<(QuantityFormat, i32, i128), QuantityError> {
    let decimal = |e: i32| Ok((QuantityFormat::DecimalSI, e, 1));
    let binary = |p: u32| Ok((QuantityFormat::BinarySI, 0, 1024i128.pow(p)));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        s if s.starts_with(['e', 'E']) => {
            let exponent: i32 = s[1..].parse().map_err(|_| QuantityError::Format)?;
            if !(-100..=100).contains(&exponent) {
                return Err(QuantityError::Overflow);
            }
            Ok((QuantityFormat::DecimalExponent, exponent, 1))
        }
        _ => Err(QuantityError::Format),
    }
}

fn number_to_nanos(number: &str, exponent: i32, multiplier: i128) -> Result<i128, QuantityError> {
    let negative = number.starts_with('-');
    let digits = number.trim_start_matches(['+', '-']);
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    // mantissa × 10^(exponent − len(frac)) × multiplier × 10^9, rounded up (away from zero
    // for the magnitude) to a whole nano-unit like upstream.
    let mut mantissa: i128 = 0;
    for b in int_part.bytes().chain(frac_part.bytes()) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(b - b'0')))
            .ok_or(QuantityError::Overflow)?;
    }
    let scale = exponent + 9 - frac_part.len() as i32;
    let mut magnitude = mantissa
        .checked_mul(multiplier)
        .ok_or(QuantityError::Overflow)?;
    if scale >= 0 {
        let factor = 10i128
            .checked_pow(scale as u32)
            .ok_or(QuantityError::Overflow)?;
        magnitude = magnitude
            .checked_mul(factor)
            .ok_or(QuantityError::Overflow)?;
    } else {
        let divisor = 10i128.checked_pow((-scale) as u32);
        magnitude = match divisor {
            Some(d) => div_ceil(magnitude, d),
            // Far below a nano-unit: a non-zero value rounds up to 1n.
            None => i128::from(magnitude > 0),
        };
    }
    Ok(if negative { -magnitude } else { magnitude })
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl fmt::Display for Quantity {
    /// Upstream's `CanonicalizeBytes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        if self.format == QuantityFormat::BinarySI
            && self.nanos.abs() >= 1024 * NANO
            && self.nanos % NANO == 0
        {
            let mut value = self.nanos / NANO;
            let mut power = 0;
            while value % 1024 == 0 && power < 6 {
                value /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return write!(f, "{value}{suffix}");
        }
        let (amount, exponent) = canonical_decimal(self.nanos);
        let suffix = match (self.format, exponent) {
            (QuantityFormat::DecimalExponent, 0) => String::new(),
            (QuantityFormat::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".into(),
            (_, -6) => "u".into(),
            (_, -3) => "m".into(),
            (_, 0) => String::new(),
            (_, 3) => "k".into(),
            (_, 6) => "M".into(),
            (_, 9) => "G".into(),
            (_, 12) => "T".into(),
            (_, 15) => "P".into(),
            (_, 18) => "E".into(),
            (_, e) => format!("e{e}"),
        };
        write!(f, "{amount}{suffix}")
    }
}

/// Mantissa and a power-of-ten exponent that is a multiple of three, with trailing zeros
/// moved into the exponent (upstream's `AsCanonicalBytes`).
fn canonical_decimal(nanos: i128) -> (i128, i32) {
    let mut amount = nanos;
    let mut exponent: i32 = -9;
    while amount % 10 == 0 {
        amount /= 10;
        exponent += 1;
    }
    match exponent.rem_euclid(3) {
        1 => {
            amount *= 10;
            exponent -= 1;
        }
        2 => {
            amount *= 100;
            exponent -= 2;
        }
        _ => {}
    }
    (amount, exponent)
}

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).unwrap().to_string()
    }

    #[test]
    fn canonical_forms_match_upstream() {
        for (input, expected) in [
            ("0.5", "500m"),
            ("1", "1"),
            ("1000", "1k"),
            ("1500m", "1500m"),
            ("1.5", "1500m"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("512", "512"),
            ("1e3", "1e3"),
            ("0.1Gi", "107374182400m"),
            ("100Mi", "100Mi"),
            ("-1", "-1"),
            ("0", "0"),
            ("0m", "0"),
            ("1n", "1n"),
            ("0.0000000001", "1n"),
            ("12e6", "12e6"),
            ("5M", "5M"),
        ] {
            assert_eq!(canon(input), expected, "{input}");
        }
    }

    #[test]
    fn arithmetic_and_comparison_are_exact() {
        let mut a = Quantity::parse("250m").unwrap();
        a.add(&Quantity::parse("0.75").unwrap());
        assert_eq!(a, Quantity::parse("1").unwrap());
        assert_eq!(a.milli_value(), 1000);
        assert!(Quantity::parse("1Ki").unwrap() > Quantity::parse("1k").unwrap());
        assert_eq!(Quantity::parse("1.5").unwrap().value(), 2);
    }

    #[test]
    fn malformed_quantities_are_errors() {
        for bad in ["", "abc", "1.2.3", "1Qi", "--1", ".", "1e", "1e1000"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?}");
        }
    }
}
