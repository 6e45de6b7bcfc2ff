//! ClusterTaintPolicy (`policy.karmada.io/v1alpha1`): which taints to add to or remove from
//! member clusters when their status conditions match.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::overrides::cluster_affinity;
use super::selectors::ClusterAffinity;
use crate::cluster::validate_taints;
use crate::validation::{Admit, FieldError, Reason};

/// Taints to manage on the target clusters, and the condition sets that add or remove them.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "policy.karmada.io",
    version = "v1alpha1",
    kind = "ClusterTaintPolicy",
    plural = "clustertaintpolicies",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterTaintPolicySpec {
    /// Clusters this policy watches; unset means every cluster. Clusters that stop matching
    /// keep their taints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_clusters: Option<ClusterAffinity>,
    /// Conditions (ANDed) under which the taints are added; empty never adds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_on_conditions: Vec<MatchCondition>,
    /// Conditions (ANDed) under which the taints are removed; empty never removes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_on_conditions: Vec<MatchCondition>,
    /// The taints added or removed; at least one.
    pub taints: Vec<PolicyTaint>,
}

/// One requirement on a cluster status condition.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchCondition {
    /// Type of the Cluster status condition, e.g. `Ready`.
    pub condition_type: String,
    /// `In` or `NotIn`.
    pub operator: String,
    /// Condition statuses (`True`, `False`, `Unknown`) the operator compares with.
    pub status_values: Vec<String>,
}

/// A taint a policy puts on a cluster (no `timeAdded`, unlike a node taint).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTaint {
    pub key: String,
    /// `NoSchedule` or `NoExecute`.
    pub effect: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl MatchCondition {
    /// Whether a condition with status `status` (absent: `None`) satisfies this requirement;
    /// an absent condition is treated as `Unknown`.
    pub fn matches(&self, status: Option<&str>) -> bool {
        let status = status.unwrap_or("Unknown");
        let listed = self.status_values.iter().any(|v| v == status);
        match self.operator.as_str() {
            "In" => listed,
            "NotIn" => !listed,
            _ => false,
        }
    }
}

impl Admit for ClusterTaintPolicy {
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let spec = &self.spec;
        let mut errs = Vec::new();
        if let Some(target) = &spec.target_clusters {
            cluster_affinity(target, "spec.targetClusters", &mut errs);
        }
        if spec.add_on_conditions.is_empty() && spec.remove_on_conditions.is_empty() {
            errs.push(FieldError::required(
                "spec.addOnConditions",
                "at least one of addOnConditions or removeOnConditions must be set, or the policy never acts",
            ));
        }
        for (field, conditions) in [
            ("addOnConditions", &spec.add_on_conditions),
            ("removeOnConditions", &spec.remove_on_conditions),
        ] {
            for (i, c) in conditions.iter().enumerate() {
                match_condition(c, &format!("spec.{field}[{i}]"), &mut errs);
            }
        }
        if spec.taints.is_empty() {
            errs.push(FieldError::required(
                "spec.taints",
                "at least one taint to add or remove is required",
            ));
        }
        let taints: Vec<_> = spec
            .taints
            .iter()
            .map(|t| {
                let value = t.value.as_deref().unwrap_or_default();
                (t.key.as_str(), value, t.effect.as_str())
            })
            .collect();
        validate_taints(&taints, "spec.taints", &mut errs);
        errs
    }
}

