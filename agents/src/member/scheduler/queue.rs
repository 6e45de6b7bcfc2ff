//! Pods waiting for a node: an active queue in creation order, pods out for binding, and pods
//! parked as unschedulable until the cluster changes.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::cache::PodKey;

/// Creation time first, then key, so pods created in the same second keep a stable order.
type Order = (Option<Time>, PodKey);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Active,
    /// Handed out by `pop`: being bound or just found unschedulable.
    InFlight,
    Unschedulable,
}

#[derive(Debug)]
struct Entry {
    pod: Arc<Pod>,
    order: Order,
    state: State,
}

#[derive(Debug, Default)]
pub struct Queue {
    entries: HashMap<PodKey, Entry>,
    active: BTreeSet<Order>,
    unschedulable: HashSet<PodKey>,
}

impl Queue {
    /// Adds a pending pod, or refreshes a known one. A parked pod whose spec changed (new
    /// tolerations, smaller requests) is tried again at once.
    pub fn upsert(&mut self, key: &str, pod: Arc<Pod>) {
        match self.entries.get_mut(key) {
            Some(entry) => {
                let respec = entry.pod.spec != pod.spec;
                entry.pod = pod;
                if respec && entry.state == State::Unschedulable {
                    self.unschedulable.remove(key);
                    entry.state = State::Active;
                    self.active.insert(entry.order.clone());
                }
            }
            None => {
                let order = (pod.metadata.creation_timestamp.clone(), key.to_string());
                self.active.insert(order.clone());
                self.entries.insert(
                    key.to_string(),
                    Entry {
                        pod,
                        order,
                        state: State::Active,
                    },
                );
            }
        }
    }

    /// Forgets a pod that was bound, finished or deleted.
    pub fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.active.remove(&entry.order);
            self.unschedulable.remove(key);
        }
    }

    /// The oldest active pod, now in flight.
    pub fn pop(&mut self) -> Option<(PodKey, Arc<Pod>)> {
        let (_, key) = self.active.pop_first()?;
        let entry = self.entries.get_mut(&key)?;
        entry.state = State::InFlight;
        Some((key, entry.pod.clone()))
    }

    /// Parks an in-flight pod until `retry_all`.
    pub fn park(&mut self, key: &str) {
        if let Some(entry) = self.entries.get_mut(key)
            && entry.state == State::InFlight
        {
            entry.state = State::Unschedulable;
            self.unschedulable.insert(key.to_string());
        }
    }

    /// Moves every parked pod back to the active queue.
    pub fn retry_all(&mut self) {
        for key in self.unschedulable.drain() {
            if let Some(entry) = self.entries.get_mut(&key) {
                entry.state = State::Active;
                self.active.insert(entry.order.clone());
            }
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = PodKey> + '_ {
        self.entries.keys().cloned()
    }

    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    pub fn has_parked(&self) -> bool {
        !self.unschedulable.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(created: &str, cpu: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": "p", "creationTimestamp": created},
                "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}),
            )
            .expect("pod"),
        )
    }

    #[test]
    fn pops_in_creation_order_then_name() {
        let mut q = Queue::default();
        q.upsert("ns/c", pod("2026-01-01T00:00:02Z", "1"));
        q.upsert("ns/b", pod("2026-01-01T00:00:01Z", "1"));
        q.upsert("ns/a", pod("2026-01-01T00:00:01Z", "1"));
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(k, _)| k)).collect();
        assert_eq!(order, ["ns/a", "ns/b", "ns/c"]);
    }

    #[test]
    fn parked_pods_wait_for_a_retry_or_a_new_spec() {
        let mut q = Queue::default();
        q.upsert("ns/a", pod("2026-01-01T00:00:01Z", "8"));
        q.upsert("ns/b", pod("2026-01-01T00:00:02Z", "8"));
        for _ in 0..2 {
            let (key, _) = q.pop().expect("pod");
            q.park(&key);
        }
        assert!(!q.has_active() && q.has_parked());
        // A status-only update (our own condition patch) does not wake the pod.
        q.upsert("ns/a", pod("2026-01-01T00:00:01Z", "8"));
        assert!(!q.has_active());
        q.upsert("ns/a", pod("2026-01-01T00:00:01Z", "1"));
        assert_eq!(q.pop().map(|(k, _)| k).as_deref(), Some("ns/a"));
        q.remove("ns/a");
        q.retry_all();
        assert_eq!(q.pop().map(|(k, _)| k).as_deref(), Some("ns/b"));
        assert!(q.pop().is_none() && !q.has_parked());
    }
}
