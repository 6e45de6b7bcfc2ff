//! Pure decisions of the CronJob controller: which scheduled time (if any) to start a Job for
//! now, what the concurrency policy makes of running Jobs, which finished Jobs history keeps,
//! and when to look again. The clock is a parameter, so every decision is testable.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::schedule::Schedule;
use crate::member::controllers::job::plan::{finished_at, has_condition};
use crate::member::runtime::controller_reference;

/// Missed start times beyond this count get a warning, as upstream's.
const TOO_MANY_MISSED: usize = 100;

/// An Event to record about the CronJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// What one pass does.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// The scheduled time to start a Job for.
    pub start: Option<Timestamp>,
    /// Delete the running Jobs first (concurrencyPolicy Replace).
    pub replace_active: bool,
    pub notes: Vec<Note>,
    /// When the next scheduled time comes; `None` when suspended or it never comes.
    pub requeue: Option<Duration>,
}

/// The most recent start time in `(earliest, now]`, and whether more than
/// [`TOO_MANY_MISSED`] were missed.
pub fn most_recent(
    schedule: &Schedule,
    tz: &TimeZone,
    earliest: Timestamp,
    now: Timestamp,
) -> (Option<Timestamp>, bool) {
    let scan = |from: Timestamp, cap: usize| {
        let (mut t, mut last, mut seen) = (from, None, 0);
        while let Some(next) = schedule.next_after(t, tz).filter(|n| *n <= now) {
            (t, last, seen) = (next, Some(next), seen + 1);
            if seen > cap {
                return (last, false);
            }
        }
        (last, true)
    };
    let (last, whole) = scan(earliest, TOO_MANY_MISSED);
    if whole {
        return (last, false);
    }
    // Very many missed: find the latest by scanning ever wider windows back from now.
    let windows = [3_600, 86_400, 32 * 86_400, 366 * 86_400, 8 * 366 * 86_400];
    for secs in windows {
        let from = (now - Duration::from_secs(secs)).max(earliest);
        if let (Some(t), _) = scan(from, usize::MAX) {
            return (Some(t), true);
        }
    }
    (last, true)
}

/// The name of the Job for a scheduled time: minutes since the epoch, as Kubernetes names them.
pub fn job_name(cron_job: &str, scheduled: Timestamp) -> String {
    format!("{cron_job}-{}", scheduled.as_second().div_euclid(60))
}

/// Decides whether to start a Job now. `active` counts the CronJob's running Jobs; `existing`
/// holds the names of all its Jobs.
pub fn decide(
    cj: &CronJob,
    schedule: &Schedule,
    tz: &TimeZone,
    active: usize,
    existing: &BTreeSet<String>,
    now: Timestamp,
) -> Decision {
    let spec = cj.spec.clone().unwrap_or_default();
    if spec.suspend == Some(true) {
        return Decision::default();
    }
    let mut d = Decision {
        requeue: schedule
            .next_after(now, tz)
            .map(|next| Duration::try_from(next - now).unwrap_or_default()),
        ..Decision::default()
    };
    let last = cj
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.as_ref())
        .or(cj.metadata.creation_timestamp.as_ref())
        .map_or(now, |t| t.0);
    let deadline = spec
        .starting_deadline_seconds
        .map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0)));
    let earliest = deadline.map_or(last, |d| last.max(now - d));
    let (scheduled, too_many) = most_recent(schedule, tz, earliest, now);
    let Some(scheduled) = scheduled else {
        return d;
    };
    if too_many {
        d.notes.push(Note {
            warning: true,
            reason: "TooManyMissedTimes",
            message: "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
        });
    }
    if existing.contains(&job_name(&cj.name_any(), scheduled)) {
        return d;
    }
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if active > 0 => {
            d.notes.push(Note {
                warning: false,
                reason: "JobAlreadyActive",
                message: "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            });
            return d;
        }
        Some("Replace") if active > 0 => d.replace_active = true,
        _ => {}
    }
    d.start = Some(scheduled);
    d
}

/// The annotation recording which scheduled time a Job was started for.
pub const SCHEDULED_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// The Job a CronJob starts for `scheduled`, from its jobTemplate.
pub fn job_for(cj: &CronJob, scheduled: Timestamp, tz: &TimeZone) -> Job {
    let template = cj.spec.clone().unwrap_or_default().job_template;
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let zoned = scheduled.to_zoned(tz.clone());
    let stamp = if zoned.offset().seconds() == 0 {
        scheduled.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    };
    annotations.insert(SCHEDULED_ANNOTATION.into(), stamp);
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(&cj.name_any(), scheduled)),
            namespace: cj.namespace(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_reference(cj)]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// How a Job of the CronJob ended, if it did: `Some(true)` for Complete.
pub fn outcome(job: &Job) -> Option<bool> {
    if has_condition(job.status.as_ref(), "Complete") {
        Some(true)
    } else if has_condition(job.status.as_ref(), "Failed") {
        Some(false)
    } else {
        None
    }
}

/// The finished Jobs to delete so that at most `limit` remain, oldest first.
pub fn over_limit(mut jobs: Vec<&Job>, limit: i32) -> Vec<&Job> {
    let keep = usize::try_from(limit).unwrap_or(0);
    if jobs.len() <= keep {
        return Vec::new();
    }
    jobs.sort_by_key(|j| {
        let started = j.status.as_ref().and_then(|s| s.start_time.as_ref());
        let created = j.metadata.creation_timestamp.as_ref();
        (started.or(created).map(|t| t.0), j.metadata.name.clone())
    });
    let excess = jobs.len() - keep;
    jobs.truncate(excess);
    jobs
}

/// The latest time one of `jobs` completed successfully.
pub fn last_successful<'a>(jobs: impl IntoIterator<Item = &'a Job>) -> Option<Timestamp> {
    jobs.into_iter()
        .filter(|j| outcome(j) == Some(true))
        .filter_map(finished_at)
        .max()
}

#[cfg(test)]
mod tests;
