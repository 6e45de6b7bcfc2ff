//! Table tests of binding status aggregation and the FullyApplied condition.

use super::*;
use serde_json::json;

fn now() -> Time {
    serde_json::from_value(json!("2026-03-01T10:00:00Z")).unwrap()
}

fn earlier() -> Time {
    serde_json::from_value(json!("2026-02-01T10:00:00Z")).unwrap()
}

fn nginx() -> ObjectReference {
    ObjectReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: Some("default".into()),
        name: "nginx".into(),
        ..Default::default()
    }
}

/// A Work holding a ConfigMap first and the nginx Deployment second, so ordinals matter.
fn work(cluster: &str, status: &Value) -> Work {
    serde_json::from_value(json!({
        "apiVersion": "work.karmada.io/v1alpha1", "kind": "Work",
        "metadata": {"name": "nginx-687f7fb96f", "namespace": format!("karmada-es-{cluster}")},
        "spec": {"workload": {"manifests": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nginx", "namespace": "default"}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx", "namespace": "default"}}
        ]}},
        "status": status
    }))
    .unwrap()
}

fn applied(status: &str, message: &str) -> Value {
    json!([{"type": "Applied", "status": status, "reason": "AppliedFailed", "message": message,
            "lastTransitionTime": "2026-01-01T00:00:00Z"}])
}

fn manifest_status(ordinal: i64, replicas: i64, health: &str) -> Value {
    json!({"identifier": {"ordinal": ordinal, "group": "apps", "version": "v1", "kind": "Deployment",
                          "resource": "deployments", "namespace": "default", "name": "nginx"},
           "status": {"replicas": replicas, "readyReplicas": replicas}, "health": health})
}

