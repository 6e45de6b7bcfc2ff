//! Best-effort Kubernetes Events: one event recorded on each object it regards, and the
//! reference to a binding's resource template that Karmada records its events on too.

use k8s_openapi::api::core::v1::ObjectReference;
use karmada_api::work::binding::ObjectReference as BoundResource;
use kube::runtime::events::{Event, EventType, Recorder};

/// What an event says: its type, the action it reports, a machine-readable reason and a note
/// for people.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub type_: EventType,
    pub action: &'a str,
    pub reason: &'a str,
    pub note: &'a str,
}

/// Records `report` on every object in `regarding`. A lost event is logged and otherwise
/// ignored: events are advisory and must never fail the reconcile that already did its work.
pub async fn record<'a>(
    recorder: &Recorder,
    regarding: impl IntoIterator<Item = &'a ObjectReference>,
    report: Report<'_>,
) {
    let event = Event {
        type_: report.type_,
        reason: report.reason.to_string(),
        note: Some(report.note.to_string()),
        action: report.action.to_string(),
        secondary: None,
    };
    for object in regarding {
        if let Err(error) = recorder.publish(&event, object).await {
            let name = object.name.as_deref().unwrap_or_default();
            tracing::debug!(%error, object = name, reason = report.reason, "cannot record event");
        }
    }
}

/// A reference to the resource template a binding's `spec.resource` names. Its
/// resourceVersion is left out: the binding's copy of it is not the template's identity.
pub fn template_reference(resource: &BoundResource) -> ObjectReference {
    ObjectReference {
        api_version: Some(resource.api_version.clone()),
        kind: Some(resource.kind.clone()),
        namespace: resource.namespace.clone(),
        name: Some(resource.name.clone()),
        uid: resource.uid.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_reference_names_the_bound_resource() {
        let cases = [
            (Some("shop"), Some("u-1"), "apps/v1", "Deployment"),
            (None, None, "rbac.authorization.k8s.io/v1", "ClusterRole"),
        ];
        for (namespace, uid, api_version, kind) in cases {
            let resource = BoundResource {
                api_version: api_version.into(),
                kind: kind.into(),
                namespace: namespace.map(Into::into),
                name: "nginx".into(),
                uid: uid.map(Into::into),
                resource_version: Some("7".into()),
            };
            let reference = template_reference(&resource);
            assert_eq!(reference.api_version.as_deref(), Some(api_version));
            assert_eq!(reference.kind.as_deref(), Some(kind));
            assert_eq!(reference.namespace.as_deref(), namespace);
            assert_eq!(reference.name.as_deref(), Some("nginx"));
            assert_eq!(reference.uid.as_deref(), uid);
            assert_eq!(reference.resource_version, None);
        }
    }
}
