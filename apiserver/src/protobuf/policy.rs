//! Field tables for policy/v1 (PodDisruptionBudget, Eviction) and scheduling.k8s.io/v1 PriorityClass.

use k8s_pb::api::policy::v1 as policy_v1;
use k8s_pb::api::scheduling::v1 as scheduling_v1;

use super::json::messages;

messages! {
    "scheduling.v1" in scheduling_v1;

    PriorityClass {
        metadata, value, global_default: "globalDefault", description,
        preemption_policy: "preemptionPolicy",
    }
}

messages! {
    "policy.v1" in policy_v1;

    Eviction { metadata, delete_options: "deleteOptions" }
    PodDisruptionBudget { metadata, spec, status }
    PodDisruptionBudgetSpec {
        min_available: "minAvailable", selector, max_unavailable: "maxUnavailable",
        unhealthy_pod_eviction_policy: "unhealthyPodEvictionPolicy",
    }
    PodDisruptionBudgetStatus {
        observed_generation: "observedGeneration", disrupted_pods: "disruptedPods",
        disruptions_allowed: "disruptionsAllowed", current_healthy: "currentHealthy",
        desired_healthy: "desiredHealthy", expected_pods: "expectedPods", conditions,
    }
}
