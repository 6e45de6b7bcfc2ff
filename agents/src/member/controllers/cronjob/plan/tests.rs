//! Table tests of the CronJob decisions, on an injected clock.

use super::*;
use serde_json::{Value, json};

fn t(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn cron_job(spec: Value, last_schedule: Option<&str>) -> CronJob {
    let mut spec_value =
        json!({"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {}}}});
    if let (Some(base), Value::Object(more)) = (spec_value.as_object_mut(), spec) {
        base.extend(more);
    }
    serde_json::from_value(json!({
        "metadata": {"name": "tick", "namespace": "default", "creationTimestamp": "2026-03-01T10:00:00Z"},
        "spec": spec_value,
        "status": {"lastScheduleTime": last_schedule},
    }))
    .expect("cronjob")
}

fn run(cj: &CronJob, active: usize, existing: &[&str], now: &str) -> Decision {
    let schedule =
        Schedule::parse(&cj.spec.clone().unwrap_or_default().schedule).expect("schedule");
    let existing: BTreeSet<String> = existing.iter().map(|s| (*s).to_owned()).collect();
    decide(cj, &schedule, &TimeZone::UTC, active, &existing, t(now))
}

/// One scheduling situation and what the controller must make of it.
struct Case {
    why: &'static str,
    spec: Value,
    last_schedule: Option<&'static str>,
    active: usize,
    existing: Vec<String>,
    now: &'static str,
    start: Option<&'static str>,
    replace: bool,
    requeue_secs: Option<u64>,
}

impl Case {
    fn new(why: &'static str, spec: Value, now: &'static str) -> Case {
        Case {
            why,
            spec,
            last_schedule: None,
            active: 0,
            existing: Vec::new(),
            now,
            start: None,
            replace: false,
            requeue_secs: None,
        }
    }
    fn last(self, at: &'static str) -> Case {
        Case {
            last_schedule: Some(at),
            ..self
        }
    }
    fn active(self, n: usize) -> Case {
        Case { active: n, ..self }
    }
    fn existing(self, name: String) -> Case {
        Case {
            existing: vec![name],
            ..self
        }
    }
    /// Expects a start for `at` (or none) and the next look `secs` later (or none).
    fn expect(self, start: Option<&'static str>, secs: Option<u64>) -> Case {
        Case {
            start,
            requeue_secs: secs,
            ..self
        }
    }
    fn replacing(self) -> Case {
        Case {
            replace: true,
            ..self
        }
    }
}

#[test]
fn starts_the_most_recent_missed_time_and_waits_exactly_for_the_next() {
    let (t1, t4, t5) = (
        "2026-03-01T10:01:00Z",
        "2026-03-01T10:04:00Z",
        "2026-03-01T10:05:00Z",
    );
    let forbid = || json!({"concurrencyPolicy": "Forbid"});
    let hourly =
        |deadline: i64| json!({"schedule": "0 * * * *", "startingDeadlineSeconds": deadline});
    let cases = [
        Case::new("nothing due yet", json!({}), "2026-03-01T10:00:20Z").expect(None, Some(40)),
        Case::new("first minute", json!({}), "2026-03-01T10:01:05Z").expect(Some(t1), Some(55)),
        Case::new(
            "several missed: only the latest",
            json!({}),
            "2026-03-01T10:05:30Z",
        )
        .last(t1)
        .expect(Some(t5), Some(30)),
        Case::new("already started", json!({}), "2026-03-01T10:05:30Z")
            .last(t1)
            .active(1)
            .existing(job_name("tick", t(t5)))
            .expect(None, Some(30)),
        Case::new("allow runs beside", json!({}), t5)
            .last(t4)
            .active(1)
            .expect(Some(t5), Some(60)),
        Case::new("forbid waits", forbid(), t5)
            .last(t4)
            .active(1)
            .expect(None, Some(60)),
        Case::new("forbid starts when idle", forbid(), t5)
            .last(t4)
            .expect(Some(t5), Some(60)),
        Case::new("replace", json!({"concurrencyPolicy": "Replace"}), t5)
            .last(t4)
            .active(2)
            .expect(Some(t5), Some(60))
            .replacing(),
        Case::new("suspended", json!({"suspend": true}), t5),
        Case::new(
            "past the starting deadline",
            hourly(60),
            "2026-03-01T11:02:00Z",
        )
        .expect(None, Some(58 * 60)),
        Case::new(
            "within the starting deadline",
            hourly(300),
            "2026-03-01T11:02:00Z",
        )
        .expect(Some("2026-03-01T11:00:00Z"), Some(58 * 60)),
    ];
    for c in cases {
        let existing: Vec<&str> = c.existing.iter().map(String::as_str).collect();
        let d = run(
            &cron_job(c.spec, c.last_schedule),
            c.active,
            &existing,
            c.now,
        );
        assert_eq!(d.start, c.start.map(t), "{}", c.why);
        assert_eq!(d.replace_active, c.replace, "{}", c.why);
        assert_eq!(
            d.requeue,
            c.requeue_secs.map(Duration::from_secs),
            "{}",
            c.why
        );
    }
}

#[test]
fn forbid_and_too_many_missed_times_are_reported() {
    let forbid = run(
        &cron_job(
            json!({"concurrencyPolicy": "Forbid"}),
            Some("2026-03-01T10:04:00Z"),
        ),
        1,
        &[],
        "2026-03-01T10:05:00Z",
    );
    assert_eq!(forbid.notes[0].reason, "JobAlreadyActive");
    // A day of missed minutes: still starts the latest, with a warning.
    let d = run(&cron_job(json!({}), None), 0, &[], "2026-03-02T10:00:10Z");
    assert_eq!(d.start, Some(t("2026-03-02T10:00:00Z")));
    assert_eq!(d.notes[0].reason, "TooManyMissedTimes");
}

#[test]
fn job_names_count_minutes_since_the_epoch() {
    assert_eq!(job_name("tick", t("1970-01-01T01:00:00Z")), "tick-60");
    assert_eq!(
        job_name("hello", t("2026-03-01T10:05:00Z")),
        "hello-29539325"
    );
}

fn job(name: &str, start: &str, condition: Option<&str>) -> Job {
    let conditions = condition.map_or(
        json!([]),
        |c| json!([{"type": c, "status": "True", "lastTransitionTime": start}]),
    );
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "status": {"startTime": start, "completionTime": if condition == Some("Complete") { Some(start) } else { None }, "conditions": conditions},
    }))
    .expect("job")
}

