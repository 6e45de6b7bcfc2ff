//! The filter plugins: why a member cluster cannot take a binding (API enablement, taints,
//! cluster affinity, spread-constraint fields, ongoing eviction).

use k8s_openapi::api::core::v1::Taint;
use karmada_api::cluster::Cluster;
use karmada_api::policy::propagation::{OverflowClusterAffinity, Placement, SpreadField};
use karmada_api::policy::selectors::ClusterAffinity;
use karmada_api::tolerations::tolerates;
use karmada_api::work::binding::ResourceBindingSpec;

use crate::affinity;

/// What the filters look at besides the cluster.
#[derive(Clone, Copy, Debug)]
pub struct Filter<'a> {
    pub spec: &'a ResourceBindingSpec,
    pub placement: &'a Placement,
    /// The affinity in force: `clusterAffinity`, or the `clusterAffinities` term being tried.
    pub affinity: Option<&'a ClusterAffinity>,
    /// The overflow tiers of that term, which workloads may also use.
    pub overflow: &'a [OverflowClusterAffinity],
}

impl Filter<'_> {
    /// Why `cluster` does not fit, one reason per failing plugin (Karmada stops at the first;
    /// all are kept so a user can fix them in one go). Empty means the cluster fits.
    pub fn reasons(&self, cluster: &Cluster) -> Vec<String> {
        [
            self.api_enablement(cluster),
            self.taint_toleration(cluster),
            self.cluster_affinity(cluster),
            self.spread_constraint(cluster),
            self.cluster_eviction(cluster),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Already-targeted clusters keep passing the API and taint filters: the template was
    /// accepted there, and evicting it is the taint manager's job, not the scheduler's.
    fn targeted(&self, cluster: &Cluster) -> bool {
        self.spec.targets(affinity::name(cluster))
    }

    fn api_enablement(&self, cluster: &Cluster) -> Option<String> {
        if self.targeted(cluster)
            || api_enabled(
                cluster,
                &self.spec.resource.api_version,
                &self.spec.resource.kind,
            )
        {
            return None;
        }
        Some(format!(
            "cluster(s) did not have the API resource {} {}",
            self.spec.resource.api_version, self.spec.resource.kind
        ))
    }

    fn taint_toleration(&self, cluster: &Cluster) -> Option<String> {
        if self.targeted(cluster) {
            return None;
        }
        let untolerated = cluster.spec.taints.iter().find(|taint| {
            matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute")
                && !self
                    .placement
                    .cluster_tolerations
                    .iter()
                    .any(|t| tolerates(t, taint))
        })?;
        Some(format!(
            "cluster(s) had untolerated taint {{{}}}",
            taint_string(untolerated)
        ))
    }

    fn cluster_affinity(&self, cluster: &Cluster) -> Option<String> {
        let affinity = self.affinity?;
        let matched = affinity::matches(affinity, cluster)
            || self
                .overflow
                .iter()
                .any(|o| affinity::matches(&o.affinity, cluster));
        (!matched).then(|| {
            "cluster(s) did not match the placement cluster affinity constraint".to_string()
        })
    }

    fn spread_constraint(&self, cluster: &Cluster) -> Option<String> {
        let empty = |v: &Option<String>| v.as_deref().unwrap_or_default().is_empty();
        self.placement.spread_constraints.iter().find_map(|c| {
            let (lacking, property) = match c.spread_by_field? {
                SpreadField::Provider => (empty(&cluster.spec.provider), "provider"),
                SpreadField::Region => (empty(&cluster.spec.region), "region"),
                SpreadField::Zone => (affinity::zones(cluster).is_empty(), "zones"),
                SpreadField::Cluster => (false, "cluster"),
            };
            lacking.then(|| format!("cluster(s) did not have {property} property"))
        })
    }

    fn cluster_eviction(&self, cluster: &Cluster) -> Option<String> {
        let name = affinity::name(cluster);
        self.spec
            .graceful_eviction_tasks
            .iter()
            .any(|t| t.from_cluster == name)
            .then(|| "cluster(s) is in the process of eviction".to_string())
    }
}

/// Whether the cluster reports serving `kind` in `api_version`. A cluster that has not reported
/// it (or has reported no APIs at all) does not pass: the state is unknown at best.
fn api_enabled(cluster: &Cluster, api_version: &str, kind: &str) -> bool {
    let Some(status) = &cluster.status else {
        return false;
    };
    // The CompleteAPIEnablements condition only tells "disabled" from "unknown"; both fail.
    status
        .api_enablements
        .iter()
        .filter(|e| e.group_version == api_version)
        .any(|e| e.resources.iter().any(|r| r.kind == kind))
}

/// `key=value:Effect`, `key:Effect` without a value, as Kubernetes prints a taint.
fn taint_string(taint: &Taint) -> String {
    let value = taint.value.as_deref().unwrap_or_default();
    match (value.is_empty(), taint.effect.is_empty()) {
        (true, true) => taint.key.clone(),
        (false, true) => format!("{}={value}:", taint.key),
        (true, false) => format!("{}:{}", taint.key, taint.effect),
        (false, false) => format!("{}={value}:{}", taint.key, taint.effect),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{cluster, spec};
    use serde_json::json;

    fn reasons(cluster_json: &serde_json::Value, spec_json: &serde_json::Value) -> Vec<String> {
        let spec = spec(spec_json);
        let placement = spec.placement.clone().unwrap_or_default();
        let filter = Filter {
            spec: &spec,
            placement: &placement,
            affinity: placement.cluster_affinity.as_ref(),
            overflow: &[],
        };
        filter.reasons(&cluster(cluster_json))
    }

    #[test]
    fn filter_table() {
        let taint = json!([{"key": "k", "value": "v", "effect": "NoSchedule"}]);
        let cases = [
            ("fits", json!({"name": "m1"}), json!({}), vec![]),
            (
                "api not served",
                json!({"name": "m1", "apis": {"v1": ["ConfigMap"]}}),
                json!({}),
                vec!["cluster(s) did not have the API resource apps/v1 Deployment"],
            ),
            (
                "no api enablements reported",
                json!({"name": "m1", "apis": {}}),
                json!({}),
                vec!["cluster(s) did not have the API resource apps/v1 Deployment"],
            ),
            (
                "api not served but already targeted",
                json!({"name": "m1", "apis": {}}),
                json!({"clusters": [{"name": "m1", "replicas": 1}]}),
                vec![],
            ),
            (
                "untolerated NoSchedule taint",
                json!({"name": "m1", "taints": taint}),
                json!({}),
                vec!["cluster(s) had untolerated taint {k=v:NoSchedule}"],
            ),
            (
                "untolerated NoExecute taint without value",
                json!({"name": "m1", "taints": [{"key": "gone", "effect": "NoExecute"}]}),
                json!({}),
                vec!["cluster(s) had untolerated taint {gone:NoExecute}"],
            ),
            (
                "PreferNoSchedule is ignored",
                json!({"name": "m1", "taints": [{"key": "k", "effect": "PreferNoSchedule"}]}),
                json!({}),
                vec![],
            ),
            (
                "tolerated by Equal",
                json!({"name": "m1", "taints": taint}),
                json!({"placement": {"clusterTolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}]}}),
                vec![],
            ),
            (
                "Equal with another value does not tolerate",
                json!({"name": "m1", "taints": taint}),
                json!({"placement": {"clusterTolerations": [{"key": "k", "value": "w"}]}}),
                vec!["cluster(s) had untolerated taint {k=v:NoSchedule}"],
            ),
            (
                "tolerated by Exists on every key",
                json!({"name": "m1", "taints": taint}),
                json!({"placement": {"clusterTolerations": [{"operator": "Exists"}]}}),
                vec![],
            ),
            (
                "toleration for another effect",
                json!({"name": "m1", "taints": taint}),
                json!({"placement": {"clusterTolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute"}]}}),
                vec!["cluster(s) had untolerated taint {k=v:NoSchedule}"],
            ),
            (
                "tainted but already targeted",
                json!({"name": "m1", "taints": taint}),
                json!({"clusters": [{"name": "m1"}]}),
                vec![],
            ),
            (
                "affinity mismatch",
                json!({"name": "m1"}),
                json!({"placement": {"clusterAffinity": {"clusterNames": ["m2"]}}}),
                vec!["cluster(s) did not match the placement cluster affinity constraint"],
            ),
            (
                "affinity mismatch even when targeted",
                json!({"name": "m1"}),
                json!({"clusters": [{"name": "m1"}], "placement": {"clusterAffinity": {"exclude": ["m1"]}}}),
                vec!["cluster(s) did not match the placement cluster affinity constraint"],
            ),
            (
                "region spread needs a region",
                json!({"name": "m1", "provider": "aws"}),
                json!({"placement": {"spreadConstraints": [{"spreadByField": "provider"}, {"spreadByField": "region"}]}}),
                vec!["cluster(s) did not have region property"],
            ),
            (
                "zone spread accepts the deprecated zone",
                json!({"name": "m1", "zone": "z1"}),
                json!({"placement": {"spreadConstraints": [{"spreadByField": "zone"}, {"spreadByField": "cluster"}]}}),
                vec![],
            ),
            (
                "zone spread without zones",
                json!({"name": "m1"}),
                json!({"placement": {"spreadConstraints": [{"spreadByField": "zone"}]}}),
                vec!["cluster(s) did not have zones property"],
            ),
            (
                "being evicted",
                json!({"name": "m1"}),
                json!({"gracefulEvictionTasks": [{"fromCluster": "m1", "reason": "TaintUntolerated", "producer": "TaintManager"}]}),
                vec!["cluster(s) is in the process of eviction"],
            ),
            (
                "every failing plugin is reported",
                json!({"name": "m1", "apis": {}, "taints": taint}),
                json!({"placement": {"clusterAffinity": {"clusterNames": ["m2"]}}}),
                vec![
                    "cluster(s) did not have the API resource apps/v1 Deployment",
                    "cluster(s) had untolerated taint {k=v:NoSchedule}",
                    "cluster(s) did not match the placement cluster affinity constraint",
                ],
            ),
        ];
        for (name, cluster_json, spec_json, want) in cases {
            assert_eq!(reasons(&cluster_json, &spec_json), want, "{name}");
        }
    }
}
