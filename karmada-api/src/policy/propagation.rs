//! `PropagationPolicy` and `ClusterPropagationPolicy`: which resource templates go to which
//! member clusters, and the admission rules Karmada's webhooks apply to them.

mod defaults;
pub mod placement;
mod validate;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use self::placement::{
    ClusterAffinityTerm, ClusterPreferences, DynamicWeightFactor, OverflowClusterAffinity,
    Placement, ReplicaDivisionPreference, ReplicaSchedulingStrategy, ReplicaSchedulingType,
    SpreadConstraint, SpreadField, StaticClusterWeight, WorkloadAffinity, WorkloadAffinityTerm,
};
use crate::policy::selectors::ResourceSelector;
use crate::validation::{Admit, FieldError};

/// Label holding the permanent identifier Karmada gives a PropagationPolicy on creation.
pub const PROPAGATION_POLICY_PERMANENT_ID_LABEL: &str = "propagationpolicy.karmada.io/permanent-id";
/// Label holding the permanent identifier Karmada gives a ClusterPropagationPolicy on creation.
pub const CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL: &str =
    "clusterpropagationpolicy.karmada.io/permanent-id";
/// Annotation naming the namespace of the PropagationPolicy that claimed an object.
pub const PROPAGATION_POLICY_NAMESPACE_ANNOTATION: &str = "propagationpolicy.karmada.io/namespace";
/// Annotation naming the PropagationPolicy that claimed an object.
pub const PROPAGATION_POLICY_NAME_ANNOTATION: &str = "propagationpolicy.karmada.io/name";
/// Annotation naming the ClusterPropagationPolicy that claimed an object.
pub const CLUSTER_PROPAGATION_POLICY_ANNOTATION: &str = "clusterpropagationpolicy.karmada.io/name";
/// Finalizer Karmada puts on a new PropagationPolicy so its bindings are released first.
pub const PROPAGATION_POLICY_FINALIZER: &str = "karmada.io/propagation-policy-controller";
/// Finalizer Karmada puts on a new ClusterPropagationPolicy.
pub const CLUSTER_PROPAGATION_POLICY_FINALIZER: &str =
    "karmada.io/cluster-propagation-policy-controller";
/// Scheduler that handles a policy without `schedulerName`.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// What a propagation policy selects and where the selected templates go.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "policy.karmada.io",
    version = "v1alpha1",
    kind = "PropagationPolicy",
    root = "PropagationPolicy",
    plural = "propagationpolicies",
    shortname = "pp",
    category = "karmada-io",
    namespaced,
    derive = "PartialEq",
    printcolumn = r#"{"name":"CONFLICT-RESOLUTION","type":"string","jsonPath":".spec.conflictResolution"}"#,
    printcolumn = r#"{"name":"PRIORITY","type":"string","jsonPath":".spec.priority"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PropagationSpec {
    /// Resource templates this policy applies to; a template matches if any selector does.
    pub resource_selectors: Vec<ResourceSelector>,
    /// Deprecated predecessor of `propagateDeps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub association: Option<bool>,
    /// Also propagate what the templates depend on (ConfigMaps, Secrets, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_deps: Option<bool>,
    /// Which clusters and how replicas are spread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// Higher wins when several policies match one template; defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// Whether this policy may take over templates claimed by lower-priority policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemption: Option<PreemptionBehavior>,
    /// OverridePolicies that must exist before the templates are propagated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependent_overrides: Vec<String>,
    /// Scheduler responsible for the bindings; defaults to `default-scheduler`, immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// What happens when an application or a cluster fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverBehavior>,
    /// What to do when the resource already exists in a member cluster; defaults to Abort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution: Option<ConflictResolution>,
    /// When policy changes reach templates; absent means immediately.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_preference: Option<ActivationPreference>,
    /// Pauses dispatching to all or some clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspension: Option<Suspension>,
    /// Keep member-cluster copies when the template is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_resources_on_deletion: Option<bool>,
    /// Scheduling priority of the resulting bindings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_priority: Option<SchedulePriority>,
}

/// The spec of a [`ClusterPropagationPolicy`]: the same [`PropagationSpec`], which it
/// dereferences to.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "policy.karmada.io",
    version = "v1alpha1",
    kind = "ClusterPropagationPolicy",
    root = "ClusterPropagationPolicy",
    plural = "clusterpropagationpolicies",
    shortname = "cpp",
    category = "karmada-io",
    derive = "PartialEq",
    printcolumn = r#"{"name":"CONFLICT-RESOLUTION","type":"string","jsonPath":".spec.conflictResolution"}"#,
    printcolumn = r#"{"name":"PRIORITY","type":"string","jsonPath":".spec.priority"}"#,
    printcolumn = r#"{"name":"AGE","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(transparent)]
