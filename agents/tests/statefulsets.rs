//! The StatefulSet controller against the in-process apiserver, with the member scheduler and
//! simulated kubelets: ordered start, claims, ordered scale-down, pod replacement under the
//! same name, and a rolling update from the highest ordinal with rollout status.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use karmada_agents::member::controllers::statefulset;
use karmada_agents::member::kubelet;
use karmada_agents::member::runtime::{Context, pod_active, pod_ready};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

fn web(replicas: i32, image: &str) -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "serviceName": "nginx",
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": image}]}
            },
            "volumeClaimTemplates": [{"metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        }
    }))
    .expect("statefulset")
}

/// Records, from a watch, the order in which pods (each incarnation, by uid) appear.
async fn pod_history(client: Client, created: Arc<Mutex<Vec<String>>>) {
    let mut uids = std::collections::HashSet::new();
    let api: Api<Pod> = Api::default_namespaced(client);
    let events = watcher(api, watcher::Config::default().labels("app=nginx"))
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(events);
    while let Some(Ok(pod)) = events.next().await {
        if uids.insert(pod.uid().unwrap_or_default()) {
            created.lock().expect("lock").push(pod.name_any());
        }
    }
}

/// Live pods by name, with their revision label and readiness.
async fn pods_by_name(pods: &Api<Pod>) -> anyhow::Result<BTreeMap<String, (String, bool)>> {
    let list = pods
        .list(&ListParams::default().labels("app=nginx"))
        .await?;
    Ok(list
        .items
        .into_iter()
        .filter(pod_active)
        .map(|p| {
            let revision = p
                .labels()
                .get("controller-revision-hash")
                .cloned()
                .unwrap_or_default();
            (p.name_any(), (revision, pod_ready(&p)))
        })
        .collect())
}

/// Waits until the set is rolled out as `kubectl rollout status statefulset` judges it.
async fn rolled_out(api: &Api<StatefulSet>, replicas: i32) -> anyhow::Result<StatefulSet> {
    support::eventually(&format!("a complete rollout of {replicas}"), || async {
        let set = api.get("web").await?;
        let s = set.status.clone().unwrap_or_default();
        let done = s.observed_generation == set.metadata.generation
            && s.replicas == replicas
            && s.ready_replicas == Some(replicas)
            && s.available_replicas == Some(replicas)
            && s.updated_replicas == Some(replicas)
            && s.current_replicas == Some(replicas)
            && s.current_revision.is_some()
            && s.current_revision == s.update_revision;
        Ok(if done { Ok(set) } else { Err(format!("{s:?}")) })
    })
    .await
}

#[tokio::test]
async fn statefulset_starts_in_order_scales_replaces_and_rolls() -> anyhow::Result<()> {
    let support::Apiserver {
        running,
        client,
        cancel,
    } = support::apiserver().await?;
    let ctx = |name: &str| Context::new(client.clone(), name, cancel.clone());
    let nodes = kubelet::Config {
        nodes: 2,
        ready_delay: Duration::from_millis(300),
        ..kubelet::Config::default()
    };
    let created = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(statefulset::run(ctx("statefulset-controller")));
    support::spawn_nodes(&mut tasks, &client, &cancel, nodes);
    let history = tasks.spawn(pod_history(client.clone(), created.clone()));

    let sets: Api<StatefulSet> = Api::default_namespaced(client.clone());
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    let revisions: Api<ControllerRevision> = Api::default_namespaced(client.clone());

    // Ordered start: web-0, then web-1, then web-2, each with its claim and identity.
    sets.create(&PostParams::default(), &web(3, "nginx:1"))
        .await?;
    let first = rolled_out(&sets, 3).await?;
    assert_eq!(*created.lock().expect("lock"), ["web-0", "web-1", "web-2"]);
    let web1 = pods.get("web-1").await?;
    assert_eq!(web1.labels()["statefulset.kubernetes.io/pod-name"], "web-1");
    assert_eq!(web1.labels()["apps.kubernetes.io/pod-index"], "1");
    let spec = web1.spec.clone().context("pod spec")?;
    assert_eq!(
        (spec.hostname.as_deref(), spec.subdomain.as_deref()),
        (Some("web-1"), Some("nginx"))
    );
    let claim_names: Vec<String> = claims
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(claim_names, ["www-web-0", "www-web-1", "www-web-2"]);
    let first_revision = first
        .status
        .as_ref()
        .and_then(|s| s.update_revision.clone())
        .context("update revision")?;
    assert_eq!(web1.labels()["controller-revision-hash"], first_revision);
    assert!(revisions.get(&first_revision).await.is_ok());

    // Scale down to 2: web-2 goes, its claim stays.
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await?;
    rolled_out(&sets, 2).await?;
    let live: Vec<String> = pods_by_name(&pods).await?.into_keys().collect();
    assert_eq!(live, ["web-0", "web-1"]);
    assert!(claims.get("www-web-2").await.is_ok());

    // A deleted pod comes back under its own name.
    let old_uid = pods.get("web-0").await?.uid();
    pods.delete("web-0", &DeleteParams::default()).await?;
    support::eventually("web-0 recreated and ready", || async {
        let pod = pods.get_opt("web-0").await?;
        Ok(match pod {
            Some(p) if p.uid() != old_uid && pod_ready(&p) => Ok(()),
            other => Err(format!("{:?}", other.map(|p| p.status))),
        })
    })
    .await?;

    // A new image rolls from the highest ordinal down; rollout status then reports it done.
    created.lock().expect("lock").clear();
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:2"}]}}}})),
    )
    .await?;
    let rolled = rolled_out(&sets, 2).await?;
    let status = rolled.status.context("status")?;
    let second_revision = status.update_revision.context("update revision")?;
    assert_ne!(second_revision, first_revision);
    assert_eq!(*created.lock().expect("lock"), ["web-1", "web-0"]);
    let live = pods_by_name(&pods).await?;
    assert!(
        live.values()
            .all(|(r, ready)| *r == second_revision && *ready),
        "{live:?}"
    );
    let template = pods.get("web-0").await?.spec.context("spec")?.containers[0]
        .image
        .clone();
    assert_eq!(template.as_deref(), Some("nginx:2"));
    let kept = revisions.list(&ListParams::default()).await?.items.len();
    assert_eq!(kept, 2);

    history.abort();
    cancel.cancel();
    while tasks.join_next().await.is_some() {}
    running.shutdown().await;
    Ok(())
}
