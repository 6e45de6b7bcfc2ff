//! Whether a member cluster is one a `ClusterAffinity` targets (names, labels, topology fields,
//! exclusions), with Kubernetes label-selector semantics.
//!
//! The same rules live in karmada-propagation's `select.rs`; both belong in
//! `karmada_api::policy::selectors`, which this crate cannot edit, so this copy is temporary.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use karmada_api::cluster::Cluster;
use karmada_api::names::{label_value, qualified_name};
use karmada_api::policy::selectors::{ClusterAffinity, FieldSelectorRequirement};

/// The cluster's name (empty when unnamed, which no stored object is).
pub fn name(cluster: &Cluster) -> &str {
    cluster.metadata.name.as_deref().unwrap_or_default()
}

/// The cluster's zones: `spec.zones`, or the deprecated single `spec.zone` on a cluster that
/// has not been through defaulting.
pub fn zones(cluster: &Cluster) -> Vec<&str> {
    let zones: Vec<&str> = cluster.spec.zones.iter().map(String::as_str).collect();
    if zones.is_empty() {
        cluster
            .spec
            .zone
            .as_deref()
            .filter(|z| !z.is_empty())
            .into_iter()
            .collect()
    } else {
        zones
    }
}

/// Whether `affinity` targets `cluster`: never when excluded; otherwise every part that is set
/// (label selector, field selector, names) must match, and an empty affinity matches all.
pub fn matches(affinity: &ClusterAffinity, cluster: &Cluster) -> bool {
    let name = name(cluster);
    if affinity.exclude.iter().any(|e| e == name) {
        return false;
    }
    if let Some(selector) = &affinity.label_selector {
        let empty = BTreeMap::new();
        let labels = cluster.metadata.labels.as_ref().unwrap_or(&empty);
        if !label_selector_matches(selector, labels) {
            return false;
        }
    }
    if let Some(fields) = &affinity.field_selector
        && !fields
            .match_expressions
            .iter()
            .all(|e| field_matches(e, cluster))
    {
        return false;
    }
    affinity.cluster_names.is_empty() || affinity.cluster_names.iter().any(|n| n == name)
}

/// Kubernetes label selector matching; a selector Kubernetes would refuse to build (bad key or
/// value, unknown operator, wrong value count) matches nothing.
pub fn label_selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let exact = selector.match_labels.iter().flatten().all(|(k, v)| {
        Requirement::new(k, "In", std::slice::from_ref(v)).is_some_and(|r| r.matches(labels.get(k)))
    });
    exact
        && selector.match_expressions.iter().flatten().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            Requirement::new(&e.key, &e.operator, values)
                .is_some_and(|r| r.matches(labels.get(&e.key)))
        })
}

/// `provider` and `region` behave like a node-selector requirement on a label holding the field
/// (absent when empty); `zone` matches against the list of zones.
fn field_matches(e: &FieldSelectorRequirement, cluster: &Cluster) -> bool {
    fn value(v: &Option<String>) -> Option<&String> {
        v.as_ref().filter(|s| !s.is_empty())
    }
    match e.key.as_str() {
        "zone" => {
            let zones = zones(cluster);
            let listed = zones.iter().any(|z| e.values.iter().any(|v| v == z));
            match e.operator.as_str() {
                "In" => listed,
                "NotIn" => !listed,
                "Exists" => !zones.is_empty(),
                "DoesNotExist" => zones.is_empty(),
                _ => false,
            }
        }
        "provider" => Requirement::new(&e.key, &e.operator, &e.values)
            .is_some_and(|r| r.matches(value(&cluster.spec.provider))),
        "region" => Requirement::new(&e.key, &e.operator, &e.values)
            .is_some_and(|r| r.matches(value(&cluster.spec.region))),
        _ => false,
    }
}

/// One label requirement, validated as Kubernetes validates it.
struct Requirement<'a> {
    operator: Operator,
    values: &'a [String],
}

enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

