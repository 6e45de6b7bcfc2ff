//! The scheduler's incremental view of the cluster: one `NodeInfo` per node, kept current by
//! adding and removing pod demands as pods are bound, assumed, finished or deleted, so a
//! scheduling decision never recomputes usage from all pods.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Node, Pod};

use super::demand::{self, Demand};
use super::fit::{self, FitError};
use super::node::{NodeInfo, Usage};

/// `namespace/name` of a pod.
pub type PodKey = String;

/// A node slot. Pods can be known on a node before the node itself (two watches race) or
/// after it was deleted; their usage is kept so the node is right when it (re)appears.
#[derive(Debug, Default)]
struct Slot {
    info: Option<NodeInfo>,
    orphan_usage: Usage,
}

/// A pod counted on a node.
#[derive(Debug)]
struct Placement {
    node: String,
    demand: Demand,
    /// Chosen by us and not yet seen bound in the watch.
    assumed: bool,
}

#[derive(Debug, Default)]
pub struct Cache {
    nodes: BTreeMap<String, Slot>,
    placed: HashMap<PodKey, Placement>,
}

impl Cache {
    /// Records a node's facts, keeping its usage. Returns whether its facts changed, i.e.
    /// whether pods that failed to fit deserve another try.
    pub fn upsert_node(&mut self, node: &Node) -> Result<bool, demand::Error> {
        let mut fresh = NodeInfo::new(node)?;
        let slot = self.nodes.entry(fresh.name.clone()).or_default();
        let changed = match slot.info.take() {
            Some(old) => {
                let changed = !old.same_facts(&fresh);
                fresh.usage = old.usage;
                changed
            }
            None => {
                fresh.usage = std::mem::take(&mut slot.orphan_usage);
                true
            }
        };
        slot.info = Some(fresh);
        Ok(changed)
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(slot) = self.nodes.get_mut(name) else {
            return;
        };
        if let Some(info) = slot.info.take() {
            slot.orphan_usage = info.usage;
        }
        if slot.orphan_usage.is_empty() {
            self.nodes.remove(name);
        }
    }

    /// Names of nodes currently known, for reconciling after a relist.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, s)| s.info.is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Counts `demand` on `node` for pod `key`, replacing any earlier placement of it.
    pub fn place(&mut self, key: &str, node: &str, demand: Demand, assumed: bool) {
        self.unplace(key);
        self.usage_mut(node).add(&demand);
        self.placed.insert(
            key.to_string(),
            Placement {
                node: node.to_string(),
                demand,
                assumed,
            },
        );
    }

    /// The watch showed pod `key` bound to `node`: confirm an assumption or count it anew.
    pub fn confirm(&mut self, key: &str, node: &str, demand: Demand) {
        match self.placed.get_mut(key) {
            Some(p) if p.node == node && p.demand == demand => p.assumed = false,
            _ => self.place(key, node, demand, false),
        }
    }

    /// Stops counting pod `key`. Returns whether it was counted (capacity was freed).
    pub fn unplace(&mut self, key: &str) -> bool {
        let Some(p) = self.placed.remove(key) else {
            return false;
        };
        let slot = self.nodes.entry(p.node.clone()).or_default();
        match slot.info.as_mut() {
            Some(info) => info.usage.remove(&p.demand),
            None => {
                slot.orphan_usage.remove(&p.demand);
                if slot.orphan_usage.is_empty() {
                    self.nodes.remove(&p.node);
                }
            }
        }
        true
    }

    /// Drops an assumption whose binding failed; a confirmed placement stays.
    pub fn forget(&mut self, key: &str) -> bool {
        if self.placed.get(key).is_some_and(|p| p.assumed) {
            return self.unplace(key);
        }
        false
    }

    pub fn placed_keys(&self) -> impl Iterator<Item = PodKey> + '_ {
        self.placed.keys().cloned()
    }

    pub fn is_placed(&self, key: &str) -> bool {
        self.placed.contains_key(key)
    }

    /// Chooses a node for `pod` among the existing nodes.
    pub fn schedule(&self, pod: &Pod, demand: &Demand) -> Result<&NodeInfo, FitError> {
        fit::schedule(
            pod,
            demand,
            self.nodes.values().filter_map(|s| s.info.as_ref()),
        )
    }

    #[cfg(test)]
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name).and_then(|s| s.info.as_ref())
    }

    fn usage_mut(&mut self, node: &str) -> &mut Usage {
        let slot = self.nodes.entry(node.to_string()).or_default();
        match slot.info.as_mut() {
            Some(info) => &mut info.usage,
            None => &mut slot.orphan_usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cpu: &str) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name},
            "status": {"allocatable": {"cpu": cpu, "pods": "10"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}))
        .expect("node")
    }

    fn cpu(milli: i64) -> (Pod, Demand) {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": format!("{milli}m")}}}]}}))
        .expect("pod");
        let d = Demand::of(&pod).expect("demand");
        (pod, d)
    }

    fn used(cache: &Cache, node: &str) -> (i128, i64) {
        let info = cache.node(node).expect("node");
        (info.usage.requested.cpu.as_milli(), info.usage.pods)
    }

    #[test]
    fn assumptions_count_until_confirmed_or_forgotten() {
        let mut cache = Cache::default();
        assert!(cache.upsert_node(&node("n1", "2")).expect("node"));
        let (pod, d) = cpu(1000);
        cache.place("ns/a", "n1", d.clone(), true);
        cache.place("ns/b", "n1", d.clone(), true);
        assert_eq!(used(&cache, "n1"), (2000, 2));
        assert!(
            cache.schedule(&pod, &d).is_err(),
            "assumed pods fill the node"
        );
        // Confirmation does not count twice; a forgotten confirmed pod stays.
        cache.confirm("ns/a", "n1", d);
        assert!(!cache.forget("ns/a"));
        assert!(cache.forget("ns/b"));
        assert_eq!(used(&cache, "n1"), (1000, 1));
        assert!(cache.unplace("ns/a") && !cache.unplace("ns/a"));
        assert_eq!(used(&cache, "n1"), (0, 0));
    }

    #[test]
    fn usage_survives_node_updates_and_races() {
        let mut cache = Cache::default();
        let (_, d) = cpu(500);
        // The pod arrives before its node.
        cache.confirm("ns/a", "n1", d.clone());
        assert!(cache.node("n1").is_none());
        cache.upsert_node(&node("n1", "2")).expect("node");
        assert_eq!(used(&cache, "n1"), (500, 1));
        // A heartbeat with the same facts keeps usage and asks for no retry.
        assert!(!cache.upsert_node(&node("n1", "2")).expect("node"));
        assert!(cache.upsert_node(&node("n1", "4")).expect("node"));
        assert_eq!(used(&cache, "n1"), (500, 1));
        cache.remove_node("n1");
        assert_eq!(cache.node_names(), Vec::<String>::new());
        cache.upsert_node(&node("n1", "4")).expect("node");
        assert_eq!(used(&cache, "n1"), (500, 1));
        // Moving a pod moves its usage.
        cache.upsert_node(&node("n2", "4")).expect("node");
        cache.confirm("ns/a", "n2", d);
        assert_eq!((used(&cache, "n1"), used(&cache, "n2")), ((0, 0), (500, 1)));
    }
}
