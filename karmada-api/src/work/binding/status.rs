//! Status of a binding: what the scheduler last observed and decided, and the status each
//! member cluster reports for its copy of the resource.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Condition type: the scheduler found clusters for the binding.
pub const SCHEDULED_CONDITION: &str = "Scheduled";
/// Condition type: every target cluster applied its Work.
pub const FULLY_APPLIED_CONDITION: &str = "FullyApplied";

/// Reasons of the `Scheduled` condition, as Karmada's scheduler writes them.
pub mod reason {
    pub const SUCCESS: &str = "Success";
    pub const SCHEDULER_ERROR: &str = "SchedulerError";
    pub const NO_CLUSTER_FIT: &str = "NoClusterFit";
    pub const UNSCHEDULABLE: &str = "Unschedulable";
    pub const QUOTA_EXCEEDED: &str = "QuotaExceeded";
}

/// Observed state of a binding.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceBindingStatus {
    /// The spec generation the scheduler last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_observed_generation: Option<i64>,
    /// The `clusterAffinities` term the last schedule used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_observing_affinity_name: Option<String>,
    /// When the binding was last scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scheduled_time: Option<Time>,
    /// `Scheduled` and `FullyApplied`, among others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The status of the resource in each target cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aggregated_status: Vec<AggregatedStatusItem>,
}

impl ResourceBindingStatus {
    /// The condition of type `type_`, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// The status one member cluster reports for its copy of the resource.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AggregatedStatusItem {
    /// Name of the member cluster.
    pub cluster_name: String,
    /// The status the member reported, as the resource interpreter reflected it; any JSON
    /// object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "raw_object")]
    pub status: Option<Value>,
    /// Whether the manifest was applied in the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<bool>,
    /// Why applying failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_message: Option<String>,
    /// Health of the resource in the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ResourceHealth>,
}

/// Health of a resource in one member cluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ResourceHealth {
    Healthy,
    Unhealthy,
    Unknown,
}

/// Schema of an embedded object whose fields are not known in advance: structural schemas
/// need a type, and the apiserver must not prune what it does not know.
pub(crate) fn raw_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aggregated_status_keeps_raw_member_status() {
        let item = json!({
            "clusterName": "member1",
            "status": {"replicas": 2, "readyReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]},
            "applied": true,
            "health": "Healthy",
        });
        let parsed: AggregatedStatusItem = serde_json::from_value(item.clone()).unwrap();
        assert_eq!(parsed.status.as_ref().unwrap()["readyReplicas"], 2);
        assert_eq!(parsed.health, Some(ResourceHealth::Healthy));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), item);
    }

    #[test]
    fn raw_status_schema_preserves_unknown_fields() {
        let schema = schemars::schema_for!(AggregatedStatusItem);
        let status = &schema.as_value()["properties"]["status"];
        assert_eq!(status["type"], "object");
        assert_eq!(status["x-kubernetes-preserve-unknown-fields"], true);
    }

    #[test]
    fn conditions_are_found_by_type() {
        let status: ResourceBindingStatus = serde_json::from_value(json!({
            "conditions": [{
                "type": "Scheduled", "status": "True", "reason": "Success", "message": "Binding has been scheduled",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }],
        }))
        .unwrap();
        assert_eq!(
            status.condition(SCHEDULED_CONDITION).unwrap().reason,
            reason::SUCCESS
        );
        assert!(status.condition(FULLY_APPLIED_CONDITION).is_none());
    }
}
