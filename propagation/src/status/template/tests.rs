//! Table tests of template status aggregation per kind.

use super::*;

fn now() -> Time {
    serde_json::from_value(json!("2026-03-01T10:00:00Z")).unwrap()
}

fn item(cluster: &str, status: Option<Value>) -> AggregatedStatusItem {
    AggregatedStatusItem {
        cluster_name: cluster.into(),
        status,
        applied: Some(true),
        ..Default::default()
    }
}

fn aggregate(template: &Value, items: &[AggregatedStatusItem]) -> Option<Value> {
    aggregate_template_status(template, items, &now()).unwrap()
}

fn deployment(generation: i64, status: &Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "nginx", "namespace": "default", "generation": generation},
           "spec": {"replicas": 2}, "status": status})
}

/// A member Deployment's reflected status at member generation 1, rendered from template
/// generation `template_generation`, with `n` of 1 replicas ready.
fn member_deploy(template_generation: i64, observed: i64, ready: i64) -> Value {
    json!({"generation": 1, "resourceTemplateGeneration": template_generation,
           "observedGeneration": observed, "replicas": 1, "updatedReplicas": 1,
           "readyReplicas": ready, "availableReplicas": ready, "unavailableReplicas": 1 - ready})
}

#[test]
fn deployment_sums_and_generation_table() {
    let old =
        json!({"observedGeneration": 1, "conditions": [{"type": "Available", "status": "True"}]});
    let cases = [
        (
            "two members 1/1 give READY 2/2 and the current generation",
            vec![
                item("m1", Some(member_deploy(2, 1, 1))),
                item("m2", Some(member_deploy(2, 1, 1))),
            ],
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2,
                   "availableReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}),
        ),
        (
            "one member still runs the previous template: observedGeneration stays",
            vec![
                item("m1", Some(member_deploy(2, 1, 1))),
                item("m2", Some(member_deploy(1, 1, 0))),
            ],
            json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 1,
                   "availableReplicas": 1, "unavailableReplicas": 1,
                   "conditions": [{"type": "Available", "status": "True"}]}),
        ),
        (
            "one member has not observed its own spec: observedGeneration stays",
            vec![
                item("m1", Some(member_deploy(2, 1, 1))),
                item(
                    "m2",
                    Some(
                        json!({"generation": 2, "resourceTemplateGeneration": 2, "observedGeneration": 1, "replicas": 1}),
                    ),
                ),
            ],
            json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 1,
                   "availableReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]}),
        ),
        (
            "a cluster without reported status holds the generation back",
            vec![item("m1", Some(member_deploy(2, 1, 1))), item("m2", None)],
            json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                   "availableReplicas": 1, "conditions": [{"type": "Available", "status": "True"}]}),
        ),
    ];
    for (name, items, want) in cases {
        assert_eq!(
            aggregate(&deployment(2, &old), &items),
            Some(want),
            "{name}"
        );
    }
}

#[test]
fn replicated_workloads_table() {
    let cases = [
        (
            "replicaset",
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"generation": 1}}),
            vec![
                json!({"generation": 1, "resourceTemplateGeneration": 1, "observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 1}),
                json!({"generation": 1, "resourceTemplateGeneration": 1, "observedGeneration": 1, "replicas": 0}),
            ],
            json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 1}),
        ),
        (
            "statefulset",
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 3},
                   "status": {"observedGeneration": 2, "currentRevision": "web-7"}}),
            vec![
                json!({"generation": 2, "resourceTemplateGeneration": 3, "observedGeneration": 2, "replicas": 2, "readyReplicas": 2,
                        "currentReplicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
                json!({"generation": 1, "resourceTemplateGeneration": 3, "observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                        "currentReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1}),
            ],
            json!({"observedGeneration": 3, "currentRevision": "web-7", "replicas": 3, "readyReplicas": 3,
                   "currentReplicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
        ),
        (
            "daemonset",
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 1}}),
            vec![
                json!({"generation": 1, "resourceTemplateGeneration": 1, "observedGeneration": 1, "currentNumberScheduled": 2,
                        "numberMisscheduled": 0, "desiredNumberScheduled": 2, "numberReady": 2, "updatedNumberScheduled": 2,
                        "numberAvailable": 2}),
                json!({"generation": 1, "resourceTemplateGeneration": 1, "observedGeneration": 1, "currentNumberScheduled": 3,
                        "numberMisscheduled": 0, "desiredNumberScheduled": 3, "numberReady": 1, "updatedNumberScheduled": 3,
                        "numberAvailable": 1, "numberUnavailable": 2}),
            ],
            json!({"observedGeneration": 1, "currentNumberScheduled": 5, "numberMisscheduled": 0, "desiredNumberScheduled": 5,
                   "numberReady": 3, "updatedNumberScheduled": 5, "numberAvailable": 3, "numberUnavailable": 2}),
        ),
    ];
    for (name, template, members, want) in cases {
        let items: Vec<_> = members
            .into_iter()
            .enumerate()
            .map(|(i, s)| item(&format!("m{i}"), Some(s)))
            .collect();
        assert_eq!(aggregate(&template, &items), Some(want), "{name}");
    }
}

