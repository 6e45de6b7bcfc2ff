//! Tests of the binding kinds: generated CRDs and round-trips of bindings as Karmada writes
//! them.

use kube::CustomResourceExt;
use serde_json::{Value, json};

use super::*;
use crate::policy::propagation::ReplicaSchedulingType;
use crate::policy::propagation::tests::crd_json;
use crate::structural::assert_structural;

/// A binding as Karmada's detector and scheduler leave it for the nginx sample.
fn nginx_binding() -> Value {
    json!({
        "apiVersion": "work.karmada.io/v1alpha2",
        "kind": "ResourceBinding",
        "metadata": {
            "name": "nginx-deployment",
            "namespace": "default",
            "labels": {"resourcebinding.karmada.io/permanent-id": "6b1c2d3e-0000-4000-8000-000000000001"},
            "finalizers": ["karmada.io/binding-controller"],
            "generation": 2,
        },
        "spec": {
            "resource": {
                "apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "nginx",
                "uid": "0f0e0d0c-0000-4000-8000-000000000002", "resourceVersion": "1234",
            },
            "replicaRequirements": {"resourceRequest": {"cpu": "100m"}},
            "replicas": 2,
            "clusters": [{"name": "member1", "replicas": 1}, {"name": "member2", "replicas": 1}],
            "placement": {
                "clusterAffinity": {"clusterNames": ["member1", "member2"]},
                "replicaScheduling": {
                    "replicaDivisionPreference": "Weighted",
                    "replicaSchedulingType": "Divided",
                    "weightPreference": {"staticWeightList": [
                        {"targetCluster": {"clusterNames": ["member1"]}, "weight": 1},
                        {"targetCluster": {"clusterNames": ["member2"]}, "weight": 1},
                    ]},
                },
            },
            "gracefulEvictionTasks": [{
                "fromCluster": "member3", "purgeMode": "Gracefully", "replicas": 1,
                "reason": "TaintUntolerated", "producer": "TaintManager",
                "creationTimestamp": "2026-01-01T00:00:00Z", "clustersBeforeFailover": ["member3"],
            }],
            "schedulerName": "default-scheduler",
            "conflictResolution": "Abort",
            "suspension": {"dispatchingOnClusters": {"clusterNames": ["member2"]}, "scheduling": false},
            "schedulePriority": {"priority": 10},
        },
        "status": {
            "schedulerObservedGeneration": 2,
            "lastScheduledTime": "2026-01-01T00:00:05Z",
            "conditions": [
                {"type": "Scheduled", "status": "True", "reason": "Success",
                 "message": "Binding has been scheduled successfully.", "lastTransitionTime": "2026-01-01T00:00:05Z"},
                {"type": "FullyApplied", "status": "True", "reason": "FullyAppliedSuccess",
                 "message": "All works have been successfully applied", "lastTransitionTime": "2026-01-01T00:00:06Z"},
            ],
            "aggregatedStatus": [
                {"clusterName": "member1", "applied": true, "health": "Healthy",
                 "status": {"replicas": 1, "readyReplicas": 1, "observedGeneration": 1}},
                {"clusterName": "member2", "applied": false, "appliedMessage": "conflict", "health": "Unknown"},
            ],
        },
    })
}

