//! How many more replicas of a workload each cluster can run: Karmada's general estimator over
//! `status.resourceSummary` (or the resource models), bounded by external estimator answers.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use karmada_api::cluster::Cluster;
use karmada_api::cluster::quantity::nanos;
use karmada_api::work::binding::{ReplicaRequirements, ResourceBindingSpec};

use crate::affinity;

/// An estimator answer meaning "could not tell" (e.g. estimator unreachable); ignored.
pub const UNAUTHENTIC_REPLICAS: i32 = -1;

/// Pods a virtual node built from a resource model can hold, as Kubernetes' default kubelet.
const MODEL_NODE_PODS: i128 = 110;

const NANOS_PER_UNIT: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;

/// Replicas each of `clusters` can still take (Karmada's `AllocatableReplicas`), in order.
///
/// Resources without replicas (no replicas and no components) are never capacity-bound, so
/// every cluster gets `i32::MAX`. Otherwise the general estimate is lowered by `answers` (other
/// estimators, by cluster name); a cluster nobody bounded gets `spec.replicas`.
pub fn allocatable(
    clusters: &[&Cluster],
    spec: &ResourceBindingSpec,
    answers: Option<&BTreeMap<String, i32>>,
) -> Vec<i32> {
    let replicas = spec.replicas.unwrap_or(0);
    if replicas == 0 && spec.components.is_empty() {
        return vec![i32::MAX; clusters.len()];
    }
    clusters
        .iter()
        .map(|cluster| {
            let mut estimate = general(cluster, spec.replica_requirements.as_ref());
            if let Some(&answer) = answers.and_then(|a| a.get(affinity::name(cluster)))
                && answer != UNAUTHENTIC_REPLICAS
            {
                estimate = estimate.min(answer);
            }
            if estimate == i32::MAX {
                replicas
            } else {
                estimate
            }
        })
        .collect()
}

/// The general estimator: replicas that fit in what the cluster reports as free.
pub fn general(cluster: &Cluster, requirements: Option<&ReplicaRequirements>) -> i32 {
    let Some(summary) = cluster
        .status
        .as_ref()
        .and_then(|s| s.resource_summary.as_ref())
    else {
        return 0;
    };
    let amount =
        |map: &BTreeMap<String, Quantity>, key: &str| map.get(key).and_then(nanos).unwrap_or(0);
    let free = |key: &str| {
        amount(&summary.allocatable, key)
            - amount(&summary.allocated, key)
            - amount(&summary.allocating, key)
    };
    let allowed_pods = ceil_units(free("pods"), false);
    if allowed_pods <= 0 {
        return 0;
    }
    let Some(requirements) = requirements else {
        return clamp(allowed_pods);
    };
    let by_resources = if summary.allocatable_modelings.is_empty() {
        None
    } else {
        by_resource_models(cluster, &requirements.resource_request)
    };
    let by_resources = by_resources.unwrap_or_else(|| {
        requirements
            .resource_request
            .iter()
            .map(|(key, request)| {
                let request = nanos(request).unwrap_or(0);
                if ceil_units(request, false) <= 0 {
                    return i128::MAX;
                }
                if !summary.allocatable.contains_key(key) {
                    return 0;
                }
                let available = free(key);
                if available <= 0 {
                    return 0;
                }
                // CPU counts in millicores, everything else in whole units, both rounded up
                // as Kubernetes' Value()/MilliValue() do.
                let milli = key == "cpu";
                ceil_units(available, milli) / ceil_units(request, milli)
            })
            .min()
            .unwrap_or(i128::MAX)
    });
    clamp(allowed_pods.min(by_resources))
}

/// First-fit of single replicas onto one virtual node per counted node of each grade (grades
/// ascending), each node as large as the lower bounds of its grade plus 110 pods. `None` when
/// the cluster has no usable models, so the caller falls back to the summary.
fn by_resource_models(cluster: &Cluster, request: &BTreeMap<String, Quantity>) -> Option<i128> {
    let summary = cluster.status.as_ref()?.resource_summary.as_ref()?;
    if cluster.spec.resource_models.is_empty()
        || summary.allocatable_modelings.iter().any(|m| m.count < 0)
    {
        return None;
    }
    let mut models: Vec<_> = cluster.spec.resource_models.iter().collect();
    models.sort_by_key(|m| m.grade);
    let mut total: i128 = 0;
    for model in models {
        let nodes: i128 = summary
            .allocatable_modelings
            .iter()
            .filter(|m| m.grade == model.grade)
            .map(|m| i128::from(m.count))
            .sum();
        let per_node = request
            .iter()
            .filter_map(|(key, quantity)| {
                let milli = key == "cpu";
                let need = ceil_units(nanos(quantity).unwrap_or(0), milli);
                (need > 0).then(|| {
                    let capacity = model
                        .ranges
                        .iter()
                        .find(|r| &r.name == key)
                        .and_then(|r| nanos(&r.min))
                        .map_or(0, |min| ceil_units(min, milli));
                    capacity / need
                })
            })
            .fold(MODEL_NODE_PODS, i128::min);
        total += nodes * per_node.max(0);
    }
    Some(total)
}

