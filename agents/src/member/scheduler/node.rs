//! A node as the scheduler sees it: the facts filters read from the Node object, plus the
//! running total of what the pods placed on it take.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use super::demand::{self, Demand, HostPort, Resources};

/// The taint the node lifecycle controller puts on a node whose kubelet is not Ready.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

/// One node's scheduling facts and usage.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    /// Whether the node's `Ready` condition is `True`.
    pub ready: bool,
    pub allocatable: Resources,
    /// `allocatable.pods`: how many pods the node takes (zero when unset, as upstream).
    pub max_pods: i64,
    pub usage: Usage,
}

/// What the pods counted on a node take from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage {
    pub requested: Resources,
    pub spread_cpu_milli: i128,
    pub spread_memory: i128,
    pub pods: i64,
    pub host_ports: Vec<HostPort>,
}

impl Usage {
    pub fn add(&mut self, d: &Demand) {
        self.requested.add(&d.requests);
        self.spread_cpu_milli += d.spread_cpu_milli;
        self.spread_memory += d.spread_memory;
        self.pods += 1;
        self.host_ports.extend(d.host_ports.iter().cloned());
    }

    pub fn remove(&mut self, d: &Demand) {
        self.requested.sub(&d.requests);
        self.spread_cpu_milli -= d.spread_cpu_milli;
        self.spread_memory -= d.spread_memory;
        self.pods -= 1;
        for port in &d.host_ports {
            if let Some(i) = self.host_ports.iter().position(|p| p == port) {
                self.host_ports.swap_remove(i);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pods == 0
    }
}

impl NodeInfo {
    /// The facts of `node` with nothing placed on it yet. Allocatable falls back to capacity,
    /// which is what a kubelet reports when it reserves nothing.
    pub fn new(node: &Node) -> Result<Self, demand::Error> {
        let status = node.status.as_ref();
        let list = status
            .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
            .cloned()
            .unwrap_or_default();
        let max_pods = match list.get("pods") {
            Some(q) => karmada_apiserver::registry::quantity::Quantity::parse(&q.0)
                .map_err(|source| demand::Error {
                    resource: "pods".into(),
                    value: q.0.clone(),
                    source,
                })?
                .as_units(),
            None => 0,
        };
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        let spec = node.spec.as_ref();
        Ok(NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: spec.and_then(|s| s.taints.clone()).unwrap_or_default(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            ready,
            allocatable: Resources::from_list(&list)?,
            max_pods: i64::try_from(max_pods).unwrap_or(i64::MAX),
            usage: Usage::default(),
        })
    }

    /// A node with `pods` already bound to it, for callers holding plain objects.
    pub fn with_pods<'a>(
        node: &Node,
        pods: impl IntoIterator<Item = &'a Pod>,
    ) -> Result<Self, demand::Error> {
        let mut info = NodeInfo::new(node)?;
        for pod in pods {
            info.usage.add(&Demand::of(pod)?);
        }
        Ok(info)
    }

    /// Whether the facts filters read differ (usage aside), i.e. whether pods that did not fit
    /// before deserve another try.
    pub fn same_facts(&self, other: &NodeInfo) -> bool {
        self.labels == other.labels
            && self.taints == other.taints
            && self.unschedulable == other.unschedulable
            && self.ready == other.ready
            && self.allocatable == other.allocatable
            && self.max_pods == other.max_pods
    }

    /// The taints filters check: the node's own, plus `not-ready` when the node is not Ready
    /// (what the node lifecycle controller would add).
    pub fn effective_taints(&self) -> impl Iterator<Item = &Taint> {
        let synthetic = (!self.ready && !self.taints.iter().any(|t| t.key == NOT_READY_TAINT))
            .then_some(&*NOT_READY);
        self.taints.iter().chain(synthetic)
    }
}

static NOT_READY: std::sync::LazyLock<Taint> = std::sync::LazyLock::new(|| Taint {
    key: NOT_READY_TAINT.into(),
    effect: "NoSchedule".into(),
    value: None,
    time_added: None,
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(value: serde_json::Value) -> Node {
        serde_json::from_value(value).expect("node")
    }

    #[test]
    fn reads_allocatable_readiness_and_usage() {
        let n = node(json!({"metadata": {"name": "n1", "labels": {"zone": "a"}},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}));
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}))
        .expect("pod");
        let info = NodeInfo::with_pods(&n, [&pod, &pod]).expect("info");
        assert_eq!(info.allocatable.cpu.as_milli(), 4000);
        assert_eq!((info.max_pods, info.usage.pods), (110, 2));
        assert_eq!(info.usage.requested.cpu.as_milli(), 2000);
        assert!(info.ready && info.effective_taints().next().is_none());

        let mut usage = info.usage;
        usage.remove(&Demand::of(&pod).expect("demand"));
        assert_eq!((usage.pods, usage.requested.cpu.as_milli()), (1, 1000));
    }

    #[test]
    fn an_unready_node_carries_the_not_ready_taint_once() {
        let bare = NodeInfo::new(&node(json!({"metadata": {"name": "n"}}))).expect("info");
        let keys: Vec<_> = bare.effective_taints().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, [NOT_READY_TAINT]);
        let tainted = NodeInfo::new(&node(
            json!({"metadata": {"name": "n"}, "spec": {"taints": [
            {"key": NOT_READY_TAINT, "effect": "NoExecute"}]}}),
        ))
        .expect("info");
        assert_eq!(tainted.effective_taints().count(), 1);
        assert!(!bare.same_facts(&tainted));
    }
}
