//! Deployment status as `kubectl rollout status` and `kubectl wait` read it: replica counts
//! summed over the ReplicaSets, and the Available and Progressing conditions.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
const DEFAULT_DEADLINE_SECONDS: i32 = 600;

/// Counts of one ReplicaSet, from its spec and status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RsCounts {
    pub name: String,
    pub desired: i32,
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
}

/// Something this pass did that marks progress, with the condition reason upstream uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Created(String),
    Found(String),
    Updated(String),
}

/// Everything the status depends on.
pub struct Observed<'a> {
    pub generation: i64,
    pub replicas: i32,
    pub max_unavailable: i32,
    pub paused: bool,
    pub progress_deadline_seconds: Option<i32>,
    pub previous: &'a DeploymentStatus,
    /// Name of the ReplicaSet matching the current template, if there is one.
    pub new_rs: Option<&'a str>,
    pub all: &'a [RsCounts],
    pub progress: Option<Progress>,
    pub now: Timestamp,
}

pub fn status(o: &Observed) -> DeploymentStatus {
    let sum = |f: fn(&RsCounts) -> i32| o.all.iter().map(f).sum::<i32>();
    let available = sum(|rs| rs.available);
    let updated = o
        .all
        .iter()
        .filter(|rs| Some(rs.name.as_str()) == o.new_rs)
        .map(|rs| rs.replicas)
        .sum();
    let mut status = DeploymentStatus {
        observed_generation: Some(o.generation),
        replicas: Some(sum(|rs| rs.replicas)),
        updated_replicas: Some(updated),
        ready_replicas: Some(sum(|rs| rs.ready)),
        available_replicas: Some(available),
        unavailable_replicas: Some((sum(|rs| rs.desired) - available).max(0)),
        collision_count: o.previous.collision_count,
        conditions: None,
        terminating_replicas: o.previous.terminating_replicas,
    };
    let mut conditions = o.previous.conditions.clone().unwrap_or_default();
    if available >= o.replicas - o.max_unavailable {
        let msg = "Deployment has minimum availability.";
        set(
            &mut conditions,
            AVAILABLE,
            "True",
            "MinimumReplicasAvailable",
            msg,
            o.now,
        );
    } else {
        let msg = "Deployment does not have minimum availability.";
        set(
            &mut conditions,
            AVAILABLE,
            "False",
            "MinimumReplicasUnavailable",
            msg,
            o.now,
        );
    }
    progressing(o, &status, &mut conditions);
    status.conditions = Some(conditions);
    status
}

fn progressing(o: &Observed, status: &DeploymentStatus, conditions: &mut Vec<DeploymentCondition>) {
    let current = conditions.iter().find(|c| c.type_ == PROGRESSING).cloned();
    let reason = current.as_ref().and_then(|c| c.reason.clone());
    if o.paused {
        if reason.as_deref() != Some("DeploymentPaused") {
            let msg = "Deployment is paused";
            set(
                conditions,
                PROGRESSING,
                "Unknown",
                "DeploymentPaused",
                msg,
                o.now,
            );
        }
        return;
    }
    if reason.as_deref() == Some("DeploymentPaused") {
        let msg = "Deployment is resumed";
        set(
            conditions,
            PROGRESSING,
            "Unknown",
            "DeploymentResumed",
            msg,
            o.now,
        );
    }
    match &o.progress {
        Some(Progress::Created(rs)) => {
            let msg = format!("Created new replica set {rs:?}");
            set(
                conditions,
                PROGRESSING,
                "True",
                "NewReplicaSetCreated",
                &msg,
                o.now,
            );
        }
        Some(Progress::Found(rs)) if current.is_none() => {
            let msg = format!("Found new replica set {rs:?}");
            set(
                conditions,
                PROGRESSING,
                "True",
                "FoundNewReplicaSet",
                &msg,
                o.now,
            );
        }
        Some(Progress::Updated(rs)) => {
            let msg = format!("ReplicaSet {rs:?} is progressing.");
            set(
                conditions,
                PROGRESSING,
                "True",
                "ReplicaSetUpdated",
                &msg,
                o.now,
            );
        }
        _ => {}
    }
    let Some(rs) = o.new_rs else { return };
    let replicas = o.replicas;
    let complete = status.updated_replicas == Some(replicas)
        && status.replicas == Some(replicas)
        && status.available_replicas == Some(replicas);
    if complete {
        let msg = format!("ReplicaSet {rs:?} has successfully progressed.");
        set(
            conditions,
            PROGRESSING,
            "True",
            NEW_RS_AVAILABLE,
            &msg,
            o.now,
        );
    } else if made_progress(o.previous, status) {
        let msg = format!("ReplicaSet {rs:?} is progressing.");
        let mut condition = condition(PROGRESSING, "True", "ReplicaSetUpdated", &msg, o.now);
        // Every step refreshes lastUpdateTime: the progress deadline counts from it.
        if let Some(c) = conditions
            .iter()
            .find(|c| c.type_ == PROGRESSING && c.status == "True")
        {
            condition
                .last_transition_time
                .clone_from(&c.last_transition_time);
        }
        conditions.retain(|c| c.type_ != PROGRESSING);
        conditions.push(condition);
    } else if timed_out(conditions, deadline(o), o.now) {
        let msg = format!("ReplicaSet {rs:?} has timed out progressing.");
        set(conditions, PROGRESSING, "False", TIMED_OUT, &msg, o.now);
    }
}

