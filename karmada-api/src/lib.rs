//! Karmada and Kubernetes MCS API types, well-known labels and annotations, and the admission
//! rules (defaults and validation) Karmada's webhooks apply to them; no IO.

/// Deref, DerefMut and From for the newtype a cluster-scoped kind wraps its namespaced twin's
/// spec in: kube's derive puts exactly one kind on each spec type, so the cluster-scoped twin
/// gets a transparent wrapper that reads and writes the same JSON.
macro_rules! twin_spec {
    ($outer:ident, $inner:ty) => {
        impl std::ops::Deref for $outer {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.0
            }
        }

        impl std::ops::DerefMut for $outer {
            fn deref_mut(&mut self) -> &mut $inner {
                &mut self.0
            }
        }

        impl From<$inner> for $outer {
            fn from(spec: $inner) -> Self {
                $outer(spec)
            }
        }
    };
}

pub mod admission;
pub mod apps;
pub mod cluster;
pub mod crds;
pub mod mcs;
pub mod names;
pub mod policy;
#[cfg(test)]
pub(crate) mod structural;
pub mod tolerations;
pub mod validation;
pub mod work;

/// API group of member clusters (`Cluster`).
pub const CLUSTER_GROUP: &str = "cluster.karmada.io";
/// API group of propagation and override policies.
pub const POLICY_GROUP: &str = "policy.karmada.io";
/// API group of bindings and works.
pub const WORK_GROUP: &str = "work.karmada.io";
/// API group of workload rebalancing (`WorkloadRebalancer`).
pub const APPS_GROUP: &str = "apps.karmada.io";
/// API group of the Kubernetes multi-cluster services API.
pub const MCS_GROUP: &str = "multicluster.x-k8s.io";

/// Namespace of the clusters' heartbeat Leases and of the member credentials `join` stores.
pub const CLUSTER_NAMESPACE: &str = "karmada-cluster";

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
