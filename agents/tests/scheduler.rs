//! The member scheduler against the in-process apiserver: fills two 4-CPU nodes, reports the
//! pods that do not fit, and binds them once capacity is freed.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use karmada_agents::member::runtime::Context;
use karmada_agents::member::scheduler;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

const UNFIT: &str = "0/2 nodes are available: 2 Insufficient cpu.";

/// Polls `check` until it yields a value or the deadline passes, then fails with its last word.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ready_node(client: &Client, name: &str) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}),
    )?;
    nodes.create(&PostParams::default(), &node).await?;
    let status = json!({"status": {
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await?;
    Ok(())
}

/// Bound pods per node and the pending pods' names.
async fn placement(pods: &Api<Pod>) -> anyhow::Result<(BTreeMap<String, usize>, Vec<Pod>)> {
    let mut per_node = BTreeMap::new();
    let mut pending = Vec::new();
    for pod in pods.list(&ListParams::default()).await? {
        match pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
            Some(node) => *per_node.entry(node).or_default() += 1,
            None => pending.push(pod),
        }
    }
    Ok((per_node, pending))
}

fn unschedulable_condition(pod: &Pod) -> Option<(String, String, String)> {
    let c = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")?;
    Some((c.status.clone(), c.reason.clone()?, c.message.clone()?))
}

#[tokio::test]
async fn fills_nodes_reports_the_rest_and_binds_them_when_capacity_frees() -> anyhow::Result<()> {
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let ctx = Context::new(client.clone(), "default-scheduler", cancel.child_token());
    let scheduler_task = tokio::spawn(scheduler::run(ctx.clone()));

    ready_node(&client, "node-a").await?;
    ready_node(&client, "node-b").await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..10 {
        let pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("work-{i}")},
            "spec": {"containers": [{"name": "app", "image": "busybox",
                "resources": {"requests": {"cpu": "1"}}}]}}))?;
        pods.create(&PostParams::default(), &pod).await?;
    }

    let pending = eventually("8 pods bound, 2 reported unschedulable", || async {
        let (per_node, pending) = placement(&pods).await?;
        let reported = pending.iter().all(|p| {
            unschedulable_condition(p)
                == Some(("False".into(), "Unschedulable".into(), UNFIT.into()))
        });
        let want = BTreeMap::from([("node-a".to_string(), 4), ("node-b".to_string(), 4)]);
        Ok((per_node == want && pending.len() == 2 && reported).then_some(pending))
    })
    .await?;
    let pending: Vec<String> = pending
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();

    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually("a FailedScheduling event per pending pod", || async {
        let list = events.list(&ListParams::default()).await?;
        let warned = |name: &String| {
            list.items.iter().any(|e| {
                e.involved_object.name.as_ref() == Some(name)
                    && e.reason.as_deref() == Some("FailedScheduling")
                    && e.type_.as_deref() == Some("Warning")
                    && e.message.as_deref() == Some(UNFIT)
            })
        };
        Ok(pending.iter().all(warned).then_some(()))
    })
    .await?;

    // Free one slot on each node; the waiting pods take them.
    let bound: Vec<Pod> = pods
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|p| p.spec.as_ref().is_some_and(|s| s.node_name.is_some()))
        .collect();
    let mut victims = Vec::new();
    for node in ["node-a", "node-b"] {
        let pod = bound
            .iter()
            .find(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .context("a bound pod per node")?;
        victims.push(pod.metadata.name.clone().context("pod name")?);
    }
    for name in &victims {
        pods.delete(name, &DeleteParams::default().grace_period(0))
            .await?;
    }
    eventually("the pending pods bound in the freed slots", || async {
        let (per_node, still_pending) = placement(&pods).await?;
        let want = BTreeMap::from([("node-a".to_string(), 4), ("node-b".to_string(), 4)]);
        let names: Vec<_> = pods
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        let gone = victims.iter().all(|v| !names.contains(v));
        Ok((gone && still_pending.is_empty() && per_node == want).then_some(()))
    })
    .await?;
    for name in &pending {
        let pod = pods.get(name).await?;
        assert!(pod.spec.and_then(|s| s.node_name).is_some(), "{name} bound");
    }

    cancel.cancel();
    scheduler_task.await?;
    running.shutdown().await;
    Ok(())
}
