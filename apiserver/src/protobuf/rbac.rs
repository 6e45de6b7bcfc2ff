//! Field tables for rbac.authorization.k8s.io/v1 roles and bindings.

use k8s_pb::api::rbac::v1 as rbac_v1;

use super::json::messages;

messages! {
    "rbac.v1" in rbac_v1;

    AggregationRule { cluster_role_selectors: "clusterRoleSelectors" }
    ClusterRole { metadata, rules, aggregation_rule: "aggregationRule" }
    ClusterRoleBinding { metadata, subjects, role_ref: "roleRef" }
    PolicyRule {
        verbs, api_groups: "apiGroups", resources, resource_names: "resourceNames",
        non_resource_ur_ls: "nonResourceURLs",
    }
    Role { metadata, rules }
    RoleBinding { metadata, subjects, role_ref: "roleRef" }
    RoleRef { api_group: "apiGroup", kind, name }
    Subject { kind, api_group: "apiGroup", name, namespace }
}
