//! Events the driver records about each cycle, on the binding and on its resource template,
//! so `kubectl describe` of either shows where the workload went or why it could not.

use k8s_openapi::api::core::v1::ObjectReference;
use karmada_api::work::binding::{ResourceBindingSpec, TargetCluster};
use karmada_runtime::events::Recorder;
use karmada_runtime::events::{self, Report};
use kube::runtime::events::EventType;

/// Event reason: a cycle placed the binding.
pub const SCHEDULE_SUCCEED_REASON: &str = "ScheduleBindingSucceed";
/// Event reason: a cycle failed.
pub const SCHEDULE_FAILED_REASON: &str = "ScheduleBindingFailed";

const ACTION: &str = "Schedule";

/// A reference to the binding's resource template, from `spec.resource`.
pub fn template_reference(spec: &ResourceBindingSpec) -> ObjectReference {
    events::template_reference(&spec.resource)
}

/// The note of a success event: the result as `member1:1, member2:1`.
pub fn success_note(clusters: &[TargetCluster]) -> String {
    let result: Vec<String> = clusters
        .iter()
        .map(|c| format!("{}:{}", c.name, c.replicas.unwrap_or(0)))
        .collect();
    format!(
        "Binding has been scheduled successfully. Result: {{{}}}",
        result.join(", ")
    )
}

/// Records one event on the binding and the same on its template. Events are best effort:
/// a lost event must not fail the cycle that already wrote its result.
pub async fn publish(
    recorder: &Recorder,
    binding: &ObjectReference,
    template: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let report = Report {
        type_,
        action: ACTION,
        reason,
        note,
    };
    events::record(recorder, [binding, template], report).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_notes_list_each_cluster_with_its_replicas() {
        let clusters: Vec<TargetCluster> = serde_json::from_value(json!([
            {"name": "member1", "replicas": 1}, {"name": "member2", "replicas": 1}, {"name": "member3"},
        ]))
        .unwrap();
        assert_eq!(
            success_note(&clusters),
            "Binding has been scheduled successfully. Result: {member1:1, member2:1, member3:0}"
        );
        assert_eq!(
            success_note(&[]),
            "Binding has been scheduled successfully. Result: {}"
        );
    }
}
