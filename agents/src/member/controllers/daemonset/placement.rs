//! Pure decisions of the DaemonSet controller: which nodes should run a daemon pod, the pod
//! for one node, which pods to create and delete (placement, then rolling update), and the
//! counts its status reports.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodTemplateSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use crate::member::runtime::{pod_active, pod_ready};
use crate::member::scheduler::demand::Demand;
use crate::member::scheduler::fit::{self as filters, Reason};
use crate::member::scheduler::node::NodeInfo;

/// Pod label naming the template hash a daemon pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The tolerations Kubernetes adds to every daemon pod, so node conditions and cordoning do
/// not keep daemons off (or evict them from) their nodes.
const DEFAULT_TOLERATIONS: &[(&str, &str)] = &[
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];

/// `template` with the default daemon tolerations added (those it lacks).
pub fn with_default_tolerations(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut template = template.clone();
    let spec = template.spec.get_or_insert_with(Default::default);
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for (key, effect) in DEFAULT_TOLERATIONS {
        let present = tolerations.iter().any(|t| {
            t.key.as_deref() == Some(key)
                && t.effect.as_deref() == Some(effect)
                && t.operator.as_deref() == Some("Exists")
        });
        if !present {
            tolerations.push(Toleration {
                key: Some((*key).into()),
                operator: Some("Exists".into()),
                effect: Some((*effect).into()),
                ..Default::default()
            });
        }
    }
    template
}

/// Whether a daemon belongs on a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fit {
    /// A pod should be placed there.
    pub run: bool,
    /// A pod already there may stay: only NoExecute taints and the selectors count, so
    /// cordoning a node or a NoSchedule taint does not evict its daemons.
    pub keep: bool,
}

/// Where a pod from `template` (with default tolerations) belongs relative to each node: the
/// scheduler's node filters (unschedulable, taints, nodeSelector, required node affinity)
/// decide; a resource shortage does not count, the daemon still belongs there.
pub fn fits<'a>(
    template: &PodTemplateSpec,
    nodes: impl IntoIterator<Item = &'a Node>,
) -> BTreeMap<String, Fit> {
    let pod = Pod {
        metadata: template.metadata.clone().unwrap_or_default(),
        spec: template.spec.clone(),
        status: None,
    };
    nodes
        .into_iter()
        .map(|node| (node.name_any(), fit(&pod, node)))
        .collect()
}

fn fit(pod: &Pod, node: &Node) -> Fit {
    let Ok(info) = NodeInfo::new(node) else {
        return Fit::default();
    };
    let passes = |info: &NodeInfo| match filters::filter(pod, &Demand::default(), info) {
        Ok(()) => true,
        Err(reasons) => reasons.iter().all(|r| {
            matches!(
                r,
                Reason::Insufficient(_) | Reason::TooManyPods | Reason::NodePorts
            )
        }),
    };
    let run = passes(&info);
    let mut lenient = info;
    lenient.taints.retain(|t| t.effect == "NoExecute");
    lenient.unschedulable = false;
    lenient.ready = true;
    Fit {
        run,
        keep: run || passes(&lenient),
    }
}

/// The daemon pod for `node`: the template pinned to the node by required node affinity on
/// `metadata.name` (replacing the template's required terms, already checked by
/// [`fit`]), so the scheduler binds it there.
pub fn pod_for_node(template: &PodTemplateSpec, node: &str) -> PodTemplateSpec {
    let mut template = template.clone();
    let spec = template.spec.get_or_insert_with(Default::default);
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    });
    template
}

/// The node a daemon pod is for: where it is bound, else the node its affinity pins it to.
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(node) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(node.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|f| f.key == "metadata.name" && f.operator == "In")
        .and_then(|f| f.values.as_ref()?.first().cloned())
}

/// `maxUnavailable` as a pod count: a number, or a percentage of `desired` rounded up;
/// never less than one, so a rollout always moves.
pub fn max_unavailable(value: Option<&IntOrString>, desired: usize) -> usize {
    let scaled = match value {
        None => 1,
        Some(IntOrString::Int(n)) => usize::try_from(*n).unwrap_or(0),
        Some(IntOrString::String(s)) => {
            let percent: usize = s.trim_end_matches('%').parse().unwrap_or(0);
            (percent * desired).div_ceil(100)
        }
    };
    scaled.max(1)
}

