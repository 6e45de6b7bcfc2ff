//! A binding's status from its Works: one `aggregatedStatus` item per member cluster (applied,
//! why not, the reflected status and health) and the `FullyApplied` condition.

use std::collections::BTreeSet;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use karmada_api::policy::propagation::PurgeMode;
use karmada_api::work::binding::{
    AggregatedStatusItem, FULLY_APPLIED_CONDITION, ObjectReference, ResourceBindingSpec,
    ResourceHealth,
};
use karmada_api::work::work::{self, CONDITION_APPLIED, ResourceIdentifier, Work};
use serde_json::Value;

/// Reason of a true `FullyApplied` condition.
pub const FULLY_APPLIED_SUCCESS_REASON: &str = "FullyAppliedSuccess";
/// Reason of a false `FullyApplied` condition.
pub const FULLY_APPLIED_FAILED_REASON: &str = "FullyAppliedFailed";

/// How many failing clusters the condition message names before summarising the rest.
const MESSAGE_CLUSTER_LIMIT: usize = 5;

/// One Work of the binding and the member cluster whose execution namespace holds it.
#[derive(Debug, Clone, Copy)]
pub struct MemberWork<'a> {
    pub cluster: &'a str,
    pub work: &'a Work,
}

/// The clusters a binding's resource should exist in: the schedule result, the clusters of
/// the bindings that depend on it, and clusters being evicted gracefully (their Works stay
/// until the eviction ends). Sorted and without duplicates.
pub fn existing_clusters(spec: &ResourceBindingSpec) -> Vec<String> {
    let scheduled = spec.clusters.iter().map(|c| c.name.clone());
    let required = spec
        .required_by
        .iter()
        .flat_map(|b| b.clusters.iter().map(|c| c.name.clone()));
    // A Directly-purged cluster's Work is removed at once, so nothing is expected there.
    let evicting = spec
        .graceful_eviction_tasks
        .iter()
        .filter(|t| t.purge_mode != Some(PurgeMode::Directly))
        .map(|t| t.from_cluster.clone());
    scheduled
        .chain(required)
        .chain(evicting)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// One item per live Work (Works being deleted are skipped), plus a not-applied item for each
/// of `binding_clusters` that has no Work yet, sorted by cluster name. `resource` names the
/// template, to find its manifest and manifest status inside each Work.
pub fn aggregated_status(
    resource: &ObjectReference,
    binding_clusters: &[String],
    works: &[MemberWork<'_>],
) -> Vec<AggregatedStatusItem> {
    let mut items: Vec<AggregatedStatusItem> = works
        .iter()
        .filter(|w| w.work.metadata.deletion_timestamp.is_none())
        .map(|w| work_item(resource, w))
        .collect();
    for cluster in binding_clusters {
        if !items.iter().any(|i| &i.cluster_name == cluster) {
            items.push(AggregatedStatusItem {
                cluster_name: cluster.clone(),
                status: None,
                applied: Some(false),
                applied_message: Some(format!(
                    "no Work for this cluster yet: the binding controller has not created it in namespace karmada-es-{cluster}"
                )),
                health: Some(ResourceHealth::Unknown),
            });
        }
    }
    items.sort_by(|a, b| a.cluster_name.cmp(&b.cluster_name));
    items
}

fn work_item(resource: &ObjectReference, member: &MemberWork<'_>) -> AggregatedStatusItem {
    let status = member.work.status.as_ref();
    let applied = status.and_then(|s| s.conditions.iter().find(|c| c.type_ == CONDITION_APPLIED));
    let mut item = AggregatedStatusItem {
        cluster_name: member.cluster.to_string(),
        status: None,
        applied: Some(false),
        applied_message: None,
        health: Some(ResourceHealth::Unknown),
    };
    match applied {
        Some(c) if c.status == "True" => item.applied = Some(true),
        Some(c) => {
            item.applied_message = Some(if c.message.is_empty() {
                format!("the Work is not applied (reason {})", c.reason)
            } else {
                c.message.clone()
            });
            return item;
        }
        None => {
            item.applied_message = Some(format!(
                "the Work has not been applied yet: nothing has reported from cluster {} (is its execution controller or karmada-agent running?)",
                member.cluster
            ));
            return item;
        }
    }
    let manifest_status = manifest_ordinal(member.work, resource).and_then(|ordinal| {
        status?
            .manifest_statuses
            .iter()
            .find(|m| identifies(&m.identifier, ordinal, resource))
    });
    if let Some(m) = manifest_status {
        item.status = m.status.clone().map(Value::Object);
        item.health = Some(match m.health {
            Some(work::ResourceHealth::Healthy) => ResourceHealth::Healthy,
            Some(work::ResourceHealth::Unhealthy) => ResourceHealth::Unhealthy,
            Some(work::ResourceHealth::Unknown) | None => ResourceHealth::Unknown,
        });
    }
    item
}

/// Index of the template's manifest in the Work.
fn manifest_ordinal(work: &Work, resource: &ObjectReference) -> Option<i64> {
    let namespace = resource.namespace.as_deref().unwrap_or("");
    work.spec
        .workload
        .manifests
        .iter()
        .position(|m| {
            let field = |key: &str| m.get(key).and_then(Value::as_str).unwrap_or("");
            let meta = |key: &str| {
                m.get("metadata")
                    .and_then(|md| md.get(key))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            };
            field("apiVersion") == resource.api_version
                && field("kind") == resource.kind
                && meta("namespace") == namespace
                && meta("name") == resource.name
        })
        .and_then(|i| i64::try_from(i).ok())
}

fn identifies(id: &ResourceIdentifier, ordinal: i64, resource: &ObjectReference) -> bool {
    let (group, version) = resource
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", resource.api_version.as_str()));
    id.ordinal == ordinal
        && id.group == group
        && id.version == version
        && id.kind == resource.kind
        && id.namespace == resource.namespace.as_deref().unwrap_or("")
        && id.name == resource.name
}

/// `FullyApplied`: true when every one of `binding_clusters` reports applied and no other
/// cluster holds a Work; otherwise false, naming each cluster that holds it back and why.
pub fn fully_applied_condition(
    binding_clusters: &[String],
    items: &[AggregatedStatusItem],
    now: Time,
) -> Condition {
    let mut problems: Vec<String> = Vec::new();
    for cluster in binding_clusters {
        match items.iter().find(|i| &i.cluster_name == cluster) {
            Some(i) if i.applied == Some(true) => {}
            Some(i) => problems.push(format!(
                "{cluster}: {}",
                i.applied_message.as_deref().unwrap_or("not applied")
            )),
            None => problems.push(format!("{cluster}: no status reported")),
        }
    }
    for item in items {
        if !binding_clusters.contains(&item.cluster_name) {
            problems.push(format!(
                "{}: not a target cluster, but its Work has not been removed yet",
                item.cluster_name
            ));
        }
    }
    let (status, reason, message) = if binding_clusters.is_empty() {
        (
            "False",
            FULLY_APPLIED_FAILED_REASON,
            "no target clusters: the binding has not been scheduled yet; see its Scheduled condition"
                .to_string(),
        )
    } else if problems.is_empty() {
        (
            "True",
            FULLY_APPLIED_SUCCESS_REASON,
            "All works have been successfully applied".to_string(),
        )
    } else {
        let mut listed = problems
            .iter()
            .take(MESSAGE_CLUSTER_LIMIT)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if problems.len() > MESSAGE_CLUSTER_LIMIT {
            listed.push_str(&format!(
                "; and {} more clusters",
                problems.len() - MESSAGE_CLUSTER_LIMIT
            ));
        }
        (
            "False",
            FULLY_APPLIED_FAILED_REASON,
            format!("Failed to apply all works, see status.aggregatedStatus for details: {listed}"),
        )
    };
    Condition {
        type_: FULLY_APPLIED_CONDITION.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        last_transition_time: now,
        observed_generation: None,
    }
}

/// The binding's conditions with `FullyApplied` set from `items`, keeping every other condition
/// and, when the status did not change, the old transition time (Kubernetes' condition rule).
pub fn binding_conditions(
    current: &[Condition],
    binding_clusters: &[String],
    items: &[AggregatedStatusItem],
    now: Time,
) -> Vec<Condition> {
    let mut fresh = fully_applied_condition(binding_clusters, items, now);
    let mut out = current.to_vec();
    match out.iter_mut().find(|c| c.type_ == FULLY_APPLIED_CONDITION) {
        Some(old) => {
            if old.status == fresh.status {
                fresh.last_transition_time = old.last_transition_time.clone();
            }
            *old = fresh;
        }
        None => out.push(fresh),
    }
    out
}

#[cfg(test)]
mod tests;
