//! Which bindings depend on which objects, as last computed, so a dependency appearing or
//! changing wakes exactly the bindings that refer to it.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use karmada_api::work::binding::ResourceBinding;
use kube::runtime::reflector::ObjectRef;

use crate::dependencies::Dependency;

/// `(kind, namespace, name)` of a dependency; its group is always core (`v1`).
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
}

impl Index {
    /// Records that `parent` now depends on exactly `dependencies`.
    pub fn record(&self, parent: ObjectRef<ResourceBinding>, dependencies: &[Dependency]) {
        let keys: Vec<Key> = dependencies
            .iter()
            .map(|d| (d.kind.clone(), d.namespace.clone(), d.name.clone()))
            .collect();
        let mut maps = self.lock();
        maps.unlink(&parent);
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
        known
    }

    pub fn knows(&self, parent: &ObjectRef<ResourceBinding>) -> bool {
        self.lock().forward.contains_key(parent)
    }

    /// The bindings depending on the object `kind` `namespace/name`.
    pub fn dependents(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Vec<ObjectRef<ResourceBinding>> {
        let key = (kind.to_string(), namespace.to_string(), name.to_string());
        self.lock()
            .reverse
            .get(&key)
            .map(|parents| parents.iter().cloned().collect())
            .unwrap_or_default()
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
        let web = ObjectRef::new("web-deployment").within("shop");
        let api = ObjectRef::new("api-deployment").within("shop");
        index.record(
            web.clone(),
            &[dep("ConfigMap", "cfg"), dep("Secret", "creds")],
        );
        index.record(api.clone(), &[dep("ConfigMap", "cfg")]);
        let names = |refs: Vec<ObjectRef<ResourceBinding>>| {
            let mut names: Vec<String> = refs.into_iter().map(|r| r.name).collect();
            names.sort();
            names
        };
        assert_eq!(
            names(index.dependents("ConfigMap", "shop", "cfg")),
            ["api-deployment", "web-deployment"]
        );
        assert_eq!(
            index.dependents("Secret", "shop", "creds"),
            std::slice::from_ref(&web)
        );
        assert!(index.dependents("ConfigMap", "other", "cfg").is_empty());

        index.record(web.clone(), &[dep("ConfigMap", "cfg")]);
        assert!(index.dependents("Secret", "shop", "creds").is_empty());
        assert!(index.forget(&api));
        assert!(!index.forget(&api));
        assert_eq!(
            index.dependents("ConfigMap", "shop", "cfg"),
            std::slice::from_ref(&web)
        );
        assert!(index.knows(&web) && !index.knows(&api));
    }
}