impl<'a> Requirement<'a> {
    fn new(key: &str, operator: &str, values: &'a [String]) -> Option<Self> {
        qualified_name(key).ok()?;
        if values.iter().any(|v| label_value(v).is_err()) {
            return None;
        }
        let bound = || match values {
            [v] => v.parse().ok(),
            _ => None,
        };
        let operator = match operator {
            "In" if !values.is_empty() => Operator::In,
            "NotIn" if !values.is_empty() => Operator::NotIn,
            "Exists" if values.is_empty() => Operator::Exists,
            "DoesNotExist" if values.is_empty() => Operator::DoesNotExist,
            "Gt" => Operator::Gt(bound()?),
            "Lt" => Operator::Lt(bound()?),
            _ => return None,
        };
        Some(Requirement { operator, values })
    }

    fn matches(&self, value: Option<&String>) -> bool {
        let listed = |v: &String| self.values.contains(v);
        let number = || value.and_then(|v| v.parse::<i64>().ok());
        match self.operator {
            Operator::In => value.is_some_and(listed),
            Operator::NotIn => !value.is_some_and(listed),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Gt(bound) => number().is_some_and(|v| v > bound),
            Operator::Lt(bound) => number().is_some_and(|v| v < bound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::cluster;
    use serde_json::json;

    #[test]
    fn affinity_table() {
        let m1 = cluster(&json!({"name": "m1", "labels": {"env": "prod", "gen": "3"},
            "provider": "aws", "region": "us-east", "zones": ["us-east-1a", "us-east-1b"]}));
        let m2 = cluster(
            &json!({"name": "m2", "labels": {"env": "dev"}, "region": "eu-west", "zone": "eu-west-1a"}),
        );
        let cases = [
            ("empty matches all", json!({}), [true, true]),
            ("names", json!({"clusterNames": ["m2"]}), [false, true]),
            (
                "exclude beats names",
                json!({"clusterNames": ["m1"], "exclude": ["m1"]}),
                [false, false],
            ),
            (
                "match labels",
                json!({"labelSelector": {"matchLabels": {"env": "prod"}}}),
                [true, false],
            ),
            (
                "NotIn on absent label passes",
                json!({"labelSelector": {"matchExpressions": [
                {"key": "gen", "operator": "NotIn", "values": ["3"]}]}}),
                [false, true],
            ),
            (
                "Gt",
                json!({"labelSelector": {"matchExpressions": [
                {"key": "gen", "operator": "Gt", "values": ["2"]}]}}),
                [true, false],
            ),
            (
                "invalid selector matches nothing",
                json!({"labelSelector": {"matchExpressions": [
                {"key": "env", "operator": "In", "values": []}]}}),
                [false, false],
            ),
            (
                "provider In",
                json!({"fieldSelector": {"matchExpressions": [
                {"key": "provider", "operator": "In", "values": ["aws"]}]}}),
                [true, false],
            ),
            (
                "region NotIn",
                json!({"fieldSelector": {"matchExpressions": [
                {"key": "region", "operator": "NotIn", "values": ["us-east"]}]}}),
                [false, true],
            ),
            (
                "zone In any of the zones",
                json!({"fieldSelector": {"matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["us-east-1b", "eu-west-1a"]}]}}),
                [true, true],
            ),
            (
                "zone NotIn",
                json!({"fieldSelector": {"matchExpressions": [
                {"key": "zone", "operator": "NotIn", "values": ["us-east-1a"]}]}}),
                [false, true],
            ),
            (
                "all parts must hold",
                json!({"clusterNames": ["m1", "m2"],
                "labelSelector": {"matchLabels": {"env": "dev"}}}),
                [false, true],
            ),
        ];
        for (name, affinity, want) in cases {
            let affinity: ClusterAffinity = serde_json::from_value(affinity).unwrap();
            assert_eq!(
                [matches(&affinity, &m1), matches(&affinity, &m2)],
                want,
                "{name}"
            );
        }
    }
}
