//! Ages as `kubectl` prints them: apimachinery's `duration.HumanDuration`, and "time since".

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// A duration with two or three significant figures: `45s`, `3m2s`, `10m`, `5h30m`, `2d3h`,
/// `400d`, `3y20d`. Up to two seconds into the future still reads `0s` (clock skew between
/// machines); further is `<invalid>`.
pub fn human_duration(d: SignedDuration) -> String {
    // Truncating division matches Go's `int(d.Seconds())` and `d / time.Minute`.
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        };
    }
    format!("{years}y")
}

/// Parses a Kubernetes timestamp (`metav1.Time` or `MicroTime`, RFC 3339).
pub fn parse(timestamp: &str) -> Option<Timestamp> {
    timestamp.parse().ok()
}

/// How long ago `timestamp` was: `<unknown>` when absent (a zero time upstream), `<invalid>`
/// when it does not parse.
pub fn since(timestamp: Option<&str>, now: Timestamp) -> String {
    match timestamp.filter(|t| !t.is_empty()) {
        None => "<unknown>".into(),
        Some(text) => match parse(text) {
            Some(then) => human_duration(now.duration_since(then)),
            None => "<invalid>".into(),
        },
    }
}

/// The AGE cell of an object: time since `metadata.creationTimestamp`.
pub fn created(object: &Value, now: Timestamp) -> Value {
    let created = object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str);
    since(created, now).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_apimachinery() {
        let s = SignedDuration::from_secs;
        let cases = [
            (s(-3), "<invalid>"),
            (s(-2), "<invalid>"),
            (SignedDuration::from_millis(-1999), "0s"),
            (s(-1), "0s"),
            (s(0), "0s"),
            (SignedDuration::from_millis(1999), "1s"),
            (s(5), "5s"),
            (s(119), "119s"),
            (s(120), "2m"),
            (s(3 * 60 + 2), "3m2s"),
            (s(9 * 60 + 59), "9m59s"),
            (s(10 * 60), "10m"),
            (s(10 * 60 + 59), "10m"),
            (s(179 * 60 + 59), "179m"),
            (s(3 * 3600), "3h"),
            (s(5 * 3600 + 30 * 60 + 10), "5h30m"),
            (s(7 * 3600 + 59 * 60), "7h59m"),
            (s(8 * 3600), "8h"),
            (s(47 * 3600 + 59 * 60), "47h"),
            (s(48 * 3600), "2d"),
            (s(51 * 3600), "2d3h"),
            (s(191 * 3600), "7d23h"),
            (s(192 * 3600), "8d"),
            (s((365 * 2 - 1) * 86400), "729d"),
            (s(365 * 2 * 86400), "2y"),
            (s((365 * 3 + 20) * 86400), "3y20d"),
            (s((365 * 8 - 1) * 86400), "7y364d"),
            (s(365 * 8 * 86400), "8y"),
            (s(365 * 10 * 86400 + 86400 * 100), "10y"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn since_reports_unknown_and_invalid_timestamps() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(since(Some("2024-05-01T11:55:00Z"), now), "5m");
        assert_eq!(since(Some("2024-05-01T11:59:59.500000Z"), now), "0s");
        assert_eq!(since(None, now), "<unknown>");
        assert_eq!(since(Some(""), now), "<unknown>");
        assert_eq!(since(Some("yesterday"), now), "<invalid>");
    }
}