fn clusters(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn items_per_cluster() {
    let healthy = work(
        "member1",
        &json!({"conditions": applied("True", ""), "manifestStatuses": [
            manifest_status(0, 9, "Unhealthy"), manifest_status(1, 1, "Healthy")]}),
    );
    let failed = work(
        "member2",
        &json!({"conditions": applied("False", "admission webhook denied the request: image not allowed")}),
    );
    let unreported = work("member3", &json!({}));
    let applied_no_status = work("member5", &json!({"conditions": applied("True", "")}));
    let mut deleting = work("member6", &json!({"conditions": applied("True", "")}));
    deleting.metadata.deletion_timestamp = Some(now());
    let works = [
        MemberWork {
            cluster: "member2",
            work: &failed,
        },
        MemberWork {
            cluster: "member1",
            work: &healthy,
        },
        MemberWork {
            cluster: "member3",
            work: &unreported,
        },
        MemberWork {
            cluster: "member5",
            work: &applied_no_status,
        },
        MemberWork {
            cluster: "member6",
            work: &deleting,
        },
    ];
    let targets = clusters(&["member1", "member2", "member3", "member4", "member5"]);
    let items = aggregated_status(&nginx(), &targets, &works);
    let got: Vec<_> = items
        .iter()
        .map(|i| {
            (
                i.cluster_name.as_str(),
                i.applied,
                i.health,
                i.status.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            // The manifest at ordinal 1 is the template's; ordinal 0 is another object.
            (
                "member1",
                Some(true),
                Some(ResourceHealth::Healthy),
                Some(json!({"replicas": 1, "readyReplicas": 1}))
            ),
            ("member2", Some(false), Some(ResourceHealth::Unknown), None),
            ("member3", Some(false), Some(ResourceHealth::Unknown), None),
            ("member4", Some(false), Some(ResourceHealth::Unknown), None),
            ("member5", Some(true), Some(ResourceHealth::Unknown), None),
        ]
    );
    assert_eq!(
        items[1].applied_message.as_deref(),
        Some("admission webhook denied the request: image not allowed")
    );
    assert!(
        items[2]
            .applied_message
            .as_deref()
            .unwrap()
            .contains("karmada-agent")
    );
    assert!(
        items[3]
            .applied_message
            .as_deref()
            .unwrap()
            .contains("karmada-es-member4")
    );
    assert_eq!(items[0].applied_message, None);
}

#[test]
fn fully_applied_table() {
    let item = |cluster: &str, applied: bool, message: Option<&str>| AggregatedStatusItem {
        cluster_name: cluster.into(),
        applied: Some(applied),
        applied_message: message.map(String::from),
        ..Default::default()
    };
    let cases = [
        ("all applied", clusters(&["m1", "m2"]), vec![item("m1", true, None), item("m2", true, None)],
         "True", FULLY_APPLIED_SUCCESS_REASON, "All works have been successfully applied".to_string()),
        ("not scheduled", vec![], vec![], "False", FULLY_APPLIED_FAILED_REASON,
         "no target clusters: the binding has not been scheduled yet; see its Scheduled condition".to_string()),
        ("one failed", clusters(&["m1", "m2"]), vec![item("m1", true, None), item("m2", false, Some("quota exceeded"))],
         "False", FULLY_APPLIED_FAILED_REASON,
         "Failed to apply all works, see status.aggregatedStatus for details: m2: quota exceeded".to_string()),
        ("missing status", clusters(&["m1", "m2"]), vec![item("m1", true, None)],
         "False", FULLY_APPLIED_FAILED_REASON,
         "Failed to apply all works, see status.aggregatedStatus for details: m2: no status reported".to_string()),
        ("leftover work", clusters(&["m1"]), vec![item("m1", true, None), item("old", true, None)],
         "False", FULLY_APPLIED_FAILED_REASON,
         "Failed to apply all works, see status.aggregatedStatus for details: old: not a target cluster, but its Work has not been removed yet".to_string()),
    ];
    for (name, targets, items, status, reason, message) in cases {
        let c = fully_applied_condition(&targets, &items, now());
        assert_eq!(c.type_, FULLY_APPLIED_CONDITION, "{name}");
        assert_eq!(
            (c.status.as_str(), c.reason.as_str(), c.message),
            (status, reason, message),
            "{name}"
        );
    }
}

#[test]
fn many_failures_are_summarised() {
    let names: Vec<String> = (0..8).map(|i| format!("m{i}")).collect();
    let c = fully_applied_condition(&names, &[], now());
    assert!(
        c.message
            .ends_with("m4: no status reported; and 3 more clusters"),
        "{}",
        c.message
    );
}

#[test]
fn conditions_keep_others_and_transition_time_when_unchanged() {
    let scheduled = Condition {
        type_: "Scheduled".into(),
        status: "True".into(),
        reason: "Success".into(),
        message: "Binding has been scheduled successfully.".into(),
        last_transition_time: earlier(),
        observed_generation: None,
    };
    let items = [AggregatedStatusItem {
        cluster_name: "m1".into(),
        applied: Some(true),
        ..Default::default()
    }];
    let targets = clusters(&["m1"]);
    let first = binding_conditions(
        std::slice::from_ref(&scheduled),
        &targets,
        &items,
        earlier(),
    );
    assert_eq!(first.len(), 2);
    assert_eq!(first[0], scheduled);
    // Same status later: the transition time stays.
    let again = binding_conditions(&first, &targets, &items, now());
    assert_eq!(again[1].last_transition_time, earlier());
    // Status flips: the transition time moves.
    let flipped = binding_conditions(&again, &clusters(&["m1", "m2"]), &items, now());
    assert_eq!(flipped[1].status, "False");
    assert_eq!(flipped[1].last_transition_time, now());
}

#[test]
fn existing_clusters_include_dependents_and_graceful_evictions() {
    let spec: ResourceBindingSpec = serde_json::from_value(json!({
        "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx"},
        "clusters": [{"name": "m2"}, {"name": "m1"}],
        "requiredBy": [{"name": "parent", "clusters": [{"name": "m3"}, {"name": "m1"}]}],
        "gracefulEvictionTasks": [
            {"fromCluster": "m4", "reason": "TaintUntolerated", "producer": "TaintManager"},
            {"fromCluster": "m5", "purgeMode": "Directly", "reason": "TaintUntolerated", "producer": "TaintManager"}
        ]
    }))
    .unwrap();
    assert_eq!(
        existing_clusters(&spec),
        clusters(&["m1", "m2", "m3", "m4"])
    );
}
