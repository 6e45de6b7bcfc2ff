//! What one replica of a bound resource needs, and how many replicas (per component) the
//! scheduler put on each cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelector, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Resources and node constraints of one replica, as the resource interpreter reports them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaRequirements {
    /// Node constraints a member node must satisfy to run a replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_claim: Option<NodeClaim>,
    /// Compute resources one replica requests, e.g. `cpu: 500m`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_request: BTreeMap<String, Quantity>,
    /// Namespace of the workload, for quota-aware estimation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// PriorityClass of the replicas' pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// The pod-level node constraints of a replica.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaim {
    /// Required node affinity of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_node_affinity: Option<NodeSelector>,
    /// Node selector of the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Node taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
}

/// One pod template of a multi-template workload (e.g. job manager and task managers).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Unique name of the component within the workload.
    pub name: String,
    /// Replicas of this component.
    pub replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_requirements: Option<ComponentReplicaRequirements>,
}

/// What one replica of a [`Component`] needs; like [`ReplicaRequirements`] without a
/// namespace, which is the workload's.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentReplicaRequirements {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_claim: Option<NodeClaim>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_request: BTreeMap<String, Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// One cluster of a schedule result.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetCluster {
    /// Name of the member cluster.
    pub name: String,
    /// Replicas assigned to this cluster; absent for resources without replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Replicas per component, for multi-template workloads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<TargetComponent>,
}

/// Replicas of one component on one cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetComponent {
    pub name: String,
    pub replicas: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requirements_round_trip_with_quantities_and_node_claims() {
        let requirements = json!({
            "nodeClaim": {
                "hardNodeAffinity": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                ]}]},
                "nodeSelector": {"disk": "ssd"},
                "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            },
            "resourceRequest": {"cpu": "500m", "memory": "1Gi"},
            "namespace": "prod",
            "priorityClassName": "high",
        });
        let parsed: ReplicaRequirements = serde_json::from_value(requirements.clone()).unwrap();
        assert_eq!(parsed.resource_request["cpu"], Quantity("500m".into()));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), requirements);
    }

    #[test]
    fn target_clusters_keep_absent_replicas_absent() {
        let clusters = json!([
            {"name": "member1", "replicas": 2},
            {"name": "member2"},
            {"name": "member3", "replicas": 1, "components": [{"name": "jobmanager", "replicas": 1}]},
        ]);
        let parsed: Vec<TargetCluster> = serde_json::from_value(clusters.clone()).unwrap();
        assert_eq!(parsed[1].replicas, None);
        assert_eq!(parsed[2].components[0].name, "jobmanager");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), clusters);
    }
}
