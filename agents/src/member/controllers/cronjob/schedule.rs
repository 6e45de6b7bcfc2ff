//! Standard five-field cron schedules as Kubernetes reads them (ranges, steps, lists, month and
//! day names, `@hourly`-style macros) and the next time one fires in a time zone.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Why a schedule could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unparseable schedule {schedule:?}: {reason}")]
pub struct Error {
    pub schedule: String,
    pub reason: String,
}

/// A parsed schedule: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Day-of-month or day-of-week was `*`: then both must match, else either may.
    any_day: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTE: Field = Field {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Field = Field {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DAY: Field = Field {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
// 7 is accepted as Sunday, as in Vixie cron.
const WEEKDAY: Field = Field {
    name: "day of week",
    min: 0,
    max: 7,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

/// Searches give up after this many steps (a schedule such as `0 0 30 2 *` never fires).
const SEARCH_LIMIT: usize = 100_000;

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, Error> {
        let fail = |reason: String| Error {
            schedule: text.to_owned(),
            reason,
        };
        let expanded = match text.trim().to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *".to_owned(),
            "@monthly" => "0 0 1 * *".to_owned(),
            "@weekly" => "0 0 * * 0".to_owned(),
            "@daily" | "@midnight" => "0 0 * * *".to_owned(),
            "@hourly" => "0 * * * *".to_owned(),
            other if other.starts_with('@') => {
                return Err(fail(format!("unknown descriptor {other}")));
            }
            other => other.to_owned(),
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(fail(format!(
                "expected exactly 5 fields, found {}",
                fields.len()
            )));
        };
        let (days, day_star) = bits(day, &DAY).map_err(&fail)?;
        let (weekdays, weekday_star) = bits(weekday, &WEEKDAY).map_err(&fail)?;
        // Sunday may be written 0 or 7.
        let weekdays = (weekdays | (weekdays >> 7)) & 0x7f;
        Ok(Schedule {
            minutes: bits(minute, &MINUTE).map_err(&fail)?.0,
            hours: bits(hour, &HOUR).map_err(&fail)?.0,
            days,
            months: bits(month, &MONTH).map_err(&fail)?.0,
            weekdays,
            any_day: day_star || weekday_star,
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        if self.any_day {
            day && weekday
        } else {
            day || weekday
        }
    }

    /// The first time strictly after `after` the schedule fires, reading it as wall-clock time
    /// in `tz`. A wall time skipped by a DST change fires at the same offset after the gap; a
    /// repeated hour fires once, at its first occurrence.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = tz.to_datetime(after);
        let minute = local.date().at(local.hour(), local.minute(), 0, 0);
        let mut t = minute.checked_add(1.minute()).ok()?;
        for _ in 0..SEARCH_LIMIT {
            t = if self.months & (1 << t.month()) == 0 {
                t.first_of_month()
                    .checked_add(1.month())
                    .ok()?
                    .date()
                    .at(0, 0, 0, 0)
            } else if !self.day_matches(t.date()) {
                t.date().tomorrow().ok()?.at(0, 0, 0, 0)
            } else if self.hours & (1 << t.hour()) == 0 {
                next_hour(t)?
            } else if self.minutes & (1 << t.minute()) == 0 {
                t.checked_add(1.minute()).ok()?
            } else {
                let at = tz.to_zoned(t).ok()?.timestamp();
                if at > after {
                    return Some(at);
                }
                t.checked_add(1.minute()).ok()?
            };
        }
        None
    }
}

fn next_hour(t: DateTime) -> Option<DateTime> {
    let top = t.date().at(t.hour(), 0, 0, 0);
    top.checked_add(1.hour()).ok()
}

/// The bits of one field, and whether it was a bare `*` (or `?`).
fn bits(text: &str, field: &Field) -> Result<(u64, bool), String> {
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("invalid step {step:?} in the {} field", field.name)
                    })?;
                (range, Some(step))
            }
            None => (part, None),
        };
        let (first, last) = if range == "*" || range == "?" {
            (field.min, field.max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, field)?, value(b, field)?)
        } else {
            let v = value(range, field)?;
            // `N/step` runs from N to the field's maximum.
            (v, if step.is_some() { field.max } else { v })
        };
        if first > last {
            return Err(format!(
                "range {range:?} of the {} field runs backwards",
                field.name
            ));
        }
        let step = step.unwrap_or(1);
        set |= (first..=last)
            .step_by(step as usize)
            .fold(0u64, |acc, v| acc | (1 << v));
    }
    Ok((set, text == "*" || text == "?"))
}

