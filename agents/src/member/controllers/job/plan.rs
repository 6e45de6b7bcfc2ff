//! Pure decisions of the Job controller: from a Job and the pods it owns, which pods to create
//! (and with which completion index) or delete, and the status and conditions to report.
//!
//! Terminated pods are counted from the pods themselves (no `job-tracking` finalizer), so the
//! counts never go below what the status already says: a finished pod someone deleted still
//! counted once.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::indexes;
use crate::member::runtime::{pod_active, pod_ready};

/// At most this many pods are created in one pass, as upstream's burst limit.
const BURST: usize = 500;
/// Replacing a failed pod waits this long, doubled for each further failure since the last
/// success, up to [`BACKOFF_MAX`], as upstream's pod failure back-off.
const BACKOFF_BASE: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(360);

/// Reason and message of the Failed condition, as Kubernetes words them.
const BACKOFF_LIMIT_EXCEEDED: (&str, &str) = (
    "BackoffLimitExceeded",
    "Job has reached the specified backoff limit",
);
const DEADLINE_EXCEEDED: (&str, &str) = (
    "DeadlineExceeded",
    "Job was active longer than specified deadline",
);

/// The spec fields the decision reads, with the apiserver's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub parallelism: i32,
    pub completions: Option<i32>,
    pub backoff_limit: i32,
    pub indexed: bool,
    pub suspend: bool,
    pub active_deadline_seconds: Option<i64>,
    /// Container restarts count as failures (restartPolicy OnFailure).
    pub restarts_fail: bool,
}

impl Spec {
    pub fn of(job: &Job) -> Spec {
        let spec = job.spec.clone().unwrap_or_default();
        Spec {
            parallelism: spec.parallelism.unwrap_or(1).max(0),
            completions: spec.completions.map(|c| c.max(0)),
            backoff_limit: spec.backoff_limit.unwrap_or(6).max(0),
            indexed: spec.completion_mode.as_deref() == Some("Indexed"),
            suspend: spec.suspend.unwrap_or(false),
            active_deadline_seconds: spec.active_deadline_seconds,
            restarts_fail: spec
                .template
                .spec
                .as_ref()
                .and_then(|s| s.restart_policy.as_deref())
                == Some("OnFailure"),
        }
    }
}

/// An Event to record about the Job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: &'static str,
}

/// What one pass does.
#[derive(Debug, Default)]
pub struct Decision {
    /// One entry per pod to create: its completion index for Indexed Jobs.
    pub create: Vec<Option<i32>>,
    /// Names of pods to delete.
    pub delete: Vec<String>,
    pub status: JobStatus,
    pub notes: Vec<Note>,
    /// When to look again even if nothing changes (the active deadline).
    pub recheck: Option<Duration>,
}

/// Whether the Job has a condition of this type with status True.
pub fn has_condition(status: Option<&JobStatus>, type_: &str) -> bool {
    status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

/// When the Job finished (Complete or Failed), if it did.
pub fn finished_at(job: &Job) -> Option<Timestamp> {
    let status = job.status.as_ref()?;
    if let Some(t) = status.completion_time.as_ref() {
        return Some(t.0);
    }
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
        })
}

/// How long until a finished Job's `ttlSecondsAfterFinished` runs out (zero: delete it now);
/// `None` when it is not finished or has no TTL.
pub fn ttl_left(job: &Job, now: Timestamp) -> Option<Duration> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let expires = finished_at(job)? + Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
    Some(Duration::try_from(expires - now).unwrap_or(Duration::ZERO))
}

struct Tally<'a> {
    active: Vec<&'a Pod>,
    succeeded: Vec<&'a Pod>,
    failed: i32,
    terminating: i32,
    /// Container restarts of the active pods.
    restarts: i32,
}

fn tally<'a>(pods: &[&'a Pod]) -> Tally<'a> {
    let mut t = Tally {
        active: Vec::new(),
        succeeded: Vec::new(),
        failed: 0,
        terminating: 0,
        restarts: 0,
    };
    for &pod in pods {
        match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
            Some("Succeeded") => t.succeeded.push(pod),
            Some("Failed") => t.failed += 1,
            _ if pod_active(pod) => {
                t.active.push(pod);
                let status = pod.status.as_ref();
                t.restarts += status
                    .iter()
                    .flat_map(|s| {
                        let init = s.init_container_statuses.iter().flatten();
                        s.container_statuses.iter().flatten().chain(init)
                    })
                    .map(|c| c.restart_count)
                    .sum::<i32>();
            }
            _ => t.terminating += 1,
        }
    }
    t
}

/// Sets a condition, keeping its transition time when its status does not change.
fn set_condition(
    conditions: &mut Vec<JobCondition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let status = if status { "True" } else { "False" };
    let fresh = JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) if c.status == status && c.reason.as_deref() == Some(reason) => {}
        Some(c) if c.status == status => {
            let since = c.last_transition_time.take();
            *c = JobCondition {
                last_transition_time: since,
                ..fresh
            };
        }
        Some(c) => *c = fresh,
        None => conditions.push(fresh),
    }
}

