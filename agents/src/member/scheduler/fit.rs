//! The pure scheduling decision: which nodes a pod may run on (kube-scheduler's default filters,
//! in its order), which of those is best (least allocated), and why none fit.

use std::collections::HashMap;
use std::fmt;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint};

use karmada_api::tolerations::tolerated;

use super::demand::Demand;
use super::node::NodeInfo;

/// The taint an unschedulable node is treated as having; tolerating it lets a pod in anyway.
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Scores range over `0..=MAX_SCORE`. Upstream uses 0-100; finer steps keep the deterministic
/// name tie-break from piling pods onto the first node of large, nearly equal nodes.
const MAX_SCORE: i128 = 1_000_000;

/// Why one node rejected the pod, worded as kube-scheduler words it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Unschedulable,
    NodeName,
    UntoleratedTaint { key: String, value: String },
    NodeAffinity,
    NodePorts,
    TooManyPods,
    Insufficient(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Unschedulable => f.write_str("node(s) were unschedulable"),
            Reason::NodeName => f.write_str("node(s) didn't match the requested node name"),
            Reason::UntoleratedTaint { key, value } => {
                write!(f, "node(s) had untolerated taint {{{key}: {value}}}")
            }
            Reason::NodeAffinity => {
                f.write_str("node(s) didn't match Pod's node affinity/selector")
            }
            Reason::NodePorts => {
                f.write_str("node(s) didn't have free ports for the requested pod ports")
            }
            Reason::TooManyPods => f.write_str("Too many pods"),
            Reason::Insufficient(resource) => write!(f, "Insufficient {resource}"),
        }
    }
}

/// No node fits: how many nodes there were and how many rejected the pod for each reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct FitError {
    pub nodes: usize,
    pub reasons: HashMap<Reason, usize>,
}

impl fmt::Display for FitError {
    /// `0/3 nodes are available: 1 Too many pods, 2 Insufficient cpu.`: entries sorted as
    /// strings, count included, exactly as upstream sorts them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nodes == 0 {
            return f.write_str("no nodes available to schedule pods");
        }
        let mut entries: Vec<String> = self
            .reasons
            .iter()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        entries.sort();
        write!(
            f,
            "0/{} nodes are available: {}.",
            self.nodes,
            entries.join(", ")
        )
    }
}

/// Picks the node for `pod`: the feasible node with the highest least-allocated score, the
/// lowest name among equals. `nodes` must come in name order for that tie-break to hold.
pub fn schedule<'a>(
    pod: &Pod,
    demand: &Demand,
    nodes: impl IntoIterator<Item = &'a NodeInfo>,
) -> Result<&'a NodeInfo, FitError> {
    let mut best: Option<(&NodeInfo, i128)> = None;
    let mut error = FitError {
        nodes: 0,
        reasons: HashMap::new(),
    };
    for node in nodes {
        error.nodes += 1;
        match filter(pod, demand, node) {
            Ok(()) => {
                let score = score(demand, node);
                if best.is_none_or(|(_, s)| score > s) {
                    best = Some((node, score));
                }
            }
            Err(reasons) => {
                for reason in reasons {
                    *error.reasons.entry(reason).or_default() += 1;
                }
            }
        }
    }
    best.map(|(node, _)| node).ok_or(error)
}

