//! Table tests of the DaemonSet placement decisions.

use super::*;
use serde_json::json;

fn node(name: &str, extra: serde_json::Value) -> Node {
    let Ok(extra) = serde_json::from_value::<serde_json::Map<String, serde_json::Value>>(extra)
    else {
        panic!("node overrides must be an object");
    };
    let mut value = json!({"metadata": {"name": name, "labels": {"disk": "ssd"}},
        "spec": {},
        "status": {"allocatable": {"cpu": "1", "pods": "1"},
            "conditions": [{"type": "Ready", "status": "True"}]}});
    for (k, v) in extra {
        value[k.as_str()] = v;
    }
    serde_json::from_value(value).expect("node")
}

fn template(spec: serde_json::Value) -> PodTemplateSpec {
    let mut spec = spec;
    spec["containers"] = json!([{"name": "c", "image": "agent",
        "resources": {"requests": {"cpu": "4"}}}]);
    with_default_tolerations(
        &serde_json::from_value(json!({"metadata": {"labels": {"app": "agent"}}, "spec": spec}))
            .expect("template"),
    )
}

#[test]
fn eligibility_follows_the_node_filters_but_not_resources() {
    let taint = |effect: &str| json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": effect}]}});
    let cases = [
        ("plain node, pod too big for it", json!({}), json!({}), true),
        (
            "cordoned (tolerated by default)",
            json!({"spec": {"unschedulable": true}}),
            json!({}),
            true,
        ),
        (
            "not ready",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
            json!({}),
            false,
        ),
        ("NoSchedule taint", taint("NoSchedule"), json!({}), false),
        ("NoExecute taint", taint("NoExecute"), json!({}), false),
        (
            "PreferNoSchedule taint",
            taint("PreferNoSchedule"),
            json!({}),
            true,
        ),
        (
            "tolerated taint",
            taint("NoSchedule"),
            json!({"tolerations": [{"key": "dedicated", "operator": "Exists"}]}),
            true,
        ),
        (
            "matching nodeSelector",
            json!({}),
            json!({"nodeSelector": {"disk": "ssd"}}),
            true,
        ),
        (
            "other nodeSelector",
            json!({}),
            json!({"nodeSelector": {"disk": "hdd"}}),
            false,
        ),
        (
            "required affinity",
            json!({}),
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]}]}}}}),
            false,
        ),
    ];
    for (why, node_extra, spec, want) in cases {
        let fits = fits(&template(spec), [&node("n1", node_extra)]);
        assert_eq!(fits["n1"].run, want, "{why}");
    }
}

#[test]
fn pods_are_pinned_to_their_node() {
    let t = pod_for_node(&template(json!({})), "n2");
    let pod = Pod {
        metadata: Default::default(),
        spec: t.spec,
        status: None,
    };
    assert_eq!(target_node(&pod).as_deref(), Some("n2"));
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_ref())
        .map(Vec::len);
    assert_eq!(tolerations, Some(DEFAULT_TOLERATIONS.len()));
}

#[test]
fn max_unavailable_scales() {
    let cases = [
        (None, 10, 1),
        (Some(IntOrString::Int(3)), 10, 3),
        (Some(IntOrString::Int(0)), 10, 1),
        (Some(IntOrString::String("25%".into())), 10, 3),
        (Some(IntOrString::String("10%".into())), 3, 1),
    ];
    for (value, desired, want) in cases {
        assert_eq!(max_unavailable(value.as_ref(), desired), want, "{value:?}");
    }
}

/// A daemon pod: `state` is "ready", "pending" (bound, not ready), "unbound" or "failed".
fn pod(name: &str, node: &str, hash: &str, state: &str) -> Pod {
    let mut spec = pod_for_node(&template(json!({})), node).spec.expect("spec");
    if state != "unbound" {
        spec.node_name = Some(node.into());
    }
    let (phase, ready) = match state {
        "ready" => ("Running", "True"),
        "failed" => ("Failed", "False"),
        _ => ("Pending", "False"),
    };
    let mut value = json!({"metadata": {"name": name, "labels": {REVISION_LABEL: hash}},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]}});
    value["spec"] = serde_json::to_value(spec).expect("spec");
    serde_json::from_value(value).expect("pod")
}

fn nodes(list: &[(&str, bool)]) -> BTreeMap<String, Fit> {
    let fit = |run| Fit { run, keep: run };
    list.iter()
        .map(|(n, e)| ((*n).to_owned(), fit(*e)))
        .collect()
}

