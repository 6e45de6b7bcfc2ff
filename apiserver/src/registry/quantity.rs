//! Kubernetes `resource.Quantity`: parsing, exact arithmetic and canonical formatting.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Neg, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The pattern Kubernetes quotes when a quantity is malformed.
const PATTERN: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// Nano-units per unit. Kubernetes keeps at most nine fractional digits and rounds anything
/// finer up, so counting in nanos is exact for every value it can represent.
const NANOS: i128 = 1_000_000_000;

/// Why a string is not a quantity; the messages are Kubernetes' own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("quantities must match the regular expression '{PATTERN}'")]
    Format,
    #[error("unable to parse numeric part of quantity")]
    Numeric,
    #[error("unable to parse quantity's suffix")]
    Suffix,
    #[error("quantity is too large: magnitudes beyond 10^27 are not supported")]
    TooLarge,
}

/// How a quantity prints, chosen by the suffix it was written with (as Kubernetes does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, ... powers of 1024.
    BinarySi,
    /// `n`, `u`, `m`, `k`, `M`, ... powers of 1000.
    DecimalSi,
    /// `e3`, `E-6`: powers of ten written as an exponent.
    DecimalExponent,
}

/// An exact amount of a resource such as CPU or memory.
///
/// Equality and ordering compare amounts only: `1000m == 1` whatever the formats.
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

const BINARY: [(&str, u32); 6] = [
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];
const DECIMAL: [(&str, i32); 10] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

impl Quantity {
    /// The zero quantity.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSi,
    };

    /// Parses Kubernetes quantity syntax: `100m`, `1.5`, `2Gi`, `1e3`, `-1`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let number_len = s
            .bytes()
            .enumerate()
            .take_while(|&(i, b)| {
                b.is_ascii_digit() || b == b'.' || (i == 0 && matches!(b, b'+' | b'-'))
            })
            .count();
        let (number, suffix) = s.split_at(number_len);
        let digits = number.trim_start_matches(['+', '-']);
        if digits.is_empty() || !suffix_shape_ok(suffix) {
            return Err(Error::Format);
        }
        if !digits.bytes().any(|b| b.is_ascii_digit()) {
            return Err(Error::Numeric);
        }
        let negative = number.starts_with('-');
        let (scale, format) = parse_suffix(suffix)?;
        let magnitude = scaled_nanos(digits, scale)?;
        Ok(Quantity {
            nanos: if negative { -magnitude } else { magnitude },
            format,
        })
    }

    /// A quantity of `milli` thousandths, printed in decimal SI form.
    pub fn from_milli(milli: i128) -> Self {
        Quantity {
            nanos: milli * 1_000_000,
            format: Format::DecimalSi,
        }
    }

    /// A whole number of units printed in the given format (e.g. bytes as `BinarySi`).
    pub fn from_units(units: i64, format: Format) -> Self {
        Quantity {
            nanos: i128::from(units) * NANOS,
            format,
        }
    }

    /// The amount in thousandths, rounded away from zero like Kubernetes' `MilliValue`.
    pub fn as_milli(&self) -> i128 {
        div_away_from_zero(self.nanos, 1_000_000)
    }

    /// The amount in whole units, rounded away from zero like Kubernetes' `Value`.
    pub fn as_units(&self) -> i128 {
        div_away_from_zero(self.nanos, NANOS)
    }

    /// The amount in billionths, the finest precision a quantity carries.
    pub fn as_nanos(&self) -> i128 {
        self.nanos
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }
}

/// Whether the suffix has the shape `[eEinumkKMGTP]*[-+]?[0-9]*`.
fn suffix_shape_ok(suffix: &str) -> bool {
    let rest = suffix.trim_start_matches(|c| "eEinumkKMGTP".contains(c));
    let rest = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    rest.bytes().all(|b| b.is_ascii_digit())
}

/// The scale a suffix applies, as a power of 1024 or of 10, and the format it implies.
#[derive(Clone, Copy)]
enum Scale {
    Binary(u32),
    Decimal(i32),
}