/// The writes of one pass.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Nodes that get a pod.
    pub create: Vec<String>,
    /// Pods to delete, by name.
    pub delete: Vec<String>,
}

fn is_updated(pod: &Pod, update_hash: &str) -> bool {
    pod.labels().get(REVISION_LABEL).map(String::as_str) == Some(update_hash)
}

fn failed(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
}

/// Places one pod on each eligible node and none elsewhere; then, for a rolling update,
/// replaces outdated pods while at most `max_unavailable` eligible nodes lack a ready pod
/// (outdated pods that are not ready are replaced regardless, they cost nothing).
/// `nodes` maps every node to how the daemon fits it.
pub fn plan(
    nodes: &BTreeMap<String, Fit>,
    pods: &[&Pod],
    update_hash: &str,
    rolling_max_unavailable: Option<usize>,
) -> Plan {
    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    let mut plan = Plan::default();
    for pod in pods.iter().copied().filter(|p| pod_active(p)) {
        match target_node(pod) {
            Some(node) if nodes.get(&node).is_some_and(|f| f.keep) => {
                by_node.entry(node).or_default().push(pod);
            }
            _ => plan.delete.push(pod.name_any()),
        }
    }
    for pod in pods
        .iter()
        .filter(|p| failed(p) && p.metadata.deletion_timestamp.is_none())
    {
        plan.delete.push(pod.name_any());
    }
    let mut unavailable = 0;
    let mut outdated: Vec<&Pod> = Vec::new();
    for (node, fit) in nodes.iter().filter(|(_, f)| f.keep) {
        let Some(mut here) = by_node.remove(node) else {
            if fit.run {
                plan.create.push(node.clone());
                unavailable += 1;
            }
            continue;
        };
        // Keep one pod per node, preferring an updated, then a ready one.
        here.sort_by_key(|p| (!is_updated(p, update_hash), !pod_ready(p), p.name_any()));
        plan.delete
            .extend(here.iter().skip(1).map(|p| p.name_any()));
        let kept = here[0];
        if !fit.run {
            continue;
        }
        if !pod_ready(kept) {
            unavailable += 1;
        }
        if !is_updated(kept, update_hash) {
            outdated.push(kept);
        }
    }
    let Some(max) = rolling_max_unavailable else {
        return plan;
    };
    let mut budget = max.saturating_sub(unavailable);
    for pod in outdated {
        if !pod_ready(pod) {
            plan.delete.push(pod.name_any());
        } else if budget > 0 {
            budget -= 1;
            plan.delete.push(pod.name_any());
        }
    }
    plan
}

/// What a DaemonSet's status counts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub desired: i32,
    pub current: i32,
    pub misscheduled: i32,
    pub ready: i32,
    pub updated: i32,
}

/// Counts over the set's live pods by the node they are bound to (pods not yet bound count
/// nowhere, as upstream).
pub fn counts(nodes: &BTreeMap<String, Fit>, pods: &[&Pod], update_hash: &str) -> Counts {
    let mut c = Counts {
        desired: count(nodes.values().filter(|f| f.run)),
        ..Counts::default()
    };
    let mut scheduled = BTreeSet::new();
    let mut misscheduled = BTreeSet::new();
    let (mut ready, mut updated) = (BTreeSet::new(), BTreeSet::new());
    for pod in pods.iter().filter(|p| pod_active(p)) {
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
            continue;
        };
        if !nodes.get(node).is_some_and(|f| f.run) {
            misscheduled.insert(node);
            continue;
        }
        scheduled.insert(node);
        if pod_ready(pod) {
            ready.insert(node);
        }
        if is_updated(pod, update_hash) {
            updated.insert(node);
        }
    }
    c.current = count(&scheduled);
    c.misscheduled = count(&misscheduled);
    c.ready = count(&ready);
    c.updated = count(&updated);
    c
}

fn count<I: IntoIterator>(items: I) -> i32 {
    i32::try_from(items.into_iter().count()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests;
