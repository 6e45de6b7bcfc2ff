//! Table tests for the filters, the score and the unschedulable message.

use super::*;
use k8s_openapi::api::core::v1::Node;
use serde_json::{Value, json};

fn node(name: &str, extra: Value) -> NodeInfo {
    let mut value = json!({"metadata": {"name": name},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}]}});
    merge(&mut value, extra);
    let n: Node = serde_json::from_value(value).expect("node");
    NodeInfo::new(&n).expect("node info")
}

fn pod(spec: &Value) -> Pod {
    let mut value = json!({"metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}});
    merge(&mut value, json!({ "spec": spec.clone() }));
    serde_json::from_value(value).expect("pod")
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v,
    }
}

fn check(pod: &Pod, node: &NodeInfo) -> Result<(), Vec<String>> {
    let demand = Demand::of(pod).expect("demand");
    filter(pod, &demand, node).map_err(|r| r.iter().map(ToString::to_string).collect())
}

fn place(node: &mut NodeInfo, pod: &Pod, times: usize) {
    let demand = Demand::of(pod).expect("demand");
    for _ in 0..times {
        node.usage.add(&demand);
    }
}

#[test]
fn each_filter_accepts_and_rejects() {
    let affinity = |op: &str, values: Value| {
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "size", "operator": op, "values": values}]}]}}}})
    };
    let labelled = json!({"metadata": {"labels": {"zone": "a", "size": "8"}}});
    let taint = |effect: &str| json!({"spec": {"taints": [{"key": "gpu", "value": "yes", "effect": effect}]}});
    let untolerated = || Err(vec!["node(s) had untolerated taint {gpu: yes}".to_string()]);
    let mismatch = || {
        Err(vec![
            "node(s) didn't match Pod's node affinity/selector".to_string(),
        ])
    };
    type Case = (&'static str, Value, Value, Result<(), Vec<String>>);
    let cases: Vec<Case> = vec![
        ("plain fit", json!({}), json!({}), Ok(())),
        (
            "cordoned",
            json!({"spec": {"unschedulable": true}}),
            json!({}),
            Err(vec!["node(s) were unschedulable".into()]),
        ),
        (
            "cordon tolerated",
            json!({"spec": {"unschedulable": true}}),
            json!({"tolerations": [{"key": UNSCHEDULABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"}]}),
            Ok(()),
        ),
        (
            "not ready",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
            json!({}),
            Err(vec![
                "node(s) had untolerated taint {node.kubernetes.io/not-ready: }".into(),
            ]),
        ),
        (
            "NoSchedule taint",
            taint("NoSchedule"),
            json!({}),
            untolerated(),
        ),
        (
            "NoExecute taint",
            taint("NoExecute"),
            json!({}),
            untolerated(),
        ),
        (
            "PreferNoSchedule is soft",
            taint("PreferNoSchedule"),
            json!({}),
            Ok(()),
        ),
        (
            "Equal toleration",
            taint("NoSchedule"),
            json!({"tolerations": [{"key": "gpu", "operator": "Equal", "value": "yes"}]}),
            Ok(()),
        ),
        (
            "Equal toleration, other value",
            taint("NoSchedule"),
            json!({"tolerations": [{"key": "gpu", "value": "no"}]}),
            untolerated(),
        ),
        (
            "toleration for another effect",
            taint("NoSchedule"),
            json!({"tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoExecute"}]}),
            untolerated(),
        ),
        (
            "empty key Exists tolerates all",
            taint("NoExecute"),
            json!({"tolerations": [{"operator": "Exists"}]}),
            Ok(()),
        ),
        (
            "nodeSelector matches",
            labelled.clone(),
            json!({"nodeSelector": {"zone": "a"}}),
            Ok(()),
        ),
        (
            "nodeSelector misses",
            labelled.clone(),
            json!({"nodeSelector": {"zone": "b"}}),
            mismatch(),
        ),
        (
            "In",
            labelled.clone(),
            affinity("In", json!(["4", "8"])),
            Ok(()),
        ),
        (
            "In misses",
            labelled.clone(),
            affinity("In", json!(["4"])),
            mismatch(),
        ),
        (
            "NotIn",
            labelled.clone(),
            affinity("NotIn", json!(["4"])),
            Ok(()),
        ),
        (
            "NotIn misses",
            labelled.clone(),
            affinity("NotIn", json!(["8"])),
            mismatch(),
        ),
        (
            "NotIn on absent label",
            json!({}),
            affinity("NotIn", json!(["8"])),
            Ok(()),
        ),
        (
            "Exists",
            labelled.clone(),
            affinity("Exists", json!([])),
            Ok(()),
        ),
        (
            "Exists misses",
            json!({}),
            affinity("Exists", json!([])),
            mismatch(),
        ),
        (
            "DoesNotExist",
            json!({}),
            affinity("DoesNotExist", json!([])),
            Ok(()),
        ),
        (
            "DoesNotExist misses",
            labelled.clone(),
            affinity("DoesNotExist", json!([])),
            mismatch(),
        ),
        ("Gt", labelled.clone(), affinity("Gt", json!(["4"])), Ok(())),
        (
            "Gt misses",
            labelled.clone(),
            affinity("Gt", json!(["8"])),
            mismatch(),
        ),
        (
            "Lt",
            labelled.clone(),
            affinity("Lt", json!(["16"])),
            Ok(()),
        ),
        (
            "Lt with a non-number",
            labelled.clone(),
            affinity("Lt", json!(["big"])),
            mismatch(),
        ),
        (
            "matchFields name",
            json!({}),
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}}),
            Ok(()),
        ),
        (
            "matchFields other name",
            json!({}),
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]}}}}),
            mismatch(),
        ),
        (
            "terms are ORed",
            labelled,
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
                                  {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}}}),
            Ok(()),
        ),
        (
            "too much cpu",
            json!({}),
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "5"}}}]}),
            Err(vec!["Insufficient cpu".into()]),
        ),
        (
            "every short resource is reported",
            json!({}),
            json!({"containers": [{"name": "c", "resources": {"requests": {
            "cpu": "5", "memory": "9Gi", "example.com/gpu": "1"}}}]}),
            Err(vec![
                "Insufficient cpu".into(),
                "Insufficient memory".into(),
                "Insufficient example.com/gpu".into(),
            ]),
        ),
        (
            "extended resource present",
            json!({"status": {"allocatable": {"example.com/gpu": "2"}}}),
            json!({"containers": [{"name": "c", "resources": {"limits": {"example.com/gpu": "2"}}}]}),
            Ok(()),
        ),
        (
            "no pod slots",
            json!({"status": {"allocatable": {"pods": "0"}}}),
            json!({}),
            Err(vec!["Too many pods".into()]),
        ),
        (
            "first failing filter wins",
            json!({"spec": {"unschedulable": true, "taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]}}),
            json!({"nodeSelector": {"zone": "b"}}),
            Err(vec!["node(s) were unschedulable".into()]),
        ),
    ];
    for (name, node_extra, pod_spec, want) in cases {
        assert_eq!(
            check(&pod(&pod_spec), &node("n1", node_extra)),
            want,
            "{name}"
        );
    }
}

#[test]
fn used_capacity_and_ports_count() {
    let one_cpu = pod(&json!({}));
    let mut n = node("n1", json!({}));
    place(&mut n, &one_cpu, 4);
    assert_eq!(
        check(&one_cpu, &n),
        Err(vec!["Insufficient cpu".to_string()])
    );

    let web = pod(
        &json!({"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 80}]}]}),
    );
    let mut n = node("n1", json!({}));
    assert_eq!(check(&web, &n), Ok(()));
    place(&mut n, &web, 1);
    assert_eq!(
        check(&web, &n),
        Err(vec![
            "node(s) didn't have free ports for the requested pod ports".to_string()
        ])
    );

    let mut n = node("n1", json!({"status": {"allocatable": {"pods": "2"}}}));
    place(&mut n, &pod(&json!({"containers": [{"name": "c"}]})), 2);
    assert_eq!(
        check(&pod(&json!({})), &n),
        Err(vec!["Too many pods".to_string()])
    );
}

#[test]
fn messages_count_nodes_and_sort_like_upstream() {
    let full = {
        let mut n = node("a", json!({}));
        place(&mut n, &pod(&json!({})), 4);
        n
    };
    let nodes = [
        full.clone(),
        node("b", json!({"spec": {"unschedulable": true}})),
        {
            let mut n = full.clone();
            n.name = "c".into();
            n
        },
    ];
    let p = pod(&json!({}));
    let err = schedule(&p, &Demand::of(&p).expect("demand"), &nodes).expect_err("no fit");
    assert_eq!(
        err.to_string(),
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."
    );
    let three = [full.clone(), full.clone(), full];
    let err = schedule(&p, &Demand::of(&p).expect("demand"), &three).expect_err("no fit");
    assert_eq!(
        err.to_string(),
        "0/3 nodes are available: 3 Insufficient cpu."
    );
    let err = schedule(&p, &Demand::of(&p).expect("demand"), &[]).expect_err("no nodes");
    assert_eq!(err.to_string(), "no nodes available to schedule pods");
    // Upstream sorts "count reason" strings, so "10 ..." sorts before "2 ...".
    let mut reasons = HashMap::new();
    reasons.insert(Reason::TooManyPods, 10);
    reasons.insert(Reason::Insufficient("cpu".into()), 2);
    let msg = FitError { nodes: 12, reasons }.to_string();
    assert_eq!(
        msg,
        "0/12 nodes are available: 10 Too many pods, 2 Insufficient cpu."
    );
}

#[test]
fn spreads_to_the_least_allocated_node_then_by_name() {
    let p = pod(&json!({}));
    let demand = Demand::of(&p).expect("demand");
    let mut nodes = vec![
        node("a", json!({})),
        node("b", json!({})),
        node("c", json!({})),
    ];
    let mut chosen = Vec::new();
    for _ in 0..6 {
        let name = schedule(&p, &demand, &nodes).expect("fits").name.clone();
        let slot = nodes.iter_mut().find(|n| n.name == name).expect("node");
        slot.usage.add(&demand);
        chosen.push(name);
    }
    assert_eq!(chosen, ["a", "b", "c", "a", "b", "c"]);
    // A bigger node keeps more free and wins while it does.
    let big = node(
        "z",
        json!({"status": {"allocatable": {"cpu": "16", "memory": "32Gi"}}}),
    );
    let small = node("a", json!({}));
    assert_eq!(
        schedule(&p, &demand, [&small, &big]).expect("fits").name,
        "z"
    );
    assert!(score(&demand, &big) > score(&demand, &small));
}
