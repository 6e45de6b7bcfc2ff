//! Which bindings depend on which objects, as last computed, so a dependency appearing or
//! changing wakes exactly the bindings that refer to it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use karmada_api::work::binding::ResourceBinding;
use kube::runtime::reflector::ObjectRef;

use crate::dependencies::{Dependency, Selection};

/// `(kind, namespace, name)` of a dependency; no two dependency kinds share a kind name.
type Key = (String, String, String);

/// Parent bindings and their dependencies, both ways round.
#[derive(Debug, Default)]
pub struct Index {
    maps: Mutex<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    forward: HashMap<ObjectRef<ResourceBinding>, Vec<Key>>,
    reverse: HashMap<Key, HashSet<ObjectRef<ResourceBinding>>>,
    /// What each parent depends on by label; few parents select, so they are scanned.
    selections: HashMap<ObjectRef<ResourceBinding>, Vec<Selection>>,
}

impl Index {
    /// Records that `parent` now depends on exactly `dependencies`, and on whatever
    /// `selections` select (including objects created later).
    pub fn record(
        &self,
        parent: ObjectRef<ResourceBinding>,
        dependencies: &[Dependency],
        selections: &[Selection],
    ) {
        let keys: Vec<Key> = dependencies
            .iter()
            .map(|d| (d.kind.clone(), d.namespace.clone(), d.name.clone()))
            .collect();
        let mut maps = self.lock();
        maps.unlink(&parent);
        if selections.is_empty() {
            maps.selections.remove(&parent);
        } else {
            maps.selections.insert(parent.clone(), selections.to_vec());
        }
        for key in &keys {
            maps.reverse
                .entry(key.clone())
                .or_default()
                .insert(parent.clone());
        }
        maps.forward.insert(parent, keys);
    }

    /// Forgets `parent`; `true` when it was known.
    pub fn forget(&self, parent: &ObjectRef<ResourceBinding>) -> bool {
        let mut maps = self.lock();
        let known = maps.unlink(parent);
        maps.forward.remove(parent);
        maps.selections.remove(parent);
        known
    }

    pub fn knows(&self, parent: &ObjectRef<ResourceBinding>) -> bool {
        self.lock().forward.contains_key(parent)
    }

    /// The bindings depending on the object `kind` `namespace/name` with `labels`: by name, or
    /// through a selection of its labels.
    pub fn dependents(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<ObjectRef<ResourceBinding>> {
        let key = (kind.to_string(), namespace.to_string(), name.to_string());
        let maps = self.lock();
        let mut parents: HashSet<ObjectRef<ResourceBinding>> =
            maps.reverse.get(&key).cloned().unwrap_or_default();
        parents.extend(
            maps.selections
                .iter()
                .filter(|(_, selections)| {
                    selections
                        .iter()
                        .any(|s| s.selects(kind, namespace, labels))
                })
                .map(|(parent, _)| parent.clone()),
        );
        parents.into_iter().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Maps> {
        self.maps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Maps {
    /// Drops `parent` from the reverse map; `true` when it had a forward entry.
    fn unlink(&mut self, parent: &ObjectRef<ResourceBinding>) -> bool {
        let Some(keys) = self.forward.get(parent) else {
            return false;
        };
        for key in keys {
            if let Some(parents) = self.reverse.get_mut(key) {
                parents.remove(parent);
                if parents.is_empty() {
                    self.reverse.remove(key);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dependencies::references::tests::dep;

    #[test]
    fn dependents_follow_the_latest_record() {
        let index = Index::default();
        let none = BTreeMap::new();
        let web = ObjectRef::new("web-deployment").within("shop");
        let api = ObjectRef::new("api-deployment").within("shop");
        index.record(
            web.clone(),
            &[dep("ConfigMap", "cfg"), dep("Secret", "creds")],
            &[],
        );
        index.record(api.clone(), &[dep("ConfigMap", "cfg")], &[]);
        let names = |refs: Vec<ObjectRef<ResourceBinding>>| {
            let mut names: Vec<String> = refs.into_iter().map(|r| r.name).collect();
            names.sort();
            names
        };
        assert_eq!(
            names(index.dependents("ConfigMap", "shop", "cfg", &none)),
            ["api-deployment", "web-deployment"]
        );
        assert_eq!(
            index.dependents("Secret", "shop", "creds", &none),
            std::slice::from_ref(&web)
        );
        assert!(
            index
                .dependents("ConfigMap", "other", "cfg", &none)
                .is_empty()
        );

        index.record(web.clone(), &[dep("ConfigMap", "cfg")], &[]);
        assert!(
            index
                .dependents("Secret", "shop", "creds", &none)
                .is_empty()
        );
        assert!(index.forget(&api));
        assert!(!index.forget(&api));
        assert_eq!(
            index.dependents("ConfigMap", "shop", "cfg", &none),
            std::slice::from_ref(&web)
        );
        assert!(index.knows(&web) && !index.knows(&api));
    }

    #[test]
    fn objects_wake_the_parents_selecting_their_labels() {
        let index = Index::default();
        let import = ObjectRef::new("web-serviceimport").within("shop");
        let selection = Selection {
            api_version: "discovery.k8s.io/v1".into(),
            kind: "EndpointSlice".into(),
            namespace: "shop".into(),
            labels: BTreeMap::from([("kubernetes.io/service-name".into(), "derived-web".into())]),
        };
        index.record(import.clone(), &[], std::slice::from_ref(&selection));
        let labelled =
            BTreeMap::from([("kubernetes.io/service-name".into(), "derived-web".into())]);
        assert_eq!(
            index.dependents("EndpointSlice", "shop", "imported-member1-x", &labelled),
            std::slice::from_ref(&import),
            "a slice created after the record still wakes it"
        );
        assert!(
            index
                .dependents("EndpointSlice", "shop", "x", &BTreeMap::new())
                .is_empty()
        );
        assert!(
            index
                .dependents("EndpointSlice", "other", "x", &labelled)
                .is_empty()
        );
        index.record(import.clone(), &[], &[]);
        assert!(
            index
                .dependents("EndpointSlice", "shop", "x", &labelled)
                .is_empty()
        );
        index.record(import.clone(), &[], &[selection]);
        assert!(index.forget(&import));
        assert!(
            index
                .dependents("EndpointSlice", "shop", "x", &labelled)
                .is_empty()
        );
    }
}
