//! Karmada's selector matching: which resource templates a `ResourceSelector` picks (and how
//! specifically), and which member clusters a `ClusterAffinity` targets.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use karmada_api::cluster::Cluster;
use karmada_api::names::{label_value, qualified_name};
use karmada_api::policy::selectors::{ClusterAffinity, FieldSelectorRequirement, ResourceSelector};
use serde_json::Value;

/// How specifically a resource selector matches a template; the derived order is Karmada's
/// implicit priority (a name match beats a label match beats a match-all).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ImplicitPriority {
    Mismatch,
    MatchAll,
    MatchLabelSelector,
    MatchName,
}

/// Whether `selector` picks the resource template `template`.
pub fn resource_matches(selector: &ResourceSelector, template: &Value) -> bool {
    resource_priority(selector, template) > ImplicitPriority::Mismatch
}

/// How specifically `selector` matches `template`: a set `name` is compared alone (the label
/// selector is then ignored); otherwise the label selector decides; neither set matches all.
pub fn resource_priority(selector: &ResourceSelector, template: &Value) -> ImplicitPriority {
    let field = |name: &str| template[name].as_str().unwrap_or_default();
    let metadata = |name: &str| template["metadata"][name].as_str().unwrap_or_default();
    let namespace = selector.namespace.as_deref().unwrap_or_default();
    if field("apiVersion") != selector.api_version
        || field("kind") != selector.kind
        || (!namespace.is_empty() && metadata("namespace") != namespace)
    {
        return ImplicitPriority::Mismatch;
    }
    match selector.name.as_deref() {
        Some(name) if !name.is_empty() => {
            if metadata("name") == name {
                ImplicitPriority::MatchName
            } else {
                ImplicitPriority::Mismatch
            }
        }
        _ => match &selector.label_selector {
            None => ImplicitPriority::MatchAll,
            Some(labels) if label_selector_matches(labels, &template_labels(template)) => {
                ImplicitPriority::MatchLabelSelector
            }
            Some(_) => ImplicitPriority::Mismatch,
        },
    }
}

/// The highest priority any of `selectors` matches `template` with.
pub fn selectors_priority(selectors: &[ResourceSelector], template: &Value) -> ImplicitPriority {
    selectors
        .iter()
        .map(|selector| resource_priority(selector, template))
        .max()
        .unwrap_or(ImplicitPriority::Mismatch)
}

/// The template's labels; values that are not strings are skipped, as they cannot match.
fn template_labels(template: &Value) -> BTreeMap<String, String> {
    template["metadata"]["labels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

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
        let labels = cluster.metadata.labels.clone().unwrap_or_default();
        if !label_selector_matches(selector, &labels) {
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

/// Field requirements on `provider` and `region` behave like node selector requirements on a
/// label set holding the non-empty fields; `zone` is matched against the cluster's zone list.
fn cluster_fields_match(expressions: &[FieldSelectorRequirement], cluster: &Cluster) -> bool {
    let mut zones = cluster.spec.zones.clone();
    // Karmada's defaulting moves the deprecated single `zone` into `zones`; honour a cluster
    // that has not been through it.
    if zones.is_empty()
        && let Some(zone) = cluster.spec.zone.as_ref().filter(|z| !z.is_empty())
    {
        zones.push(zone.clone());
    }
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

fn zones_match(expression: &FieldSelectorRequirement, zones: &[String]) -> bool {
    let listed = |zone: &String| expression.values.contains(zone);
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
    use serde_json::json;

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
    fn resource_selectors_and_their_priority() {
        let template = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}}});
        let selector =
            |value: Value| -> ResourceSelector { serde_json::from_value(value).unwrap() };
        use ImplicitPriority::*;
        let cases = [
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment"}),
                MatchAll,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop"}),
                MatchAll,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "other"}),
                Mismatch,
            ),
            (
                json!({"apiVersion": "apps/v1beta1", "kind": "Deployment"}),
                Mismatch,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet"}),
                Mismatch,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}),
                MatchName,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "db"}),
                Mismatch,
            ),
            // A name wins over a label selector that would not match.
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                    "labelSelector": {"matchLabels": {"app": "db"}}}),
                MatchName,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "labelSelector": {"matchLabels": {"app": "web"}}}),
                MatchLabelSelector,
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "labelSelector": {"matchExpressions": [
                        {"key": "app", "operator": "In", "values": ["db"]}]}}),
                Mismatch,
            ),
        ];
        for (value, want) in cases {
            let selector = selector(value);
            assert_eq!(
                resource_priority(&selector, &template),
                want,
                "{selector:?}"
            );
            assert_eq!(resource_matches(&selector, &template), want != Mismatch);
        }
        let all = [
            selector(json!({"apiVersion": "apps/v1", "kind": "Deployment"})),
            selector(json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})),
        ];
        assert_eq!(selectors_priority(&all, &template), MatchName);
        assert_eq!(selectors_priority(&[], &template), Mismatch);
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
