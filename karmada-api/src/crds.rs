//! The CustomResourceDefinitions of every Karmada and MCS kind, as a federation apiserver
//! installs them at start.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::policy::{overrides, propagation, taint};
use crate::{apps, cluster, mcs, work};

/// Every kind's CRD.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        cluster::Cluster::crd(),
        propagation::PropagationPolicy::crd(),
        propagation::ClusterPropagationPolicy::crd(),
        overrides::OverridePolicy::crd(),
        overrides::ClusterOverridePolicy::crd(),
        taint::ClusterTaintPolicy::crd(),
        work::binding::ResourceBinding::crd(),
        work::binding::ClusterResourceBinding::crd(),
        work::work::Work::crd(),
        apps::WorkloadRebalancer::crd(),
    ]
    .into_iter()
    .chain(mcs())
    .collect()
}

/// The MCS API's CRDs alone: what a member cluster serves so that ServiceExports (and
/// ServiceImports) can be propagated to it, as on a cluster with an MCS implementation.
pub fn mcs() -> Vec<CustomResourceDefinition> {
    vec![mcs::ServiceExport::crd(), mcs::ServiceImport::crd()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_uniquely_named_crd() {
        let crds = all();
        let mut names: Vec<String> = crds
            .iter()
            .map(|c| c.metadata.name.clone().unwrap_or_default())
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), crds.len(), "{names:?}");
        assert!(names.contains(&"propagationpolicies.policy.karmada.io".to_string()));
        assert!(names.contains(&"clusters.cluster.karmada.io".to_string()));
        assert!(names.contains(&"serviceimports.multicluster.x-k8s.io".to_string()));
    }
}
