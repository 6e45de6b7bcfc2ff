//! Selectors every policy kind shares: which resource templates a policy applies to, and which
//! member clusters a placement or override rule targets.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Selects resource templates by kind and optionally namespace, name or labels.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSelector {
    /// API version of the target resources, e.g. `apps/v1`.
    pub api_version: String,
    /// Kind of the target resources, e.g. `Deployment`.
    pub kind: String,
    /// Namespace of the target resources; for a namespaced policy it defaults to the policy's
    /// own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the target resource; empty selects by labels (or every resource of the kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Labels of the target resources; ignored when `name` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
}

/// Member clusters chosen by name, labels or topology fields, minus exclusions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAffinity {
    /// Clusters whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Clusters whose `provider`, `region` or `zone` match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_selector: Option<FieldSelector>,
    /// Clusters listed by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_names: Vec<String>,
    /// Clusters never chosen, whatever else matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// Requirements on a cluster's topology fields (`provider`, `region`, `zone`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldSelector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<FieldSelectorRequirement>,
}

/// One requirement of a [`FieldSelector`], shaped like a node selector requirement.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldSelectorRequirement {
    /// `provider`, `region` or `zone`.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The topology fields a [`FieldSelector`] may name.
pub const FIELD_SELECTOR_KEYS: [&str; 3] = ["provider", "region", "zone"];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_round_trip_with_karmada_field_names() {
        let selector = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx"});
        let parsed: ResourceSelector = serde_json::from_value(selector.clone()).unwrap();
        assert_eq!(parsed.name.as_deref(), Some("nginx"));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), selector);

        let affinity = json!({
            "clusterNames": ["member1"],
            "exclude": ["member3"],
            "fieldSelector": {"matchExpressions": [{"key": "region", "operator": "In", "values": ["us-east"]}]},
            "labelSelector": {"matchLabels": {"env": "prod"}},
        });
        let parsed: ClusterAffinity = serde_json::from_value(affinity.clone()).unwrap();
        assert_eq!(parsed.exclude, ["member3"]);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), affinity);
    }
}