fn parse_suffix(suffix: &str) -> Result<(Scale, Format), Error> {
    if let Some(&(_, power)) = BINARY.iter().find(|(s, _)| *s == suffix) {
        return Ok((Scale::Binary(power), Format::BinarySi));
    }
    if let Some(&(_, exp)) = DECIMAL.iter().find(|(s, _)| *s == suffix) {
        return Ok((Scale::Decimal(exp), Format::DecimalSi));
    }
    // A lone `E` is exa (handled above); `e`/`E` followed by more is an exponent.
    if let Some(exp) = suffix.strip_prefix(['e', 'E']) {
        let unsigned = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
            // Exponents past the representable range are clamped; the caller reports
            // overflow for large ones, and tiny ones round up to one nano.
            let exp = exp
                .parse::<i64>()
                .unwrap_or(if exp.starts_with('-') { -1000 } else { 1000 });
            return Ok((
                Scale::Decimal(exp.clamp(-1000, 1000) as i32),
                Format::DecimalExponent,
            ));
        }
    }
    Err(Error::Suffix)
}

/// `digits` (digits and at most one '.') times `scale`, in nanos, rounded away from zero.
fn scaled_nanos(digits: &str, scale: Scale) -> Result<i128, Error> {
    const LIMIT: i128 = 10i128.pow(36);
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if frac_part.contains('.') {
        return Err(Error::Numeric);
    }
    let mut mantissa: i128 = 0;
    for b in int_part.bytes() {
        mantissa = mantissa * 10 + i128::from(b - b'0');
        if mantissa >= LIMIT {
            return Err(Error::TooLarge);
        }
    }
    // Fraction digits beyond what fits only matter for rounding up.
    let mut frac_len: i32 = 0;
    let mut dropped_nonzero = false;
    for b in frac_part.bytes() {
        if mantissa * 10 < LIMIT {
            mantissa = mantissa * 10 + i128::from(b - b'0');
            frac_len += 1;
        } else {
            dropped_nonzero |= b != b'0';
        }
    }
    let (mantissa, exp10) = match scale {
        Scale::Binary(power) => (
            mantissa
                .checked_mul(1024i128.pow(power))
                .ok_or(Error::TooLarge)?,
            9 - frac_len,
        ),
        Scale::Decimal(exp) => (mantissa, 9 - frac_len + exp),
    };
    if exp10 >= 0 {
        if mantissa == 0 {
            return Ok(0);
        }
        let nanos = 10i128
            .checked_pow(exp10 as u32)
            .and_then(|p| mantissa.checked_mul(p))
            .ok_or(Error::TooLarge)?;
        // Keep headroom so sums of a few quantities cannot overflow.
        return if nanos > LIMIT {
            Err(Error::TooLarge)
        } else {
            Ok(nanos)
        };
    }
    let divisor = 10i128.checked_pow(exp10.unsigned_abs());
    let (quotient, exact) = match divisor {
        Some(d) => (mantissa / d, mantissa % d == 0),
        None => (0, mantissa == 0),
    };
    Ok(if exact && !dropped_nonzero {
        quotient
    } else {
        quotient + 1
    })
}

fn div_away_from_zero(value: i128, divisor: i128) -> i128 {
    let q = value / divisor;
    if value % divisor == 0 {
        q
    } else {
        q + value.signum()
    }
}

impl fmt::Display for Quantity {
    /// Kubernetes' canonical form: `1500m`, `2k`, `1536Mi`, `12e6`, `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let units_exact = self.nanos % NANOS == 0;
        let units = self.nanos / NANOS;
        // Small or fractional binary amounts read better in decimal, as upstream prints them.
        if self.format == Format::BinarySi && units_exact && units.abs() >= 1024 {
            let mut power = 0;
            let mut mantissa = units;
            while power < 6 && mantissa % 1024 == 0 {
                mantissa /= 1024;
                power += 1;
            }
            let suffix = if power == 0 { "" } else { BINARY[power - 1].0 };
            return write!(f, "{mantissa}{suffix}");
        }
        // Largest power of 1000 (from nano up to exa) that leaves an integer mantissa.
        let mut exp = -9;
        let mut mantissa = self.nanos;
        while exp < 18 && mantissa % 1000 == 0 {
            mantissa /= 1000;
            exp += 3;
        }
        if self.format == Format::DecimalExponent {
            return if exp == 0 {
                write!(f, "{mantissa}")
            } else {
                write!(f, "{mantissa}e{exp}")
            };
        }
        let suffix = DECIMAL
            .iter()
            .find(|(_, e)| *e == exp)
            .map_or("", |(s, _)| *s);
        write!(f, "{mantissa}{suffix}")
    }
}

impl std::str::FromStr for Quantity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
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

impl Add for Quantity {
    type Output = Quantity;
    /// The sum keeps the left operand's format, unless the left is zero.
    fn add(self, rhs: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos + rhs.nanos,
            format: if self.nanos == 0 {
                rhs.format
            } else {
                self.format
            },
        }
    }
}

