//! Best-effort Kubernetes Events on a binding and its resource template, which Karmada records
//! on both so `kubectl describe` of either shows how propagation went.

use karmada_runtime::events::Recorder;
use karmada_runtime::events::{self, Report, template_reference};
use kube::runtime::events::EventType;

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
        objects.push(template_reference(&binding.spec().resource));
    }
    let report = Report {
        type_,
        action,
        reason,
        note,
    };
    events::record(recorder, &objects, report).await;
}
