//! Cluster (`cluster.karmada.io/v1alpha1`): a member cluster, how Karmada reaches it, and
//! what it reports about itself.

mod admit;
pub mod quantity;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(crate) use admit::validate_taints;
pub use admit::{
    CLUSTER_NAME_MAX_LENGTH, default_resource_models, stamp_no_execute_taints,
    standardize_resource_models,
};

/// Condition type: the cluster's API server answers health checks.
pub const CONDITION_READY: &str = "Ready";
/// Condition type: the cluster completed its first status collection.
pub const CONDITION_COMPLETE_API_ENABLEMENTS: &str = "CompleteAPIEnablements";
/// Annotation an agent that serves the replica estimator sets on its Cluster: the estimator's
/// `host:port`, where the scheduler asks how many replicas fit in the member.
pub const ESTIMATOR_ADDRESS_ANNOTATION: &str = "estimator.karmada.io/address";

/// A member cluster: its endpoint and credentials (Push) or agent (Pull), topology and taints.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "cluster.karmada.io",
    version = "v1alpha1",
    kind = "Cluster",
    plural = "clusters",
    status = "ClusterStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"VERSION","type":"string","jsonPath":".status.kubernetesVersion"}"#,
    printcolumn = r#"{"name":"MODE","type":"string","jsonPath":".spec.syncMode"}"#,
    printcolumn = r#"{"name":"READY","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"ZONES","type":"string","priority":1,"jsonPath":".spec.zones"}"#,
    printcolumn = r#"{"name":"REGION","type":"string","priority":1,"jsonPath":".spec.region"}"#,
    printcolumn = r#"{"name":"PROVIDER","type":"string","priority":1,"jsonPath":".spec.provider"}"#,
    printcolumn = r#"{"name":"API-ENDPOINT","type":"string","priority":1,"jsonPath":".spec.apiEndpoint"}"#,
    printcolumn = r#"{"name":"PROXY-URL","type":"string","priority":1,"jsonPath":".spec.proxyURL"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Unique id of the cluster (usually the UID of its `kube-system` namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Whether the control plane pushes to the cluster or an agent in it pulls.
    pub sync_mode: ClusterSyncMode,
    /// URL of the cluster's API server, e.g. `https://10.0.0.1:6443`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    /// Secret holding the token and CA bundle to reach the cluster (Push mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalSecretReference>,
    /// Secret holding the token used to impersonate users in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonator_secret_ref: Option<LocalSecretReference>,
    /// Skips verifying the cluster's serving certificate.
    #[serde(
        default,
        rename = "insecureSkipTLSVerification",
        skip_serializing_if = "Option::is_none"
    )]
    pub insecure_skip_tls_verification: Option<bool>,
    /// Proxy to reach the cluster through: `http`, `https` or `socks5` URL.
    #[serde(default, rename = "proxyURL", skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Headers sent to the proxy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_header: BTreeMap<String, String>,
    /// Cloud provider name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Deprecated single zone; defaulting moves it into `zones`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    /// Taints that keep workloads away unless a policy tolerates them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    /// Grades of node sizes used to estimate how many replicas fit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_models: Vec<ResourceModel>,
}

/// How Karmada syncs resources to a member cluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ClusterSyncMode {
    /// The control plane applies resources directly.
    Push,
    /// The karmada-agent in the member cluster pulls and applies them.
    Pull,
}

impl ClusterSyncMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterSyncMode::Push => "Push",
            ClusterSyncMode::Pull => "Pull",
        }
    }
}

/// A Secret named by namespace and name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretReference {
    pub namespace: String,
    pub name: String,
}

/// One grade of node size: for each resource, the range a node of this grade falls in.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceModel {
    pub grade: u32,
    pub ranges: Vec<ResourceModelRange>,
}

/// `[min, max)` of one resource in a [`ResourceModel`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceModelRange {
    /// Resource name, e.g. `cpu` or `memory`.
    pub name: String,
    pub min: Quantity,
    pub max: Quantity,
}

/// What the cluster (or its agent) reports.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// The API groups and resources the cluster serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_enablements: Vec<ApiEnablement>,
    /// `Ready`, `CompleteAPIEnablements`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_summary: Option<NodeSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_summary: Option<ResourceSummary>,
    /// Remedies in force, e.g. `TrafficControl`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remedy_actions: Vec<String>,
}

/// The resources one group version of the cluster serves.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiEnablement {
    /// e.g. `apps/v1`.
    pub group_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ApiResource>,
}

/// One served resource: plural name and kind.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiResource {
    pub name: String,
    pub kind: String,
}