fn job(status: &Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generation": 1}, "status": status})
}

fn complete(start: &str, end: &str) -> Value {
    json!({"succeeded": 1, "startTime": start, "completionTime": end,
           "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]})
}

#[test]
fn job_table() {
    let stamp = "2026-03-01T10:00:00Z";
    let cases = [
        (
            "running in both: counts summed, earliest start",
            job(&json!({})),
            vec![
                json!({"active": 1, "startTime": "2026-01-01T00:00:05Z"}),
                json!({"active": 2, "startTime": "2026-01-01T00:00:01Z"}),
            ],
            Some(json!({"active": 3, "startTime": "2026-01-01T00:00:01Z"})),
        ),
        (
            "complete everywhere: Complete and SuccessCriteriaMet, latest completion",
            job(&json!({"startTime": "2026-01-01T00:00:00Z", "active": 2})),
            vec![
                complete("2026-01-01T00:00:01Z", "2026-01-01T00:01:00Z"),
                complete("2026-01-01T00:00:02Z", "2026-01-01T00:02:00Z"),
            ],
            Some(
                json!({"succeeded": 2, "startTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:02:00Z",
                        "conditions": [
                            {"type": "Complete", "status": "True", "reason": "Completed", "message": "Job completed",
                             "lastProbeTime": stamp, "lastTransitionTime": stamp},
                            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                             "message": "All member clusters have met success criteria",
                             "lastProbeTime": stamp, "lastTransitionTime": stamp}]}),
            ),
        ),
        (
            "one failed: Failed names it, not complete, no completion time",
            job(&json!({})),
            vec![
                complete("2026-01-01T00:00:01Z", "2026-01-01T00:01:00Z"),
                json!({"failed": 6, "startTime": "2026-01-01T00:00:02Z",
                        "conditions": [{"type": "Failed", "status": "True"}]}),
            ],
            Some(
                json!({"succeeded": 1, "failed": 6, "startTime": "2026-01-01T00:00:01Z",
                        "conditions": [{"type": "Failed", "status": "True", "reason": "JobFailed",
                                        "message": "Job executed failed in member clusters m1",
                                        "lastProbeTime": stamp, "lastTransitionTime": stamp}]}),
            ),
        ),
        (
            "already finished template is left alone",
            job(&json!({"conditions": [{"type": "Complete", "status": "True"}]})),
            vec![json!({"active": 1})],
            None,
        ),
    ];
    for (name, template, members, want) in cases {
        let items: Vec<_> = members
            .into_iter()
            .enumerate()
            .map(|(i, s)| item(&format!("m{i}"), Some(s)))
            .collect();
        assert_eq!(aggregate(&template, &items), want, "{name}");
    }
}

#[test]
fn job_conditions_keep_their_times_and_wait_for_unreported_members() {
    let members = vec![
        item(
            "m0",
            Some(complete("2026-01-01T00:00:01Z", "2026-01-01T00:01:00Z")),
        ),
        item(
            "m1",
            Some(complete("2026-01-01T00:00:01Z", "2026-01-01T00:01:00Z")),
        ),
    ];
    let first = aggregate(&job(&json!({})), &members).unwrap();
    // Aggregating a later time over the same (not yet finished) template gives the same result.
    let template = job(&json!({"active": 1}));
    let mut with_old_conditions = template.clone();
    with_old_conditions["status"]["conditions"] = json!([
        {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": "2026-02-01T00:00:00Z",
         "lastTransitionTime": "2026-02-01T00:00:00Z"}]);
    let again = aggregate_template_status(&with_old_conditions, &members, &now())
        .unwrap()
        .unwrap();
    assert_eq!(
        again["conditions"][1]["lastTransitionTime"],
        "2026-02-01T00:00:00Z"
    );
    assert_eq!(
        first["conditions"][0]["lastTransitionTime"],
        "2026-03-01T10:00:00Z"
    );

    let partial = vec![members[0].clone(), item("m1", None)];
    let got = aggregate(&template, &partial).unwrap();
    assert_eq!(got.get("conditions"), None);
    assert_eq!(got.get("startTime"), None);
    assert_eq!(got.get("completionTime"), None);
}

#[test]
fn load_balancer_addresses_are_merged() {
    let lb = |ingress: Value| json!({"loadBalancer": {"ingress": ingress}});
    let items = vec![
        item(
            "m0",
            Some(lb(
                json!([{"ip": "10.0.0.2", "ports": [{"port": 80, "protocol": "TCP"}]},
                                  {"hostname": "b.example"}]),
            )),
        ),
        item(
            "m1",
            Some(lb(
                json!([{"ip": "10.0.0.2", "ports": [{"port": 443, "protocol": "TCP"}, {"port": 80, "protocol": "TCP"}]},
                                  {"ip": "10.0.0.1"}, {"hostname": "a.example"}]),
            )),
        ),
        item("m2", None),
    ];
    let want = json!({"loadBalancer": {"ingress": [
        {"hostname": "a.example"}, {"hostname": "b.example"}, {"ip": "10.0.0.1"},
        {"ip": "10.0.0.2", "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}]}});
    let service = json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {}});
    assert_eq!(aggregate(&service, &items), Some(want.clone()));
    let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"});
    assert_eq!(aggregate(&ingress, &items), Some(want));
    let cluster_ip = json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": "ClusterIP"}});
    assert_eq!(aggregate(&cluster_ip, &items), None);
    assert_eq!(aggregate(&service, &[]), Some(json!({"loadBalancer": {}})));
}

#[test]
fn phase_kinds_table() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod"});
    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume"});
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim"});
    let phase = |p: &str| Some(json!({"phase": p}));
    let cases = [
        (
            "pod running everywhere",
            pod.clone(),
            vec![phase("Running"), phase("Running")],
            Some(json!({"phase": "Running"})),
        ),
        (
            "pod pending wins over running",
            pod.clone(),
            vec![phase("Running"), phase("Pending")],
            Some(json!({"phase": "Pending"})),
        ),
        (
            "pod without status counts as pending",
            pod.clone(),
            vec![phase("Succeeded"), None],
            Some(json!({"phase": "Pending"})),
        ),
        (
            "pod failed wins",
            pod.clone(),
            vec![phase("Pending"), phase("Failed")],
            Some(json!({"phase": "Failed"})),
        ),
        (
            "pod succeeded everywhere",
            pod.clone(),
            vec![phase("Succeeded")],
            Some(json!({"phase": "Succeeded"})),
        ),
        ("pod without members is left alone", pod, vec![], None),
        (
            "pv available over bound",
            pv.clone(),
            vec![phase("Bound"), phase("Available")],
            Some(json!({"phase": "Available"})),
        ),
        (
            "pv without status counts as pending",
            pv,
            vec![phase("Bound"), None],
            Some(json!({"phase": "Pending"})),
        ),
        (
            "pvc bound everywhere",
            pvc.clone(),
            vec![phase("Bound"), phase("Bound")],
            Some(json!({"phase": "Bound"})),
        ),
        (
            "pvc pending somewhere",
            pvc.clone(),
            vec![phase("Bound"), phase("Pending")],
            Some(json!({"phase": "Pending"})),
        ),
        (
            "pvc lost wins",
            pvc.clone(),
            vec![phase("Lost"), phase("Pending")],
            Some(json!({"phase": "Lost"})),
        ),
        (
            "pvc with no members is bound",
            pvc,
            vec![],
            Some(json!({"phase": "Bound"})),
        ),
    ];
    for (name, template, statuses, want) in cases {
        let items: Vec<_> = statuses
            .into_iter()
            .enumerate()
            .map(|(i, s)| item(&format!("m{i}"), s))
            .collect();
        assert_eq!(aggregate(&template, &items), want, "{name}");
    }
}

#[test]
fn pod_containers_are_collected() {
    let pod =
        json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Pending", "podIP": "x"}});
    let member = json!({"phase": "Running", "podIP": "10.0.0.3",
                        "containerStatuses": [{"name": "nginx", "ready": true, "restartCount": 0,
                                               "image": "nginx:1.27", "imageID": "sha", "containerID": "c",
                                               "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]});
    let got = aggregate(&pod, &[item("m0", Some(member))]).unwrap();
    assert_eq!(
        got,
        json!({"phase": "Running", "containerStatuses": [
        {"name": "nginx", "ready": true, "restartCount": 0, "image": "nginx:1.27", "imageID": "sha",
         "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]})
    );
}

#[test]
fn counted_kinds_table() {
    let cases = [
        (
            "pdb",
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "status": {"observedGeneration": 1}}),
            vec![
                json!({"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1, "expectedPods": 2,
                        "disruptedPods": {"web-0": "2026-01-01T00:00:00Z"}}),
                json!({"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}),
            ],
            json!({"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3,
                   "disruptedPods": {"m0/web-0": "2026-01-01T00:00:00Z"}}),
        ),
        (
            "hpa",
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler"}),
            vec![
                json!({"currentReplicas": 2, "desiredReplicas": 3}),
                json!({"desiredReplicas": 1}),
            ],
            json!({"currentReplicas": 2, "desiredReplicas": 4}),
        ),
        (
            "cronjob",
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "status": {"lastScheduleTime": "2025-01-01T00:00:00Z"}}),
            vec![
                json!({"active": [{"kind": "Job", "name": "a-1"}], "lastScheduleTime": "2026-01-01T00:05:00Z",
                        "lastSuccessfulTime": "2026-01-01T00:00:00Z"}),
                json!({"active": [{"kind": "Job", "name": "a-2"}], "lastScheduleTime": "2026-01-01T00:01:00Z"}),
            ],
            json!({"active": [{"kind": "Job", "name": "a-1"}, {"kind": "Job", "name": "a-2"}],
                   "lastScheduleTime": "2026-01-01T00:05:00Z", "lastSuccessfulTime": "2026-01-01T00:00:00Z"}),
        ),
    ];
    for (name, template, members, want) in cases {
        let items: Vec<_> = members
            .into_iter()
            .enumerate()
            .map(|(i, s)| item(&format!("m{i}"), Some(s)))
            .collect();
        assert_eq!(aggregate(&template, &items), Some(want), "{name}");
    }
}

#[test]
fn kinds_without_a_rule_keep_their_status() {
    let items = [item("m0", Some(json!({"ready": true})))];
    for template in [
        json!({"apiVersion": "v1", "kind": "ConfigMap"}),
        json!({"apiVersion": "example.io/v1", "kind": "Widget", "status": {"ready": false}}),
        json!({"apiVersion": "extensions/v1beta1", "kind": "Deployment"}),
    ] {
        assert_eq!(aggregate(&template, &items), None, "{template}");
    }
}

#[test]
fn malformed_member_status_names_the_cluster() {
    let template = deployment(1, &json!({}));
    let err = aggregate_template_status(
        &template,
        &[item("member2", Some(json!({"replicas": "two"})))],
        &now(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "status reported by cluster member2: field replicas must be an integer, found \"two\""
    );
    let err = aggregate_template_status(&template, &[item("member3", Some(json!([1])))], &now())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("status reported by cluster member3: field status must be an object")
    );
}
