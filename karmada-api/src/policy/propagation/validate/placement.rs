//! Validation of a placement: cluster affinities, spread constraints, replica scheduling,
//! workload affinity and cluster tolerations.

use std::collections::{HashMap, HashSet};

use crate::names::qualified_name;
use crate::policy::propagation::{
    ClusterAffinityTerm, Placement, ReplicaDivisionPreference, ReplicaSchedulingStrategy,
    ReplicaSchedulingType, SpreadConstraint, SpreadField, WorkloadAffinity,
};
use crate::policy::selectors::{ClusterAffinity, FIELD_SELECTOR_KEYS};
use crate::validation::{FieldError, Reason};

/// Longest affinity name the CRD allows.
const AFFINITY_NAME_MAX: usize = 32;
/// Operators a cluster field selector supports.
const FIELD_SELECTOR_OPERATORS: [&str; 2] = ["In", "NotIn"];

/// Every wrong field of `placement`, whose path is `path`.
pub(super) fn placement(placement: &Placement, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if placement.cluster_affinity.is_some() && placement.cluster_affinities.is_some() {
        errors.push(FieldError::invalid(
            path,
            "clusterAffinities cannot co-exist with clusterAffinity; keep only one of them",
        ));
    }
    if let Some(affinity) = &placement.cluster_affinity {
        errors.extend(cluster_affinity(
            affinity,
            &format!("{path}.clusterAffinity"),
        ));
    }
    if let Some(terms) = &placement.cluster_affinities {
        let overflow_allowed = overflow_allowed(placement.replica_scheduling.as_ref());
        errors.extend(cluster_affinities(
            terms,
            overflow_allowed,
            &format!("{path}.clusterAffinities"),
        ));
    }
    errors.extend(spread_constraints(
        &placement.spread_constraints,
        &format!("{path}.spreadConstraints"),
    ));
    if let Some(strategy) = &placement.replica_scheduling {
        errors.extend(replica_scheduling(
            strategy,
            &format!("{path}.replicaScheduling"),
        ));
    }
    if let Some(workload) = &placement.workload_affinity {
        errors.extend(workload_affinity(
            workload,
            &format!("{path}.workloadAffinity"),
        ));
    }
    for (i, toleration) in placement.cluster_tolerations.iter().enumerate() {
        let operator = toleration.operator.as_deref().unwrap_or_default();
        if !matches!(operator, "" | "Exists" | "Equal") {
            errors.push(FieldError::new(
                format!("{path}.clusterTolerations[{i}].operator"),
                Reason::NotSupported,
                format!(
                    "unsupported operator {operator:?}: use Exists or Equal (or leave it empty)"
                ),
            ));
        }
    }
    errors
}

/// Overflow tiers only make sense when the scheduler divides replicas by capacity.
fn overflow_allowed(strategy: Option<&ReplicaSchedulingStrategy>) -> bool {
    let Some(strategy) = strategy else {
        return false;
    };
    if strategy
        .replica_scheduling_type
        .unwrap_or(ReplicaSchedulingType::Divided)
        != ReplicaSchedulingType::Divided
    {
        return false;
    }
    match strategy.replica_division_preference {
        Some(ReplicaDivisionPreference::Aggregated) => true,
        Some(ReplicaDivisionPreference::Weighted) => strategy
            .weight_preference
            .as_ref()
            .is_some_and(|w| w.dynamic_weight.is_some()),
        None => false,
    }
}

fn cluster_affinity(affinity: &ClusterAffinity, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(selector) = &affinity.field_selector else {
        return errors;
    };
    for (i, requirement) in selector.match_expressions.iter().enumerate() {
        let at = format!("{path}.fieldSelector.matchExpressions[{i}]");
        if !FIELD_SELECTOR_KEYS.contains(&requirement.key.as_str()) {
            errors.push(FieldError::new(
                format!("{at}.key"),
                Reason::NotSupported,
                format!(
                    "unsupported key {:?}, must be provider, region, or zone",
                    requirement.key
                ),
            ));
        }
        if !FIELD_SELECTOR_OPERATORS.contains(&requirement.operator.as_str()) {
            errors.push(FieldError::new(
                format!("{at}.operator"),
                Reason::NotSupported,
                format!(
                    "unsupported operator {:?}, must be In or NotIn",
                    requirement.operator
                ),
            ));
        }
    }
    errors
}

fn affinity_name(name: &str, path: String, errors: &mut Vec<FieldError>) {
    if name.is_empty() {
        errors.push(FieldError::required(
            path,
            "give every affinity term a name",
        ));
    } else if name.len() > AFFINITY_NAME_MAX {
        errors.push(FieldError::invalid(
            path,
            format!("must be no more than {AFFINITY_NAME_MAX} characters"),
        ));
    } else if let Some(problem) = qualified_name(name).err() {
        errors.push(FieldError::invalid(
            path,
            format!("{name:?} is not a valid name: {problem}"),
        ));
    }
}

