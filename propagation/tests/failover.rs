//! Cluster failover through the federation controllers: a cluster whose Ready condition turns
//! Unknown gets the built-in NoExecute taint, the taint manager evicts the bindings that do not
//! tolerate it into graceful eviction tasks (with an Event saying why), and the task ends once
//! the rescheduled placement is healthy. Bindings that tolerate the taint stay; when no cluster
//! is healthy nothing is evicted; a recovered cluster gets nothing back by itself.

mod support;

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::jiff::Timestamp;
use karmada_api::cluster::Cluster;
use karmada_api::work::binding::ResourceBinding;
use karmada_propagation::{application_failover, graceful_eviction, taint_manager, taint_policy};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use support::{create_namespace, federation, join, until};

const NAMESPACE: &str = "shop";

async fn set_ready(client: &Client, cluster: &str, status: &str) -> anyhow::Result<()> {
    let patch = json!({"status": {"conditions": [{"type": "Ready", "status": status,
        "reason": "Test", "message": "set by the test",
        "lastTransitionTime": Timestamp::now().to_string()}]}});
    Api::<Cluster>::all(client.clone())
        .patch_status(cluster, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// A binding as the scheduler left it: 2 replicas on each of m1, m2, m3.
async fn scheduled_binding(client: &Client, name: &str, tolerations: Value) -> anyhow::Result<()> {
    scheduled_binding_with(client, name, tolerations, Value::Null).await
}

async fn scheduled_binding_with(
    client: &Client,
    name: &str,
    tolerations: Value,
    failover: Value,
) -> anyhow::Result<()> {
    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), NAMESPACE);
    let binding: ResourceBinding = serde_json::from_value(json!({
        "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": NAMESPACE,
                         "name": name, "uid": "u-1"},
            "replicas": 6,
            "placement": {"clusterTolerations": tolerations},
            "failover": failover,
            "clusters": [{"name": "m1", "replicas": 2}, {"name": "m2", "replicas": 2},
                         {"name": "m3", "replicas": 2}],
        },
    }))?;
    api.create(&PostParams::default(), &binding).await?;
    Ok(())
}

fn targets(binding: &ResourceBinding) -> Vec<String> {
    binding
        .spec
        .clusters
        .iter()
        .map(|c| c.name.clone())
        .collect()
}

async fn binding(client: &Client, name: &str) -> anyhow::Result<ResourceBinding> {
    Ok(
        Api::<ResourceBinding>::namespaced(client.clone(), NAMESPACE)
            .get(name)
            .await?,
    )
}

/// The notes of the Events with `reason` regarding Deployment `name` (the template).
async fn template_events(client: &Client, name: &str, reason: &str) -> anyhow::Result<Vec<String>> {
    let events: Api<Event> = Api::namespaced(client.clone(), NAMESPACE);
    Ok(events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                && e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("Deployment")
        })
        .filter_map(|e| e.note)
        .collect())
}

async fn start(client: &Client) -> anyhow::Result<CancellationToken> {
    create_namespace(client, NAMESPACE).await?;
    for cluster in ["m1", "m2", "m3"] {
        join(client, cluster, &[]).await?;
        set_ready(client, cluster, "True").await?;
    }
    let cancel = CancellationToken::new();
    tokio::spawn(taint_policy::run(client.clone(), true, cancel.clone()));
    tokio::spawn(taint_manager::run(
        client.clone(),
        taint_manager::Config::default(),
        cancel.clone(),
    ));
    tokio::spawn(application_failover::run(client.clone(), cancel.clone()));
    tokio::spawn(graceful_eviction::run(
        client.clone(),
        graceful_eviction::DEFAULT_TIMEOUT,
        cancel.clone(),
    ));
    Ok(cancel)
}