/// When a terminated pod's last container finished.
fn finished(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max()
}

/// How long new pods must still wait after the failures since the last success.
pub fn backoff_left(pods: &[&Pod], now: Timestamp) -> Option<Duration> {
    let phase =
        |p: &Pod, want: &str| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(want);
    let last_success = pods
        .iter()
        .filter(|p| phase(p, "Succeeded"))
        .filter_map(|p| finished(p))
        .max();
    let failures: Vec<Timestamp> = pods
        .iter()
        .filter(|p| phase(p, "Failed"))
        .filter_map(|p| finished(p))
        .filter(|t| last_success.is_none_or(|s| *t > s))
        .collect();
    let last = failures.iter().max()?;
    let doublings = u32::try_from(failures.len() - 1)
        .unwrap_or(u32::MAX)
        .min(16);
    let delay = BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_MAX);
    Duration::try_from(*last + delay - now)
        .ok()
        .filter(|left| !left.is_zero())
}

fn names(pods: &[&Pod]) -> Vec<String> {
    pods.iter().map(|p| p.name_any()).collect()
}

/// Pods cheapest to lose first: unscheduled, then not ready, then the newest.
fn deletion_order(pods: &mut [&Pod]) {
    pods.sort_by_key(|p| {
        let scheduled = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
        let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        (scheduled, pod_ready(p), Reverse(created))
    });
}

/// Pods to create and delete for a running (not failing, not complete) Job.
fn resize(spec: &Spec, active: &[&Pod], succeeded: i32, completed: &BTreeSet<i32>) -> Decision {
    let mut d = Decision::default();
    if spec.indexed {
        let completions = spec.completions.unwrap_or(0);
        let mut by_index: BTreeMap<i32, Vec<&Pod>> = BTreeMap::new();
        for &pod in active {
            match indexes::of_pod(pod) {
                Some(i) if i < completions && !completed.contains(&i) => {
                    by_index.entry(i).or_default().push(pod);
                }
                _ => d.delete.push(pod.name_any()),
            }
        }
        let mut kept = Vec::new();
        for (i, mut group) in by_index {
            // One pod per index: keep the one furthest along.
            deletion_order(&mut group);
            let keep = group.pop();
            d.delete.extend(names(&group));
            kept.extend(keep.map(|p| (i, p)));
        }
        let limit = if spec.suspend { 0 } else { spec.parallelism };
        let limit = usize::try_from(limit).unwrap_or(0);
        if kept.len() > limit {
            d.delete
                .extend(kept.drain(limit..).map(|(_, p)| p.name_any()));
        }
        let running: BTreeSet<i32> = kept.iter().map(|(i, _)| *i).collect();
        let room = limit.saturating_sub(kept.len()).min(BURST);
        d.create = (0..completions)
            .filter(|i| !completed.contains(i) && !running.contains(i))
            .take(room)
            .map(Some)
            .collect();
        return d;
    }
    let active_count = i32::try_from(active.len()).unwrap_or(i32::MAX);
    let want = if spec.suspend {
        0
    } else {
        match spec.completions {
            Some(c) => spec.parallelism.min((c - succeeded).max(0)),
            // A work queue: once one pod succeeded, no new pods start.
            None if succeeded > 0 => active_count.min(spec.parallelism),
            None => spec.parallelism,
        }
    };
    if active_count < want {
        let n = usize::try_from(want - active_count).unwrap_or(0).min(BURST);
        d.create = vec![None; n];
    } else if active_count > want {
        let mut victims = active.to_vec();
        deletion_order(&mut victims);
        victims.truncate(usize::try_from(active_count - want).unwrap_or(0));
        d.delete = names(&victims);
    }
    d
}