impl Sub for Quantity {
    type Output = Quantity;
    fn sub(self, rhs: Quantity) -> Quantity {
        self + (-rhs)
    }
}

impl Neg for Quantity {
    type Output = Quantity;
    fn neg(self) -> Quantity {
        Quantity {
            nanos: -self.nanos,
            format: self.format,
        }
    }
}

impl std::iter::Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::ZERO, Add::add)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts a string or, as Kubernetes does, a bare JSON number.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let text = match &value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "a quantity must be a string or a number, not {other}"
                )));
            }
        };
        Quantity::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_to_exact_milli_values() {
        let cases: &[(&str, i128)] = &[
            ("100m", 100),
            ("1.5", 1500),
            ("1", 1000),
            ("+1", 1000),
            ("-1", -1000),
            ("0", 0),
            ("0.5Ki", 512_000),
            ("2Gi", 2 * 1024 * 1024 * 1024 * 1000),
            ("1e3", 1_000_000),
            ("1E3", 1_000_000),
            ("1e-3", 1),
            ("500M", 500_000_000_000),
            ("1k", 1_000_000),
            ("250u", 1), // 0.25 milli rounds up
            ("1n", 1),   // rounds up, like MilliValue
            ("-1n", -1), // away from zero
            (".5", 500),
            ("5.", 5000),
            ("1E", 1_000_000_000_000_000_000_000),
            ("0.1234567891", 124),
        ];
        for (input, milli) in cases {
            assert_eq!(q(input).as_milli(), *milli, "{input}");
        }
    }

    #[test]
    fn rejects_malformed_with_kubernetes_messages() {
        let cases: &[(&str, Error)] = &[
            ("", Error::Format),
            ("abc", Error::Format),
            ("1 Gi", Error::Format),
            ("Gi", Error::Format),
            ("1Gb", Error::Format),
            (".", Error::Numeric),
            ("1.2.3", Error::Numeric),
            ("1K", Error::Suffix),
            ("1ki", Error::Suffix),
            ("1e", Error::Suffix),
            ("1Mi3", Error::Suffix),
            ("1e40", Error::TooLarge),
        ];
        for (input, err) in cases {
            assert_eq!(Quantity::parse(input).unwrap_err(), *err, "{input}");
        }
        assert_eq!(
            Error::Format.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn prints_canonical_form() {
        let cases = [
            ("1.5", "1500m"),
            ("1000m", "1"),
            ("100m", "100m"),
            ("2000", "2k"),
            ("0.5Ki", "512"),
            ("1.5Gi", "1536Mi"),
            ("1024Mi", "1Gi"),
            ("1536", "1536"),
            ("1e3", "1e3"),
            ("1500e0", "1500"),
            ("12e6", "12e6"),
            ("0Gi", "0"),
            ("-2Gi", "-2Gi"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("1.1Ki", "1126400m"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).to_string(), want, "{input}");
        }
    }

    #[test]
    fn compares_by_amount_across_formats() {
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("1Ki"), q("1024"));
        assert!(q("100m") < q("1"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("-1") < q("0"));
        assert!(q("1e3") == q("1k"));
    }

    #[test]
    fn adds_and_subtracts_exactly() {
        assert_eq!(q("100m") + q("900m"), q("1"));
        assert_eq!((q("1Gi") + q("1Gi")).to_string(), "2Gi");
        assert_eq!((Quantity::ZERO + q("512Mi")).to_string(), "512Mi");
        assert_eq!((q("1") - q("250m")).to_string(), "750m");
        let total: Quantity = ["1", "500m", "250m"].iter().map(|s| q(s)).sum();
        assert_eq!(total.as_milli(), 1750);
        assert_eq!(Quantity::from_milli(2500).to_string(), "2500m");
        assert_eq!(
            Quantity::from_units(3 << 30, Format::BinarySi).to_string(),
            "3Gi"
        );
        assert_eq!(q("1.5Ki").as_units(), 1536);
    }

    #[test]
    fn serde_round_trips_strings_and_accepts_numbers() {
        let from_str: Quantity = serde_json::from_str("\"1.5Gi\"").unwrap();
        assert_eq!(serde_json::to_string(&from_str).unwrap(), "\"1536Mi\"");
        let from_num: Quantity = serde_json::from_str("2").unwrap();
        assert_eq!(from_num.as_milli(), 2000);
        let bad = serde_json::from_str::<Quantity>("\"x\"").unwrap_err();
        assert!(bad.to_string().contains("quantities must match"));
    }
}
