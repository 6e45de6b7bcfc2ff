//! Criterion benchmark of the pure scheduling cycle (`karmada_scheduler::schedule`) per
//! replica strategy at 10, 100 and 1,000 member clusters.
//!
//! The clusters look like a real fleet: labels, provider/region/zones, a resource summary with
//! some of it in use, a few tainted ones, and the API enablements a status controller reports.
//! Every request is checked to schedule successfully before it is timed, so a placement the
//! core rejects cannot pass for a fast one.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use karmada_api::cluster::Cluster;
use karmada_api::work::binding::ResourceBindingSpec;
use karmada_scheduler::{Request, schedule};
use serde_json::{Value, json};

const SIZES: [usize; 3] = [10, 100, 1000];
const REGIONS: usize = 8;
const PROVIDERS: [&str; 3] = ["aws", "gcp", "azure"];
const TIERS: [&str; 3] = ["web", "batch", "data"];

/// The APIs every member serves (a typical conformant cluster, trimmed).
fn api_enablements() -> Value {
    let group = |gv: &str, kinds: &[&str]| {
        let resources: Vec<Value> = kinds
            .iter()
            .map(|k| json!({"name": k.to_lowercase() + "s", "kind": k}))
            .collect();
        json!({"groupVersion": gv, "resources": resources})
    };
    json!([
        group(
            "v1",
            &[
                "Pod",
                "Service",
                "ConfigMap",
                "Secret",
                "ServiceAccount",
                "Namespace"
            ]
        ),
        group(
            "apps/v1",
            &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]
        ),
        group("batch/v1", &["Job", "CronJob"]),
        group("networking.k8s.io/v1", &["Ingress", "NetworkPolicy"]),
        group(
            "rbac.authorization.k8s.io/v1",
            &["Role", "ClusterRole", "RoleBinding"]
        ),
        group("autoscaling/v2", &["HorizontalPodAutoscaler"]),
        group("policy/v1", &["PodDisruptionBudget"]),
    ])
}

/// Member `i` of a fleet: spread over providers and regions, three zones per region, capacity
/// and usage varying by index, and every 25th cluster tainted for maintenance.
fn cluster(i: usize, apis: &Value) -> Cluster {
    let region = format!("region-{}", i % REGIONS);
    let zones: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|z| format!("{region}{z}"))
        .collect();
    let provider = PROVIDERS[i % PROVIDERS.len()];
    let cores = 32 + 16 * (i % 5);
    let used_cores = (i * 7) % cores;
    let taints = if i % 25 == 24 {
        json!([{"key": "maintenance", "value": "true", "effect": "NoSchedule"}])
    } else {
        json!([])
    };
    serde_json::from_value(json!({
        "apiVersion": "cluster.karmada.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {
            "name": format!("member-{i:04}"),
            "labels": {
                "env": if i.is_multiple_of(4) { "staging" } else { "prod" },
                "tier": TIERS[i % TIERS.len()],
                "topology.karmada.io/region": region,
                "provider": provider,
            },
        },
        "spec": {
            "syncMode": if i.is_multiple_of(2) { "Push" } else { "Pull" },
            "provider": provider,
            "region": region,
            "zones": zones,
            "taints": taints,
        },
        "status": {
            "kubernetesVersion": "v1.31.2",
            "apiEnablements": apis,
            "conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady",
                            "message": "cluster is healthy and ready to accept workloads",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "nodeSummary": {"totalNum": 10, "readyNum": 10},
            "resourceSummary": {
                "allocatable": {"cpu": cores.to_string(), "memory": format!("{}Gi", cores * 4),
                                "pods": "1100", "ephemeral-storage": "1000Gi"},
                "allocated": {"cpu": used_cores.to_string(),
                              "memory": format!("{}Gi", used_cores * 3),
                              "pods": ((i * 13) % 600).to_string()},
                "allocating": {"cpu": "500m", "pods": "2"},
            },
        },
    }))
    .expect("the benchmark cluster is a valid Cluster")
}

fn fleet(size: usize) -> Vec<Cluster> {
    let apis = api_enablements();
    (0..size).map(|i| cluster(i, &apis)).collect()
}

/// A Deployment binding (100m CPU, 256Mi per replica) with `replicas` and `placement`.
fn spec(replicas: i32, placement: &Value) -> ResourceBindingSpec {
    serde_json::from_value(json!({
        "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop",
                     "name": "checkout", "uid": "7c1f9a52-3e1d-4d6b-9b8e-0a4f2f3c9d11",
                     "resourceVersion": "4711"},
        "replicas": replicas,
        "replicaRequirements": {"resourceRequest": {"cpu": "100m", "memory": "256Mi"}},
        "placement": placement,
    }))
    .expect("the benchmark binding spec is valid")
}

/// One benchmark group: a strategy and its binding spec.
struct Case {
    group: &'static str,
    spec: ResourceBindingSpec,
}

fn cases() -> Vec<Case> {
    let prod = json!({"labelSelector": {"matchLabels": {"env": "prod"}}});
    let region = |r: usize| json!({"labelSelector": {"matchLabels": {"topology.karmada.io/region": format!("region-{r}")}}});
    vec![
        Case {
            group: "duplicated",
            spec: spec(
                3,
                &json!({"clusterAffinity": prod,
                       "replicaScheduling": {"replicaSchedulingType": "Duplicated"}}),
            ),
        },
        Case {
            group: "static_weights",
            spec: spec(
                120,
                &json!({"replicaScheduling": {
                    "replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
                    "weightPreference": {"staticWeightList": [
                        {"targetCluster": region(0), "weight": 3},
                        {"targetCluster": region(1), "weight": 2},
                        {"targetCluster": region(2), "weight": 1},
                    ]},
                }}),
            ),
        },
        Case {
            group: "dynamic_weights",
            spec: spec(
                120,
                &json!({"clusterAffinity": prod, "replicaScheduling": {
                    "replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
                    "weightPreference": {"dynamicWeight": "AvailableReplicas"},
                }}),
            ),
        },
        Case {
            group: "aggregated",
            spec: spec(
                120,
                &json!({"clusterAffinity": prod, "replicaScheduling": {
                    "replicaSchedulingType": "Divided",
                    "replicaDivisionPreference": "Aggregated",
                }}),
            ),
        },
        Case {
            group: "region_spread",
            spec: spec(
                60,
                &json!({
                    "spreadConstraints": [
                        {"spreadByField": "region", "minGroups": 2, "maxGroups": 3},
                        {"spreadByField": "cluster", "minGroups": 3, "maxGroups": 6},
                    ],
                    "replicaScheduling": {
                        "replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted",
                        "weightPreference": {"dynamicWeight": "AvailableReplicas"},
                    },
                }),
            ),
        },
    ]
}

fn scheduler(c: &mut Criterion) {
    let fleets: Vec<(usize, Vec<Cluster>)> = SIZES.iter().map(|&n| (n, fleet(n))).collect();
    for case in cases() {
        let mut group = c.benchmark_group(case.group);
        for (size, clusters) in &fleets {
            let request = Request::new(&case.spec);
            let placement = schedule(clusters, &request).unwrap_or_else(|error| {
                panic!("{} at {size} clusters must schedule: {error}", case.group)
            });
            assert!(
                !placement.clusters.is_empty(),
                "{} at {size} clusters placed nothing",
                case.group
            );
            group.bench_with_input(
                BenchmarkId::from_parameter(size),
                clusters,
                |b, clusters| b.iter(|| schedule(black_box(clusters), black_box(&request))),
            );
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    // 15 benchmarks; these settings keep a full run around a minute and a half.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = scheduler
}
criterion_main!(benches);
