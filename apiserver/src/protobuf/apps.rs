//! Field tables for apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet.

use k8s_pb::api::apps::v1 as apps_v1;

use super::json::messages;

messages! {
    "apps.v1" in apps_v1;

    DaemonSet { metadata, spec, status }
    DaemonSetCondition {
        r#type: "type", status, last_transition_time: "lastTransitionTime", reason, message,
    }
    DaemonSetSpec {
        selector, template, update_strategy: "updateStrategy", min_ready_seconds: "minReadySeconds",
        revision_history_limit: "revisionHistoryLimit",
    }
    DaemonSetStatus {
        current_number_scheduled: "currentNumberScheduled",
        number_misscheduled: "numberMisscheduled",
        desired_number_scheduled: "desiredNumberScheduled", number_ready: "numberReady",
        observed_generation: "observedGeneration",
        updated_number_scheduled: "updatedNumberScheduled", number_available: "numberAvailable",
        number_unavailable: "numberUnavailable", collision_count: "collisionCount", conditions,
    }
    DaemonSetUpdateStrategy { r#type: "type", rolling_update: "rollingUpdate" }
    Deployment { metadata, spec, status }
    DeploymentCondition {
        r#type: "type", status, last_update_time: "lastUpdateTime",
        last_transition_time: "lastTransitionTime", reason, message,
    }
    DeploymentSpec {
        replicas, selector, template, strategy, min_ready_seconds: "minReadySeconds",
        revision_history_limit: "revisionHistoryLimit", paused,
        progress_deadline_seconds: "progressDeadlineSeconds",
    }
    DeploymentStatus {
        observed_generation: "observedGeneration", replicas, updated_replicas: "updatedReplicas",
        ready_replicas: "readyReplicas", available_replicas: "availableReplicas",
        unavailable_replicas: "unavailableReplicas", terminating_replicas: "terminatingReplicas",
        conditions, collision_count: "collisionCount",
    }
    DeploymentStrategy { r#type: "type", rolling_update: "rollingUpdate" }
    ReplicaSet { metadata, spec, status }
    ReplicaSetCondition {
        r#type: "type", status, last_transition_time: "lastTransitionTime", reason, message,
    }
    ReplicaSetSpec { replicas, min_ready_seconds: "minReadySeconds", selector, template }
    ReplicaSetStatus {
        replicas, fully_labeled_replicas: "fullyLabeledReplicas", ready_replicas: "readyReplicas",
        available_replicas: "availableReplicas", terminating_replicas: "terminatingReplicas",
        observed_generation: "observedGeneration", conditions,
    }
    RollingUpdateDaemonSet { max_unavailable: "maxUnavailable", max_surge: "maxSurge" }
    RollingUpdateDeployment { max_unavailable: "maxUnavailable", max_surge: "maxSurge" }
    RollingUpdateStatefulSetStrategy { partition, max_unavailable: "maxUnavailable" }
    StatefulSet { metadata, spec, status }
    StatefulSetCondition {
        r#type: "type", status, last_transition_time: "lastTransitionTime", reason, message,
    }
    StatefulSetOrdinals { start }
    StatefulSetPersistentVolumeClaimRetentionPolicy {
        when_deleted: "whenDeleted", when_scaled: "whenScaled",
    }
    StatefulSetSpec {
        replicas, selector, template, volume_claim_templates: "volumeClaimTemplates",
        service_name: "serviceName", pod_management_policy: "podManagementPolicy",
        update_strategy: "updateStrategy", revision_history_limit: "revisionHistoryLimit",
        min_ready_seconds: "minReadySeconds",
        persistent_volume_claim_retention_policy: "persistentVolumeClaimRetentionPolicy", ordinals,
    }
    StatefulSetStatus {
        observed_generation: "observedGeneration", replicas, ready_replicas: "readyReplicas",
        current_replicas: "currentReplicas", updated_replicas: "updatedReplicas",
        current_revision: "currentRevision", update_revision: "updateRevision",
        collision_count: "collisionCount", conditions, available_replicas: "availableReplicas",
    }
    StatefulSetUpdateStrategy { r#type: "type", rolling_update: "rollingUpdate" }
}
