//! Node counts and resource totals of the member, computed from its cached nodes and pods the
//! way Karmada's cluster status reports them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use karmada_api::cluster::{NodeSummary, ResourceSummary};
use karmada_apiserver::registry::quantity::{Format, Quantity};

use crate::member::scheduler::demand::Demand;

/// The node resources summed into `allocatable`.
const ALLOCATABLE: [&str; 4] = ["cpu", "memory", "pods", "ephemeral-storage"];

/// Resources every requests summary lists, even at zero, so a reader sees "nothing in use"
/// rather than a missing key.
const ALWAYS_REPORTED: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// How many nodes the member has and how many of them are Ready.
pub fn node_summary<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> NodeSummary {
    let (mut total, mut ready) = (0, 0);
    for node in nodes {
        total += 1;
        let is_ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if is_ready {
            ready += 1;
        }
    }
    NodeSummary {
        total_num: Some(total),
        ready_num: Some(ready),
    }
}

/// What the nodes offer (`allocatable`), what running pods hold (`allocated`) and what pods
/// waiting for a node ask for (`allocating`); the last two also count their pods as `pods`.
///
/// A quantity that does not parse is skipped (with a debug log) rather than failing the whole
/// summary: one malformed object must not hide the capacity of the rest of the cluster.
pub fn resource_summary<'a>(
    nodes: impl IntoIterator<Item = &'a Node>,
    pods: impl IntoIterator<Item = &'a Pod>,
) -> ResourceSummary {
    let mut allocatable: BTreeMap<String, i128> = BTreeMap::new();
    for node in nodes {
        let Some(list) = node.status.as_ref().and_then(|s| s.allocatable.as_ref()) else {
            continue;
        };
        for name in ALLOCATABLE {
            if let Some(nanos) = list.get(name).and_then(|q| parse(name, q)) {
                *allocatable.entry(name.to_string()).or_default() += nanos;
            }
        }
    }

    let mut allocated = Totals::default();
    let mut allocating = Totals::default();
    for pod in pods {
        let totals = match placement(pod) {
            Placement::Bound => &mut allocated,
            Placement::Waiting => &mut allocating,
            Placement::Ignored => continue,
        };
        match Demand::of(pod) {
            Ok(demand) => totals.add(&demand),
            Err(e) => tracing::debug!(
                pod = %pod.metadata.name.as_deref().unwrap_or_default(),
                error = %e,
                "pod requests unreadable; left out of the cluster's resource summary"
            ),
        }
    }

    ResourceSummary {
        allocatable: render(allocatable),
        allocating: allocating.render(),
        allocated: allocated.render(),
        allocatable_modelings: Vec::new(),
    }
}

/// Where a pod's requests count.
#[derive(Debug, PartialEq, Eq)]
enum Placement {
    /// On a node and not finished: it holds its requests there.
    Bound,
    /// Pending without a node: the scheduler still has to find room for it.
    Waiting,
    /// Finished pods hold nothing.
    Ignored,
}

fn placement(pod: &Pod) -> Placement {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let bound = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    match (bound, phase) {
        (_, Some("Succeeded" | "Failed")) => Placement::Ignored,
        (true, _) => Placement::Bound,
        (false, None | Some("Pending" | "")) => Placement::Waiting,
        (false, Some(_)) => Placement::Ignored,
    }
}

/// Summed requests of a set of pods, in nanos per resource, and how many pods they are.
#[derive(Default)]
struct Totals {
    nanos: BTreeMap<String, i128>,
    pods: i64,
}

impl Totals {
    fn add(&mut self, demand: &Demand) {
        self.pods += 1;
        let r = &demand.requests;
        let named = [
            ("cpu", r.cpu),
            ("memory", r.memory),
            ("ephemeral-storage", r.ephemeral_storage),
        ];
        let scalar = r.scalar.iter().map(|(n, q)| (n.as_str(), *q));
        for (name, q) in named.into_iter().chain(scalar) {
            if !q.is_zero() {
                *self.nanos.entry(name.to_string()).or_default() += q.as_nanos();
            }
        }
    }

    fn render(mut self) -> BTreeMap<String, WireQuantity> {
        for name in ALWAYS_REPORTED {
            self.nanos.entry(name.to_string()).or_default();
        }
        self.nanos
            .insert("pods".into(), i128::from(self.pods) * 1_000_000_000);
        render(self.nanos)
    }
}

fn parse(name: &str, q: &WireQuantity) -> Option<i128> {
    match Quantity::parse(&q.0) {
        Ok(q) => Some(q.as_nanos()),
        Err(e) => {
            tracing::debug!(resource = name, value = %q.0, error = %e, "unreadable node allocatable");
            None
        }
    }
}

fn render(totals: BTreeMap<String, i128>) -> BTreeMap<String, WireQuantity> {
    totals
        .into_iter()
        .map(|(name, nanos)| {
            let q = canonical(&name, nanos);
            (name, q)
        })
        .collect()
}

/// The wire form of `nanos` of resource `name`: CPU in cores or millicores (`2`, `1500m`),
/// byte amounts in binary suffixes when they divide evenly (`24Gi`), counts as plain numbers.
///
/// Sums of quantities written in different forms have no single "original" format, so the
/// format is chosen per resource to keep the status stable from one collection to the next.
pub fn canonical(name: &str, nanos: i128) -> WireQuantity {
    const NANOS_PER_MILLI: i128 = 1_000_000;
    let q = match name {
        "cpu" => Quantity::from_milli(round_up(nanos, NANOS_PER_MILLI)),
        "memory" | "ephemeral-storage" => binary_units(nanos),
        n if n.starts_with("hugepages-") => binary_units(nanos),
        _ => Quantity::from_milli(round_up(nanos, NANOS_PER_MILLI)),
    };
    WireQuantity(q.to_string())
}

