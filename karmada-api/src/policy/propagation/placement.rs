//! Placement: which member clusters a resource may go to and how its replicas are spread
//! among them; shared by propagation policies and the bindings they produce.

use k8s_openapi::api::core::v1::Toleration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::policy::selectors::ClusterAffinity;

/// Where a resource may be scheduled and how its replicas are divided.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// The one set of clusters to choose from; exclusive with `clusterAffinities`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_affinity: Option<ClusterAffinity>,
    /// Ordered fallback sets of clusters: the scheduler uses the first term that fits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_affinities: Option<Vec<ClusterAffinityTerm>>,
    /// Cluster taints this resource tolerates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_tolerations: Vec<Toleration>,
    /// How many groups (clusters, regions, zones, providers) the resource spreads over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spread_constraints: Vec<SpreadConstraint>,
    /// How replicas are placed; absent means every chosen cluster runs all replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_scheduling: Option<ReplicaSchedulingStrategy>,
    /// Co-location or separation of workloads that share a label value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_affinity: Option<WorkloadAffinity>,
}

impl Placement {
    /// The effective scheduling type: Karmada treats a placement without `replicaScheduling`
    /// as Duplicated, and one without a type as the CRD default, Divided.
    pub fn replica_scheduling_type(&self) -> ReplicaSchedulingType {
        match &self.replica_scheduling {
            None => ReplicaSchedulingType::Duplicated,
            Some(strategy) => strategy
                .replica_scheduling_type
                .unwrap_or(ReplicaSchedulingType::Divided),
        }
    }
}

/// One named, ordered term of `clusterAffinities`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterAffinityTerm {
    /// Name of the term, recorded in the binding when the scheduler settles on it.
    pub affinity_name: String,
    /// The clusters of this term.
    #[serde(flatten)]
    pub affinity: ClusterAffinity,
    /// Extra tiers used only when this term lacks capacity (dynamic or aggregated division).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow_affinities: Option<Vec<OverflowClusterAffinity>>,
}

/// A named overflow tier of a [`ClusterAffinityTerm`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverflowClusterAffinity {
    /// Name of the tier, unique within its term.
    pub affinity_name: String,
    /// The clusters of this tier.
    #[serde(flatten)]
    pub affinity: ClusterAffinity,
}

/// The cluster property a spread constraint groups by.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpreadField {
    Cluster,
    Region,
    Zone,
    Provider,
}

impl SpreadField {
    /// The spelling used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            SpreadField::Cluster => "cluster",
            SpreadField::Region => "region",
            SpreadField::Zone => "zone",
            SpreadField::Provider => "provider",
        }
    }
}

/// Bounds on how many groups of clusters the resource lands in.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpreadConstraint {
    /// Group clusters by a built-in field; exclusive with `spreadByLabel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_by_field: Option<SpreadField>,
    /// Group clusters by the value of this cluster label; exclusive with `spreadByField`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_by_label: Option<String>,
    /// At most this many groups; 0 or absent means no upper bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_groups: Option<i64>,
    /// At least this many groups; defaulted to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_groups: Option<i64>,
}

/// Whether every chosen cluster runs all replicas or the replicas are shared out.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ReplicaSchedulingType {
    Duplicated,
    Divided,
}

/// How Divided replicas are shared out.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ReplicaDivisionPreference {
    /// Pack replicas into as few clusters as capacity allows.
    Aggregated,
    /// Share by static or dynamic weights.
    Weighted,
}

/// How replicas of a resource are placed on the chosen clusters.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSchedulingStrategy {
    /// Duplicated or Divided; absent means Divided (the CRD default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_scheduling_type: Option<ReplicaSchedulingType>,
    /// How Divided replicas are shared; defaulted to Weighted for Divided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_division_preference: Option<ReplicaDivisionPreference>,
    /// Weights used by the Weighted preference; absent means equal weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_preference: Option<ClusterPreferences>,
}

/// Static or dynamic weights of clusters.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPreferences {
    /// Fixed weights of clusters; exclusive with `dynamicWeight`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_weight_list: Vec<StaticClusterWeight>,
    /// Weights computed from cluster capacity; exclusive with `staticWeightList`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_weight: Option<DynamicWeightFactor>,
}

/// The weight of the clusters matched by one affinity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaticClusterWeight {
    /// Clusters that get this weight.
    pub target_cluster: ClusterAffinity,
    /// Relative share of replicas, at least 1.
    pub weight: i64,
}

/// What dynamic weights are computed from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DynamicWeightFactor {
    /// Replicas each cluster can still run, as the estimators report.
    AvailableReplicas,
}

/// Affinity and anti-affinity between workloads sharing a label value.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadAffinity {
    /// Workloads with the same value of this label go to the same clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<WorkloadAffinityTerm>,
    /// Workloads with the same value of this label go to different clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity: Option<WorkloadAffinityTerm>,
}

/// The label whose value forms a workload group.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadAffinityTerm {
    pub group_by_label_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn effective_scheduling_type_follows_karmada() {
        let mut placement = Placement::default();
        assert_eq!(
            placement.replica_scheduling_type(),
            ReplicaSchedulingType::Duplicated
        );
        placement.replica_scheduling = Some(ReplicaSchedulingStrategy::default());
        assert_eq!(
            placement.replica_scheduling_type(),
            ReplicaSchedulingType::Divided
        );
        placement.replica_scheduling = Some(ReplicaSchedulingStrategy {
            replica_scheduling_type: Some(ReplicaSchedulingType::Duplicated),
            ..Default::default()
        });
        assert_eq!(
            placement.replica_scheduling_type(),
            ReplicaSchedulingType::Duplicated
        );
    }

    #[test]
    fn affinity_terms_inline_the_cluster_affinity() {
        let term = json!({
            "affinityName": "primary",
            "clusterNames": ["member1"],
            "overflowAffinities": [{"affinityName": "burst", "labelSelector": {"matchLabels": {"tier": "burst"}}}],
        });
        let parsed: ClusterAffinityTerm = serde_json::from_value(term.clone()).unwrap();
        assert_eq!(parsed.affinity.cluster_names, ["member1"]);
        let overflow = parsed.overflow_affinities.as_ref().unwrap();
        assert_eq!(overflow[0].affinity_name, "burst");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), term);
    }

    #[test]
    fn spread_fields_are_lowercase() {
        let c = json!({"spreadByField": "region", "maxGroups": 2, "minGroups": 1});
        let parsed: SpreadConstraint = serde_json::from_value(c.clone()).unwrap();
        assert_eq!(parsed.spread_by_field, Some(SpreadField::Region));
        assert_eq!(SpreadField::Region.as_str(), "region");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), c);
        assert!(
            serde_json::from_value::<SpreadConstraint>(json!({"spreadByField": "Region"})).is_err()
        );
    }
}
