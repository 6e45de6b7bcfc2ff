//! How many replicas of a shape fit on a member: node by node through the member scheduler's
//! own filters, then summed, so capacity split across nodes is never counted as one block.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Container, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, Pod, PodSpec, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use karmada_estimator::request::{self, ReplicaRequirements};
use kube::ResourceExt;

use crate::member::scheduler::demand::{self, Demand, Resources};
use crate::member::scheduler::fit;
use crate::member::scheduler::node::NodeInfo;

/// Why the requested shape cannot be estimated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("replica_requirements.resource_request[{}]: {source}", .source.resource)]
    Quantity {
        #[source]
        source: demand::Error,
    },
    #[error("replica_requirements.resource_request[{resource}]: {value:?} is negative")]
    Negative { resource: String, value: String },
}

/// The pod one replica would be: what the scheduler's filters are asked about.
pub fn replica_pod(r: &ReplicaRequirements) -> Pod {
    let requests = r
        .resource_request
        .iter()
        .map(|(name, value)| (name.clone(), Quantity(value.clone())))
        .collect();
    let tolerations = r
        .tolerations
        .iter()
        .map(|t| Toleration {
            key: t.key.clone(),
            operator: t.operator.clone(),
            value: t.value.clone(),
            effect: t.effect.clone(),
            toleration_seconds: None,
        })
        .collect();
    let requirement = |r: &request::NodeSelectorRequirement| NodeSelectorRequirement {
        key: r.key.clone(),
        operator: r.operator.clone(),
        values: Some(r.values.clone()),
    };
    let affinity = (!r.node_affinity.is_empty()).then(|| Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: r
                    .node_affinity
                    .iter()
                    .map(|term| NodeSelectorTerm {
                        match_expressions: Some(
                            term.match_expressions.iter().map(requirement).collect(),
                        ),
                        match_fields: Some(term.match_fields.iter().map(requirement).collect()),
                    })
                    .collect(),
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    });
    let mut pod = Pod {
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "replica".into(),
                resources: Some(ResourceRequirements {
                    requests: Some(requests),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            node_selector: Some(r.node_selector.clone()),
            tolerations: Some(tolerations),
            affinity,
            priority_class_name: Some(r.priority_class_name.clone()).filter(|p| !p.is_empty()),
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    pod.metadata.namespace = Some(r.namespace.clone()).filter(|n| !n.is_empty());
    pod
}

/// What one replica takes; a quantity that does not parse or is negative is the caller's error.
pub fn replica_demand(pod: &Pod) -> Result<Demand, Error> {
    // Checked on the raw requests: combining containers would clamp a negative one to zero.
    let stated = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref());
    for requests in stated {
        let parsed = Resources::from_list(requests).map_err(|source| Error::Quantity { source })?;
        if let Some((name, value)) = requests
            .iter()
            .find(|(name, _)| parsed.get(name).is_negative())
        {
            return Err(Error::Negative {
                resource: name.clone(),
                value: value.0.clone(),
            });
        }
    }
    Demand::of(pod).map_err(|source| Error::Quantity { source })
}

/// The scheduler's view of every node: its facts plus the requests of the pods bound to it
/// that still run. Nodes or pods with unreadable quantities are left out, as the member
/// scheduler leaves them out.
pub fn node_infos(nodes: &[Arc<Node>], pods: &[Arc<Pod>]) -> Vec<NodeInfo> {
    let mut by_node: HashMap<&str, Vec<&Pod>> = HashMap::new();
    for pod in pods {
        let finished = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        if let Some(node) = node.filter(|n| !n.is_empty() && !finished) {
            by_node.entry(node).or_default().push(pod);
        }
    }
    let mut infos = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut info = match NodeInfo::new(node) {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(node = %node.name_any(), error = %e, "node not estimated");
                continue;
            }
        };
        for pod in by_node.remove(info.name.as_str()).unwrap_or_default() {
            match Demand::of(pod) {
                Ok(d) => info.usage.add(&d),
                Err(e) => tracing::debug!(pod = %pod.name_any(), error = %e, "pod not counted"),
            }
        }
        infos.push(info);
    }
    infos
}

/// How many replicas fit on `node` alone. The scheduler's filters decide whether one fits at
/// all (taints, affinity, readiness, room for one); how many more fit is then how often the
/// replica's requests and the pod slot divide into what is free.
pub fn fits_on(pod: &Pod, demand: &Demand, node: &NodeInfo) -> i64 {
    if fit::filter(pod, demand, node).is_err() {
        return 0;
    }
    let mut count = node.max_pods - node.usage.pods;
    let want = &demand.requests;
    let names = ["cpu", "memory", "ephemeral-storage"]
        .into_iter()
        .chain(want.scalar.keys().map(String::as_str));
    for name in names {
        let asked = want.get(name).as_milli();
        if asked <= 0 {
            continue;
        }
        let free = (node.allocatable.get(name) - node.usage.requested.get(name)).as_milli();
        count = count.min(i64::try_from(free / asked).unwrap_or(i64::MAX));
    }
    count.max(0)
}

