//! Member-side watches that bring a Work back to its reconciler when one of its applied objects
//! changes or disappears: one watch per kind, started the first time a Work uses the kind.

use std::collections::HashSet;
use std::sync::Mutex;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use karmada_api::work::work::{WORK_NAME_ANNOTATION, WORK_NAMESPACE_ANNOTATION, Work};
use karmada_propagation::binding::MANAGED_BY_KARMADA_LABEL;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Starts member watches on demand and owns their tasks.
pub struct Triggers {
    member: Client,
    /// Only Works of this namespace are triggered; other agents' annotations are ignored.
    namespace: String,
    sender: mpsc::Sender<ObjectRef<Work>>,
    started: Mutex<HashSet<GroupVersionKind>>,
    tasks: TaskTracker,
    cancel: CancellationToken,
}

impl Triggers {
    /// The triggers and the stream of Works to reconcile, for `Controller::reconcile_on`.
    pub fn new(
        member: Client,
        namespace: String,
        cancel: CancellationToken,
        capacity: usize,
    ) -> (Self, mpsc::Receiver<ObjectRef<Work>>) {
        let (sender, receiver) = mpsc::channel(capacity);
        let triggers = Self {
            member,
            namespace,
            sender,
            started: Mutex::new(HashSet::new()),
            tasks: TaskTracker::new(),
            cancel,
        };
        (triggers, receiver)
    }

    /// Watches the Karmada-managed objects of `resource` unless already watching them.
    pub fn ensure(&self, gvk: &GroupVersionKind, resource: &ApiResource) {
        let mut started = self
            .started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !started.insert(gvk.clone()) {
            return;
        }
        let api: Api<DynamicObject> = Api::all_with(self.member.clone(), resource);
        let config = watcher::Config::default().labels(&format!("{MANAGED_BY_KARMADA_LABEL}=true"));
        let namespace = self.namespace.clone();
        let mut sender = self.sender.clone();
        let cancel = self.cancel.clone();
        let kind = gvk.kind.clone();
        self.tasks.spawn(async move {
            // Touched objects include deletions, so an object removed by someone else is put
            // back; the backoff keeps a failing watch from spinning.
            let mut events = watcher(api, config)
                .default_backoff()
                .touched_objects()
                .boxed();
            loop {
                let next = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = events.next() => next,
                };
                match next {
                    None => return,
                    Some(Err(error)) => {
                        tracing::warn!(%kind, %error, "member watch failed; retrying with backoff");
                    }
                    Some(Ok(object)) => {
                        let Some(work) = work_of(&object, &namespace) else {
                            continue;
                        };
                        // A full channel waits for the controller rather than dropping the
                        // trigger; it only fails once the controller is gone.
                        tokio::select! {
                            () = cancel.cancelled() => return,
                            sent = sender.send(work) => if sent.is_err() { return },
                        }
                    }
                }
            }
        });
    }

    /// Stops every watch and waits for them to finish.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// The Work in `namespace` that the annotations of `object` name.
fn work_of(object: &DynamicObject, namespace: &str) -> Option<ObjectRef<Work>> {
    let annotations = object.annotations();
    let work_namespace = annotations.get(WORK_NAMESPACE_ANNOTATION)?;
    let name = annotations.get(WORK_NAME_ANNOTATION)?;
    (work_namespace == namespace).then(|| ObjectRef::new(name).within(namespace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn object(annotations: &[(&str, &str)]) -> DynamicObject {
        let mut object = DynamicObject::new(
            "c",
            &ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
        );
        object.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        );
        object
    }

    #[test]
    fn objects_map_to_the_work_their_annotations_name() {
        let ours = object(&[
            (WORK_NAMESPACE_ANNOTATION, "karmada-es-m1"),
            (WORK_NAME_ANNOTATION, "w"),
        ]);
        assert_eq!(
            work_of(&ours, "karmada-es-m1"),
            Some(ObjectRef::new("w").within("karmada-es-m1"))
        );
        assert_eq!(work_of(&ours, "karmada-es-m2"), None);
        assert_eq!(
            work_of(&object(&[(WORK_NAME_ANNOTATION, "w")]), "karmada-es-m1"),
            None
        );
    }
}
