//! `ResourceBinding` and `ClusterResourceBinding` (`work.karmada.io/v1alpha2`): one resource
//! template, the placement it must follow, and the clusters the scheduler chose for it.

pub mod replicas;
pub mod status;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use self::replicas::{
    Component, ComponentReplicaRequirements, NodeClaim, ReplicaRequirements, TargetCluster,
    TargetComponent,
};
pub use self::status::{
    AggregatedStatusItem, FULLY_APPLIED_CONDITION, ResourceBindingStatus, ResourceHealth,
    SCHEDULED_CONDITION,
};
use crate::policy::propagation::{
    ConflictResolution, FailoverBehavior, Placement, PurgeMode, Suspension as PolicySuspension,
};

/// Label holding the permanent identifier of a ResourceBinding.
pub const RESOURCE_BINDING_PERMANENT_ID_LABEL: &str = "resourcebinding.karmada.io/permanent-id";
/// Label holding the permanent identifier of a ClusterResourceBinding.
pub const CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL: &str =
    "clusterresourcebinding.karmada.io/permanent-id";
/// Finalizer of the controller that turns a ResourceBinding into Works.
pub const RESOURCE_BINDING_FINALIZER: &str = "karmada.io/binding-controller";
/// Finalizer of the controller that turns a ClusterResourceBinding into Works.
pub const CLUSTER_RESOURCE_BINDING_FINALIZER: &str =
    "karmada.io/cluster-resource-binding-controller";
/// Eviction reason: the cluster has a NoExecute taint the placement does not tolerate.
pub const EVICTION_REASON_TAINT_UNTOLERATED: &str = "TaintUntolerated";
/// Eviction reason: the application stayed unhealthy longer than tolerated.
pub const EVICTION_REASON_APPLICATION_FAILURE: &str = "ApplicationFailure";
/// Eviction producer: the NoExecute taint manager.
pub const EVICTION_PRODUCER_TAINT_MANAGER: &str = "TaintManager";
/// Eviction producer: application failover (`failover.application` in the policy).
pub const EVICTION_PRODUCER_APPLICATION_FAILOVER: &str = "ApplicationFailover";

/// What a binding propagates, where it may go and where the scheduler put it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "work.karmada.io",
    version = "v1alpha2",
    kind = "ResourceBinding",
    root = "ResourceBinding",
    plural = "resourcebindings",
    shortname = "rb",
    category = "karmada-io",
    namespaced,
    status = "ResourceBindingStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"SCHEDULED","type":"string","jsonPath":".status.conditions[?(@.type==\"Scheduled\")].status"}"#,
    printcolumn = r#"{"name":"FULLYAPPLIED","type":"string","jsonPath":".status.conditions[?(@.type==\"FullyApplied\")].status"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ResourceBindingSpec {
    /// The resource template this binding propagates.
    pub resource: ObjectReference,
    /// Also propagate the template's dependencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_deps: Option<bool>,
    /// What one replica needs, for replica-aware scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_requirements: Option<ReplicaRequirements>,
    /// Desired replicas of the template; absent for resources without replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Pod templates of a multi-template workload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// The schedule result: target clusters and their replicas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<TargetCluster>,
    /// Placement copied from the policy that claimed the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Clusters being evicted, kept until the new ones are healthy or the grace period ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub graceful_eviction_tasks: Vec<GracefulEvictionTask>,
    /// For a dependency's binding: the bindings that need it, and where they went.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_by: Vec<BindingSnapshot>,
    /// Scheduler responsible for this binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// Failover behaviour copied from the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverBehavior>,
    /// What to do with a resource that already exists in a member cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution: Option<ConflictResolution>,
    /// A reschedule was requested at this time (e.g. by a WorkloadRebalancer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_triggered_at: Option<Time>,
    /// Paused scheduling or dispatching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Suspension>,
    /// Keep member-cluster copies when the template is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,
    /// Position in the scheduling queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_priority: Option<SchedulePriority>,
    /// Workload groups this binding belongs to, from the placement's workload affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_affinity_groups: Option<WorkloadAffinityGroups>,
}

impl ResourceBindingSpec {
    /// Whether `cluster` is one of the scheduled target clusters.
    pub fn targets(&self, cluster: &str) -> bool {
        self.clusters.iter().any(|c| c.name == cluster)
    }
}

/// The spec of a [`ClusterResourceBinding`]: the same [`ResourceBindingSpec`], which it
/// dereferences to.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "work.karmada.io",
    version = "v1alpha2",
    kind = "ClusterResourceBinding",
    root = "ClusterResourceBinding",
    plural = "clusterresourcebindings",
    shortname = "crb",
    category = "karmada-io",
    status = "ResourceBindingStatus",
    derive = "PartialEq",
    printcolumn = r#"{"name":"SCHEDULED","type":"string","jsonPath":".status.conditions[?(@.type==\"Scheduled\")].status"}"#,
    printcolumn = r#"{"name":"FULLYAPPLIED","type":"string","jsonPath":".status.conditions[?(@.type==\"FullyApplied\")].status"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ClusterResourceBindingSpec(pub ResourceBindingSpec);

twin_spec!(ClusterResourceBindingSpec, ResourceBindingSpec);

/// The resource template a binding refers to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    pub api_version: String,
    pub kind: String,
    /// Empty for cluster-scoped resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The template's resourceVersion the binding was last built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// `Kind namespace/name`, or `Kind name` for a cluster-scoped template, for messages.
impl std::fmt::Display for ObjectReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// A cluster being evicted from a binding.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GracefulEvictionTask {
    /// The cluster being evicted.
    pub from_cluster: String,
    /// How the old copy is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_mode: Option<PurgeMode>,
    /// Replicas the cluster had, for resources with replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Machine-readable cause, e.g. `TaintUntolerated`.
    pub reason: String,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The controller that started the eviction.
    pub producer: String,
    /// Overrides the default graceful eviction timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,
    /// Keep the old copy until this is set back to false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress_deletion: Option<bool>,
    /// Status values to carry as labels to the new copy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub preserved_label_state: BTreeMap<String, String>,
    /// When the task was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Time>,
    /// The target clusters before the failover.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters_before_failover: Vec<String>,
}

/// A binding that depends on this one, and where it was scheduled.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingSnapshot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<TargetCluster>,
}

/// The policy's suspension plus a switch third-party queues use to hold scheduling.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suspension {
    #[serde(flatten)]
    pub policy: PolicySuspension,
    /// Do not schedule this binding until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<bool>,
}

/// Priority of a binding in the scheduling queue.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulePriority {
    /// Higher is scheduled first; defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
}

/// The workload groups of a binding, from its workload affinity label values.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadAffinityGroups {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anti_affinity_group: Option<String>,
}

#[cfg(test)]
mod tests;
