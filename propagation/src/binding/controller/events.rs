//! Best-effort Kubernetes Events on a binding and its resource template, which Karmada records
//! on both so `kubectl describe` of either shows how propagation went.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};

use super::BindingObject;

/// Which objects an event is recorded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regarding {
    Binding,
    BindingAndTemplate,
}

/// Records one event; a lost event is logged and never fails the reconcile.
pub async fn record<K: BindingObject>(
    recorder: &Recorder,
    binding: &K,
    regarding: Regarding,
    type_: EventType,
    action: &str,
    reason: &str,
    note: &str,
) {
    let mut objects = vec![binding.object_ref(&())];
    if regarding == Regarding::BindingAndTemplate {
        objects.push(template_reference(binding));
    }
    for object in objects {
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note.to_string()),
            action: action.to_string(),
            secondary: None,
        };
        if let Err(error) = recorder.publish(&event, &object).await {
            tracing::debug!(%error, reason, "cannot record event");
        }
    }
}

/// A reference to the binding's resource template.
fn template_reference<K: BindingObject>(binding: &K) -> ObjectReference {
    let r = &binding.spec().resource;
    ObjectReference {
        api_version: Some(r.api_version.clone()),
        kind: Some(r.kind.clone()),
        namespace: r.namespace.clone(),
        name: Some(r.name.clone()),
        uid: r.uid.clone(),
        ..Default::default()
    }
}