/// Node counts of the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_num: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_num: Option<i32>,
}

/// Resources of the cluster: allocatable, being allocated (by pending pods) and allocated.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSummary {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allocatable: BTreeMap<String, Quantity>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allocating: BTreeMap<String, Quantity>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allocated: BTreeMap<String, Quantity>,
    /// How many nodes fall in each grade of `spec.resourceModels`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocatable_modelings: Vec<AllocatableModeling>,
}

/// Number of nodes of one resource-model grade.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllocatableModeling {
    pub grade: u32,
    pub count: i32,
}

impl Cluster {
    /// Whether the `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        self.status
            .as_ref()
            .into_iter()
            .flat_map(|s| &s.conditions)
            .any(|c| c.type_ == CONDITION_READY && c.status == "True")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structural::assert_structural;
    use kube::CustomResourceExt;
    use serde_json::json;

    fn cluster_json() -> serde_json::Value {
        json!({
            "apiVersion": "cluster.karmada.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": "member1"},
            "spec": {
                "id": "0b1c",
                "syncMode": "Push",
                "apiEndpoint": "https://172.18.0.3:6443",
                "secretRef": {"namespace": "karmada-cluster", "name": "member1"},
                "impersonatorSecretRef": {"namespace": "karmada-cluster", "name": "member1-impersonator"},
                "insecureSkipTLSVerification": false,
                "proxyURL": "socks5://proxy:1080",
                "proxyHeader": {"X-Auth": "t"},
                "provider": "aws",
                "region": "us-east-1",
                "zones": ["us-east-1a"],
                "taints": [{"key": "cluster.karmada.io/not-ready", "effect": "NoSchedule"}],
                "resourceModels": [{"grade": 0, "ranges": [{"name": "cpu", "min": "0", "max": "1"}]}]
            },
            "status": {
                "kubernetesVersion": "v1.33.1",
                "apiEnablements": [{"groupVersion": "apps/v1", "resources": [{"name": "deployments", "kind": "Deployment"}]}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady",
                                "message": "cluster is healthy and ready to accept workloads",
                                "lastTransitionTime": "2026-01-02T03:04:05Z"}],
                "nodeSummary": {"totalNum": 3, "readyNum": 3},
                "resourceSummary": {
                    "allocatable": {"cpu": "8", "memory": "16Gi", "pods": "330"},
                    "allocating": {"cpu": "0"},
                    "allocated": {"cpu": "1500m"},
                    "allocatableModelings": [{"grade": 0, "count": 1}]
                },
                "remedyActions": ["TrafficControl"]
            }
        })
    }

    #[test]
    fn cluster_round_trips() {
        let value = cluster_json();
        let cluster: Cluster = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(cluster.spec.sync_mode, ClusterSyncMode::Push);
        assert!(cluster.is_ready());
        assert_eq!(serde_json::to_value(&cluster).unwrap(), value);
    }

    #[test]
    fn sync_mode_is_required_and_enumerated() {
        let mut value = cluster_json();
        value["spec"]["syncMode"] = json!("Poll");
        assert!(serde_json::from_value::<Cluster>(value.clone()).is_err());
        value["spec"].as_object_mut().unwrap().remove("syncMode");
        assert!(serde_json::from_value::<Cluster>(value).is_err());
    }

    #[test]
    fn crd_serves_cluster_with_kubectl_columns() {
        let crd = Cluster::crd();
        assert_eq!(crd.spec.group, "cluster.karmada.io");
        assert_eq!(crd.spec.names.plural, "clusters");
        assert_eq!(crd.spec.names.kind, "Cluster");
        assert_eq!(crd.spec.scope, "Cluster");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        let columns: Vec<_> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .filter(|c| c.priority.unwrap_or(0) == 0)
            .map(|c| (c.name.as_str(), c.json_path.as_str()))
            .collect();
        assert_eq!(
            columns,
            [
                ("VERSION", ".status.kubernetesVersion"),
                ("MODE", ".spec.syncMode"),
                ("READY", ".status.conditions[?(@.type==\"Ready\")].status"),
                ("AGE", ".metadata.creationTimestamp"),
            ]
        );
        let schema = serde_json::to_value(version.schema.as_ref().unwrap()).unwrap();
        assert_structural(&schema["openAPIV3Schema"]);
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["required"], json!(["syncMode"]));
        assert_eq!(
            spec["properties"]["syncMode"]["enum"],
            json!(["Push", "Pull"])
        );
        assert!(spec["properties"]["proxyURL"].is_object());
    }
}