/// `nanos / per`, rounded up as Kubernetes rounds a quantity to its precision.
fn round_up(nanos: i128, per: i128) -> i128 {
    let whole = nanos / per;
    if nanos % per > 0 { whole + 1 } else { whole }
}

fn binary_units(nanos: i128) -> Quantity {
    let units = round_up(nanos, 1_000_000_000);
    match i64::try_from(units) {
        Ok(units) => Quantity::from_units(units, Format::BinarySi),
        Err(_) => Quantity::from_milli(units.saturating_mul(1000)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(ready: &str, cpu: &str, memory: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "status": {
                "allocatable": {"cpu": cpu, "memory": memory, "pods": "110",
                                "ephemeral-storage": "100Gi", "example.com/gpu": "2"},
                "conditions": [{"type": "Ready", "status": ready}]
            }
        }))
        .unwrap()
    }

    fn pod(node: Option<&str>, phase: &str, cpu: &str, memory: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {
                "nodeName": node,
                "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]
            },
            "status": {"phase": phase}
        }))
        .unwrap()
    }

    fn wire(pairs: &[(&str, &str)]) -> BTreeMap<String, WireQuantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), WireQuantity(v.to_string())))
            .collect()
    }

    #[test]
    fn counts_ready_nodes() {
        let nodes = [
            node("True", "4", "8Gi"),
            node("False", "4", "8Gi"),
            node("Unknown", "4", "8Gi"),
        ];
        assert_eq!(
            node_summary(&nodes),
            NodeSummary {
                total_num: Some(3),
                ready_num: Some(1)
            }
        );
        assert_eq!(node_summary(&[]).total_num, Some(0));
    }

    #[test]
    fn places_pods_by_binding_and_phase() {
        for (node, phase, want) in [
            (Some("n1"), "Running", Placement::Bound),
            (Some("n1"), "Pending", Placement::Bound),
            (Some("n1"), "Succeeded", Placement::Ignored),
            (Some("n1"), "Failed", Placement::Ignored),
            (None, "Pending", Placement::Waiting),
            (None, "", Placement::Waiting),
            (None, "Failed", Placement::Ignored),
            (Some(""), "Pending", Placement::Waiting),
        ] {
            assert_eq!(
                placement(&pod(node, phase, "1", "1Gi")),
                want,
                "{node:?} {phase}"
            );
        }
    }

    #[test]
    fn sums_allocatable_and_requests_by_placement() {
        let nodes = [node("True", "4", "8Gi"), node("False", "3500m", "8Gi")];
        let pods = [
            pod(Some("n1"), "Running", "500m", "256Mi"),
            pod(Some("n2"), "Pending", "1", "1Gi"),
            pod(Some("n2"), "Succeeded", "8", "8Gi"),
            pod(None, "Pending", "100", "1Gi"),
        ];
        let summary = resource_summary(&nodes, &pods);
        assert_eq!(
            summary.allocatable,
            wire(&[
                ("cpu", "7500m"),
                ("ephemeral-storage", "200Gi"),
                ("memory", "16Gi"),
                ("pods", "220"),
            ])
        );
        assert_eq!(
            summary.allocated,
            wire(&[
                ("cpu", "1500m"),
                ("ephemeral-storage", "0"),
                ("memory", "1280Mi"),
                ("pods", "2"),
            ])
        );
        assert_eq!(
            summary.allocating,
            wire(&[
                ("cpu", "100"),
                ("ephemeral-storage", "0"),
                ("memory", "1Gi"),
                ("pods", "1"),
            ])
        );
    }

    #[test]
    fn requests_count_the_heaviest_init_container_and_overhead() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {
                "nodeName": "n1",
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                    {"name": "b", "resources": {"requests": {"cpu": "250m", "example.com/gpu": "1"}}}
                ],
                "overhead": {"cpu": "100m", "memory": "64Mi"}
            },
            "status": {"phase": "Running"}
        }))
        .unwrap();
        let summary = resource_summary(&[], &[pod]);
        assert_eq!(
            summary.allocated,
            wire(&[
                ("cpu", "2100m"),
                ("ephemeral-storage", "0"),
                ("example.com/gpu", "1"),
                ("memory", "1088Mi"),
                ("pods", "1"),
            ])
        );
        assert!(summary.allocatable.is_empty());
    }

    #[test]
    fn formats_sums_canonically() {
        const GI: i128 = 1 << 30;
        const NANO: i128 = 1_000_000_000;
        for (name, nanos, want) in [
            ("cpu", 0, "0"),
            ("cpu", 2 * NANO, "2"),
            ("cpu", 1_500_000_000, "1500m"),
            ("cpu", 1, "1m"),
            ("memory", 24 * GI * NANO, "24Gi"),
            ("memory", 1536 * 1024 * 1024 * NANO, "1536Mi"),
            ("memory", 1000 * NANO, "1k"),
            ("memory", 1500 * NANO, "1500"),
            ("memory", 0, "0"),
            ("ephemeral-storage", 200 * GI * NANO, "200Gi"),
            ("hugepages-2Mi", 4 * 2 * 1024 * 1024 * NANO, "8Mi"),
            ("pods", 330 * NANO, "330"),
            ("example.com/gpu", 3 * NANO, "3"),
        ] {
            assert_eq!(canonical(name, nanos).0, want, "{name} {nanos}");
        }
    }
}
