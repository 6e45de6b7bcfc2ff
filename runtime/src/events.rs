//! Best-effort Kubernetes Events: one event recorded on each object it regards, and the
//! reference to a binding's resource template that Karmada records its events on too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ObjectReference;
use karmada_api::work::binding::ObjectReference as BoundResource;
use kube::Client;
use kube::runtime::events::{Event, EventType, Reporter};

/// How many distinct notes a [`Recorder`] remembers before it starts afresh.
const NOTES_REMEMBERED: usize = 1024;

/// Records Events like Kubernetes' own recorder: repeats of one event (same object, reason and
/// note) become one Event with a count, and events that say something else stay apart. kube's
/// recorder alone folds every event with the same reason on an object into the first one, so
/// "scheduled to member1 and member2" followed by "scheduled to member1 and member3" would
/// show only the first; here each distinct note has a recorder of its own.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    by_note: Arc<Mutex<HashMap<String, kube::runtime::events::Recorder>>>,
}

impl Recorder {
    pub fn new(client: Client, reporter: Reporter) -> Recorder {
        Recorder {
            client,
            reporter,
            by_note: Arc::default(),
        }
    }

    fn for_note(&self, note: &str) -> kube::runtime::events::Recorder {
        let make =
            || kube::runtime::events::Recorder::new(self.client.clone(), self.reporter.clone());
        let Ok(mut by_note) = self.by_note.lock() else {
            return make();
        };
        if by_note.len() >= NOTES_REMEMBERED && !by_note.contains_key(note) {
            by_note.clear();
        }
        by_note.entry(note.to_string()).or_insert_with(make).clone()
    }
}

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
    let recorder = recorder.for_note(report.note);
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