#[schemars(transparent)]
pub struct ClusterPropagationSpec(pub PropagationSpec);

twin_spec!(ClusterPropagationSpec, PropagationSpec);

/// Whether a policy may preempt templates already claimed by another policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PreemptionBehavior {
    Always,
    Never,
}

/// What to do with a resource that already exists in a member cluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConflictResolution {
    /// Leave it alone and report the conflict.
    Abort,
    /// Take it over.
    Overwrite,
}

/// When changes to a policy take effect on templates it already manages.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ActivationPreference {
    /// Only when the template itself next changes.
    Lazy,
}

/// Pauses propagation of the selected templates.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suspension {
    /// Stop dispatching to every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatching: Option<bool>,
    /// Stop dispatching to the listed clusters only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatching_on_clusters: Option<SuspendClusters>,
}

/// Clusters whose dispatching is paused.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SuspendClusters {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_names: Vec<String>,
}

/// Where a binding's scheduling priority comes from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulePriority {
    pub priority_class_source: PriorityClassSource,
    /// Name of the PriorityClass in the Karmada control plane.
    pub priority_class_name: String,
}

/// The kind of priority class a [`SchedulePriority`] names.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum PriorityClassSource {
    /// A `scheduling.k8s.io/v1` PriorityClass.
    #[default]
    KubePriorityClass,
}

/// Failover behaviour for application and cluster failures.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailoverBehavior {
    /// Move the application away from a cluster where it stays unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<ApplicationFailoverBehavior>,
    /// How evictions caused by cluster NoExecute taints purge the old copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterFailoverBehavior>,
}

/// When an unhealthy application is moved and how its old copy is removed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationFailoverBehavior {
    pub decision_conditions: DecisionConditions,
    /// How the old copy is removed; defaults to Gracefully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_mode: Option<PurgeMode>,
    /// How long a Gracefully purged copy may outlive the eviction; defaults to 600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i32>,
    /// Status fields carried to the new copy as labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_preservation: Option<StatePreservation>,
}

/// When an application counts as failed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecisionConditions {
    /// How long the application may stay unhealthy before failover; defaults to 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i32>,
}

/// How cluster-failure evictions purge the old copy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterFailoverBehavior {
    /// Directly or Gracefully; defaults to Gracefully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_mode: Option<PurgeMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_preservation: Option<StatePreservation>,
}

/// How the copy on an evicted cluster is removed.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PurgeMode {
    /// Remove it at once.
    Directly,
    /// Remove it once the new copies are healthy or the grace period ends.
    Gracefully,
    /// Never remove it.
    Never,
}

/// Status fields copied into labels of the new copy after a failover.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatePreservation {
    pub rules: Vec<StatePreservationRule>,
}

/// One status field to preserve.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatePreservationRule {
    /// Label name the value is stored under.
    pub alias_label_name: String,
    /// JSONPath of the value in the application's status.
    pub json_path: String,
}

impl Admit for PropagationPolicy {
    fn default_fields(&mut self) {
        if let Some(namespace) = self.metadata.namespace.clone() {
            defaults::selector_namespaces(&mut self.spec.resource_selectors, &namespace);
        }
        defaults::propagation_spec(&mut self.spec);
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let namespace = self.metadata.namespace.as_deref().unwrap_or_default();
        let mut errors = validate::propagation_spec(&self.spec, Some(namespace));
        if let Some(old) = old {
            errors.extend(validate::update(
                &self.spec,
                &old.spec,
                (&self.metadata, &old.metadata),
                PROPAGATION_POLICY_PERMANENT_ID_LABEL,
            ));
        }
        errors
    }
}

impl Admit for ClusterPropagationPolicy {
    fn default_fields(&mut self) {
        defaults::propagation_spec(&mut self.spec);
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errors = validate::propagation_spec(&self.spec, None);
        if let Some(old) = old {
            errors.extend(validate::update(
                &self.spec,
                &old.spec,
                (&self.metadata, &old.metadata),
                CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL,
            ));
        }
        errors
    }
}

#[cfg(test)]
pub(crate) mod tests;