fn match_condition(c: &MatchCondition, path: &str, errs: &mut Vec<FieldError>) {
    if c.condition_type.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.conditionType"),
            "type of the cluster condition to match is required, e.g. Ready",
        ));
    }
    if !matches!(c.operator.as_str(), "In" | "NotIn") {
        errs.push(FieldError::new(
            format!("{path}.operator"),
            Reason::NotSupported,
            format!("unsupported operator {:?}, must be In or NotIn", c.operator),
        ));
    }
    if c.status_values.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.statusValues"),
            "at least one condition status (True, False or Unknown) is required",
        ));
    }
    for (i, v) in c.status_values.iter().enumerate() {
        if !matches!(v.as_str(), "True" | "False" | "Unknown") {
            errs.push(FieldError::new(
                format!("{path}.statusValues[{i}]"),
                Reason::NotSupported,
                format!("unsupported condition status {v:?}, must be True, False or Unknown"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::selectors::{FieldSelector, FieldSelectorRequirement};
    use crate::structural::assert_structural;
    use kube::CustomResourceExt;
    use serde_json::json;

    fn cond(t: &str, op: &str, values: &[&str]) -> MatchCondition {
        MatchCondition {
            condition_type: t.into(),
            operator: op.into(),
            status_values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    fn taint(key: &str, effect: &str) -> PolicyTaint {
        PolicyTaint {
            key: key.into(),
            effect: effect.into(),
            value: None,
        }
    }

    fn valid() -> ClusterTaintPolicySpec {
        ClusterTaintPolicySpec {
            target_clusters: None,
            add_on_conditions: vec![cond("Ready", "NotIn", &["True"])],
            remove_on_conditions: vec![cond("Ready", "In", &["True"])],
            taints: vec![taint("cluster.karmada.io/not-ready", "NoSchedule")],
        }
    }

    #[test]
    fn round_trips_karmada_shape() {
        let value = json!({
            "apiVersion": "policy.karmada.io/v1alpha1",
            "kind": "ClusterTaintPolicy",
            "metadata": {"name": "detect-cluster-notready"},
            "spec": {
                "targetClusters": {"clusterNames": ["member1"]},
                "addOnConditions": [{"conditionType": "Ready", "operator": "NotIn", "statusValues": ["True"]}],
                "removeOnConditions": [{"conditionType": "Ready", "operator": "In", "statusValues": ["True"]}],
                "taints": [{"key": "cluster.karmada.io/not-ready", "effect": "NoExecute", "value": "x"}]
            }
        });
        let policy: ClusterTaintPolicy = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&policy).unwrap(), value);
        assert!(policy.validate(None).is_empty());
    }

    #[test]
    fn conditions_match_statuses() {
        let not_ready = cond("Ready", "NotIn", &["True"]);
        assert!(not_ready.matches(Some("False")));
        assert!(not_ready.matches(None));
        assert!(!not_ready.matches(Some("True")));
        assert!(cond("Ready", "In", &["Unknown"]).matches(None));
        assert!(!cond("Ready", "Exists", &["True"]).matches(Some("True")));
    }

    /// Case name, spec, and the (field, reason) errors expected.
    type Case = (
        &'static str,
        ClusterTaintPolicySpec,
        Vec<(&'static str, Reason)>,
    );

    #[test]
    fn validation_table() {
        let cases: Vec<Case> = vec![
            ("valid", valid(), vec![]),
            (
                "no taints",
                ClusterTaintPolicySpec {
                    taints: vec![],
                    ..valid()
                },
                vec![("spec.taints", Reason::Required)],
            ),
            (
                "no conditions",
                ClusterTaintPolicySpec {
                    add_on_conditions: vec![],
                    remove_on_conditions: vec![],
                    ..valid()
                },
                vec![("spec.addOnConditions", Reason::Required)],
            ),
            (
                "condition fields",
                ClusterTaintPolicySpec {
                    add_on_conditions: vec![cond("", "Exists", &[])],
                    ..valid()
                },
                vec![
                    ("spec.addOnConditions[0].conditionType", Reason::Required),
                    ("spec.addOnConditions[0].operator", Reason::NotSupported),
                    ("spec.addOnConditions[0].statusValues", Reason::Required),
                ],
            ),
            (
                "condition status values",
                ClusterTaintPolicySpec {
                    remove_on_conditions: vec![cond("Ready", "In", &["true"])],
                    ..valid()
                },
                vec![(
                    "spec.removeOnConditions[0].statusValues[0]",
                    Reason::NotSupported,
                )],
            ),
            (
                "taint effect and key",
                ClusterTaintPolicySpec {
                    taints: vec![taint("bad key", "PreferNoSchedule")],
                    ..valid()
                },
                vec![
                    ("spec.taints[0].key", Reason::Invalid),
                    ("spec.taints[0].effect", Reason::NotSupported),
                ],
            ),
            (
                "duplicate taints",
                ClusterTaintPolicySpec {
                    taints: vec![taint("a", "NoExecute"), taint("a", "NoExecute")],
                    ..valid()
                },
                vec![("spec.taints[1]", Reason::Duplicate)],
            ),
            (
                "target field selector",
                ClusterTaintPolicySpec {
                    target_clusters: Some(ClusterAffinity {
                        field_selector: Some(FieldSelector {
                            match_expressions: vec![FieldSelectorRequirement {
                                key: "zone".into(),
                                operator: "Gt".into(),
                                values: vec![],
                            }],
                        }),
                        ..Default::default()
                    }),
                    ..valid()
                },
                vec![(
                    "spec.targetClusters.fieldSelector.matchExpressions[0].operator",
                    Reason::Invalid,
                )],
            ),
        ];
        for (name, spec, want) in cases {
            crate::validation::assert_fields(
                name,
                ClusterTaintPolicy::new("p", spec).validate(None),
                &want,
            );
        }
    }

    #[test]
    fn crd_matches_karmada() {
        let crd = ClusterTaintPolicy::crd();
        assert_eq!(crd.spec.group, "policy.karmada.io");
        assert_eq!(crd.spec.names.plural, "clustertaintpolicies");
        assert_eq!(crd.spec.names.short_names, None);
        assert_eq!(crd.spec.scope, "Cluster");
        let version = &crd.spec.versions[0];
        assert!(version.subresources.is_none());
        let schema = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
        assert_structural(&schema["openAPIV3Schema"]);
        assert_eq!(
            schema["openAPIV3Schema"]["properties"]["spec"]["required"],
            json!(["taints"])
        );
    }
}