/// `n` nanos in whole units (or millis), rounded up.
fn ceil_units(n: i128, milli: bool) -> i128 {
    let per = if milli {
        NANOS_PER_MILLI
    } else {
        NANOS_PER_UNIT
    };
    n.div_euclid(per) + i128::from(n.rem_euclid(per) != 0)
}

fn clamp(n: i128) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{cluster, spec};
    use serde_json::{Value, json};

    fn estimate(summary: &Value, request: &Value) -> i32 {
        let c = cluster(&json!({"name": "m1", "summary": summary}));
        let requirements: Option<ReplicaRequirements> = (!request.is_null())
            .then(|| serde_json::from_value(json!({"resourceRequest": request})).unwrap());
        general(&c, requirements.as_ref())
    }

    #[test]
    fn general_estimator_table() {
        let cases = [
            (
                "pods only",
                json!({"allocatable": {"pods": "110"}, "allocated": {"pods": "10"}}),
                Value::Null,
                100,
            ),
            (
                "pods exhausted",
                json!({"allocatable": {"pods": "10"}, "allocating": {"pods": "12"}}),
                json!({"cpu": "1"}),
                0,
            ),
            (
                "no pods reported",
                json!({"allocatable": {"cpu": "8"}}),
                json!({"cpu": "1"}),
                0,
            ),
            (
                "cpu in millicores",
                json!({"allocatable": {"pods": "100", "cpu": "4"}, "allocated": {"cpu": "1500m"}}),
                json!({"cpu": "500m"}),
                5,
            ),
            (
                "min over resources and pods",
                json!({"allocatable": {"pods": "100", "cpu": "16", "memory": "8Gi"}, "allocated": {"memory": "2Gi"}}),
                json!({"cpu": "1", "memory": "2Gi"}),
                3,
            ),
            (
                "pods bound the answer",
                json!({"allocatable": {"pods": "2", "cpu": "16"}}),
                json!({"cpu": "1"}),
                2,
            ),
            (
                "resource missing from allocatable",
                json!({"allocatable": {"pods": "100"}}),
                json!({"nvidia.com/gpu": "1"}),
                0,
            ),
            (
                "resource used up",
                json!({"allocatable": {"pods": "100", "cpu": "2"}, "allocated": {"cpu": "2"}}),
                json!({"cpu": "1"}),
                0,
            ),
            (
                "zero request ignored",
                json!({"allocatable": {"pods": "7"}}),
                json!({"cpu": "0"}),
                7,
            ),
        ];
        for (name, summary, request, want) in cases {
            assert_eq!(estimate(&summary, &request), want, "{name}");
        }
        assert_eq!(
            general(&cluster(&json!({"name": "m1"})), None),
            0,
            "no summary"
        );
    }

    #[test]
    fn resource_models_replace_the_summary_method() {
        let models = json!([
            {"grade": 1, "ranges": [{"name": "cpu", "min": "4", "max": "8"}, {"name": "memory", "min": "8Gi", "max": "16Gi"}]},
            {"grade": 0, "ranges": [{"name": "cpu", "min": "1", "max": "4"}, {"name": "memory", "min": "2Gi", "max": "8Gi"}]},
        ]);
        let summary = json!({
            "allocatable": {"pods": "1000", "cpu": "100", "memory": "1000Gi"},
            "allocatableModelings": [{"grade": 0, "count": 3}, {"grade": 1, "count": 2}],
        });
        let c = cluster(&json!({"name": "m1", "models": models, "summary": summary}));
        let requirements: ReplicaRequirements =
            serde_json::from_value(json!({"resourceRequest": {"cpu": "2", "memory": "1Gi"}}))
                .unwrap();
        // grade 0 nodes (1 cpu) fit none; grade 1 nodes (4 cpu, 8Gi) fit 2 each.
        assert_eq!(general(&c, Some(&requirements)), 4);

        // Without models the same summary falls back to the summary method: 100 cpu / 2.
        let c = cluster(&json!({"name": "m1", "summary": summary}));
        assert_eq!(general(&c, Some(&requirements)), 50);
    }

    #[test]
    fn estimator_answers_lower_the_estimate_unless_unauthentic() {
        let a = cluster(&json!({"name": "a", "summary": {"allocatable": {"pods": "50"}}}));
        let b = cluster(&json!({"name": "b", "summary": {"allocatable": {"pods": "50"}}}));
        let c = cluster(&json!({"name": "c", "summary": {"allocatable": {"pods": "5"}}}));
        let answers = BTreeMap::from([
            ("a".to_string(), 7),
            ("b".to_string(), -1),
            ("c".to_string(), 9),
        ]);
        let workload = spec(&json!({"replicas": 3}));
        assert_eq!(
            allocatable(&[&a, &b, &c], &workload, Some(&answers)),
            [7, 50, 5]
        );
        // A resource without replicas is never capacity-bound.
        let config = spec(&json!({}));
        assert_eq!(allocatable(&[&a], &config, Some(&answers)), [i32::MAX]);
    }
}