#[test]
fn plans() {
    let three = nodes(&[("a", true), ("b", true), ("c", true)]);
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    // (why, nodes, pods, rolling max unavailable, creates, deletes)
    let cases = [
        (
            "one pod per eligible node",
            nodes(&[("a", true), ("b", false), ("c", true)]),
            vec![],
            None,
            s(&["a", "c"]),
            s(&[]),
        ),
        (
            "pods leave ineligible nodes",
            nodes(&[("a", true), ("b", false)]),
            vec![
                pod("p1", "a", "new", "ready"),
                pod("p2", "b", "new", "ready"),
            ],
            None,
            s(&[]),
            s(&["p2"]),
        ),
        (
            "pods of vanished nodes go",
            nodes(&[("a", true)]),
            vec![
                pod("p1", "a", "new", "ready"),
                pod("p2", "gone", "new", "unbound"),
            ],
            None,
            s(&[]),
            s(&["p2"]),
        ),
        (
            "extra pods on a node go, the updated one stays",
            nodes(&[("a", true)]),
            vec![
                pod("p1", "a", "old", "ready"),
                pod("p2", "a", "new", "ready"),
            ],
            None,
            s(&[]),
            s(&["p1"]),
        ),
        (
            "failed pods are replaced",
            nodes(&[("a", true)]),
            vec![pod("p1", "a", "new", "failed")],
            None,
            s(&["a"]),
            s(&["p1"]),
        ),
        (
            "rolling update replaces one ready pod at a time",
            three.clone(),
            vec![
                pod("p1", "a", "old", "ready"),
                pod("p2", "b", "old", "ready"),
                pod("p3", "c", "old", "ready"),
            ],
            Some(1),
            s(&[]),
            s(&["p1"]),
        ),
        (
            "rolling update waits while a node is unavailable",
            three.clone(),
            vec![
                pod("p2", "b", "old", "ready"),
                pod("p3", "c", "old", "ready"),
            ],
            Some(1),
            s(&["a"]),
            s(&[]),
        ),
        (
            "outdated unready pods are replaced regardless",
            three.clone(),
            vec![
                pod("p1", "a", "new", "pending"),
                pod("p2", "b", "old", "pending"),
                pod("p3", "c", "old", "ready"),
            ],
            Some(1),
            s(&[]),
            s(&["p2"]),
        ),
        (
            "maxUnavailable 2 replaces two",
            three.clone(),
            vec![
                pod("p1", "a", "old", "ready"),
                pod("p2", "b", "old", "ready"),
                pod("p3", "c", "old", "ready"),
            ],
            Some(2),
            s(&[]),
            s(&["p1", "p2"]),
        ),
        (
            "on delete leaves outdated pods",
            three,
            vec![
                pod("p1", "a", "old", "ready"),
                pod("p2", "b", "old", "ready"),
                pod("p3", "c", "old", "ready"),
            ],
            None,
            s(&[]),
            s(&[]),
        ),
    ];
    for (why, eligible, pods, rolling, create, delete) in cases {
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(
            plan(&eligible, &refs, "new", rolling),
            Plan { create, delete },
            "{why}"
        );
    }
}

#[test]
fn cordoned_or_no_schedule_nodes_keep_their_daemons() {
    let taint = json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}});
    let evict = json!({"spec": {"taints": [{"key": "k", "effect": "NoExecute"}]}});
    let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    let t = template(json!({}));
    let one = |extra| fits(&t, [&node("a", extra)])["a"];
    assert_eq!(
        one(taint),
        Fit {
            run: false,
            keep: true
        }
    );
    assert_eq!(
        one(not_ready),
        Fit {
            run: false,
            keep: true
        }
    );
    assert_eq!(
        one(evict),
        Fit {
            run: false,
            keep: false
        }
    );
    let mut map = nodes(&[("a", true)]);
    map.insert(
        "b".into(),
        Fit {
            run: false,
            keep: true,
        },
    );
    let pods = [pod("p1", "b", "old", "ready")];
    let refs: Vec<&Pod> = pods.iter().collect();
    let s = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let want = Plan {
        create: s(&["a"]),
        delete: s(&[]),
    };
    assert_eq!(plan(&map, &refs, "new", Some(1)), want);
}

#[test]
fn counts_by_bound_node() {
    let eligible = nodes(&[("a", true), ("b", true), ("c", true), ("d", false)]);
    let pods = [
        pod("p1", "a", "new", "ready"),
        pod("p2", "b", "old", "pending"),
        pod("p3", "c", "new", "unbound"),
        pod("p4", "d", "new", "ready"),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let want = Counts {
        desired: 3,
        current: 2,
        misscheduled: 1,
        ready: 1,
        updated: 1,
    };
    assert_eq!(counts(&eligible, &refs, "new"), want);
}
