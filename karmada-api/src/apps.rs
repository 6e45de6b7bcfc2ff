//! WorkloadRebalancer (`apps.karmada.io/v1alpha1`): a one-shot request to reschedule listed
//! workloads from scratch, and the outcome per workload.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validation::{Admit, FieldError, Reason};

/// The workloads to rebalance, and how long to keep this object once done.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "apps.karmada.io",
    version = "v1alpha1",
    kind = "WorkloadRebalancer",
    plural = "workloadrebalancers",
    status = "WorkloadRebalancerStatus",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRebalancerSpec {
    /// Resource templates whose bindings are rescheduled; at least one, each once.
    pub workloads: Vec<ObjectReference>,
    /// Seconds after finishing before the rebalancer deletes itself; unset keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<i32>,
}

/// A resource template by apiVersion, kind, namespace and name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// Empty for cluster-scoped resources.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// What became of each workload.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRebalancerStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed_workloads: Vec<ObservedWorkload>,
    /// The generation the controller last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When every workload reached a final result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<Time>,
}

/// The outcome for one workload.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObservedWorkload {
    pub workload: ObjectReference,
    /// Unset while the rebalance is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<RebalanceResult>,
    /// Why it failed, e.g. `ReferencedBindingNotFound`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Final result of rebalancing one workload.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RebalanceResult {
    Successful,
    Failed,
}

/// Failure reason: the workload has no binding to reschedule.
pub const REASON_REFERENCED_BINDING_NOT_FOUND: &str = "ReferencedBindingNotFound";

impl WorkloadRebalancerStatus {
    /// Whether every observed workload has a final result.
    pub fn is_finished(&self) -> bool {
        self.observed_workloads.iter().all(|w| w.result.is_some())
    }
}

impl Admit for WorkloadRebalancer {
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let spec = &self.spec;
        let mut errs = Vec::new();
        if spec.workloads.is_empty() {
            errs.push(FieldError::required(
                "spec.workloads",
                "at least one workload to rebalance is required",
            ));
        }
        for (i, w) in spec.workloads.iter().enumerate() {
            let path = format!("spec.workloads[{i}]");
            for (field, value) in [
                ("apiVersion", &w.api_version),
                ("kind", &w.kind),
                ("name", &w.name),
            ] {
                if value.is_empty() {
                    errs.push(FieldError::required(
                        format!("{path}.{field}"),
                        format!("{field} of the workload is required"),
                    ));
                }
            }
            if spec.workloads[..i].contains(w) {
                errs.push(FieldError::new(
                    path,
                    Reason::Duplicate,
                    format!(
                        "workload {}/{} {:?} is listed twice",
                        w.api_version, w.kind, w.name
                    ),
                ));
            }
        }
        if let Some(ttl) = spec.ttl_seconds_after_finished
            && ttl < 0
        {
            errs.push(FieldError::invalid(
                "spec.ttlSecondsAfterFinished",
                "must be zero or more seconds",
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structural::assert_structural;
    use kube::CustomResourceExt;
    use serde_json::json;

    fn deploy(name: &str) -> ObjectReference {
        ObjectReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: name.into(),
            namespace: "default".into(),
        }
    }

    #[test]
    fn round_trips_karmada_shape() {
        let value = json!({
            "apiVersion": "apps.karmada.io/v1alpha1",
            "kind": "WorkloadRebalancer",
            "metadata": {"name": "demo"},
            "spec": {
                "workloads": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo-deploy", "namespace": "default"},
                    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "demo-role"}
                ],
                "ttlSecondsAfterFinished": 60
            },
            "status": {
                "observedWorkloads": [
                    {"workload": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo-deploy", "namespace": "default"},
                     "result": "Successful"},
                    {"workload": {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "name": "demo-role"},
                     "result": "Failed", "reason": "ReferencedBindingNotFound"}
                ],
                "observedGeneration": 1,
                "finishTime": "2026-01-02T03:04:05Z"
            }
        });
        let rebalancer: WorkloadRebalancer = serde_json::from_value(value.clone()).unwrap();
        assert!(rebalancer.status.as_ref().unwrap().is_finished());
        assert_eq!(serde_json::to_value(&rebalancer).unwrap(), value);
        assert!(rebalancer.validate(None).is_empty());
    }

    /// Case name, spec, and the (field, reason) errors expected.
    type Case = (
        &'static str,
        WorkloadRebalancerSpec,
        Vec<(&'static str, Reason)>,
    );

    #[test]
    fn validation_table() {
        let nameless = ObjectReference {
            name: String::new(),
            ..deploy("x")
        };
        let cases: Vec<Case> = vec![
            (
                "valid",
                WorkloadRebalancerSpec {
                    workloads: vec![deploy("a"), deploy("b")],
                    ttl_seconds_after_finished: Some(0),
                },
                vec![],
            ),
            (
                "empty",
                WorkloadRebalancerSpec::default(),
                vec![("spec.workloads", Reason::Required)],
            ),
            (
                "duplicate",
                WorkloadRebalancerSpec {
                    workloads: vec![deploy("a"), deploy("a")],
                    ..Default::default()
                },
                vec![("spec.workloads[1]", Reason::Duplicate)],
            ),
            (
                "missing fields",
                WorkloadRebalancerSpec {
                    workloads: vec![ObjectReference::default(), nameless],
                    ..Default::default()
                },
                vec![
                    ("spec.workloads[0].apiVersion", Reason::Required),
                    ("spec.workloads[0].kind", Reason::Required),
                    ("spec.workloads[0].name", Reason::Required),
                    ("spec.workloads[1].name", Reason::Required),
                ],
            ),
            (
                "negative ttl",
                WorkloadRebalancerSpec {
                    workloads: vec![deploy("a")],
                    ttl_seconds_after_finished: Some(-1),
                },
                vec![("spec.ttlSecondsAfterFinished", Reason::Invalid)],
            ),
        ];
        for (name, spec, want) in cases {
            crate::validation::assert_fields(
                name,
                WorkloadRebalancer::new("r", spec).validate(None),
                &want,
            );
        }
    }

    #[test]
    fn crd_matches_karmada() {
        let crd = WorkloadRebalancer::crd();
        assert_eq!(crd.spec.group, "apps.karmada.io");
        assert_eq!(crd.spec.names.plural, "workloadrebalancers");
        assert_eq!(crd.spec.scope, "Cluster");
        let version = &crd.spec.versions[0];
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        assert!(version.additional_printer_columns.is_none());
        let schema = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
        assert_structural(&schema["openAPIV3Schema"]);
        assert_eq!(
            schema["openAPIV3Schema"]["properties"]["spec"]["required"],
            json!(["workloads"])
        );
    }
}
