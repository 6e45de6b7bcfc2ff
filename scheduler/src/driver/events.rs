//! Events the driver records about each cycle, on the binding and on its resource template,
//! so `kubectl describe` of either shows where the workload went or why it could not.

use k8s_openapi::api::core::v1::ObjectReference;
use karmada_api::work::binding::{ResourceBindingSpec, TargetCluster};
use kube::runtime::events::{Event, EventType, Recorder};

/// Event reason: a cycle placed the binding.
pub const SCHEDULE_SUCCEED_REASON: &str = "ScheduleBindingSucceed";
/// Event reason: a cycle failed.
pub const SCHEDULE_FAILED_REASON: &str = "ScheduleBindingFailed";

const ACTION: &str = "Schedule";

/// A reference to the binding's resource template, from `spec.resource`.
pub fn template_reference(spec: &ResourceBindingSpec) -> ObjectReference {
    let r = &spec.resource;
    ObjectReference {
        api_version: Some(r.api_version.clone()),
        kind: Some(r.kind.clone()),
        namespace: r.namespace.clone(),
        name: Some(r.name.clone()),
        uid: r.uid.clone(),
        ..Default::default()
    }
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
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.to_string()),
        action: ACTION.to_string(),
        secondary: None,
    };
    for regarding in [binding, template] {
        if let Err(error) = recorder.publish(&event, regarding).await {
            tracing::debug!(%error, reason, "cannot record event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_template_reference_names_the_bound_resource() {
        let spec: ResourceBindingSpec = serde_json::from_value(json!({
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop",
                         "name": "nginx", "uid": "u-1", "resourceVersion": "7"},
        }))
        .unwrap();
        let reference = template_reference(&spec);
        assert_eq!(reference.api_version.as_deref(), Some("apps/v1"));
        assert_eq!(reference.kind.as_deref(), Some("Deployment"));
        assert_eq!(reference.namespace.as_deref(), Some("shop"));
        assert_eq!(reference.name.as_deref(), Some("nginx"));
        assert_eq!(reference.uid.as_deref(), Some("u-1"));
        // The binding's copy of the template version is not the template's identity.
        assert_eq!(reference.resource_version, None);
    }

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