/// The sum over nodes of what fits on each, capped at what the wire carries.
pub fn max_replicas<'a>(
    pod: &Pod,
    demand: &Demand,
    nodes: impl IntoIterator<Item = &'a NodeInfo>,
) -> i32 {
    let total: i64 = nodes
        .into_iter()
        .map(|node| fits_on(pod, demand, node))
        .fold(0, i64::saturating_add);
    i32::try_from(total).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use karmada_estimator::request::Toleration as WireToleration;
    use serde_json::json;

    fn node(name: &str, cpu: &str, extra: serde_json::Value) -> Arc<Node> {
        let mut n = json!({"metadata": {"name": name, "labels": {"zone": name}},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "4"},
                       "conditions": [{"type": "Ready", "status": "True"}]}});
        merge(&mut n, extra);
        Arc::new(serde_json::from_value(n).expect("node"))
    }

    fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
        match (into, from) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (slot, v) => *slot = v,
        }
    }

    fn bound(node: &str, cpu: &str, phase: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "default"},
                "spec": {"nodeName": node, "containers": [{"name": "c",
                    "resources": {"requests": {"cpu": cpu}}}]},
                "status": {"phase": phase}}))
            .expect("pod"),
        )
    }

    fn shape(cpu: &str) -> ReplicaRequirements {
        ReplicaRequirements {
            resource_request: BTreeMap::from([("cpu".into(), cpu.into())]),
            ..ReplicaRequirements::default()
        }
    }

    fn estimate(r: &ReplicaRequirements, nodes: &[Arc<Node>], pods: &[Arc<Pod>]) -> i32 {
        let pod = replica_pod(r);
        let demand = replica_demand(&pod).expect("demand");
        max_replicas(&pod, &demand, &node_infos(nodes, pods))
    }

    #[test]
    fn counts_node_by_node_not_by_summed_capacity() {
        // a: 1500m free fits one 1-CPU replica; b: 500m free fits none. Summed, 2 CPUs are free.
        let nodes = [node("a", "2", json!({})), node("b", "2", json!({}))];
        let pods = [
            bound("a", "500m", "Running"),
            bound("b", "1500m", "Running"),
            bound("b", "2", "Succeeded"),
        ];
        // Four pod slots per node bound small replicas: 250m fits min(3, 6) on a, 2 on b.
        let cases = [("1", 1), ("500m", 4), ("250m", 5), ("3", 0)];
        for (cpu, want) in cases {
            assert_eq!(estimate(&shape(cpu), &nodes, &pods), want, "cpu {cpu}");
        }
    }

    #[test]
    fn node_facts_exclude_or_admit_nodes() {
        let taint =
            json!({"spec": {"taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]}});
        let cases: [(&str, serde_json::Value, ReplicaRequirements, i32); 6] = [
            ("plain", json!({}), shape("1"), 4),
            (
                "cordoned",
                json!({"spec": {"unschedulable": true}}),
                shape("1"),
                0,
            ),
            (
                "not ready",
                json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
                shape("1"),
                0,
            ),
            ("tainted", taint.clone(), shape("1"), 0),
            (
                "tainted, tolerated",
                taint,
                ReplicaRequirements {
                    tolerations: vec![WireToleration {
                        key: Some("gpu".into()),
                        operator: Some("Exists".into()),
                        ..WireToleration::default()
                    }],
                    ..shape("1")
                },
                4,
            ),
            (
                "other zone",
                json!({}),
                ReplicaRequirements {
                    node_selector: BTreeMap::from([("zone".into(), "elsewhere".into())]),
                    ..shape("1")
                },
                0,
            ),
        ];
        for (what, extra, r, want) in cases {
            assert_eq!(estimate(&r, &[node("a", "8", extra)], &[]), want, "{what}");
        }
    }

    #[test]
    fn the_pod_limit_and_affinity_bound_the_count() {
        let nodes = [node("a", "64", json!({})), node("b", "64", json!({}))];
        // Four pod slots per node, one taken on a; a replica asking nothing is bounded by them.
        assert_eq!(
            estimate(&shape("0"), &nodes, &[bound("a", "0", "Running")]),
            7
        );
        let only_b = ReplicaRequirements {
            node_affinity: vec![request::NodeSelectorTerm {
                match_expressions: vec![request::NodeSelectorRequirement {
                    key: "zone".into(),
                    operator: "In".into(),
                    values: vec!["b".into()],
                }],
                match_fields: vec![],
            }],
            ..shape("1")
        };
        assert_eq!(estimate(&only_b, &nodes, &[]), 4);
    }

    #[test]
    fn bad_quantities_name_the_resource() {
        let cases = [
            (
                "lots",
                "replica_requirements.resource_request[cpu]: invalid quantity \"lots\"",
            ),
            (
                "-1",
                "replica_requirements.resource_request[cpu]: \"-1\" is negative",
            ),
        ];
        for (cpu, want) in cases {
            let err = replica_demand(&replica_pod(&shape(cpu))).expect_err(cpu);
            assert!(err.to_string().starts_with(want), "{err}");
        }
    }
}
