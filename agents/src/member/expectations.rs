//! Expectations: the pod creates and deletes a controller has made that its pod cache has not
//! shown yet. Until the cache catches up, the owner is not resized again, so a lagging cache
//! can never make a controller create or delete the same pods twice.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

/// How long to trust that our own writes will show up in the cache; after that the owner is
/// looked at afresh (a watch that dropped an event must not wedge it forever).
const TIMEOUT: Duration = Duration::from_secs(30);

struct Pending {
    creates: HashSet<String>,
    deletes: HashSet<String>,
    since: Instant,
}

/// Outstanding writes per owner UID.
#[derive(Default)]
pub struct Expectations {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    /// Notes that the owner `uid` just created and deleted these pods.
    pub fn expect(&self, uid: &str, creates: HashSet<String>, deletes: HashSet<String>) {
        if creates.is_empty() && deletes.is_empty() {
            return;
        }
        let pending = Pending {
            creates,
            deletes,
            since: Instant::now(),
        };
        self.lock().insert(uid.to_owned(), pending);
    }

    /// Whether the owner `uid` still waits for its writes to show up among `pods` (the cache's
    /// pods of the owner's namespace): a create is seen once the pod exists, a delete once the
    /// pod is gone or terminating.
    pub fn waiting<'a>(&self, uid: &str, pods: impl IntoIterator<Item = &'a Pod>) -> bool {
        let mut pending = self.lock();
        let Some(p) = pending.get_mut(uid) else {
            return false;
        };
        let live: HashMap<String, bool> = pods
            .into_iter()
            .map(|p| (p.name_any(), p.metadata.deletion_timestamp.is_none()))
            .collect();
        p.creates.retain(|n| !live.contains_key(n));
        p.deletes.retain(|n| live.get(n) == Some(&true));
        if (p.creates.is_empty() && p.deletes.is_empty()) || p.since.elapsed() > TIMEOUT {
            pending.remove(uid);
            return false;
        }
        true
    }

    /// Forgets an owner that is gone.
    pub fn forget(&self, uid: &str) {
        self.lock().remove(uid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, terminating: bool) -> Pod {
        let mut meta = json!({"name": name});
        if terminating {
            meta["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        serde_json::from_value(json!({"metadata": meta})).expect("pod")
    }

    fn names(list: &[&str]) -> HashSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn creates_are_seen_when_the_pod_exists() {
        let e = Expectations::default();
        e.expect("u", names(&["a", "b"]), HashSet::new());
        assert!(e.waiting("u", &[pod("a", false)]));
        assert!(!e.waiting("u", &[pod("a", false), pod("b", false)]));
        // Once satisfied, the owner is no longer tracked.
        assert!(!e.waiting("u", &[]));
    }

    #[test]
    fn deletes_are_seen_when_the_pod_is_gone_or_terminating() {
        let e = Expectations::default();
        e.expect("u", HashSet::new(), names(&["a", "b"]));
        assert!(e.waiting("u", &[pod("a", false), pod("b", true)]));
        assert!(!e.waiting("u", &[pod("b", true)]));
    }

    #[test]
    fn owners_are_independent_and_can_be_forgotten() {
        let e = Expectations::default();
        e.expect("u1", names(&["a"]), HashSet::new());
        e.expect("u2", HashSet::new(), HashSet::new());
        assert!(!e.waiting("u2", &[]));
        assert!(e.waiting("u1", &[]));
        e.forget("u1");
        assert!(!e.waiting("u1", &[]));
    }
}