#[tokio::test]
async fn an_unreachable_cluster_is_evicted_gracefully_and_the_task_ends_when_healthy_elsewhere()
-> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    let cancel = start(&client).await?;
    scheduled_binding(&client, "web", json!([])).await?;
    // Tolerates the unreachable taint for good: never evicted.
    scheduled_binding(
        &client,
        "patient",
        json!([{"key": "cluster.karmada.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]),
    )
    .await?;

    set_ready(&client, "m2", "Unknown").await?;
    let evicted = until("web evicted from m2", || async {
        let b = binding(&client, "web").await?;
        Ok(if targets(&b) == ["m1", "m3"] {
            Ok(b)
        } else {
            Err(format!("{:?}", targets(&b)))
        })
    })
    .await?;
    let task = &evicted.spec.graceful_eviction_tasks[0];
    assert_eq!(task.from_cluster, "m2");
    assert_eq!(task.replicas, Some(2));
    assert_eq!(task.producer, "TaintManager");
    assert_eq!(task.reason, "TaintUntolerated");
    let m2 = Api::<Cluster>::all(client.clone()).get("m2").await?;
    assert!(
        m2.spec
            .taints
            .iter()
            .any(|t| t.key == "cluster.karmada.io/unreachable" && t.effect == "NoExecute"),
        "{:?}",
        m2.spec.taints
    );
    let notes = until("the eviction event", || async {
        let notes = template_events(&client, "web", taint_manager::EVICT_REASON).await?;
        Ok(if notes.is_empty() {
            Err("none".into())
        } else {
            Ok(notes)
        })
    })
    .await?;
    assert!(
        notes[0].contains("cluster m2")
            && notes[0].contains("cluster.karmada.io/unreachable:NoExecute")
            && notes[0].contains("2 replicas"),
        "{notes:?}"
    );
    assert_eq!(
        targets(&binding(&client, "patient").await?),
        ["m1", "m2", "m3"]
    );

    // What the scheduler and status controller then do: 3 + 3 on m1 and m3, both healthy.
    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), NAMESPACE);
    let mut b = binding(&client, "web").await?;
    b.spec.clusters[0].replicas = Some(3);
    b.spec.clusters[1].replicas = Some(3);
    let b = api.replace("web", &PostParams::default(), &b).await?;
    let status = json!({"status": {
        "schedulerObservedGeneration": b.metadata.generation,
        "conditions": [{"type": "Scheduled", "status": "True", "reason": "Success", "message": "",
                        "lastTransitionTime": Timestamp::now().to_string()}],
        "aggregatedStatus": [{"clusterName": "m1", "applied": true, "health": "Healthy"},
                             {"clusterName": "m3", "applied": true, "health": "Healthy"}],
    }});
    api.patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    until("the eviction task ends", || async {
        let b = binding(&client, "web").await?;
        Ok(if b.spec.graceful_eviction_tasks.is_empty() {
            Ok(())
        } else {
            Err(format!("{:?}", b.spec.graceful_eviction_tasks))
        })
    })
    .await?;
    // The event follows the write that ended the task.
    until("the event saying the eviction ended", || async {
        let ended =
            template_events(&client, "web", graceful_eviction::EVICTION_ENDED_REASON).await?;
        Ok(
            if ended
                .iter()
                .any(|n| n.contains("new placement (m1, m3) is healthy"))
            {
                Ok(())
            } else {
                Err(format!("{ended:?}"))
            },
        )
    })
    .await?;

    // m2 recovers: its NoExecute taint goes, and nothing moves back by itself.
    set_ready(&client, "m2", "True").await?;
    until("m2's NoExecute taint lifted", || async {
        let m2 = Api::<Cluster>::all(client.clone()).get("m2").await?;
        let no_execute: Vec<String> = m2
            .spec
            .taints
            .iter()
            .filter(|t| t.effect == "NoExecute")
            .map(|t| t.key.clone())
            .collect();
        Ok(if no_execute.is_empty() {
            Ok(())
        } else {
            Err(format!("{no_execute:?}"))
        })
    })
    .await?;
    assert_eq!(targets(&binding(&client, "web").await?), ["m1", "m3"]);
    cancel.cancel();
    Ok(())
}

#[tokio::test]
async fn nothing_is_evicted_while_no_cluster_is_healthy() -> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    let cancel = start(&client).await?;
    scheduled_binding(&client, "web", json!([])).await?;
    for cluster in ["m1", "m2", "m3"] {
        set_ready(&client, cluster, "Unknown").await?;
    }
    // Every cluster gets its taint, and still nothing moves: there is nowhere to go.
    until("every cluster tainted NoExecute", || async {
        let clusters = Api::<Cluster>::all(client.clone())
            .list(&ListParams::default())
            .await?;
        let tainted = clusters
            .items
            .iter()
            .filter(|c| c.spec.taints.iter().any(|t| t.effect == "NoExecute"))
            .count();
        Ok(if tainted == 3 {
            Ok(())
        } else {
            Err(format!("{tainted} tainted"))
        })
    })
    .await?;
    // A negative: give the taint manager, which reacts to taint changes within milliseconds,
    // a moment to act wrongly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = binding(&client, "web").await?;
    assert_eq!(targets(&b), ["m1", "m2", "m3"]);
    assert!(b.spec.graceful_eviction_tasks.is_empty());
    // One cluster comes back: the other two are evicted onto it.
    set_ready(&client, "m1", "True").await?;
    until("web evicted from m2 and m3", || async {
        let b = binding(&client, "web").await?;
        Ok(if targets(&b) == ["m1"] {
            Ok(())
        } else {
            Err(format!("{:?}", targets(&b)))
        })
    })
    .await?;
    cancel.cancel();
    Ok(())
}

#[tokio::test]
async fn an_application_unhealthy_in_one_cluster_past_its_toleration_moves_away()
-> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    let cancel = start(&client).await?;
    scheduled_binding_with(
        &client,
        "app",
        json!([]),
        json!({"application": {"decisionConditions": {"tolerationSeconds": 1}}}),
    )
    .await?;
    let api: Api<ResourceBinding> = Api::namespaced(client.clone(), NAMESPACE);
    let status = json!({"status": {"aggregatedStatus": [
        {"clusterName": "m1", "applied": true, "health": "Healthy"},
        {"clusterName": "m2", "applied": true, "health": "Unhealthy"},
        {"clusterName": "m3", "applied": true, "health": "Healthy"},
    ]}});
    let reported = std::time::Instant::now();
    api.patch_status("app", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    let evicted = until("app evicted from m2", || async {
        let b = binding(&client, "app").await?;
        Ok(if targets(&b) == ["m1", "m3"] {
            Ok(b)
        } else {
            Err(format!("{:?}", targets(&b)))
        })
    })
    .await?;
    assert!(
        reported.elapsed() >= Duration::from_secs(1),
        "evicted before the toleration ran out"
    );
    let task = &evicted.spec.graceful_eviction_tasks[0];
    assert_eq!(
        (
            task.from_cluster.as_str(),
            task.producer.as_str(),
            task.reason.as_str()
        ),
        ("m2", "ApplicationFailover", "ApplicationFailure")
    );
    assert_eq!(task.grace_period_seconds, Some(600));
    let notes = until("the eviction event", || async {
        let notes = template_events(&client, "app", taint_manager::EVICT_REASON).await?;
        Ok(if notes.is_empty() {
            Err("none".into())
        } else {
            Ok(notes)
        })
    })
    .await?;
    assert!(notes[0].contains("unhealthy on cluster m2"), "{notes:?}");
    cancel.cancel();
    Ok(())
}