fn cluster_affinities(
    terms: &[ClusterAffinityTerm],
    overflow_allowed: bool,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (i, term) in terms.iter().enumerate() {
        let at = format!("{path}[{i}]");
        affinity_name(
            &term.affinity_name,
            format!("{at}.affinityName"),
            &mut errors,
        );
        if !seen.insert(term.affinity_name.as_str()) {
            errors.push(FieldError::new(
                format!("{at}.affinityName"),
                Reason::Duplicate,
                format!(
                    "{:?} is used by an earlier term; each term needs a unique name",
                    term.affinity_name
                ),
            ));
        }
        errors.extend(cluster_affinity(&term.affinity, &at));
        let Some(overflows) = &term.overflow_affinities else {
            continue;
        };
        let overflow_path = format!("{at}.overflowAffinities");
        if !overflow_allowed {
            errors.push(FieldError::invalid(
                overflow_path.as_str(),
                "overflowAffinities can only be used with dynamic weight (Divided, Weighted by \
                 AvailableReplicas) or Aggregated replica scheduling",
            ));
        }
        if term.affinity == ClusterAffinity::default() {
            errors.push(FieldError::invalid(
                overflow_path.as_str(),
                "overflowAffinities need the term itself to select clusters (labelSelector, \
                 fieldSelector or clusterNames)",
            ));
        }
        let mut names = HashSet::from([term.affinity_name.as_str()]);
        for (j, overflow) in overflows.iter().enumerate() {
            let name_path = format!("{overflow_path}[{j}].affinityName");
            affinity_name(&overflow.affinity_name, name_path.clone(), &mut errors);
            if !names.insert(overflow.affinity_name.as_str()) {
                errors.push(FieldError::new(
                    name_path,
                    Reason::Duplicate,
                    "overflow affinity names must be unique and differ from the term's affinityName",
                ));
            }
            errors.extend(cluster_affinity(
                &overflow.affinity,
                &format!("{overflow_path}[{j}]"),
            ));
        }
    }
    errors
}

fn spread_constraints(constraints: &[SpreadConstraint], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fields: HashMap<SpreadField, usize> = HashMap::new();
    for (i, constraint) in constraints.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let by_label = constraint.spread_by_label.as_deref().unwrap_or_default();
        if constraint.spread_by_field.is_some() && !by_label.is_empty() {
            errors.push(FieldError::invalid(
                at.as_str(),
                "spreadByLabel should not co-exist with spreadByField; keep one of them",
            ));
        }
        let min = constraint.min_groups.unwrap_or(0);
        let max = constraint.max_groups.unwrap_or(0);
        if min < 0 {
            errors.push(FieldError::invalid(
                format!("{at}.minGroups"),
                format!("must not be negative, not {min}"),
            ));
        }
        if max < 0 {
            errors.push(FieldError::invalid(
                format!("{at}.maxGroups"),
                format!("must not be negative, not {max}"),
            ));
        }
        if max > 0 && max < min {
            errors.push(FieldError::invalid(
                format!("{at}.maxGroups"),
                format!("maxGroups ({max}) must be greater than or equal to minGroups ({min})"),
            ));
        }
        if let Some(field) = constraint.spread_by_field {
            let count = fields.entry(field).or_default();
            *count += 1;
            if *count == 2 {
                errors.push(FieldError::new(
                    format!("{at}.spreadByField"),
                    Reason::Duplicate,
                    format!(
                        "multiple {} spread constraints are not allowed",
                        field.as_str()
                    ),
                ));
            }
        }
    }
    if !fields.is_empty() && !fields.contains_key(&SpreadField::Cluster) {
        errors.push(FieldError::invalid(
            path,
            "a spreadByField constraint needs a cluster spread constraint too (spreadByField: \
             cluster), which says how many clusters to choose",
        ));
    }
    errors
}

fn replica_scheduling(strategy: &ReplicaSchedulingStrategy, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let divided = strategy
        .replica_scheduling_type
        .unwrap_or(ReplicaSchedulingType::Divided)
        == ReplicaSchedulingType::Divided;
    if divided && strategy.replica_division_preference.is_none() {
        errors.push(FieldError::required(
            format!("{path}.replicaDivisionPreference"),
            "Divided scheduling needs a division preference: Aggregated or Weighted",
        ));
    }
    if let Some(weights) = &strategy.weight_preference {
        let at = format!("{path}.weightPreference");
        if !weights.static_weight_list.is_empty() && weights.dynamic_weight.is_some() {
            errors.push(FieldError::invalid(
                at.as_str(),
                "staticWeightList and dynamicWeight are exclusive; keep one of them",
            ));
        }
        for (i, weight) in weights.static_weight_list.iter().enumerate() {
            if weight.weight < 1 {
                errors.push(FieldError::invalid(
                    format!("{at}.staticWeightList[{i}].weight"),
                    format!("must be at least 1, not {}", weight.weight),
                ));
            }
            errors.extend(cluster_affinity(
                &weight.target_cluster,
                &format!("{at}.staticWeightList[{i}].targetCluster"),
            ));
        }
    }
    errors
}

fn workload_affinity(workload: &WorkloadAffinity, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let terms = [
        ("affinity", &workload.affinity),
        ("antiAffinity", &workload.anti_affinity),
    ];
    for (name, term) in terms {
        if let Some(term) = term
            && let Some(problem) = qualified_name(&term.group_by_label_key).err()
        {
            errors.push(FieldError::invalid(
                format!("{path}.{name}.groupByLabelKey"),
                format!(
                    "{:?} is not a valid label key: {problem}",
                    term.group_by_label_key
                ),
            ));
        }
    }
    if let (Some(affinity), Some(anti)) = (&workload.affinity, &workload.anti_affinity)
        && affinity.group_by_label_key == anti.group_by_label_key
    {
        errors.push(FieldError::invalid(
            path,
            "affinity and antiAffinity must not use the same groupByLabelKey",
        ));
    }
    errors
}
