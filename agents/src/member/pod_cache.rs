//! The member's cache of every pod, indexed by controller: the pods a ReplicaSet (or Job,
//! StatefulSet, DaemonSet) controls and the orphans of its namespace it may adopt are found
//! without looking at every pod. Kubernetes' controllers read their pods through the same kind
//! of index; without it each pass of each owner costs time in proportion to all pods.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::runtime::{self, Context};

/// Every pod, and an index of them by controller. Cheap to clone.
#[derive(Clone)]
pub struct PodCache {
    store: Store<Pod>,
    index: Arc<RwLock<Index>>,
}

/// The index key of a pod: its controller's UID, or for a pod without a controller its
/// namespace (UIDs never contain a `/`, so the two cannot collide).
fn key_of(pod: &Pod) -> String {
    match runtime::controller_of(pod.metadata.owner_references.as_deref()) {
        Some(owner) => owner.uid.clone(),
        None => orphans_of(pod.metadata.namespace.as_deref().unwrap_or_default()),
    }
}

fn orphans_of(namespace: &str) -> String {
    format!("orphans/{namespace}")
}

/// Pods by index key, and the key each pod is under (to move it when its controller changes).
#[derive(Default)]
struct Keys {
    pods: HashMap<String, HashSet<ObjectRef<Pod>>>,
    key: HashMap<ObjectRef<Pod>, String>,
}

impl Keys {
    fn insert(&mut self, pod: &Pod) {
        let object = ObjectRef::from_obj(pod);
        let key = key_of(pod);
        if self.key.get(&object) == Some(&key) {
            return;
        }
        self.remove(&object);
        self.pods
            .entry(key.clone())
            .or_default()
            .insert(object.clone());
        self.key.insert(object, key);
    }

    fn remove(&mut self, object: &ObjectRef<Pod>) {
        let Some(key) = self.key.remove(object) else {
            return;
        };
        if let Some(pods) = self.pods.get_mut(&key) {
            pods.remove(object);
            if pods.is_empty() {
                self.pods.remove(&key);
            }
        }
    }
}

/// The index as served, and the one a relist is building (served once the relist completes,
/// as the store itself does).
#[derive(Default)]
struct Index {
    current: Keys,
    relisting: Option<Keys>,
}

impl Index {
    fn apply(&mut self, event: &watcher::Event<Pod>) {
        match event {
            watcher::Event::Apply(pod) => self.current.insert(pod),
            watcher::Event::Delete(pod) => self.current.remove(&ObjectRef::from_obj(pod)),
            watcher::Event::Init => self.relisting = Some(Keys::default()),
            watcher::Event::InitApply(pod) => self.relisting.get_or_insert_default().insert(pod),
            watcher::Event::InitDone => {
                if let Some(relisted) = self.relisting.take() {
                    self.current = relisted;
                }
            }
        }
    }
}

impl PodCache {
    /// A cache, and the future that keeps it filled until the context is cancelled (the caller
    /// runs it beside the controllers that read it).
    pub fn start(ctx: &Context) -> (PodCache, impl Future<Output = ()> + Send + use<>) {
        let index = Arc::new(RwLock::new(Index::default()));
        let observed = index.clone();
        let (store, fill) = runtime::cache_observed(ctx, move |event| {
            observed
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .apply(event);
        });
        (PodCache { store, index }, fill)
    }

    /// Every pod.
    pub fn store(&self) -> &Store<Pod> {
        &self.store
    }

    /// The pods of `namespace` controlled by `uid` and those without a controller (which the
    /// owner may adopt), once the cache is filled; `None` when the member shuts down first.
    pub async fn owned_or_orphaned(
        &self,
        ctx: &Context,
        namespace: &str,
        uid: &str,
    ) -> Option<Vec<Arc<Pod>>> {
        runtime::ready(ctx, &self.store).await?;
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        let keys = [uid.to_owned(), orphans_of(namespace)];
        let pods = keys
            .iter()
            .filter_map(|key| index.current.pods.get(key))
            .flatten()
            .filter_map(|object| self.store.get(object))
            .filter(|pod| pod.metadata.namespace.as_deref() == Some(namespace))
            .collect();
        Some(pods)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(namespace: &str, name: &str, controller: Option<&str>) -> Pod {
        let owners: Vec<_> = controller
            .map(|uid| json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": true}))
            .into_iter()
            .collect();
        serde_json::from_value(json!({
            "metadata": {"namespace": namespace, "name": name, "ownerReferences": owners}
        }))
        .expect("pod")
    }

    fn names(index: &Index, key: &str) -> Vec<String> {
        let mut names: Vec<String> = index
            .current
            .pods
            .get(key)
            .into_iter()
            .flatten()
            .map(|o| o.name.clone())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn pods_move_between_owners_and_orphans() {
        let mut index = Index::default();
        index.apply(&watcher::Event::Apply(pod("a", "p1", Some("u1"))));
        index.apply(&watcher::Event::Apply(pod("a", "p2", None)));
        index.apply(&watcher::Event::Apply(pod("b", "p3", None)));
        assert_eq!(names(&index, "u1"), ["p1"]);
        assert_eq!(names(&index, "orphans/a"), ["p2"]);
        assert_eq!(names(&index, "orphans/b"), ["p3"]);
        // Released, then adopted by another owner.
        index.apply(&watcher::Event::Apply(pod("a", "p1", None)));
        assert_eq!(names(&index, "u1"), Vec::<String>::new());
        assert_eq!(names(&index, "orphans/a"), ["p1", "p2"]);
        index.apply(&watcher::Event::Apply(pod("a", "p2", Some("u2"))));
        assert_eq!(names(&index, "u2"), ["p2"]);
        index.apply(&watcher::Event::Delete(pod("a", "p2", Some("u2"))));
        assert!(!index.current.pods.contains_key("u2"), "empty keys go");
    }

    #[test]
    fn a_relist_replaces_the_index_once_done() {
        let mut index = Index::default();
        index.apply(&watcher::Event::Apply(pod("a", "gone", Some("u1"))));
        index.apply(&watcher::Event::Init);
        index.apply(&watcher::Event::InitApply(pod("a", "kept", Some("u1"))));
        assert_eq!(
            names(&index, "u1"),
            ["gone"],
            "served until the relist completes"
        );
        index.apply(&watcher::Event::InitDone);
        assert_eq!(names(&index, "u1"), ["kept"]);
        assert_eq!(index.current.key.len(), 1);
    }
}
