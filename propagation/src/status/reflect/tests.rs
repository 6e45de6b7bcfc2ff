//! Table tests of per-kind status reflection.

use super::*;
use serde_json::json;

fn reflect(member: &Value) -> Option<Value> {
    reflect_status(member).unwrap().map(Value::Object)
}

#[test]
fn reflection_table() {
    let cases = [
        (
            "deployment keeps replica counts and generation bookkeeping",
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "nginx", "generation": 3,
                             "annotations": {"resourcetemplate.karmada.io/generation": "5"}},
                "status": {"observedGeneration": 3, "replicas": 1, "updatedReplicas": 1,
                           "readyReplicas": 1, "availableReplicas": 1,
                           "conditions": [{"type": "Available", "status": "True"}]}
            }),
            Some(
                json!({"generation": 3, "resourceTemplateGeneration": 5, "observedGeneration": 3,
                        "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}),
            ),
        ),
        (
            "deployment with an empty status and no generation reports nothing",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "n"}, "status": {}}),
            None,
        ),
        (
            "object without status reports nothing",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "n", "generation": 1}}),
            None,
        ),
        (
            "replicaset always writes replicas",
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generation": 2},
                   "status": {"fullyLabeledReplicas": 0, "observedGeneration": 2}}),
            Some(json!({"generation": 2, "replicas": 0, "observedGeneration": 2})),
        ),
        (
            "statefulset keeps observedGeneration and required counts",
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                   "metadata": {"generation": 1, "annotations": {"resourcetemplate.karmada.io/generation": "1"}},
                   "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
                              "currentReplicas": 2, "updatedReplicas": 2, "currentRevision": "web-1"}}),
            Some(
                json!({"generation": 1, "resourceTemplateGeneration": 1, "replicas": 2,
                        "availableReplicas": 0, "observedGeneration": 1, "readyReplicas": 2,
                        "currentReplicas": 2, "updatedReplicas": 2}),
            ),
        ),
        (
            "daemonset number fields",
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 4},
                   "status": {"currentNumberScheduled": 3, "desiredNumberScheduled": 3, "numberReady": 2,
                              "numberAvailable": 2, "numberUnavailable": 1, "updatedNumberScheduled": 3,
                              "observedGeneration": 4}}),
            Some(
                json!({"generation": 4, "currentNumberScheduled": 3, "numberMisscheduled": 0,
                        "desiredNumberScheduled": 3, "numberReady": 2, "observedGeneration": 4,
                        "updatedNumberScheduled": 3, "numberAvailable": 2, "numberUnavailable": 1}),
            ),
        ),
        (
            "loadbalancer service keeps only loadBalancer",
            json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"},
                   "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]},
                              "conditions": [{"type": "x"}]}}),
            Some(json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}})),
        ),
        (
            "clusterip service reports nothing",
            json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"},
                   "status": {"loadBalancer": {}}}),
            None,
        ),
        (
            "job keeps counts, conditions and times",
            json!({"apiVersion": "batch/v1", "kind": "Job",
                   "status": {"active": 0, "succeeded": 1, "ready": 0, "startTime": "2026-01-01T00:00:00Z",
                              "completionTime": "2026-01-01T00:01:00Z",
                              "conditions": [{"type": "Complete", "status": "True"}],
                              "uncountedTerminatedPods": {}}}),
            Some(json!({"succeeded": 1, "startTime": "2026-01-01T00:00:00Z",
                        "completionTime": "2026-01-01T00:01:00Z",
                        "conditions": [{"type": "Complete", "status": "True"}]})),
        ),
        (
            "pdb counts and disrupted pods",
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                   "status": {"currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2,
                              "disruptionsAllowed": 1, "observedGeneration": 1,
                              "disruptedPods": {"p": "2026-01-01T00:00:00Z"}}}),
            Some(
                json!({"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1,
                        "expectedPods": 2, "disruptedPods": {"p": "2026-01-01T00:00:00Z"}}),
            ),
        ),
        (
            "hpa replicas only",
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                   "status": {"currentReplicas": 2, "desiredReplicas": 3, "lastScaleTime": "2026-01-01T00:00:00Z"}}),
            Some(json!({"currentReplicas": 2, "desiredReplicas": 3})),
        ),
        (
            "ingress keeps its whole status",
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                   "status": {"loadBalancer": {"ingress": [{"hostname": "a.example"}]}}}),
            Some(json!({"loadBalancer": {"ingress": [{"hostname": "a.example"}]}})),
        ),
        (
            "pod keeps its whole status",
            json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running", "podIP": "10.1.0.4"}}),
            Some(json!({"phase": "Running", "podIP": "10.1.0.4"})),
        ),
        (
            "custom resource keeps its whole status",
            json!({"apiVersion": "example.io/v1", "kind": "Widget", "status": {"ready": true}}),
            Some(json!({"ready": true})),
        ),
    ];
    for (name, member, want) in cases {
        assert_eq!(reflect(&member), want, "{name}");
    }
}

#[test]
fn malformed_members_are_errors_a_user_can_fix() {
    let bad_annotation = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"generation": 1, "annotations": {"resourcetemplate.karmada.io/generation": "five"}},
        "status": {"replicas": 1}
    });
    let err = reflect_status(&bad_annotation).unwrap_err();
    assert_eq!(
        err,
        Error::TemplateGeneration {
            value: "five".into()
        }
    );
    assert!(
        err.to_string()
            .contains("resourcetemplate.karmada.io/generation")
    );

    let bad_count =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "status": {"replicas": "one"}});
    let err = reflect_status(&bad_count).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field status.replicas must be an integer, found \"one\""
    );

    let bad_status = json!({"apiVersion": "v1", "kind": "ConfigMap", "status": "x"});
    assert!(reflect_status(&bad_status).is_err());
}

#[test]
fn manifest_status_identifies_reflects_and_judges() {
    let member = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "generation": 1,
                     "annotations": {"resourcetemplate.karmada.io/generation": "1"}},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                   "availableReplicas": 1}
    });
    let got = manifest_status(&member, 0, "deployments").unwrap();
    let want: ManifestStatus = serde_json::from_value(json!({
        "identifier": {"ordinal": 0, "group": "apps", "version": "v1", "kind": "Deployment",
                       "resource": "deployments", "namespace": "default", "name": "nginx"},
        "status": {"generation": 1, "resourceTemplateGeneration": 1, "observedGeneration": 1, "replicas": 1,
                   "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1},
        "health": "Healthy"
    }))
    .unwrap();
    assert_eq!(got, want);

    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let got = manifest_status(&config_map, 2, "configmaps").unwrap();
    assert_eq!(
        (
            got.identifier.group.as_str(),
            got.identifier.version.as_str()
        ),
        ("", "v1")
    );
    assert_eq!(got.status, None);
    assert_eq!(
        got.health,
        Some(karmada_api::work::work::ResourceHealth::Healthy)
    );
}
