//! The Deployment and ReplicaSet controllers against the in-process apiserver, with a stand-in
//! kubelet that makes every pod Running and Ready: roll out, update, scale and roll back.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use karmada_agents::member::controllers::{deployment, replicaset};
use karmada_agents::member::runtime::{Context, pod_active};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

/// Plays kubelet: every new pod becomes Running and Ready; terminating pods are finished.
async fn kubelet(client: Client) {
    let api: Api<Pod> = Api::all(client.clone());
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(events);
    while let Some(Ok(pod)) = events.next().await {
        let ns: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
        if pod.metadata.deletion_timestamp.is_some() {
            let _ = ns
                .delete(
                    &pod.name_any(),
                    &kube::api::DeleteParams::default().grace_period(0),
                )
                .await;
        } else if !karmada_agents::member::runtime::pod_ready(&pod) {
            let now = jiff::Timestamp::now().to_string();
            let status = json!({"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
            let _ = ns
                .patch_status(
                    &pod.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&status),
                )
                .await;
        }
    }
}

/// Counts the most web pods ever alive at once, from a watch, until reset.
async fn pod_high_water(client: Client, max: Arc<AtomicUsize>) {
    let api: Api<Pod> = Api::default_namespaced(client);
    let (store, writer) = reflector::store();
    let events = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default().labels("app=web")).default_backoff(),
    );
    futures::pin_mut!(events);
    while events.next().await.is_some() {
        let alive = store.state().iter().filter(|p| pod_active(p)).count();
        max.fetch_max(alive, Ordering::SeqCst);
    }
}

fn web(replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]}
            }
        }
    }))
    .expect("deployment")
}

/// Waits until the deployment reports a finished rollout of `replicas`, as `kubectl rollout
/// status` judges it, with the conditions `kubectl wait` reads.
async fn rolled_out(api: &Api<Deployment>, replicas: i32) -> anyhow::Result<Deployment> {
    support::eventually(&format!("a complete rollout of {replicas}"), || async {
        let d = api.get("web").await?;
        let s = d.status.clone().unwrap_or_default();
        let condition = |t: &str| {
            s.conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == t)
                .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
        };
        let done = s.observed_generation == d.metadata.generation
            && [
                s.replicas,
                s.updated_replicas,
                s.ready_replicas,
                s.available_replicas,
            ] == [Some(replicas); 4]
            && condition("Available") == Some(("True".into(), "MinimumReplicasAvailable".into()))
            && condition("Progressing") == Some(("True".into(), "NewReplicaSetAvailable".into()));
        Ok(if done { Ok(d) } else { Err(format!("{s:?}")) })
    })
    .await
}

async fn live_pods(pods: &Api<Pod>) -> anyhow::Result<Vec<Pod>> {
    let list = pods.list(&ListParams::default().labels("app=web")).await?;
    Ok(list.items.into_iter().filter(pod_active).collect())
}

async fn sets(api: &Api<ReplicaSet>) -> anyhow::Result<Vec<ReplicaSet>> {
    Ok(api
        .list(&ListParams::default().labels("app=web"))
        .await?
        .items)
}

fn revision(rs: &ReplicaSet) -> Option<String> {
    rs.annotations()
        .get("deployment.kubernetes.io/revision")
        .cloned()
}

