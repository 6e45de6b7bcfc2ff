//! Field tables for the other core/v1 kinds: Namespace, ConfigMap, Secret, ServiceAccount, Service, ResourceQuota, Pod status, PersistentVolumeClaim.

use k8s_pb::api::core::v1 as core_v1;

use super::json::messages;

messages! {
    "core.v1" in core_v1;

    ClientIpConfig { timeout_seconds: "timeoutSeconds" }
    ConfigMap { metadata, immutable, data, binary_data: "binaryData" }
    ContainerExtendedResourceRequest {
        container_name: "containerName", resource_name: "resourceName", request_name: "requestName",
    }
    ContainerState { waiting, running, terminated }
    ContainerStateRunning { started_at: "startedAt" }
    ContainerStateTerminated {
        exit_code: "exitCode", signal, reason, message, started_at: "startedAt",
        finished_at: "finishedAt", container_id: "containerID",
    }
    ContainerStateWaiting { reason, message }
    ContainerStatus {
        name, state, last_state: "lastState", ready, restart_count: "restartCount", image,
        image_id: "imageID", container_id: "containerID", started,
        allocated_resources: "allocatedResources", resources, volume_mounts: "volumeMounts", user,
        allocated_resources_status: "allocatedResourcesStatus", stop_signal: "stopSignal",
    }
    ContainerUser { linux }
    HostIp { ip }
    LinuxContainerUser { uid, gid, supplemental_groups: "supplementalGroups" }
    LoadBalancerIngress { ip, hostname, ip_mode: "ipMode", ports }
    LoadBalancerStatus { ingress }
    ModifyVolumeStatus {
        target_volume_attributes_class_name: "targetVolumeAttributesClassName", status,
    }
    Namespace { metadata, spec, status }
    NamespaceCondition {
        r#type: "type", status, last_transition_time: "lastTransitionTime", reason, message,
    }
    NamespaceSpec { finalizers }
    NamespaceStatus { phase, conditions }
    ObjectReference {
        kind, namespace, name, uid, api_version: "apiVersion", resource_version: "resourceVersion",
        field_path: "fieldPath",
    }
    PersistentVolumeClaim { metadata, spec, status }
    PersistentVolumeClaimCondition {
        r#type: "type", status, last_probe_time: "lastProbeTime",
        last_transition_time: "lastTransitionTime", reason, message,
    }
    PersistentVolumeClaimStatus {
        phase, access_modes: "accessModes", capacity, conditions,
        allocated_resources: "allocatedResources",
        allocated_resource_statuses: "allocatedResourceStatuses",
        current_volume_attributes_class_name: "currentVolumeAttributesClassName",
        modify_volume_status: "modifyVolumeStatus",
    }
    Pod { metadata, spec, status }
    PodCondition {
        r#type: "type", observed_generation: "observedGeneration", status,
        last_probe_time: "lastProbeTime", last_transition_time: "lastTransitionTime", reason,
        message,
    }
    PodExtendedResourceClaimStatus {
        request_mappings: "requestMappings", resource_claim_name: "resourceClaimName",
    }
    PodIp { ip }
    PodResourceClaimStatus { name, resource_claim_name: "resourceClaimName" }
    PodStatus {
        observed_generation: "observedGeneration", phase, conditions, message, reason,
        nominated_node_name: "nominatedNodeName", host_ip: "hostIP", host_ips: "hostIPs",
        pod_ip: "podIP", pod_ips: "podIPs", start_time: "startTime",
        init_container_statuses: "initContainerStatuses", container_statuses: "containerStatuses",
        qos_class: "qosClass", ephemeral_container_statuses: "ephemeralContainerStatuses", resize,
        resource_claim_statuses: "resourceClaimStatuses",
        extended_resource_claim_status: "extendedResourceClaimStatus",
        allocated_resources: "allocatedResources", resources,
    }
    PodTemplateSpec { metadata, spec }
    PortStatus { port, protocol, error }
    ResourceHealth { resource_id: "resourceID", health }
    ResourceQuota { metadata, spec, status }
    ResourceQuotaSpec { hard, scopes, scope_selector: "scopeSelector" }
    ResourceQuotaStatus { hard, used }
    ResourceStatus { name, resources }
    ScopeSelector { match_expressions: "matchExpressions" }
    ScopedResourceSelectorRequirement { scope_name: "scopeName", operator, values }
    Secret { metadata, immutable, data, string_data: "stringData", r#type: "type" }
    Service { metadata, spec, status }
    ServiceAccount {
        metadata, secrets, image_pull_secrets: "imagePullSecrets",
        automount_service_account_token: "automountServiceAccountToken",
    }
    ServicePort {
        name, protocol, app_protocol: "appProtocol", port, target_port: "targetPort",
        node_port: "nodePort",
    }
    ServiceSpec {
        ports, selector, cluster_ip: "clusterIP", cluster_ips: "clusterIPs", r#type: "type",
        external_ips: "externalIPs", session_affinity: "sessionAffinity",
        load_balancer_ip: "loadBalancerIP", load_balancer_source_ranges: "loadBalancerSourceRanges",
        external_name: "externalName", external_traffic_policy: "externalTrafficPolicy",
        health_check_node_port: "healthCheckNodePort",
        publish_not_ready_addresses: "publishNotReadyAddresses",
        session_affinity_config: "sessionAffinityConfig", ip_families: "ipFamilies",
        ip_family_policy: "ipFamilyPolicy",
        allocate_load_balancer_node_ports: "allocateLoadBalancerNodePorts",
        load_balancer_class: "loadBalancerClass", internal_traffic_policy: "internalTrafficPolicy",
        traffic_distribution: "trafficDistribution",
    }
    ServiceStatus { load_balancer: "loadBalancer", conditions }
    SessionAffinityConfig { client_ip: "clientIP" }
    VolumeMountStatus {
        name, mount_path: "mountPath", read_only: "readOnly",
        recursive_read_only: "recursiveReadOnly",
    }
}
