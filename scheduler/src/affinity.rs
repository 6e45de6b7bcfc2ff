//! The scheduler's view of a member cluster's identity and topology, and the cluster-affinity
//! matching it shares with the override engine (`karmada_api::policy::matching`).

use karmada_api::cluster::Cluster;
pub use karmada_api::policy::matching::{cluster_matches as matches, zones};

/// The cluster's name (empty when unnamed, which no stored object is).
pub fn name(cluster: &Cluster) -> &str {
    cluster.metadata.name.as_deref().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::cluster;
    use karmada_api::policy::selectors::ClusterAffinity;
    use serde_json::json;

    #[test]
    fn affinity_table() {
        let m1 = cluster(&json!({"name": "m1", "labels": {"env": "prod", "gen": "3"},
            "provider": "aws", "region": "us-east", "zones": ["us-east-1a", "us-east-1b"]}));
        let m2 = cluster(
            &json!({"name": "m2", "labels": {"env": "dev"}, "region": "eu-west", "zone": "eu-west-1a"}),
        );
        let cases = [
            ("empty matches all", json!({}), [true, true]),
            ("names", json!({"clusterNames": ["m2"]}), [false, true]),
            (
                "exclude beats names",
                json!({"clusterNames": ["m1"], "exclude": ["m1"]}),
                [false, false],
            ),
            (
                "match labels",
                json!({"labelSelector": {"matchLabels": {"env": "prod"}}}),
                [true, false],
            ),
            (
                "NotIn on absent label passes",
                json!({"labelSelector": {"matchExpressions": [
                {"key": "gen", "operator": "NotIn", "values": ["3"]}]}}),
                [false, true],
            ),
            (
                "Gt",
                json!({"labelSelector": {"matchExpressions": [
                {"key": "gen", "operator": "Gt", "values": ["2"]}]}}),
                [true, false],
            ),
            (
                "invalid selector matches nothing",
                json!({"labelSelector": {"matchExpressions": [
                {"key": "env", "operator": "In", "values": []}]}}),
                [false, false],
            ),
            (
                "provider In",
                json!({"fieldSelector": {"matchExpressions": [
                {"key": "provider", "operator": "In", "values": ["aws"]}]}}),
                [true, false],
            ),
            (
                "region NotIn",
                json!({"fieldSelector": {"matchExpressions": [
                {"key": "region", "operator": "NotIn", "values": ["us-east"]}]}}),
                [false, true],
            ),
            (
                "zone In any of the zones",
                json!({"fieldSelector": {"matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["us-east-1b", "eu-west-1a"]}]}}),
                [true, true],
            ),
            (
                "zone NotIn",
                json!({"fieldSelector": {"matchExpressions": [
                {"key": "zone", "operator": "NotIn", "values": ["us-east-1a"]}]}}),
                [false, true],
            ),
            (
                "all parts must hold",
                json!({"clusterNames": ["m1", "m2"],
                "labelSelector": {"matchLabels": {"env": "dev"}}}),
                [false, true],
            ),
        ];
        for (name, affinity, want) in cases {
            let affinity: ClusterAffinity = serde_json::from_value(affinity).unwrap();
            assert_eq!(
                [matches(&affinity, &m1), matches(&affinity, &m2)],
                want,
                "{name}"
            );
        }
    }
}