#[test]
fn crds_have_karmada_names_scope_columns_and_status() {
    let cases = [
        (
            ResourceBinding::crd(),
            "resourcebindings",
            "ResourceBinding",
            "rb",
            "Namespaced",
        ),
        (
            ClusterResourceBinding::crd(),
            "clusterresourcebindings",
            "ClusterResourceBinding",
            "crb",
            "Cluster",
        ),
    ];
    for (crd, plural, kind, short, scope) in cases {
        let crd = crd_json(&crd);
        assert_eq!(crd["metadata"]["name"], format!("{plural}.work.karmada.io"));
        assert_eq!(crd["spec"]["scope"], scope);
        let names = &crd["spec"]["names"];
        assert_eq!(names["kind"], kind);
        assert_eq!(names["singular"], kind.to_lowercase());
        assert_eq!(names["shortNames"], json!([short]));
        assert_eq!(names["categories"], json!(["karmada-io"]));
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha2");
        assert_eq!(version["subresources"], json!({"status": {}}), "{kind}");
        assert_eq!(
            version["additionalPrinterColumns"],
            json!([
                {"name": "SCHEDULED", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Scheduled\")].status"},
                {"name": "FULLYAPPLIED", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"FullyApplied\")].status"},
                {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            ])
        );
        let schema = &version["schema"]["openAPIV3Schema"];
        assert_structural(schema);
        let spec = &schema["properties"]["spec"];
        assert_eq!(spec["required"], json!(["resource"]), "{kind}");
        let resource_required = &spec["properties"]["resource"]["required"];
        assert_eq!(
            resource_required,
            &json!(["apiVersion", "kind", "name"]),
            "{kind}"
        );
        let suspension = &spec["properties"]["suspension"]["properties"];
        assert!(
            suspension["dispatching"].is_object() && suspension["scheduling"].is_object(),
            "{kind}"
        );
        let raw = &schema["properties"]["status"]["properties"]["aggregatedStatus"]["items"]["properties"]
            ["status"];
        assert_eq!(raw["type"], "object", "{kind}");
        assert_eq!(raw["x-kubernetes-preserve-unknown-fields"], true, "{kind}");
    }
}

#[test]
fn bindings_round_trip_exactly() {
    let original = nginx_binding();
    let rb: ResourceBinding = serde_json::from_value(original.clone()).unwrap();
    assert_eq!(serde_json::to_value(&rb).unwrap(), original);

    let mut cluster_scoped = original;
    cluster_scoped["kind"] = json!("ClusterResourceBinding");
    let meta = cluster_scoped["metadata"].as_object_mut().unwrap();
    meta.remove("namespace");
    meta.insert(
        "labels".into(),
        json!({CLUSTER_RESOURCE_BINDING_PERMANENT_ID_LABEL: "id"}),
    );
    let crb: ClusterResourceBinding = serde_json::from_value(cluster_scoped.clone()).unwrap();
    assert_eq!(serde_json::to_value(&crb).unwrap(), cluster_scoped);
    assert_eq!(crb.spec.0, rb.spec, "both kinds share one spec");
}

#[test]
fn binding_fields_read_as_karmada_means_them() {
    let rb: ResourceBinding = serde_json::from_value(nginx_binding()).unwrap();
    assert!(rb.spec.targets("member2") && !rb.spec.targets("member3"));
    let placement = rb.spec.placement.as_ref().unwrap();
    assert_eq!(
        placement.replica_scheduling_type(),
        ReplicaSchedulingType::Divided
    );
    let task = &rb.spec.graceful_eviction_tasks[0];
    assert_eq!(
        (task.reason.as_str(), task.producer.as_str()),
        (
            EVICTION_REASON_TAINT_UNTOLERATED,
            EVICTION_PRODUCER_TAINT_MANAGER
        )
    );
    let suspension = rb.spec.suspension.as_ref().unwrap();
    assert_eq!(
        suspension
            .policy
            .dispatching_on_clusters
            .as_ref()
            .unwrap()
            .cluster_names,
        ["member2"]
    );
    assert_eq!(suspension.scheduling, Some(false));
    let status = rb.status.as_ref().unwrap();
    assert_eq!(
        status.condition(SCHEDULED_CONDITION).unwrap().status,
        "True"
    );
    assert_eq!(
        status.aggregated_status[1].health,
        Some(ResourceHealth::Unknown)
    );
}

#[test]
fn minimal_binding_serializes_without_invented_fields() {
    let rb = ResourceBinding::new(
        "web-deployment",
        ResourceBindingSpec {
            resource: ObjectReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("default".into()),
                name: "web".into(),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    assert_eq!(
        serde_json::to_value(&rb).unwrap(),
        json!({
            "apiVersion": "work.karmada.io/v1alpha2",
            "kind": "ResourceBinding",
            "metadata": {"name": "web-deployment"},
            "spec": {"resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "web"}},
        })
    );
}
