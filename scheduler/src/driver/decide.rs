//! Whether a binding needs a scheduling cycle now, as Karmada's scheduler decides it per event.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use karmada_api::policy::propagation::{DEFAULT_SCHEDULER_NAME, Placement, ReplicaSchedulingType};
use karmada_api::work::binding::{ResourceBindingSpec, ResourceBindingStatus};

/// Annotation holding the JSON of the placement the binding was last scheduled with.
pub const APPLIED_PLACEMENT_ANNOTATION: &str = "policy.karmada.io/applied-placement";

/// Why a binding is not this scheduler's to schedule right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// No placement was copied from a policy yet.
    NoPlacement,
    /// The binding is being deleted.
    Deleting,
    /// `spec.schedulerName` names another scheduler.
    OtherScheduler,
    /// `spec.suspension.scheduling` holds scheduling.
    Suspended,
}

/// What makes a binding schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The placement differs from the applied-placement annotation (or there is none yet).
    PlacementChanged,
    /// The scheduled replicas no longer add up to `spec.replicas`.
    ReplicasChanged,
    /// `spec.rescheduleTriggeredAt` is later than `status.lastScheduledTime`.
    RescheduleRequested,
    /// Duplicated or replica-less: always re-run, so newly matching clusters are picked up.
    AlwaysScheduled,
}

/// The outcome of looking at a binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Skip(Skip),
    /// Run a cycle; `fresh` when the user asked for a reschedule.
    Schedule {
        trigger: Trigger,
        fresh: bool,
    },
    /// The schedule is current but the status has not recorded this generation yet (a spec
    /// change that does not affect scheduling, e.g. the resource's resourceVersion).
    ObserveGeneration(i64),
    /// Nothing to do.
    UpToDate,
}

/// Decides what to do with a binding from its metadata, spec and status.
pub fn decide(
    meta: &ObjectMeta,
    spec: &ResourceBindingSpec,
    status: Option<&ResourceBindingStatus>,
) -> Decision {
    if meta.deletion_timestamp.is_some() {
        return Decision::Skip(Skip::Deleting);
    }
    let Some(placement) = &spec.placement else {
        return Decision::Skip(Skip::NoPlacement);
    };
    if spec
        .scheduler_name
        .as_deref()
        .is_some_and(|name| !name.is_empty() && name != DEFAULT_SCHEDULER_NAME)
    {
        return Decision::Skip(Skip::OtherScheduler);
    }
    if spec
        .suspension
        .as_ref()
        .and_then(|s| s.scheduling)
        .unwrap_or(false)
    {
        return Decision::Skip(Skip::Suspended);
    }
    let last_scheduled = status.and_then(|s| s.last_scheduled_time.as_ref());
    let fresh = reschedule_requested(spec.reschedule_triggered_at.as_ref(), last_scheduled);
    let applied = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(APPLIED_PLACEMENT_ANNOTATION));
    let trigger = if placement_changed(placement, applied.map(String::as_str)) {
        Some(Trigger::PlacementChanged)
    } else if replicas_changed(spec, placement) {
        Some(Trigger::ReplicasChanged)
    } else if fresh {
        Some(Trigger::RescheduleRequested)
    } else if spec.replicas.unwrap_or(0) == 0
        || placement.replica_scheduling_type() == ReplicaSchedulingType::Duplicated
    {
        Some(Trigger::AlwaysScheduled)
    } else {
        None
    };
    if let Some(trigger) = trigger {
        return Decision::Schedule { trigger, fresh };
    }
    let generation = meta.generation.unwrap_or(0);
    if status.and_then(|s| s.scheduler_observed_generation) != Some(generation) {
        return Decision::ObserveGeneration(generation);
    }
    Decision::UpToDate
}

/// Whether `placement` differs from the applied one; an absent or unreadable annotation
/// counts as a change, so the binding gets (re)scheduled and the annotation rewritten.
fn placement_changed(placement: &Placement, applied: Option<&str>) -> bool {
    match applied.map(serde_json::from_str::<Placement>) {
        Some(Ok(applied)) => applied != *placement,
        _ => true,
    }
}

/// Whether the scheduled replicas disagree with `spec.replicas`: for Divided their sum, for
/// Duplicated any one cluster's share.
fn replicas_changed(spec: &ResourceBindingSpec, placement: &Placement) -> bool {
    let wanted = spec.replicas.unwrap_or(0);
    match placement.replica_scheduling_type() {
        ReplicaSchedulingType::Divided => {
            let sum: i64 = spec
                .clusters
                .iter()
                .map(|c| i64::from(c.replicas.unwrap_or(0)))
                .sum();
            sum != i64::from(wanted)
        }
        ReplicaSchedulingType::Duplicated => spec
            .clusters
            .iter()
            .any(|c| c.replicas.unwrap_or(0) != wanted),
    }
}