fn deadline(o: &Observed) -> Duration {
    let seconds = o
        .progress_deadline_seconds
        .unwrap_or(DEFAULT_DEADLINE_SECONDS);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

fn made_progress(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_pods = |s: &DeploymentStatus| n(s.replicas) - n(s.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || old_pods(new) < old_pods(old)
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

fn timed_out(conditions: &[DeploymentCondition], deadline: Duration, now: Timestamp) -> bool {
    let Some(c) = conditions.iter().find(|c| c.type_ == PROGRESSING) else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|t| since(t.0, now) > deadline),
    }
}

fn since(then: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now - then).unwrap_or_default()
}

/// When the progress deadline of a rollout still in flight would pass, so the controller can
/// look again then even if nothing else changes.
pub fn deadline_recheck(o: &Observed, status: &DeploymentStatus) -> Option<Duration> {
    if o.paused {
        return None;
    }
    let c = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == PROGRESSING && c.status == "True")?;
    if c.reason.as_deref() == Some(NEW_RS_AVAILABLE) {
        return None;
    }
    let elapsed = since(c.last_update_time.as_ref()?.0, o.now);
    Some(deadline(o).saturating_sub(elapsed) + Duration::from_secs(1))
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Sets a condition the way Kubernetes does: unchanged if status and reason are the same,
/// keeping lastTransitionTime if only the reason changed.
fn set(
    conditions: &mut Vec<DeploymentCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let mut new = condition(type_, status, reason, message, now);
    if let Some(existing) = conditions.iter().find(|c| c.type_ == type_) {
        if existing.status == status && existing.reason.as_deref() == Some(reason) {
            return;
        }
        if existing.status == status {
            new.last_transition_time
                .clone_from(&existing.last_transition_time);
        }
    }
    conditions.retain(|c| c.type_ != type_);
    conditions.push(new);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(name: &str, desired: i32, replicas: i32, ready: i32, available: i32) -> RsCounts {
        RsCounts {
            name: name.into(),
            desired,
            replicas,
            ready,
            available,
        }
    }

    fn observed<'a>(
        previous: &'a DeploymentStatus,
        all: &'a [RsCounts],
        now: Timestamp,
    ) -> Observed<'a> {
        Observed {
            generation: 3,
            replicas: 4,
            max_unavailable: 1,
            paused: false,
            progress_deadline_seconds: Some(60),
            previous,
            new_rs: Some("web-new"),
            all,
            progress: None,
            now,
        }
    }

    fn get<'a>(s: &'a DeploymentStatus, type_: &str) -> &'a DeploymentCondition {
        s.conditions
            .as_ref()
            .and_then(|c| c.iter().find(|c| c.type_ == type_))
            .expect(type_)
    }

    #[test]
    fn counts_and_conditions() {
        let now = Timestamp::from_second(1_000).expect("time");
        let empty = DeploymentStatus::default();
        // (ReplicaSets, available condition, progressing reason)
        let cases = [
            (vec![rs("web-new", 4, 4, 4, 4)], "True", NEW_RS_AVAILABLE),
            (
                vec![rs("web-new", 2, 2, 2, 2), rs("web-old", 3, 3, 3, 3)],
                "True",
                "ReplicaSetUpdated",
            ),
            (
                vec![rs("web-new", 4, 4, 1, 1)],
                "False",
                "ReplicaSetUpdated",
            ),
        ];
        for (all, available, progressing) in cases {
            let o = observed(&empty, &all, now);
            let s = status(&o);
            assert_eq!(s.observed_generation, Some(3));
            let sum: i32 = all.iter().map(|r| r.available).sum();
            assert_eq!(s.available_replicas, Some(sum));
            assert_eq!(get(&s, AVAILABLE).status, available, "{all:?}");
            assert_eq!(
                get(&s, PROGRESSING).reason.as_deref(),
                Some(progressing),
                "{all:?}"
            );
        }
        let all = [rs("web-new", 2, 2, 2, 2), rs("web-old", 3, 3, 3, 3)];
        let s = status(&observed(&empty, &all, now));
        assert_eq!(
            (s.replicas, s.updated_replicas, s.unavailable_replicas),
            (Some(5), Some(2), Some(0))
        );
        assert_eq!(
            get(
                &status(&observed(&empty, &[rs("web-new", 4, 4, 4, 4)], now)),
                PROGRESSING
            )
            .message
            .as_deref(),
            Some("ReplicaSet \"web-new\" has successfully progressed.")
        );
    }

    #[test]
    fn progress_deadline() {
        let start = Timestamp::from_second(1_000).expect("time");
        let all = [rs("web-new", 4, 4, 1, 1)];
        let first = status(&observed(&DeploymentStatus::default(), &all, start));
        // No further progress: fine before the deadline, timed out after it.
        let later = Timestamp::from_second(1_030).expect("time");
        let o = observed(&first, &all, later);
        let s = status(&o);
        assert_eq!(get(&s, PROGRESSING).status, "True");
        assert_eq!(deadline_recheck(&o, &s), Some(Duration::from_secs(31)));
        let late = Timestamp::from_second(1_061).expect("time");
        let s = status(&observed(&first, &all, late));
        assert_eq!(get(&s, PROGRESSING).status, "False");
        assert_eq!(get(&s, PROGRESSING).reason.as_deref(), Some(TIMED_OUT));
        // Progress refreshes lastUpdateTime but keeps the transition time.
        let more = [rs("web-new", 4, 4, 2, 2)];
        let s = status(&observed(&first, &more, late));
        let c = get(&s, PROGRESSING);
        assert_eq!(
            (c.status.as_str(), c.last_update_time.as_ref().map(|t| t.0)),
            ("True", Some(late))
        );
        assert_eq!(c.last_transition_time.as_ref().map(|t| t.0), Some(start));
    }

    #[test]
    fn paused_and_created() {
        let now = Timestamp::from_second(1_000).expect("time");
        let empty = DeploymentStatus::default();
        let all = [rs("web-new", 0, 0, 0, 0)];
        let mut o = observed(&empty, &all, now);
        o.paused = true;
        assert_eq!(
            get(&status(&o), PROGRESSING).reason.as_deref(),
            Some("DeploymentPaused")
        );
        o.paused = false;
        o.progress = Some(Progress::Created("web-new".into()));
        let s = status(&o);
        let c = get(&s, PROGRESSING);
        assert_eq!(c.reason.as_deref(), Some("NewReplicaSetCreated"));
        assert_eq!(
            c.message.as_deref(),
            Some("Created new replica set \"web-new\"")
        );
    }
}
