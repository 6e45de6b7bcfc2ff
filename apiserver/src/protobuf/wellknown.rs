//! Hand-mapped apimachinery types whose JSON form is a scalar or raw JSON, not an object of their protobuf fields.

use std::fmt::Write as _;

use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1::{Duration, FieldsV1, MicroTime, Time};
use k8s_pb::apimachinery::pkg::runtime::RawExtension;
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::Error;
use super::json::ToJson;

/// `metav1.Time` marshals a zero time as an empty message and JSON writes it as `null`;
/// otherwise RFC 3339 in UTC truncated to whole seconds, as Go's `time.RFC3339` layout does.
impl ToJson for Time {
    fn to_json(self) -> Result<Value, Error> {
        timestamp(self.seconds, self.nanos, false)
    }
}

/// `metav1.MicroTime` is like `Time` but keeps six fractional digits.
impl ToJson for MicroTime {
    fn to_json(self) -> Result<Value, Error> {
        timestamp(self.seconds, self.nanos, true)
    }
}

fn timestamp(seconds: Option<i64>, nanos: Option<i32>, micros: bool) -> Result<Value, Error> {
    if seconds.is_none() && nanos.is_none() {
        return Ok(Value::Null);
    }
    let (seconds, nanos) = (seconds.unwrap_or(0), nanos.unwrap_or(0));
    let time = jiff::Timestamp::new(seconds, nanos).map_err(|e| {
        Error::Malformed(format!(
            "timestamp {seconds}s {nanos}ns is out of range: {e}"
        ))
    })?;
    let mut text = time.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if micros {
        let _ = write!(text, ".{:06}", time.subsec_microsecond());
    }
    text.push('Z');
    Ok(Value::String(text))
}

/// `metav1.Duration` is carried as nanoseconds and written in JSON as Go's `Duration.String()`.
impl ToJson for Duration {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::String(go_duration(self.duration.unwrap_or(0))))
    }
}

/// Formats nanoseconds the way Go's `time.Duration.String` does (`1h2m3.5s`, `1.5ms`, `0s`).
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, scale, digits) = match n {
            0..1_000 => ("ns", 1, 0),
            1_000..1_000_000 => ("µs", 1_000, 3),
            _ => ("ms", 1_000_000, 6),
        };
        push_decimal(&mut out, n / scale, n % scale, digits);
        out.push_str(unit);
        return out;
    }
    let seconds = n / 1_000_000_000;
    let (hours, minutes) = (seconds / 3600, seconds / 60 % 60);
    if hours > 0 {
        let _ = write!(out, "{hours}h{minutes}m");
    } else if minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    push_decimal(&mut out, seconds % 60, n % 1_000_000_000, 9);
    out.push('s');
    out
}

/// Writes `whole.fraction` with `digits` fractional digits, trailing zeros removed.
fn push_decimal(out: &mut String, whole: u64, fraction: u64, digits: usize) {
    let _ = write!(out, "{whole}");
    if fraction > 0 {
        let text = format!("{fraction:0digits$}");
        let _ = write!(out, ".{}", text.trim_end_matches('0'));
    }
}

/// A quantity travels as its canonical string; Go never writes it empty, `0` is its zero value.
impl ToJson for Quantity {
    fn to_json(self) -> Result<Value, Error> {
        Ok(Value::String(self.string.unwrap_or_else(|| "0".to_owned())))
    }
}

/// `intstr.IntOrString` is a number when `type` is 0 (Int) and a string when it is 1 (String).
impl ToJson for IntOrString {
    fn to_json(self) -> Result<Value, Error> {
        match self.r#type.unwrap_or(0) {
            0 => Ok(Value::from(self.int_val.unwrap_or(0))),
            1 => Ok(Value::String(self.str_val.unwrap_or_default())),
            other => Err(Error::Malformed(format!(
                "IntOrString has unknown type {other}"
            ))),
        }
    }
}

/// `managedFields[].fieldsV1` holds the field set as raw JSON.
impl ToJson for FieldsV1 {
    fn to_json(self) -> Result<Value, Error> {
        embedded(&self.raw.unwrap_or_default(), "FieldsV1")
    }
}

/// A `RawExtension` holds an object exactly as the client serialized it: JSON, or a nested
/// protobuf envelope when the client wrote the whole request as protobuf.
impl ToJson for RawExtension {
    fn to_json(self) -> Result<Value, Error> {
        let raw = self.raw.unwrap_or_default();
        if raw.starts_with(&super::MAGIC) {
            return super::decode(&raw);
        }
        embedded(&raw, "RawExtension")
    }
}

fn embedded(raw: &[u8], what: &str) -> Result<Value, Error> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw)
        .map_err(|e| Error::Malformed(format!("{what} does not hold JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times() {
        let time = |seconds, nanos| Time { seconds, nanos }.to_json().unwrap();
        assert_eq!(time(None, None), Value::Null);
        assert_eq!(
            time(Some(1_704_164_645), Some(999_999_999)),
            json!("2024-01-02T03:04:05Z")
        );
        assert_eq!(time(Some(0), None), json!("1970-01-01T00:00:00Z"));
        let micro = MicroTime {
            seconds: Some(1_704_164_645),
            nanos: Some(123_456_789),
        };
        assert_eq!(
            micro.to_json().unwrap(),
            json!("2024-01-02T03:04:05.123456Z")
        );
        let overflow = Time {
            seconds: Some(i64::MAX),
            nanos: None,
        }
        .to_json();
        assert!(matches!(overflow, Err(Error::Malformed(_))));
    }

    #[test]
    fn go_durations() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_001, "1h2m3.000000001s"),
            (-30_000_000_000, "-30s"),
        ];
        for (nanos, want) in cases {
            assert_eq!(go_duration(nanos), want, "{nanos}ns");
        }
    }

    #[test]
    fn scalars_and_embedded_json() {
        let q = Quantity {
            string: Some("500m".to_owned()),
        };
        assert_eq!(q.to_json().unwrap(), json!("500m"));
        let int = IntOrString {
            r#type: Some(0),
            int_val: Some(8080),
            str_val: None,
        };
        assert_eq!(int.to_json().unwrap(), json!(8080));
        let named = IntOrString {
            r#type: Some(1),
            int_val: None,
            str_val: Some("http".to_owned()),
        };
        assert_eq!(named.to_json().unwrap(), json!("http"));
        let raw = RawExtension {
            raw: Some(br#"{"a":1}"#.to_vec()),
        };
        assert_eq!(raw.to_json().unwrap(), json!({"a": 1}));
        let fields = FieldsV1 {
            raw: Some(br#"{"f:metadata":{}}"#.to_vec()),
        };
        assert_eq!(fields.to_json().unwrap(), json!({"f:metadata": {}}));
        let bad = RawExtension {
            raw: Some(b"\x01\x02".to_vec()),
        };
        assert!(matches!(bad.to_json(), Err(Error::Malformed(_))));
    }
}