/// Karmada's rule: a request counts only once a first schedule has finished (until then the
/// pending schedule serves it), and only when it is later than that schedule.
pub fn reschedule_requested(triggered: Option<&Time>, last_scheduled: Option<&Time>) -> bool {
    match (triggered, last_scheduled) {
        (Some(triggered), Some(last)) => triggered.0 > last.0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn placement(v: &Value) -> String {
        serde_json::to_string(&serde_json::from_value::<Placement>(v.clone()).unwrap()).unwrap()
    }

    /// A Divided binding of 2 replicas scheduled 1:1 onto member1/member2, with its placement
    /// applied, observed at generation 3; `edit` changes it.
    fn case(edit: impl FnOnce(&mut Value)) -> Decision {
        let divided = json!({"replicaScheduling": {"replicaSchedulingType": "Divided"}});
        let mut binding = json!({
            "metadata": {
                "generation": 3,
                "annotations": {APPLIED_PLACEMENT_ANNOTATION: placement(&divided)},
            },
            "spec": {
                "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx"},
                "replicas": 2,
                "placement": divided,
                "clusters": [{"name": "member1", "replicas": 1}, {"name": "member2", "replicas": 1}],
            },
            "status": {"schedulerObservedGeneration": 3, "lastScheduledTime": "2026-01-01T00:00:10Z"},
        });
        edit(&mut binding);
        let meta: ObjectMeta = serde_json::from_value(binding["metadata"].clone()).unwrap();
        let spec: ResourceBindingSpec = serde_json::from_value(binding["spec"].clone()).unwrap();
        let status: Option<ResourceBindingStatus> =
            serde_json::from_value(binding["status"].clone()).unwrap();
        decide(&meta, &spec, status.as_ref())
    }

    fn schedule(trigger: Trigger) -> Decision {
        Decision::Schedule {
            trigger,
            fresh: false,
        }
    }

    /// A named edit of the settled binding and the decision it must lead to.
    type Row = (&'static str, Box<dyn FnOnce(&mut Value)>, Decision);

    #[test]
    fn decisions_follow_karmadas_triggers() {
        let duplicated = json!({"clusterAffinity": {"clusterNames": ["member1"]}});
        let rows: Vec<Row> = vec![
            ("settled", Box::new(|_| {}), Decision::UpToDate),
            (
                "deleting",
                Box::new(|b| b["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z")),
                Decision::Skip(Skip::Deleting),
            ),
            (
                "no placement",
                Box::new(|b| b["spec"]["placement"] = Value::Null),
                Decision::Skip(Skip::NoPlacement),
            ),
            (
                "another scheduler",
                Box::new(|b| b["spec"]["schedulerName"] = json!("my-scheduler")),
                Decision::Skip(Skip::OtherScheduler),
            ),
            (
                "the default scheduler by name",
                Box::new(|b| b["spec"]["schedulerName"] = json!(DEFAULT_SCHEDULER_NAME)),
                Decision::UpToDate,
            ),
            (
                "suspended",
                Box::new(|b| b["spec"]["suspension"] = json!({"scheduling": true})),
                Decision::Skip(Skip::Suspended),
            ),
            (
                "never scheduled",
                Box::new(|b| b["metadata"]["annotations"] = json!({})),
                schedule(Trigger::PlacementChanged),
            ),
            (
                "unreadable annotation",
                Box::new(|b| {
                    b["metadata"]["annotations"][APPLIED_PLACEMENT_ANNOTATION] = json!("{");
                }),
                schedule(Trigger::PlacementChanged),
            ),
            (
                "placement edited",
                Box::new(|b| {
                    b["spec"]["placement"]["clusterAffinity"] =
                        json!({"clusterNames": ["member1"]});
                }),
                schedule(Trigger::PlacementChanged),
            ),
            (
                "scaled up",
                Box::new(|b| b["spec"]["replicas"] = json!(3)),
                schedule(Trigger::ReplicasChanged),
            ),
            (
                "scaled to zero",
                Box::new(|b| b["spec"]["replicas"] = json!(0)),
                schedule(Trigger::ReplicasChanged),
            ),
            (
                "duplicated always runs",
                Box::new(move |b| {
                    b["spec"]["placement"] = duplicated.clone();
                    b["metadata"]["annotations"][APPLIED_PLACEMENT_ANNOTATION] =
                        json!(placement(&duplicated));
                    b["spec"]["clusters"] = json!([{"name": "member1", "replicas": 2}]);
                }),
                schedule(Trigger::AlwaysScheduled),
            ),
            (
                "spec changed elsewhere",
                Box::new(|b| b["metadata"]["generation"] = json!(4)),
                Decision::ObserveGeneration(4),
            ),
        ];
        for (name, edit, want) in rows {
            assert_eq!(case(edit), want, "{name}");
        }
    }

    #[test]
    fn duplicated_replicas_change_when_any_cluster_differs() {
        let decision = case(|b| {
            let duplicated = json!({"replicaScheduling": {"replicaSchedulingType": "Duplicated"}});
            b["metadata"]["annotations"][APPLIED_PLACEMENT_ANNOTATION] =
                json!(placement(&duplicated));
            b["spec"]["placement"] = duplicated;
            b["spec"]["clusters"] =
                json!([{"name": "member1", "replicas": 2}, {"name": "member2", "replicas": 1}]);
        });
        assert_eq!(decision, schedule(Trigger::ReplicasChanged));
    }

    #[test]
    fn a_later_reschedule_request_schedules_fresh() {
        let later = case(|b| b["spec"]["rescheduleTriggeredAt"] = json!("2026-01-01T00:00:20Z"));
        assert_eq!(
            later,
            Decision::Schedule {
                trigger: Trigger::RescheduleRequested,
                fresh: true
            }
        );
        let earlier = case(|b| b["spec"]["rescheduleTriggeredAt"] = json!("2026-01-01T00:00:05Z"));
        assert_eq!(earlier, Decision::UpToDate);
        // Before the first schedule finished, the pending schedule serves the request.
        let first = case(|b| {
            b["spec"]["rescheduleTriggeredAt"] = json!("2026-01-01T00:00:20Z");
            b["status"]["lastScheduledTime"] = Value::Null;
        });
        assert_eq!(first, Decision::UpToDate);
        // Another trigger firing with a pending request still divides afresh.
        let both = case(|b| {
            b["spec"]["rescheduleTriggeredAt"] = json!("2026-01-01T00:00:20Z");
            b["spec"]["replicas"] = json!(4);
        });
        assert_eq!(
            both,
            Decision::Schedule {
                trigger: Trigger::ReplicasChanged,
                fresh: true
            }
        );
    }
}