#[tokio::test]
async fn deployment_rolls_out_updates_scales_and_rolls_back() -> anyhow::Result<()> {
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let ctx = Context::new(client.clone(), "kube-controller-manager", cancel.clone());
    let high_water = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(replicaset::run(ctx.clone()));
    tasks.spawn(deployment::run(ctx.clone()));
    tasks.spawn(kubelet(client.clone()));
    tasks.spawn(pod_high_water(client.clone(), high_water.clone()));

    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    let replicasets: Api<ReplicaSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());

    // A fresh deployment of 4.
    deployments
        .create(&PostParams::default(), &web(4, "nginx:1"))
        .await?;
    rolled_out(&deployments, 4).await?;
    assert_eq!(live_pods(&pods).await?.len(), 4);
    let first = sets(&replicasets)
        .await?
        .pop()
        .context("the first replica set")?;
    let first_name = first.name_any();
    assert!(first_name.starts_with("web-"), "{first_name}");
    assert_eq!(revision(&first).as_deref(), Some("1"));
    let hash = first
        .labels()
        .get("pod-template-hash")
        .cloned()
        .context("hash label")?;
    assert_eq!(first_name, format!("web-{hash}"));

    // A new image rolls out through a second set, never above replicas + maxSurge pods.
    high_water.store(0, Ordering::SeqCst);
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}});
    deployments
        .patch("web", &PatchParams::default(), &Patch::Merge(&image))
        .await?;
    rolled_out(&deployments, 4).await?;
    let all = support::eventually("the old set scaled to zero", || async {
        let all = sets(&replicasets).await?;
        let old = all
            .iter()
            .find(|rs| rs.name_any() == first_name)
            .context("old set")?;
        let old_status = old.status.as_ref().map_or(-1, |s| s.replicas);
        let old_spec = old.spec.as_ref().and_then(|s| s.replicas);
        Ok(
            if old_spec == Some(0) && old_status == 0 && all.len() == 2 {
                Ok(all)
            } else {
                Err(format!(
                    "{} sets, old at {old_spec:?}/{old_status}",
                    all.len()
                ))
            },
        )
    })
    .await?;
    let second = all
        .iter()
        .find(|rs| rs.name_any() != first_name)
        .context("second set")?
        .clone();
    assert_eq!(revision(&second).as_deref(), Some("2"));
    let images: Vec<String> = live_pods(&pods)
        .await?
        .iter()
        .flat_map(|p| {
            p.spec
                .iter()
                .flat_map(|s| s.containers.iter().filter_map(|c| c.image.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(images, vec!["nginx:2"; 4]);
    let peak = high_water.load(Ordering::SeqCst);
    assert!(
        peak <= 5,
        "{peak} pods alive at once during the rollout; at most 4 + maxSurge 1 allowed"
    );

    // Scale down.
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 2}})),
        )
        .await?;
    rolled_out(&deployments, 2).await?;
    support::eventually("2 pods", || async {
        let n = live_pods(&pods).await?.len();
        Ok(if n == 2 {
            Ok(())
        } else {
            Err(format!("{n} pods"))
        })
    })
    .await?;

    // Undo as kubectl does: copy the first set's template, without its hash label, back.
    let mut template = first
        .spec
        .clone()
        .and_then(|s| s.template)
        .context("first template")?;
    let labels: &mut BTreeMap<String, String> = template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default);
    labels.remove("pod-template-hash");
    let undo = json!([{"op": "replace", "path": "/spec/template", "value": template}]);
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::<()>::Json(serde_json::from_value(undo)?),
        )
        .await?;
    let d = rolled_out(&deployments, 2).await?;
    let reused = support::eventually("the first set reused as revision 3", || async {
        let all = sets(&replicasets).await?;
        let first = all
            .iter()
            .find(|rs| rs.name_any() == first_name)
            .context("first set")?;
        let ok = all.len() == 2
            && revision(first).as_deref() == Some("3")
            && first.spec.as_ref().and_then(|s| s.replicas) == Some(2);
        Ok(if ok {
            Ok(first.clone())
        } else {
            Err(format!(
                "{:?}",
                all.iter()
                    .map(|rs| (
                        rs.name_any(),
                        revision(rs),
                        rs.spec.as_ref().and_then(|s| s.replicas)
                    ))
                    .collect::<Vec<_>>()
            ))
        })
    })
    .await?;
    assert_eq!(
        reused.status.as_ref().and_then(|s| s.available_replicas),
        Some(2)
    );
    assert_eq!(
        d.annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("3")
    );

    // The rollout left ScalingReplicaSet events on the deployment.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::default_namespaced(client.clone());
    let notes: Vec<String> = events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("ScalingReplicaSet"))
        .filter_map(|e| e.note)
        .collect();
    let scaled_up = format!("Scaled up replica set {first_name} from 0 to 4");
    assert!(notes.contains(&scaled_up), "{notes:?}");

    cancel.cancel();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    running.shutdown().await;
    Ok(())
}
