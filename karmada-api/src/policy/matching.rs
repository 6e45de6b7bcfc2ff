//! Whether labels satisfy a Kubernetes label selector and whether a member cluster is one a
//! `ClusterAffinity` targets (names, labels, topology fields, exclusions), shared by the
//! override engine and the scheduler.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::cluster::Cluster;
use crate::names::{label_value, qualified_name};
use crate::policy::selectors::{ClusterAffinity, FieldSelectorRequirement};

/// Whether `labels` satisfy a Kubernetes label selector. An invalid selector (bad key or value,
/// unknown operator, wrong number of values) matches nothing, as Kubernetes fails to build it.
pub fn label_selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let mut requirements = Vec::new();
    for (key, value) in selector.match_labels.iter().flatten() {
        requirements.push((key.as_str(), "In", std::slice::from_ref(value)));
    }
    for expression in selector.match_expressions.iter().flatten() {
        let values = expression.values.as_deref().unwrap_or_default();
        requirements.push((
            expression.key.as_str(),
            expression.operator.as_str(),
            values,
        ));
    }
    requirements.into_iter().all(|(key, operator, values)| {
        match Requirement::new(key, operator, values) {
            Some(requirement) => requirement.matches(labels),
            None => false,
        }
    })
}

/// Whether `cluster` is one `affinity` targets: never when excluded; otherwise every set part
/// (label selector, field selector, cluster names) must match, and an empty affinity matches all.
pub fn cluster_matches(affinity: &ClusterAffinity, cluster: &Cluster) -> bool {
    let name = cluster.metadata.name.as_deref().unwrap_or_default();
    if affinity.exclude.iter().any(|excluded| excluded == name) {
        return false;
    }
    if let Some(selector) = &affinity.label_selector {
        // Borrowed, not cloned: this runs for every cluster of every scheduling cycle.
        let empty = BTreeMap::new();
        let labels = cluster.metadata.labels.as_ref().unwrap_or(&empty);
        if !label_selector_matches(selector, labels) {
            return false;
        }
    }
    if let Some(fields) = &affinity.field_selector
        && !cluster_fields_match(&fields.match_expressions, cluster)
    {
        return false;
    }
    affinity.cluster_names.is_empty() || affinity.cluster_names.iter().any(|n| n == name)
}

/// The cluster's zones: `spec.zones`, or the deprecated single `spec.zone` of a cluster that
/// has not been through Karmada's defaulting (which moves it into `zones`).
pub fn zones(cluster: &Cluster) -> Vec<&str> {
    if cluster.spec.zones.is_empty() {
        cluster
            .spec
            .zone
            .as_deref()
            .filter(|z| !z.is_empty())
            .into_iter()
            .collect()
    } else {
        cluster.spec.zones.iter().map(String::as_str).collect()
    }
}

/// Field requirements on `provider` and `region` behave like node selector requirements on a
/// label set holding the non-empty fields; `zone` is matched against the cluster's zone list.
fn cluster_fields_match(expressions: &[FieldSelectorRequirement], cluster: &Cluster) -> bool {
    let zones = zones(cluster);
    let mut fields = BTreeMap::new();
    for (key, value) in [
        ("provider", &cluster.spec.provider),
        ("region", &cluster.spec.region),
    ] {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            fields.insert(key.to_string(), value.clone());
        }
    }
    let mut others = Vec::new();
    for expression in expressions {
        if expression.key == "zone" {
            if !zones_match(expression, &zones) {
                return false;
            }
        } else {
            match Requirement::new(&expression.key, &expression.operator, &expression.values) {
                Some(requirement) => others.push(requirement),
                None => return false,
            }
        }
    }
    others
        .iter()
        .all(|requirement| requirement.matches(&fields))
}

fn zones_match(expression: &FieldSelectorRequirement, zones: &[&str]) -> bool {
    let listed = |zone: &&str| expression.values.iter().any(|v| v == zone);
    match expression.operator.as_str() {
        "In" => zones.iter().any(listed),
        "NotIn" => !zones.iter().any(listed),
        "Exists" => !zones.is_empty(),
        "DoesNotExist" => zones.is_empty(),
        _ => false,
    }
}

