use super::*;
use serde_json::{Value, json};

/// A cluster serving Deployments and ConfigMaps with room for `cpus` one-CPU replicas.
fn cluster(name: &str, cpus: u32, taint: bool) -> Value {
    let taints = if taint {
        json!([{"key": "maintenance", "effect": "NoSchedule"}])
    } else {
        json!([])
    };
    json!({
        "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {"syncMode": "Push", "taints": taints},
        "status": {
            "apiEnablements": [
                {"groupVersion": "apps/v1", "resources": [{"name": "deployments", "kind": "Deployment"}]},
                {"groupVersion": "v1", "resources": [{"name": "configmaps", "kind": "ConfigMap"}]},
            ],
            "resourceSummary": {"allocatable": {"cpu": cpus.to_string(), "pods": "110"}},
        },
    })
}

/// JSON is YAML, so scenarios can be written with `json!`.
fn run(scenario: &Value, format: Format) -> Preview {
    preview(&scenario.to_string(), "scenario.yaml", format)
}

fn three_clusters() -> Value {
    json!([
        cluster("member1", 4, false),
        cluster("member2", 8, false),
        cluster("member3", 8, true),
    ])
}

#[test]
fn divided_replicas_print_as_json() {
    let scenario = json!({
        "clusters": three_clusters(),
        "placement": {"replicaScheduling": {"replicaSchedulingType": "Divided",
            "weightPreference": {"dynamicWeight": "AvailableReplicas"}}},
        "replicas": 6,
        "replicaRequirements": {"resourceRequest": {"cpu": "1"}},
    });
    let out = run(&scenario, Format::Json);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let got: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        got,
        json!({"clusters": [{"name": "member1", "replicas": 2}, {"name": "member2", "replicas": 4}]})
    );
}

#[test]
fn duplicated_placements_give_every_cluster_all_replicas() {
    let scenario = json!({
        "clusters": three_clusters(),
        "placement": {"clusterTolerations": [{"key": "maintenance", "operator": "Exists"}]},
        "replicas": 3,
    });
    let out = run(&scenario, Format::Json);
    let got: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        got,
        json!({"clusters": [{"name": "member1", "replicas": 3}, {"name": "member2", "replicas": 3},
                            {"name": "member3", "replicas": 3}]})
    );
}

#[test]
fn non_workloads_print_clusters_without_replicas() {
    let scenario = json!({
        "clusters": three_clusters(),
        "placement": {},
        "workload": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}},
    });
    let out = run(&scenario, Format::Json);
    let got: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        got,
        json!({"clusters": [{"name": "member1"}, {"name": "member2"}]})
    );
    let table = run(&scenario, Format::Table).stdout;
    assert!(
        table.contains("\nmember1   -          -           scheduled\n"),
        "{table}"
    );
    assert!(
        table.ends_with("\npropagated to 2 of 3 clusters\n"),
        "{table}"
    );
}

#[test]
fn the_table_explains_filtered_and_unselected_clusters() {
    let scenario = json!({
        "clusters": three_clusters(),
        "placement": {"spreadConstraints": [{"spreadByField": "cluster", "maxGroups": 1}],
                      "replicaScheduling": {"replicaSchedulingType": "Divided",
                          "weightPreference": {"dynamicWeight": "AvailableReplicas"}}},
        "replicas": 2,
        "replicaRequirements": {"resourceRequest": {"cpu": "1"}},
    });
    let out = run(&scenario, Format::Table);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "CLUSTER   REPLICAS   AVAILABLE   RESULT");
    assert_eq!(lines[1], "member1   -          4           not selected");
    assert_eq!(lines[2], "member2   2          8           scheduled");
    assert_eq!(
        lines[3],
        "member3   -          -           filtered out: cluster(s) had untolerated taint {maintenance:NoSchedule}"
    );
    assert_eq!(lines[5], "2 replicas divided over 1 of 3 clusters");
}

#[test]
fn failures_exit_1_with_the_reason() {
    let no_fit = json!({
        "clusters": [cluster("member3", 8, true)],
        "placement": {},
        "replicas": 1,
    });
    let out = run(&no_fit, Format::Json);
    assert_eq!(out.code, EXIT_UNSCHEDULABLE);
    let got: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got["error"]["reason"], "NoClusterFit");
    assert_eq!(
        got["error"]["message"],
        "0/1 clusters are available: member3: cluster(s) had untolerated taint {maintenance:NoSchedule}."
    );
    let table = run(&no_fit, Format::Table);
    assert_eq!(table.code, EXIT_UNSCHEDULABLE);
    assert!(
        table.stdout.contains(
            "member3   -          -           filtered out: cluster(s) had untolerated taint"
        ),
        "{}",
        table.stdout
    );

    let too_big = json!({
        "clusters": three_clusters(),
        "placement": {"replicaScheduling": {"replicaSchedulingType": "Divided",
                                            "replicaDivisionPreference": "Aggregated"}},
        "replicas": 20,
        "replicaRequirements": {"resourceRequest": {"cpu": "1"}},
    });
    let out = run(&too_big, Format::Json);
    assert_eq!(out.code, EXIT_UNSCHEDULABLE);
    let got: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(got["error"]["reason"], "Unschedulable", "{got}");
    let table = run(&too_big, Format::Table).stdout;
    assert!(
        table.contains("member1   -          4           fits"),
        "{table}"
    );
    assert!(
        table.contains("\ncannot schedule (Unschedulable): "),
        "{table}"
    );
}

#[test]
fn malformed_scenarios_exit_2_naming_the_file_and_field() {
    let out = run(
        &json!({"clusters": [], "placement": {}, "replica": 1}),
        Format::Json,
    );
    assert_eq!(out.code, EXIT_USAGE);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("error: scenario.yaml: replica: unknown top-level key"),
        "{}",
        out.stderr
    );
}

#[test]
fn available_replicas_stand_in_for_the_estimator() {
    let scenario = json!({
        "clusters": three_clusters(),
        "placement": {"replicaScheduling": {"replicaSchedulingType": "Divided",
            "weightPreference": {"dynamicWeight": "AvailableReplicas"}}},
        "replicas": 6,
        "replicaRequirements": {"resourceRequest": {"cpu": "1"}},
        "availableReplicas": {"member2": 2},
    });
    let got: Value = serde_json::from_str(&run(&scenario, Format::Json).stdout).unwrap();
    assert_eq!(
        got,
        json!({"clusters": [{"name": "member1", "replicas": 4}, {"name": "member2", "replicas": 2}]})
    );
}
