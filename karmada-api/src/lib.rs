//! Karmada and Kubernetes MCS API types, well-known labels and annotations; no IO.
//!
//! The typed Karmada kinds arrive with the propagation issue; today this crate holds the
//! names every component already agrees on.

/// API group of member clusters (`Cluster`).
pub const CLUSTER_GROUP: &str = "cluster.karmada.io";
/// API group of propagation and override policies.
pub const POLICY_GROUP: &str = "policy.karmada.io";
/// API group of bindings and works.
pub const WORK_GROUP: &str = "work.karmada.io";
/// API group of the Kubernetes multi-cluster services API.
pub const MCS_GROUP: &str = "multicluster.x-k8s.io";

/// Namespace prefix of a member cluster's execution namespace (`karmada-es-<cluster>`).
pub const EXECUTION_NAMESPACE_PREFIX: &str = "karmada-es-";

/// The execution namespace that holds the Works of `cluster`.
pub fn execution_namespace(cluster: &str) -> String {
    format!("{EXECUTION_NAMESPACE_PREFIX}{cluster}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_namespace_is_prefixed() {
        assert_eq!(execution_namespace("member1"), "karmada-es-member1");
    }
}
