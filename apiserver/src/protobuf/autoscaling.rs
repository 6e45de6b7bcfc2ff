//! Field tables for autoscaling/v1 and autoscaling/v2 HorizontalPodAutoscaler and Scale.

use k8s_pb::api::autoscaling::v1 as autoscaling_v1;
use k8s_pb::api::autoscaling::v2 as autoscaling_v2;

use super::json::messages;

messages! {
    "autoscaling.v1" in autoscaling_v1;

    CrossVersionObjectReference { kind, name, api_version: "apiVersion" }
    HorizontalPodAutoscaler { metadata, spec, status }
    HorizontalPodAutoscalerSpec {
        scale_target_ref: "scaleTargetRef", min_replicas: "minReplicas",
        max_replicas: "maxReplicas",
        target_cpu_utilization_percentage: "targetCPUUtilizationPercentage",
    }
    HorizontalPodAutoscalerStatus {
        observed_generation: "observedGeneration", last_scale_time: "lastScaleTime",
        current_replicas: "currentReplicas", desired_replicas: "desiredReplicas",
        current_cpu_utilization_percentage: "currentCPUUtilizationPercentage",
    }
    Scale { metadata, spec, status }
    ScaleSpec { replicas }
    ScaleStatus { replicas, selector }
}

messages! {
    "autoscaling.v2" in autoscaling_v2;

    ContainerResourceMetricSource { name, target, container }
    ContainerResourceMetricStatus { name, current, container }
    CrossVersionObjectReference { kind, name, api_version: "apiVersion" }
    ExternalMetricSource { metric, target }
    ExternalMetricStatus { metric, current }
    HorizontalPodAutoscaler { metadata, spec, status }
    HorizontalPodAutoscalerBehavior { scale_up: "scaleUp", scale_down: "scaleDown" }
    HorizontalPodAutoscalerCondition {
        r#type: "type", status, last_transition_time: "lastTransitionTime", reason, message,
    }
    HorizontalPodAutoscalerSpec {
        scale_target_ref: "scaleTargetRef", min_replicas: "minReplicas",
        max_replicas: "maxReplicas", metrics, behavior,
    }
    HorizontalPodAutoscalerStatus {
        observed_generation: "observedGeneration", last_scale_time: "lastScaleTime",
        current_replicas: "currentReplicas", desired_replicas: "desiredReplicas",
        current_metrics: "currentMetrics", conditions,
    }
    HpaScalingPolicy { r#type: "type", value, period_seconds: "periodSeconds" }
    HpaScalingRules {
        stabilization_window_seconds: "stabilizationWindowSeconds", select_policy: "selectPolicy",
        policies, tolerance,
    }
    MetricIdentifier { name, selector }
    MetricSpec {
        r#type: "type", object, pods, resource, container_resource: "containerResource", external,
    }
    MetricStatus {
        r#type: "type", object, pods, resource, container_resource: "containerResource", external,
    }
    MetricTarget {
        r#type: "type", value, average_value: "averageValue",
        average_utilization: "averageUtilization",
    }
    MetricValueStatus {
        value, average_value: "averageValue", average_utilization: "averageUtilization",
    }
    ObjectMetricSource { described_object: "describedObject", target, metric }
    ObjectMetricStatus { metric, current, described_object: "describedObject" }
    PodsMetricSource { metric, target }
    PodsMetricStatus { metric, current }
    ResourceMetricSource { name, target }
    ResourceMetricStatus { name, current }
}
