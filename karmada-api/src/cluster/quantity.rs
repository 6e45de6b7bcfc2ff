//! Numeric value of a Kubernetes resource quantity (`500m`, `4Gi`, `1e3`), so resource-model
//! bounds can be compared.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Largest value a quantity's `Value()` can have in Kubernetes; the open upper bound of the
/// last resource-model grade.
pub const MAX_INT64: i64 = i64::MAX;

const NANO: i128 = 1_000_000_000;

/// The value of `q` in billionths of a unit, or `None` when `q` is not a valid quantity.
///
/// Billionths are the finest unit a quantity can express (`n`), so comparisons are exact.
pub fn nanos(q: &Quantity) -> Option<i128> {
    let s = q.0.trim();
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let number_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(number_end);
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    // Digits beyond nanos cannot be represented; Kubernetes rounds them up, we truncate,
    // which never matters for model bounds.
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let base = whole
        .checked_mul(NANO)?
        .checked_add(frac.parse::<i128>().ok()?)?;
    let scaled = match suffix {
        "" => base,
        "n" => base / NANO,
        "u" => base / 1_000_000,
        "m" => base / 1_000,
        "k" => base.checked_mul(1_000)?,
        "M" => base.checked_mul(1_000_000)?,
        "G" => base.checked_mul(NANO)?,
        "T" => base.checked_mul(1_000_000_000_000)?,
        "P" => base.checked_mul(1_000_000_000_000_000)?,
        "E" => base.checked_mul(1_000_000_000_000_000_000)?,
        "Ki" => base.checked_mul(1 << 10)?,
        "Mi" => base.checked_mul(1 << 20)?,
        "Gi" => base.checked_mul(1 << 30)?,
        "Ti" => base.checked_mul(1 << 40)?,
        "Pi" => base.checked_mul(1 << 50)?,
        "Ei" => base.checked_mul(1 << 60)?,
        exp if exp.starts_with(['e', 'E']) => {
            let exp: i32 = exp[1..].parse().ok()?;
            if exp >= 0 {
                base.checked_mul(10i128.checked_pow(exp.try_into().ok()?)?)?
            } else {
                base / 10i128.checked_pow((-exp).try_into().ok()?)?
            }
        }
        _ => return None,
    };
    Some(sign * scaled)
}

/// The quantity holding the whole number `n`.
pub fn from_int(n: i64) -> Quantity {
    Quantity(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_suffix_form() {
        for (s, want) in [
            ("0", Some(0)),
            ("1", Some(NANO)),
            ("1500m", Some(1_500_000_000)),
            ("0.5", Some(500_000_000)),
            (".5", Some(500_000_000)),
            ("100n", Some(100)),
            ("2k", Some(2_000 * NANO)),
            ("4Gi", Some(4 * (1 << 30) * NANO)),
            ("1Ti", Some((1 << 40) * NANO)),
            ("1e3", Some(1_000 * NANO)),
            ("1E3", Some(1_000 * NANO)),
            ("-2", Some(-2 * NANO)),
            ("9223372036854775807", Some(i64::MAX as i128 * NANO)),
            ("", None),
            ("abc", None),
            ("1Xi", None),
            ("1.2.3", None),
        ] {
            assert_eq!(nanos(&Quantity(s.to_string())), want, "{s:?}");
        }
    }

    #[test]
    fn equal_values_in_different_forms_compare_equal() {
        assert_eq!(
            nanos(&Quantity("1Gi".into())),
            nanos(&Quantity("1024Mi".into()))
        );
        assert_eq!(
            nanos(&Quantity("1".into())),
            nanos(&Quantity("1000m".into()))
        );
        assert_eq!(from_int(7).0, "7");
    }
}