/// Runs the filters in kube-scheduler's order and returns the reasons of the first that
/// rejects the node (the resource filter reports every resource that is short).
pub fn filter(pod: &Pod, demand: &Demand, node: &NodeInfo) -> Result<(), Vec<Reason>> {
    let spec = pod.spec.as_ref();
    let tolerations = spec
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    if node.unschedulable && !tolerated(tolerations, &UNSCHEDULABLE) {
        return Err(vec![Reason::Unschedulable]);
    }
    if let Some(wanted) = spec.and_then(|s| s.node_name.as_deref())
        && !wanted.is_empty()
        && wanted != node.name
    {
        return Err(vec![Reason::NodeName]);
    }
    if let Some(taint) = node
        .effective_taints()
        .filter(|t| matches!(t.effect.as_str(), "NoSchedule" | "NoExecute"))
        .find(|t| !tolerated(tolerations, t))
    {
        return Err(vec![Reason::UntoleratedTaint {
            key: taint.key.clone(),
            value: taint.value.clone().unwrap_or_default(),
        }]);
    }
    if !affinity_matches(pod, node) {
        return Err(vec![Reason::NodeAffinity]);
    }
    if demand.host_ports.iter().any(|want| {
        node.usage
            .host_ports
            .iter()
            .any(|used| used.conflicts(want))
    }) {
        return Err(vec![Reason::NodePorts]);
    }
    let short = insufficient(demand, node);
    if short.is_empty() { Ok(()) } else { Err(short) }
}

static UNSCHEDULABLE: std::sync::LazyLock<Taint> = std::sync::LazyLock::new(|| Taint {
    key: UNSCHEDULABLE_TAINT.into(),
    effect: "NoSchedule".into(),
    value: None,
    time_added: None,
});

/// `nodeSelector` and required node affinity must both hold.
fn affinity_matches(pod: &Pod, node: &NodeInfo) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    if let Some(selector) = spec.node_selector.as_ref()
        && !selector
            .iter()
            .all(|(k, v)| node.labels.get(k).is_some_and(|l| l == v))
    {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        None => true,
        Some(selector) => selector
            .node_selector_terms
            .iter()
            .any(|term| term_matches(term, node)),
    }
}

/// A term matches when all its expressions and fields do; an empty term matches nothing.
fn term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, node.labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            r.key == "metadata.name"
                && matches!(r.operator.as_str(), "In" | "NotIn")
                && requirement_matches(r, Some(&node.name))
        })
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let listed = |v: &str| values.iter().any(|x| x == v);
    let compare = |ordering: std::cmp::Ordering| {
        let [bound] = values else { return false };
        match (value.map(str::parse::<i64>), bound.parse::<i64>()) {
            (Some(Ok(v)), Ok(b)) => v.cmp(&b) == ordering,
            _ => false,
        }
    };
    match r.operator.as_str() {
        "In" => value.is_some_and(listed),
        "NotIn" => !value.is_some_and(listed),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => compare(std::cmp::Ordering::Greater),
        "Lt" => compare(std::cmp::Ordering::Less),
        _ => false,
    }
}

/// NodeResourcesFit: pod count first, then each requested resource against what is free.
fn insufficient(demand: &Demand, node: &NodeInfo) -> Vec<Reason> {
    let mut short = Vec::new();
    if node.usage.pods + 1 > node.max_pods {
        short.push(Reason::TooManyPods);
    }
    let want = &demand.requests;
    let names = ["cpu", "memory", "ephemeral-storage"]
        .into_iter()
        .chain(want.scalar.keys().map(String::as_str));
    for name in names {
        let asked = want.get(name);
        let free = node.allocatable.get(name) - node.usage.requested.get(name);
        if !asked.is_zero() && !asked.is_negative() && asked > free {
            short.push(Reason::Insufficient(name.to_string()));
        }
    }
    short
}

/// Least-allocated score: the mean share of CPU and memory left free after placing the pod,
/// counting unset requests at the scheduler's defaults so empty pods spread too.
pub fn score(demand: &Demand, node: &NodeInfo) -> i128 {
    let share = |capacity: i128, used: i128| {
        if capacity <= 0 || used > capacity {
            0
        } else {
            (capacity - used) * MAX_SCORE / capacity
        }
    };
    let cpu = share(
        node.allocatable.cpu.as_milli(),
        node.usage.spread_cpu_milli + demand.spread_cpu_milli,
    );
    let memory = share(
        node.allocatable.memory.as_units(),
        node.usage.spread_memory + demand.spread_memory,
    );
    (cpu + memory) / 2
}

#[cfg(test)]
mod tests;
