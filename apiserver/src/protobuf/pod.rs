//! Field tables for core/v1 PodSpec and everything it reaches apart from volumes: containers, probes, security contexts, affinity.

use k8s_pb::api::core::v1 as core_v1;

use super::json::messages;

messages! {
    "core.v1" in core_v1;

    Affinity {
        node_affinity: "nodeAffinity", pod_affinity: "podAffinity",
        pod_anti_affinity: "podAntiAffinity",
    }
    AppArmorProfile { r#type: "type", localhost_profile: "localhostProfile" }
    Capabilities { add, drop }
    ConfigMapEnvSource[local_object_reference] { optional }
    ConfigMapKeySelector[local_object_reference] { key, optional }
    Container {
        name, image, command, args, working_dir: "workingDir", ports, env_from: "envFrom", env,
        resources, resize_policy: "resizePolicy", restart_policy: "restartPolicy",
        restart_policy_rules: "restartPolicyRules", volume_mounts: "volumeMounts",
        volume_devices: "volumeDevices", liveness_probe: "livenessProbe",
        readiness_probe: "readinessProbe", startup_probe: "startupProbe", lifecycle,
        termination_message_path: "terminationMessagePath",
        termination_message_policy: "terminationMessagePolicy",
        image_pull_policy: "imagePullPolicy", security_context: "securityContext", stdin,
        stdin_once: "stdinOnce", tty,
    }
    ContainerPort {
        name, host_port: "hostPort", container_port: "containerPort", protocol, host_ip: "hostIP",
    }
    ContainerResizePolicy { resource_name: "resourceName", restart_policy: "restartPolicy" }
    ContainerRestartRule { action, exit_codes: "exitCodes" }
    ContainerRestartRuleOnExitCodes { operator, values }
    EnvFromSource { prefix, config_map_ref: "configMapRef", secret_ref: "secretRef" }
    EnvVar { name, value, value_from: "valueFrom" }
    EnvVarSource {
        field_ref: "fieldRef", resource_field_ref: "resourceFieldRef",
        config_map_key_ref: "configMapKeyRef", secret_key_ref: "secretKeyRef",
        file_key_ref: "fileKeyRef",
    }
    EphemeralContainer[ephemeral_container_common] { target_container_name: "targetContainerName" }
    EphemeralContainerCommon {
        name, image, command, args, working_dir: "workingDir", ports, env_from: "envFrom", env,
        resources, resize_policy: "resizePolicy", restart_policy: "restartPolicy",
        restart_policy_rules: "restartPolicyRules", volume_mounts: "volumeMounts",
        volume_devices: "volumeDevices", liveness_probe: "livenessProbe",
        readiness_probe: "readinessProbe", startup_probe: "startupProbe", lifecycle,
        termination_message_path: "terminationMessagePath",
        termination_message_policy: "terminationMessagePolicy",
        image_pull_policy: "imagePullPolicy", security_context: "securityContext", stdin,
        stdin_once: "stdinOnce", tty,
    }
    ExecAction { command }
    FileKeySelector { volume_name: "volumeName", path, key, optional }
    GrpcAction { port, service }
    HostAlias { ip, hostnames }
    HttpGetAction { path, port, host, scheme, http_headers: "httpHeaders" }
    HttpHeader { name, value }
    Lifecycle { post_start: "postStart", pre_stop: "preStop", stop_signal: "stopSignal" }
    LifecycleHandler { exec, http_get: "httpGet", tcp_socket: "tcpSocket", sleep }
    NodeAffinity {

        required_during_scheduling_ignored_during_execution: "requiredDuringSchedulingIgnoredDuringExecution",
        preferred_during_scheduling_ignored_during_execution: "preferredDuringSchedulingIgnoredDuringExecution",
    }
    NodeSelector { node_selector_terms: "nodeSelectorTerms" }
    NodeSelectorRequirement { key, operator, values }
    NodeSelectorTerm { match_expressions: "matchExpressions", match_fields: "matchFields" }
    PodAffinity {

        required_during_scheduling_ignored_during_execution: "requiredDuringSchedulingIgnoredDuringExecution",
        preferred_during_scheduling_ignored_during_execution: "preferredDuringSchedulingIgnoredDuringExecution",
    }
    PodAffinityTerm {
        label_selector: "labelSelector", namespaces, topology_key: "topologyKey",
        namespace_selector: "namespaceSelector", match_label_keys: "matchLabelKeys",
        mismatch_label_keys: "mismatchLabelKeys",
    }
    PodAntiAffinity {

        required_during_scheduling_ignored_during_execution: "requiredDuringSchedulingIgnoredDuringExecution",
        preferred_during_scheduling_ignored_during_execution: "preferredDuringSchedulingIgnoredDuringExecution",
    }
    PodDnsConfig { nameservers, searches, options }
    PodDnsConfigOption { name, value }
    PodOs { name }
    PodReadinessGate { condition_type: "conditionType" }
    PodResourceClaim {
        name, resource_claim_name: "resourceClaimName",
        resource_claim_template_name: "resourceClaimTemplateName",
    }
    PodSchedulingGate { name }
    PodSecurityContext {
        se_linux_options: "seLinuxOptions", windows_options: "windowsOptions",
        run_as_user: "runAsUser", run_as_group: "runAsGroup", run_as_non_root: "runAsNonRoot",
        supplemental_groups: "supplementalGroups",
        supplemental_groups_policy: "supplementalGroupsPolicy", fs_group: "fsGroup", sysctls,
        fs_group_change_policy: "fsGroupChangePolicy", seccomp_profile: "seccompProfile",
        app_armor_profile: "appArmorProfile", se_linux_change_policy: "seLinuxChangePolicy",
    }
    PodSpec {
        volumes, init_containers: "initContainers", containers,
        ephemeral_containers: "ephemeralContainers", restart_policy: "restartPolicy",
        termination_grace_period_seconds: "terminationGracePeriodSeconds",
        active_deadline_seconds: "activeDeadlineSeconds", dns_policy: "dnsPolicy",
        node_selector: "nodeSelector", service_account_name: "serviceAccountName",
        service_account: "serviceAccount",
        automount_service_account_token: "automountServiceAccountToken", node_name: "nodeName",
        host_network: "hostNetwork", host_pid: "hostPID", host_ipc: "hostIPC",
        share_process_namespace: "shareProcessNamespace", security_context: "securityContext",
        image_pull_secrets: "imagePullSecrets", hostname, subdomain, affinity,
        scheduler_name: "schedulerName", tolerations, host_aliases: "hostAliases",
        priority_class_name: "priorityClassName", priority, dns_config: "dnsConfig",
        readiness_gates: "readinessGates", runtime_class_name: "runtimeClassName",
        enable_service_links: "enableServiceLinks", preemption_policy: "preemptionPolicy", overhead,
        topology_spread_constraints: "topologySpreadConstraints",
        set_hostname_as_fqdn: "setHostnameAsFQDN", os, host_users: "hostUsers",
        scheduling_gates: "schedulingGates", resource_claims: "resourceClaims", resources,
        hostname_override: "hostnameOverride", workload_ref: "workloadRef",
    }
    PreferredSchedulingTerm { weight, preference }
    Probe[handler] {
        initial_delay_seconds: "initialDelaySeconds", timeout_seconds: "timeoutSeconds",
        period_seconds: "periodSeconds", success_threshold: "successThreshold",
        failure_threshold: "failureThreshold",
        termination_grace_period_seconds: "terminationGracePeriodSeconds",
    }
    ProbeHandler { exec, http_get: "httpGet", tcp_socket: "tcpSocket", grpc }
    ResourceClaim { name, request }
    ResourceRequirements { limits, requests, claims }
    SeLinuxOptions { user, role, r#type: "type", level }
    SeccompProfile { r#type: "type", localhost_profile: "localhostProfile" }
    SecretEnvSource[local_object_reference] { optional }
    SecretKeySelector[local_object_reference] { key, optional }
    SecurityContext {
        capabilities, privileged, se_linux_options: "seLinuxOptions",
        windows_options: "windowsOptions", run_as_user: "runAsUser", run_as_group: "runAsGroup",
        run_as_non_root: "runAsNonRoot", read_only_root_filesystem: "readOnlyRootFilesystem",
        allow_privilege_escalation: "allowPrivilegeEscalation", proc_mount: "procMount",
        seccomp_profile: "seccompProfile", app_armor_profile: "appArmorProfile",
    }
    SleepAction { seconds }
    Sysctl { name, value }
    TcpSocketAction { port, host }
    Toleration { key, operator, value, effect, toleration_seconds: "tolerationSeconds" }
    TopologySpreadConstraint {
        max_skew: "maxSkew", topology_key: "topologyKey", when_unsatisfiable: "whenUnsatisfiable",
        label_selector: "labelSelector", min_domains: "minDomains",
        node_affinity_policy: "nodeAffinityPolicy", node_taints_policy: "nodeTaintsPolicy",
        match_label_keys: "matchLabelKeys",
    }
    VolumeDevice { name, device_path: "devicePath" }
    VolumeMount {
        name, read_only: "readOnly", recursive_read_only: "recursiveReadOnly",
        mount_path: "mountPath", sub_path: "subPath", mount_propagation: "mountPropagation",
        sub_path_expr: "subPathExpr",
    }
    WeightedPodAffinityTerm { weight, pod_affinity_term: "podAffinityTerm" }
    WindowsSecurityContextOptions {
        gmsa_credential_spec_name: "gmsaCredentialSpecName",
        gmsa_credential_spec: "gmsaCredentialSpec", run_as_user_name: "runAsUserName",
        host_process: "hostProcess",
    }
    WorkloadReference { name, pod_group: "podGroup", pod_group_replica_key: "podGroupReplicaKey" }
}
