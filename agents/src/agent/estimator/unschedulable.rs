//! Which pods belong to a workload (by their controller owner chain) and how many of them have
//! waited unschedulable for longer than a threshold.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use karmada_estimator::request::WorkloadRef;

use crate::member::runtime::controller_of;

/// The reason the scheduler gives a pod that fits on no node.
const REASON_UNSCHEDULABLE: &str = "Unschedulable";

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

fn is(owner: &OwnerReference, group: &str, kind: &str, name: &str) -> bool {
    group_of(&owner.api_version) == group && owner.kind == kind && owner.name == name
}

/// Whether `pod` belongs to `workload`: the workload controls the pod directly (a StatefulSet,
/// Job or ReplicaSet), or controls the ReplicaSet that controls it (a Deployment).
/// `replica_set_owner` finds the controller of a ReplicaSet in the pod's namespace by name.
pub fn belongs(
    pod: &Pod,
    workload: &WorkloadRef,
    replica_set_owner: impl Fn(&str) -> Option<OwnerReference>,
) -> bool {
    if pod.metadata.namespace.as_deref() != Some(workload.namespace.as_str()) {
        return false;
    }
    let Some(owner) = controller_of(pod.metadata.owner_references.as_deref()) else {
        return false;
    };
    let group = workload.group();
    if is(owner, group, &workload.kind, &workload.name) {
        return true;
    }
    group_of(&owner.api_version) == "apps"
        && owner.kind == "ReplicaSet"
        && replica_set_owner(&owner.name)
            .is_some_and(|o| is(&o, group, &workload.kind, &workload.name))
}

/// When the scheduler last declared `pod` unschedulable, if it is still waiting for a node.
pub fn unschedulable_since(pod: &Pod) -> Option<Timestamp> {
    if pod.metadata.deletion_timestamp.is_some()
        || pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    {
        return None;
    }
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")?;
    if condition.status != "False" || condition.reason.as_deref() != Some(REASON_UNSCHEDULABLE) {
        return None;
    }
    // Without a transition time there is no telling how long it waited; it does not count.
    condition.last_transition_time.as_ref().map(|t| t.0)
}

/// Whether `since` lies more than `threshold` before `now`.
pub fn waited_longer(since: Timestamp, now: Timestamp, threshold: Duration) -> bool {
    let waited = now.as_millisecond().saturating_sub(since.as_millisecond());
    i128::from(waited) > i128::try_from(threshold.as_millis()).unwrap_or(i128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workload(api_version: &str, kind: &str, name: &str) -> WorkloadRef {
        WorkloadRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: "default".into(),
            name: name.into(),
        }
    }

    fn owned_by(namespace: &str, api_version: &str, kind: &str, name: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": namespace,
            "ownerReferences": [{"apiVersion": api_version, "kind": kind, "name": name,
                "uid": "u", "controller": true}]}}))
        .expect("pod")
    }

    #[test]
    fn membership_follows_the_controller_chain() {
        let deployment: OwnerReference = serde_json::from_value(json!({"apiVersion": "apps/v1",
            "kind": "Deployment", "name": "web", "uid": "d", "controller": true}))
        .expect("owner");
        let rs_owner = |name: &str| (name == "web-abc").then(|| deployment.clone());
        let cases = [
            (
                owned_by("default", "apps/v1", "ReplicaSet", "web-abc"),
                workload("apps/v1", "Deployment", "web"),
                true,
            ),
            (
                owned_by("default", "apps/v1", "ReplicaSet", "api-abc"),
                workload("apps/v1", "Deployment", "web"),
                false,
            ),
            (
                owned_by("other", "apps/v1", "ReplicaSet", "web-abc"),
                workload("apps/v1", "Deployment", "web"),
                false,
            ),
            (
                owned_by("default", "apps/v1", "StatefulSet", "db"),
                workload("apps/v1", "StatefulSet", "db"),
                true,
            ),
            (
                owned_by("default", "batch/v1", "Job", "db"),
                workload("apps/v1", "StatefulSet", "db"),
                false,
            ),
            (
                owned_by("default", "batch/v1", "Job", "once"),
                workload("batch/v1", "Job", "once"),
                true,
            ),
            (
                owned_by("default", "apps/v1", "ReplicaSet", "web-abc"),
                workload("apps/v1", "ReplicaSet", "web-abc"),
                true,
            ),
        ];
        for (pod, w, want) in cases {
            assert_eq!(belongs(&pod, &w, rs_owner), want, "{w:?}");
        }
    }

    #[test]
    fn only_pending_pods_reported_unschedulable_count() {
        let at = "2026-01-01T00:00:00Z";
        let pod = |extra: serde_json::Value| -> Pod {
            let mut v = json!({"metadata": {"name": "p"}, "spec": {"containers": []},
                "status": {"conditions": [{"type": "PodScheduled", "status": "False",
                    "reason": "Unschedulable", "lastTransitionTime": at}]}});
            for (k, x) in extra.as_object().expect("object") {
                v[k] = x.clone();
            }
            serde_json::from_value(v).expect("pod")
        };
        let since: Timestamp = at.parse().expect("time");
        assert_eq!(unschedulable_since(&pod(json!({}))), Some(since));
        let not_counted = [
            json!({"spec": {"nodeName": "n", "containers": []}}),
            json!({"metadata": {"name": "p", "deletionTimestamp": at}}),
            json!({"status": {"conditions": [{"type": "PodScheduled", "status": "True"}]}}),
            json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "SchedulerError", "lastTransitionTime": at}]}}),
            json!({"status": {"conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable"}]}}),
        ];
        for extra in not_counted {
            assert_eq!(unschedulable_since(&pod(extra.clone())), None, "{extra}");
        }
        let minute = Duration::from_secs(60);
        let later = |secs: i64| since + jiff::SignedDuration::from_secs(secs);
        assert!(!waited_longer(since, later(60), minute));
        assert!(waited_longer(since, later(61), minute));
        assert!(!waited_longer(since, later(-5), Duration::ZERO));
    }
}
