//! The native Kubernetes kinds the server serves from start, as data.

use super::catalog::{Origin, Resource, ScalePaths};

/// Scope of a native resource.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    Namespaced,
    Cluster,
}
use Scope::{Cluster, Namespaced};

/// Subresources a native resource has.
#[derive(Clone, Copy, PartialEq)]
enum Sub {
    None,
    Status,
    StatusScale,
}

struct Row {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    scope: Scope,
    short: &'static [&'static str],
    all: bool,
    sub: Sub,
}

#[allow(clippy::too_many_arguments)] // a table row constructor: one argument per column
const fn row(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    scope: Scope,
    short: &'static [&'static str],
    all: bool,
    sub: Sub,
) -> Row {
    Row {
        group,
        version,
        kind,
        plural,
        scope,
        short,
        all,
        sub,
    }
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    row("", "v1", "Pod", "pods", Namespaced, &["po"], true, Sub::Status),
    row("", "v1", "Service", "services", Namespaced, &["svc"], true, Sub::Status),
    row("", "v1", "Endpoints", "endpoints", Namespaced, &["ep"], false, Sub::None),
    row("", "v1", "Namespace", "namespaces", Cluster, &["ns"], false, Sub::Status),
    row("", "v1", "Node", "nodes", Cluster, &["no"], false, Sub::Status),
    row("", "v1", "ConfigMap", "configmaps", Namespaced, &["cm"], false, Sub::None),
    row("", "v1", "Secret", "secrets", Namespaced, &[], false, Sub::None),
    row("", "v1", "ServiceAccount", "serviceaccounts", Namespaced, &["sa"], false, Sub::None),
    row("", "v1", "PersistentVolume", "persistentvolumes", Cluster, &["pv"], false, Sub::Status),
    row("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", Namespaced, &["pvc"], false, Sub::Status),
    row("", "v1", "Event", "events", Namespaced, &["ev"], false, Sub::None),
    row("", "v1", "LimitRange", "limitranges", Namespaced, &["limits"], false, Sub::None),
    row("", "v1", "ResourceQuota", "resourcequotas", Namespaced, &["quota"], false, Sub::Status),
    row("", "v1", "ReplicationController", "replicationcontrollers", Namespaced, &["rc"], true, Sub::StatusScale),
    row("", "v1", "PodTemplate", "podtemplates", Namespaced, &[], false, Sub::None),
    row("apps", "v1", "Deployment", "deployments", Namespaced, &["deploy"], true, Sub::StatusScale),
    row("apps", "v1", "ReplicaSet", "replicasets", Namespaced, &["rs"], true, Sub::StatusScale),
    row("apps", "v1", "StatefulSet", "statefulsets", Namespaced, &["sts"], true, Sub::StatusScale),
    row("apps", "v1", "DaemonSet", "daemonsets", Namespaced, &["ds"], true, Sub::Status),
    row("apps", "v1", "ControllerRevision", "controllerrevisions", Namespaced, &[], false, Sub::None),
    row("batch", "v1", "Job", "jobs", Namespaced, &[], true, Sub::Status),
    row("batch", "v1", "CronJob", "cronjobs", Namespaced, &["cj"], true, Sub::Status),
    row("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", Namespaced, &["hpa"], true, Sub::Status),
    row("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", Namespaced, &["hpa"], true, Sub::Status),
    row("networking.k8s.io", "v1", "Ingress", "ingresses", Namespaced, &["ing"], false, Sub::Status),
    row("networking.k8s.io", "v1", "IngressClass", "ingressclasses", Cluster, &[], false, Sub::None),
    row("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", Namespaced, &["netpol"], false, Sub::None),
    row("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", Namespaced, &[], false, Sub::None),
    row("rbac.authorization.k8s.io", "v1", "Role", "roles", Namespaced, &[], false, Sub::None),
    row("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", Namespaced, &[], false, Sub::None),
    row("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", Cluster, &[], false, Sub::None),
    row("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", Cluster, &[], false, Sub::None),
    row("coordination.k8s.io", "v1", "Lease", "leases", Namespaced, &[], false, Sub::None),
    row("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", Cluster, &["csr"], false, Sub::Status),
    row("events.k8s.io", "v1", "Event", "events", Namespaced, &["ev"], false, Sub::None),
    row("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", Namespaced, &["pdb"], false, Sub::Status),
    row("storage.k8s.io", "v1", "StorageClass", "storageclasses", Cluster, &["sc"], false, Sub::None),
    row("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", Cluster, &[], false, Sub::Status),
    row("storage.k8s.io", "v1", "CSIDriver", "csidrivers", Cluster, &[], false, Sub::None),
    row("storage.k8s.io", "v1", "CSINode", "csinodes", Cluster, &[], false, Sub::None),
    row("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", Cluster, &["pc"], false, Sub::None),
    row("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", Cluster, &["crd", "crds"], false, Sub::Status),
    row("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", Cluster, &[], false, Sub::None),
    row("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", Cluster, &[], false, Sub::None),
    row("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", Cluster, &[], false, Sub::None),
    row("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", Namespaced, &[], false, Sub::None),
    row("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", Cluster, &[], false, Sub::None),
];

/// Every native resource.
pub fn resources() -> Vec<Resource> {
    ROWS.iter()
        .map(|r| Resource {
            group: r.group.into(),
            version: r.version.into(),
            kind: r.kind.into(),
            plural: r.plural.into(),
            singular: r.kind.to_ascii_lowercase(),
            namespaced: r.scope == Namespaced,
            short_names: r.short.iter().map(|s| s.to_string()).collect(),
            categories: if r.all { vec!["all".into()] } else { vec![] },
            status_subresource: r.sub != Sub::None,
            scale: (r.sub == Sub::StatusScale).then(|| ScalePaths {
                spec_replicas: ".spec.replicas".into(),
                status_replicas: ".status.replicas".into(),
                label_selector: Some(".status.selector".into()),
            }),
            // The first row of a group and plural is its preferred version.
            preferred: ROWS
                .iter()
                .find(|o| o.group == r.group && o.plural == r.plural)
                .is_some_and(|o| o.version == r.version),
            origin: Origin::Native,
        })
        .collect()
}

/// Discovery order of groups: the core group first, then the native groups in the order
/// kube-apiserver lists them, then every other group alphabetically.
pub fn group_rank(group: &str) -> usize {
    const ORDER: &[&str] = &[
        "",
        "apps",
        "events.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "networking.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "storage.k8s.io",
        "apiextensions.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
    ];
    ORDER
        .iter()
        .position(|g| *g == group)
        .unwrap_or(ORDER.len())
}

/// Resources stored together with another group's: `events.k8s.io` Events live with core
/// Events, as in Kubernetes, so both APIs see the same events.
pub fn shared_storage(group: &str, plural: &str) -> Option<&'static str> {
    (group == "events.k8s.io" && plural == "events").then_some("/registry/core/events/")
}

/// The `(apiVersion, kind)` a shared-storage resource is stored as.
pub fn shared_storage_version(group: &str, plural: &str) -> Option<(String, String)> {
    shared_storage(group, plural).map(|_| ("v1".to_string(), "Event".to_string()))
}

/// Review kinds are questions to the server: they are created, answered and never stored.
pub fn is_review(group: &str, kind: &str) -> bool {
    matches!(group, "authorization.k8s.io" | "authentication.k8s.io") && kind.ends_with("Review")
}

/// Whether a group is served natively (custom resources may not claim it).
pub fn is_native_group(group: &str) -> bool {
    ROWS.iter().any(|r| r.group == group)
}
