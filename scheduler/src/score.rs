//! The score plugins: how much a feasible cluster is preferred (only stickiness to the current
//! placement, as Karmada ships; ClusterAffinity always scores 0).

use karmada_api::cluster::Cluster;
use karmada_api::work::binding::ResourceBindingSpec;

use crate::affinity;

/// Highest score a plugin gives.
pub const MAX_SCORE: i64 = 100;

/// Sum of the score plugins for `cluster`: ClusterLocality keeps a binding where it already
/// runs, so rescheduling does not move replicas without reason.
pub fn score(spec: &ResourceBindingSpec, cluster: &Cluster) -> i64 {
    if spec.targets(affinity::name(cluster)) {
        MAX_SCORE
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{cluster, spec};
    use serde_json::json;

    #[test]
    fn locality_scores_current_targets() {
        let current = spec(&json!({"clusters": [{"name": "m1", "replicas": 2}]}));
        let cases = [("m1", &current, MAX_SCORE), ("m2", &current, 0)];
        for (name, spec, want) in cases {
            assert_eq!(
                score(spec, &cluster(&json!({"name": name}))),
                want,
                "{name}"
            );
        }
        assert_eq!(
            score(&spec(&json!({})), &cluster(&json!({"name": "m1"}))),
            0,
            "first schedule"
        );
    }
}
