//! The DaemonSet controller against the in-process apiserver, with the member scheduler and
//! simulated kubelets: one pod per eligible node, taints and node selectors respected, nodes
//! that change labels gain a pod, NoExecute taints evict, and a rolling update is reported as
//! `kubectl rollout status` expects.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use karmada_agents::member::controllers::daemonset;
use karmada_agents::member::kubelet;
use karmada_agents::member::runtime::{Context, pod_active, pod_ready};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

const NODES: [&str; 3] = ["member-node-0", "member-node-1", "member-node-2"];

fn daemon(name: &str, image: &str, spec: serde_json::Value) -> DaemonSet {
    let mut pod_spec = spec;
    pod_spec["containers"] = json!([{"name": "agent", "image": image}]);
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}
        }
    }))
    .expect("daemonset")
}

/// Ready pods of `app` by the node they run on, with their revision hash.
async fn placement(pods: &Api<Pod>, app: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await?;
    Ok(list
        .items
        .into_iter()
        .filter(|p| pod_active(p) && pod_ready(p))
        .filter_map(|p| {
            let node = p.spec.as_ref()?.node_name.clone()?;
            let hash = p.labels().get("controller-revision-hash")?.clone();
            Some((node, hash))
        })
        .collect())
}

/// Waits until `app` runs one ready pod on exactly `nodes`, its status says so the way
/// `kubectl rollout status daemonset` reads it, and every pod has the set's newest hash.
async fn rolled_out(
    sets: &Api<DaemonSet>,
    pods: &Api<Pod>,
    app: &str,
    nodes: &[&str],
) -> anyhow::Result<String> {
    let want = i32::try_from(nodes.len())?;
    support::eventually(&format!("{app} on {nodes:?}"), || async {
        let set = sets.get(app).await?;
        let s = set.status.clone().unwrap_or_default();
        let placed = placement(pods, app).await?;
        let hashes: Vec<&String> = placed.values().collect();
        let on: Vec<&str> = placed.keys().map(String::as_str).collect();
        let all_pods = pods
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await?
            .items;
        let done = s.observed_generation == set.metadata.generation
            && s.desired_number_scheduled == want
            && s.current_number_scheduled == want
            && s.number_ready == want
            && s.number_available == Some(want)
            && s.updated_number_scheduled == Some(want)
            && s.number_misscheduled == 0
            && on == nodes
            && hashes.windows(2).all(|w| w[0] == w[1])
            && all_pods.iter().filter(|p| pod_active(p)).count() == nodes.len();
        Ok(match (done, hashes.first()) {
            (true, Some(hash)) => Ok((*hash).clone()),
            _ => Err(format!("status {s:?}, ready pods on {placed:?}")),
        })
    })
    .await
}

#[tokio::test]
async fn daemonset_places_one_pod_per_eligible_node_and_rolls() -> anyhow::Result<()> {
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let ctx = |name: &str| Context::new(client.clone(), name, cancel.clone());
    let config = kubelet::Config {
        nodes: 3,
        ready_delay: Duration::from_millis(200),
        ..kubelet::Config::default()
    };
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(daemonset::run(ctx("daemonset-controller")));
    support::spawn_nodes(&mut tasks, &client, &cancel, config);

    let nodes: Api<Node> = Api::all(client.clone());
    support::eventually("three nodes registered", || async {
        let n = nodes.list(&ListParams::default()).await?.items.len();
        Ok(if n == 3 {
            Ok(())
        } else {
            Err(format!("{n} nodes"))
        })
    })
    .await?;
    let taint = json!({"spec": {"taints": [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]}});
    nodes
        .patch(NODES[2], &PatchParams::default(), &Patch::Merge(&taint))
        .await?;
    let ssd = json!({"metadata": {"labels": {"disk": "ssd"}}});
    nodes
        .patch(NODES[0], &PatchParams::default(), &Patch::Merge(&ssd))
        .await?;

    let sets: Api<DaemonSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let params = PostParams::default();

    // Tolerating the taint: one pod on each of the three nodes.
    let tolerant = json!({"tolerations": [{"key": "dedicated", "operator": "Exists"}]});
    sets.create(&params, &daemon("agent", "agent:1", tolerant))
        .await?;
    // Without the toleration the tainted node gets none.
    sets.create(&params, &daemon("logger", "logger:1", json!({})))
        .await?;
    // A nodeSelector limits the nodes.
    sets.create(
        &params,
        &daemon("ssd", "ssd:1", json!({"nodeSelector": {"disk": "ssd"}})),
    )
    .await?;
    let first = rolled_out(&sets, &pods, "agent", &NODES).await?;
    rolled_out(&sets, &pods, "logger", &NODES[..2]).await?;
    rolled_out(&sets, &pods, "ssd", &NODES[..1]).await?;

    // A node that gains the label gains the pod.
    nodes
        .patch(NODES[1], &PatchParams::default(), &Patch::Merge(&ssd))
        .await?;
    rolled_out(&sets, &pods, "ssd", &NODES[..2]).await?;

    // A new image replaces every pod, within maxUnavailable, and the rollout completes.
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}});
    sets.patch("agent", &PatchParams::default(), &Patch::Merge(&image))
        .await?;
    let second = rolled_out(&sets, &pods, "agent", &NODES).await?;
    assert_ne!(second, first);
    let images: Vec<String> = pods
        .list(&ListParams::default().labels("app=agent"))
        .await?
        .items
        .iter()
        .filter(|p| pod_active(p))
        .filter_map(|p| p.spec.as_ref()?.containers[0].image.clone())
        .collect();
    assert_eq!(images, ["agent:2"; 3], "revision {second}");

    // A NoExecute taint evicts the daemons that do not tolerate it.
    let evict = json!({"spec": {"taints": [{"key": "maintenance", "effect": "NoExecute"}]}});
    nodes
        .patch(NODES[1], &PatchParams::default(), &Patch::Merge(&evict))
        .await?;
    rolled_out(&sets, &pods, "logger", &NODES[..1]).await?;
    rolled_out(&sets, &pods, "ssd", &NODES[..1]).await?;
    rolled_out(&sets, &pods, "agent", &[NODES[0], NODES[2]]).await?;

    cancel.cancel();
    while tasks.join_next().await.is_some() {}
    running.shutdown().await;
    Ok(())
}