fn value(text: &str, field: &Field) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    let named = field
        .names
        .iter()
        .position(|n| *n == lower)
        .map(|i| u32::try_from(i).unwrap_or(0) + field.min);
    let v = named
        .or_else(|| text.parse().ok())
        .ok_or_else(|| format!("{text:?} is not a valid {}", field.name))?;
    if v < field.min || v > field.max {
        return Err(format!(
            "{v} is out of range for the {} field ({}-{})",
            field.name, field.min, field.max
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, tz: &TimeZone) -> Timestamp {
        let dt: DateTime = text.parse().expect("datetime");
        tz.to_zoned(dt).expect("zoned").timestamp()
    }

    fn next(schedule: &str, after: &str, zone: &str) -> String {
        let tz = TimeZone::get(zone).expect("zone");
        let s = Schedule::parse(schedule).expect("schedule");
        let t = s.next_after(at(after, &tz), &tz).expect("a next time");
        tz.to_datetime(t).to_string()
    }

    #[test]
    fn next_times() {
        // (schedule, after, expected next), wall-clock times in UTC.
        let cases = [
            ("* * * * *", "2026-03-01T10:00:30", "2026-03-01T10:01:00"),
            ("* * * * *", "2026-03-01T10:00:00", "2026-03-01T10:01:00"),
            ("*/15 * * * *", "2026-03-01T10:16:00", "2026-03-01T10:30:00"),
            ("5/20 * * * *", "2026-03-01T10:26:00", "2026-03-01T10:45:00"),
            (
                "0 9-17/4 * * *",
                "2026-03-01T13:00:00",
                "2026-03-01T17:00:00",
            ),
            (
                "30 2 1,15 * *",
                "2026-03-02T00:00:00",
                "2026-03-15T02:30:00",
            ),
            (
                "0 0 * jan,jul *",
                "2026-03-01T00:00:00",
                "2026-07-01T00:00:00",
            ),
            (
                "0 8 * * MON-fri",
                "2026-03-07T09:00:00",
                "2026-03-09T08:00:00",
            ),
            ("0 8 * * 7", "2026-03-02T00:00:00", "2026-03-08T08:00:00"),
            // Day of month and day of week both set: either matches.
            ("0 0 13 * 5", "2026-03-01T00:00:00", "2026-03-06T00:00:00"),
            ("0 0 29 2 *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
            ("@hourly", "2026-03-01T10:00:00", "2026-03-01T11:00:00"),
            ("@daily", "2026-03-01T10:00:00", "2026-03-02T00:00:00"),
            ("@weekly", "2026-03-02T10:00:00", "2026-03-08T00:00:00"),
            ("@monthly", "2026-03-02T10:00:00", "2026-04-01T00:00:00"),
            ("@yearly", "2026-03-02T10:00:00", "2027-01-01T00:00:00"),
            (
                "59 23 31 12 *",
                "2026-03-02T10:00:00",
                "2026-12-31T23:59:00",
            ),
        ];
        for (schedule, after, want) in cases {
            assert_eq!(
                next(schedule, after, "UTC"),
                want,
                "{schedule} after {after}"
            );
        }
    }

    #[test]
    fn daylight_saving_changes_in_a_time_zone() {
        let ny = "America/New_York";
        // 2026-03-08 02:00 does not exist in New York: the 02:30 run happens at 03:30.
        assert_eq!(
            next("30 2 * * *", "2026-03-08T01:00:00", ny),
            "2026-03-08T03:30:00"
        );
        // 2026-11-01 01:00-02:00 happens twice: an hourly job runs once in it.
        let tz = TimeZone::get(ny).expect("zone");
        let s = Schedule::parse("0 * * * *").expect("schedule");
        let mut t = at("2026-11-01T00:30:00", &tz);
        let mut seen = Vec::new();
        for _ in 0..3 {
            t = s.next_after(t, &tz).expect("next");
            seen.push(t.as_second());
        }
        // 01:00 EDT (05:00Z), then 02:00 EST (07:00Z): two hours apart in real time.
        assert_eq!(seen[1] - seen[0], 7200);
        assert_eq!(seen[2] - seen[1], 3600);
        // A job in another zone fires at its own wall-clock time.
        assert_eq!(
            next("0 9 * * *", "2026-06-01T10:00:00", "Asia/Tokyo"),
            "2026-06-02T09:00:00"
        );
    }

    #[test]
    fn invalid_schedules_say_why() {
        let cases = [
            ("* * * *", "expected exactly 5 fields, found 4"),
            (
                "60 * * * *",
                "60 is out of range for the minute field (0-59)",
            ),
            ("* * * foo *", "\"foo\" is not a valid month"),
            ("*/0 * * * *", "invalid step \"0\" in the minute field"),
            (
                "5-1 * * * *",
                "range \"5-1\" of the minute field runs backwards",
            ),
            ("@every 5m", "unknown descriptor @every 5m"),
        ];
        for (schedule, reason) in cases {
            let e = Schedule::parse(schedule).expect_err(schedule);
            assert_eq!(e.reason, reason, "{schedule}");
        }
        assert!(
            Schedule::parse("0 0 30 2 *")
                .expect("parses")
                .next_after(Timestamp::UNIX_EPOCH, &TimeZone::UTC)
                .is_none()
        );
    }
}