#[test]
fn history_keeps_the_newest_finished_jobs() {
    let jobs = [
        job("b", "2026-03-01T10:02:00Z", Some("Complete")),
        job("a", "2026-03-01T10:01:00Z", Some("Complete")),
        job("c", "2026-03-01T10:03:00Z", Some("Complete")),
        job("f", "2026-03-01T10:04:00Z", Some("Failed")),
        job("r", "2026-03-01T10:05:00Z", None),
    ];
    let outcomes: Vec<Option<bool>> = jobs.iter().map(outcome).collect();
    assert_eq!(
        outcomes,
        [Some(true), Some(true), Some(true), Some(false), None]
    );
    let done: Vec<&Job> = jobs[..3].iter().collect();
    let names = |v: Vec<&Job>| -> Vec<String> {
        v.iter()
            .map(|j| j.metadata.name.clone().unwrap_or_default())
            .collect()
    };
    assert_eq!(names(over_limit(done.clone(), 1)), ["a", "b"]);
    assert_eq!(names(over_limit(done.clone(), 3)), Vec::<String>::new());
    assert_eq!(names(over_limit(done.clone(), 0)), ["a", "b", "c"]);
    assert_eq!(last_successful(&jobs), Some(t("2026-03-01T10:03:00Z")));
}

#[test]
fn jobs_come_from_the_template_with_the_scheduled_time() {
    let cj = cron_job(
        json!({"jobTemplate": {"metadata": {"labels": {"app": "tick"}}, "spec": {"completions": 2, "template": {}}}}),
        None,
    );
    let scheduled = t("2026-03-01T10:05:00Z");
    let j = job_for(&cj, scheduled, &TimeZone::UTC);
    assert_eq!(j.metadata.name.as_deref(), Some("tick-29539325"));
    let annotations = j.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations[SCHEDULED_ANNOTATION], "2026-03-01T10:05:00Z");
    assert_eq!(j.metadata.labels.clone().unwrap_or_default()["app"], "tick");
    assert_eq!(j.spec.and_then(|s| s.completions), Some(2));
    assert_eq!(
        j.metadata.owner_references.unwrap_or_default()[0].kind,
        "CronJob"
    );
    let tokyo = TimeZone::get("Asia/Tokyo").expect("zone");
    let j = job_for(&cj, scheduled, &tokyo);
    let annotations = j.metadata.annotations.unwrap_or_default();
    assert_eq!(
        annotations[SCHEDULED_ANNOTATION],
        "2026-03-01T19:05:00+09:00"
    );
}