/// One validated label requirement (the operators of label and node selectors).
struct Requirement<'a> {
    key: &'a str,
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
    /// Builds the requirement as Kubernetes does, or `None` when Kubernetes would reject it.
    fn new(key: &'a str, operator: &str, values: &'a [String]) -> Option<Self> {
        qualified_name(key).ok()?;
        let bound = || -> Option<i64> {
            match values {
                [value] => value.parse().ok(),
                _ => None,
            }
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
        if values.iter().any(|value| label_value(value).is_err()) {
            return None;
        }
        Some(Requirement {
            key,
            operator,
            values,
        })
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(self.key);
        let listed = |v: &String| self.values.contains(v);
        match self.operator {
            Operator::In => value.is_some_and(listed),
            Operator::NotIn => !value.is_some_and(listed),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Gt(bound) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > bound),
            Operator::Lt(bound) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < bound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn cluster(name: &str, labels: &Value, spec: &Value) -> Cluster {
        let mut spec = spec.clone();
        spec["syncMode"] = json!("Push");
        serde_json::from_value(json!({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, "labels": labels}, "spec": spec
        }))
        .unwrap()
    }

    fn affinity(value: Value) -> ClusterAffinity {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn cluster_affinity_by_names_labels_fields_and_exclude() {
        let aws = cluster(
            "member1",
            &json!({"env": "prod", "tier": "2"}),
            &json!({"provider": "aws", "region": "us-east", "zones": ["us-east-1a", "us-east-1b"]}),
        );
        let bare = cluster("member2", &json!({}), &json!({}));
        let legacy_zone = cluster("member3", &json!({}), &json!({"zone": "eu-1"}));
        let fields = |key: &str, operator: &str, values: Value| {
            affinity(json!({"fieldSelector": {"matchExpressions": [
                {"key": key, "operator": operator, "values": values}]}}))
        };
        let cases = [
            (affinity(json!({})), [true, true, true]),
            (
                affinity(json!({"clusterNames": ["member1", "member3"]})),
                [true, false, true],
            ),
            (
                affinity(json!({"exclude": ["member1"]})),
                [false, true, true],
            ),
            (
                affinity(json!({"clusterNames": ["member1"], "exclude": ["member1"]})),
                [false, false, false],
            ),
            (
                affinity(json!({"labelSelector": {"matchLabels": {"env": "prod"}}})),
                [true, false, false],
            ),
            (affinity(json!({"labelSelector": {}})), [true, true, true]),
            (
                affinity(json!({"labelSelector": {"matchExpressions": [
                {"key": "env", "operator": "NotIn", "values": ["prod"]}]}})),
                [false, true, true],
            ),
            (
                affinity(json!({"labelSelector": {"matchExpressions": [
                {"key": "env", "operator": "Exists"}]}})),
                [true, false, false],
            ),
            (
                affinity(json!({"labelSelector": {"matchExpressions": [
                {"key": "env", "operator": "DoesNotExist"}]}})),
                [false, true, true],
            ),
            (
                affinity(json!({"labelSelector": {"matchExpressions": [
                {"key": "env", "operator": "In", "values": []}]}})),
                [false, false, false],
            ),
            (
                affinity(json!({"labelSelector": {"matchLabels": {"env": "prod"}},
                             "clusterNames": ["member2"]})),
                [false, false, false],
            ),
            (
                fields("provider", "In", json!(["aws", "gcp"])),
                [true, false, false],
            ),
            (
                fields("region", "NotIn", json!(["us-east"])),
                [false, true, true],
            ),
            (fields("region", "Exists", json!([])), [true, false, false]),
            (
                fields("provider", "DoesNotExist", json!([])),
                [false, true, true],
            ),
            (
                fields("provider", "Bogus", json!(["aws"])),
                [false, false, false],
            ),
            (
                fields("zone", "In", json!(["us-east-1b", "eu-1"])),
                [true, false, true],
            ),
            (
                fields("zone", "NotIn", json!(["us-east-1a"])),
                [false, true, true],
            ),
            (fields("zone", "Exists", json!([])), [true, false, true]),
            (
                fields("zone", "DoesNotExist", json!([])),
                [false, true, false],
            ),
        ];
        for (affinity, want) in cases {
            let got = [&aws, &bare, &legacy_zone].map(|c| cluster_matches(&affinity, c));
            assert_eq!(got, want, "{affinity:?}");
        }
        let empty = affinity(json!({"labelSelector": {"matchLabels": {}},
            "fieldSelector": {"matchExpressions": []}}));
        assert!(cluster_matches(&empty, &aws));
    }

    #[test]
    fn numeric_field_requirements() {
        let labels: BTreeMap<String, String> = [("tier".to_string(), "2".to_string())].into();
        let values = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let gt = values(&["1"]);
        let lt = values(&["2"]);
        let bad = values(&["x"]);
        assert!(
            Requirement::new("tier", "Gt", &gt)
                .unwrap()
                .matches(&labels)
        );
        assert!(
            !Requirement::new("tier", "Lt", &lt)
                .unwrap()
                .matches(&labels)
        );
        assert!(Requirement::new("tier", "Gt", &bad).is_none());
        assert!(Requirement::new("bad key!", "Exists", &[]).is_none());
    }
}