/// Decides one pass over `job` and the pods it controls. `may_resize` is false while earlier
/// creates and deletes have not shown up in the pod cache yet.
pub fn decide(job: &Job, pods: &[&Pod], may_resize: bool, now: Timestamp) -> Decision {
    let spec = Spec::of(job);
    let prev = job.status.clone().unwrap_or_default();
    let t = tally(pods);
    let mut conditions = prev.conditions.clone().unwrap_or_default();

    if has_condition(Some(&prev), "Complete") || has_condition(Some(&prev), "Failed") {
        // Finished for good: only stragglers are cleaned up.
        return Decision {
            delete: names(&t.active),
            status: JobStatus {
                active: Some(0),
                ready: Some(0),
                ..prev
            },
            ..Decision::default()
        };
    }

    let mut completed = BTreeSet::new();
    let succeeded = if spec.indexed {
        let completions = spec.completions.unwrap_or(0);
        completed = indexes::parse(prev.completed_indexes.as_deref().unwrap_or_default());
        completed.extend(
            t.succeeded
                .iter()
                .filter_map(|p| indexes::of_pod(p))
                .filter(|i| *i < completions),
        );
        i32::try_from(completed.len()).unwrap_or(i32::MAX)
    } else {
        i32::try_from(t.succeeded.len()).unwrap_or(i32::MAX)
    }
    .max(prev.succeeded.unwrap_or(0));
    let failed = t.failed.max(prev.failed.unwrap_or(0));

    let mut start_time = prev.start_time.clone();
    let mut notes = Vec::new();
    let mut recheck = None;
    if !spec.suspend && start_time.is_none() {
        start_time = Some(Time(now));
    }

    let deadline = spec
        .active_deadline_seconds
        .filter(|_| !spec.suspend)
        .zip(start_time.as_ref())
        .map(|(secs, start)| start.0 + Duration::from_secs(u64::try_from(secs).unwrap_or(0)));
    let existing = conditions
        .iter()
        .find(|c| c.type_ == "FailureTarget" && c.status == "True")
        .map(|c| {
            (
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        });
    let restarts = if spec.restarts_fail { t.restarts } else { 0 };
    let fresh = if failed + restarts > spec.backoff_limit {
        Some(BACKOFF_LIMIT_EXCEEDED)
    } else if deadline.is_some_and(|d| d <= now) {
        Some(DEADLINE_EXCEEDED)
    } else {
        None
    };
    if let (None, Some((reason, message))) = (&existing, fresh) {
        notes.push(Note {
            warning: true,
            reason,
            message,
        });
    }
    let failure = existing.or_else(|| fresh.map(|(r, m)| (r.to_owned(), m.to_owned())));
    let complete = match spec.completions {
        Some(c) => succeeded >= c,
        None => succeeded > 0 && t.active.is_empty(),
    };

    let mut d = Decision::default();
    let mut complete_now = false;
    if let Some((reason, message)) = failure {
        set_condition(
            &mut conditions,
            "FailureTarget",
            true,
            &reason,
            &message,
            now,
        );
        d.delete = names(&t.active);
        if t.active.is_empty() && t.terminating == 0 {
            set_condition(&mut conditions, "Failed", true, &reason, &message, now);
        }
    } else if complete {
        let (reason, message) = (
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        );
        set_condition(
            &mut conditions,
            "SuccessCriteriaMet",
            true,
            reason,
            message,
            now,
        );
        d.delete = names(&t.active);
        if t.active.is_empty() && t.terminating == 0 {
            set_condition(&mut conditions, "Complete", true, reason, message, now);
            complete_now = true;
            notes.push(Note {
                warning: false,
                reason: "Completed",
                message: "Job completed",
            });
        }
    } else {
        if spec.suspend && !has_condition(Some(&prev), "Suspended") {
            set_condition(
                &mut conditions,
                "Suspended",
                true,
                "JobSuspended",
                "Job suspended",
                now,
            );
            notes.push(Note {
                warning: false,
                reason: "Suspended",
                message: "Job suspended",
            });
        } else if !spec.suspend && has_condition(Some(&prev), "Suspended") {
            set_condition(
                &mut conditions,
                "Suspended",
                false,
                "JobResumed",
                "Job resumed",
                now,
            );
            notes.push(Note {
                warning: false,
                reason: "Resumed",
                message: "Job resumed",
            });
            // The active deadline counts from the resume.
            start_time = Some(Time(now));
        }
        let backoff = backoff_left(pods, now);
        if may_resize {
            let sized = resize(&spec, &t.active, succeeded, &completed);
            if backoff.is_none() {
                d.create = sized.create;
            }
            d.delete = sized.delete;
        }
        recheck = deadline.map(|at| Duration::try_from(at - now).unwrap_or(Duration::ZERO));
        recheck = recheck.into_iter().chain(backoff).min();
    }

    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let active = count(t.active.len() + d.create.len()) - count(d.delete.len());
    let deleted: BTreeSet<&String> = d.delete.iter().collect();
    let ready = t
        .active
        .iter()
        .filter(|p| pod_ready(p) && !deleted.contains(&p.name_any()))
        .count();
    d.status = JobStatus {
        active: Some(active.max(0)),
        ready: Some(count(ready)),
        succeeded: Some(succeeded),
        failed: Some(failed),
        terminating: Some(t.terminating + count(d.delete.len())),
        start_time,
        completion_time: if complete_now {
            prev.completion_time.clone().or(Some(Time(now)))
        } else {
            None
        },
        completed_indexes: spec.indexed.then(|| indexes::format(&completed)),
        conditions: (!conditions.is_empty()).then_some(conditions),
        uncounted_terminated_pods: Some(UncountedTerminatedPods::default()),
        ..prev
    };
    d.notes = notes;
    d.recheck = recheck;
    d
}

#[cfg(test)]
mod tests;
