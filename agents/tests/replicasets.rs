//! The ReplicaSet controller's claim on pods, read through the member's pod index: a matching
//! pod without a controller is adopted rather than duplicated, a pod relabelled out of the
//! selector is released and replaced, and a pod of another namespace or owner is left alone.

mod support;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use karmada_agents::member::controllers::replicaset;
use karmada_agents::member::runtime::Context;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

/// Each live pod of the namespace, by name, with the name of its controller (`-` for none).
async fn owners(pods: &Api<Pod>) -> anyhow::Result<Vec<(String, String)>> {
    let mut seen: Vec<(String, String)> = pods
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            let owner = p
                .owner_references()
                .iter()
                .find(|r| r.controller == Some(true))
                .map_or("-".to_string(), |r| r.name.clone());
            (p.name_any(), owner)
        })
        .collect();
    seen.sort();
    Ok(seen)
}

fn pod(name: &str, app: &str) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    }))?)
}

#[tokio::test]
async fn orphans_are_adopted_and_relabelled_pods_released() -> anyhow::Result<()> {
    let api = support::apiserver().await?;
    let client = api.client.clone();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "other"}}))?;
    namespaces.create(&PostParams::default(), &ns).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let other: Api<Pod> = Api::namespaced(client.clone(), "other");
    let params = PostParams::default();
    // An orphan that matches, one that does not, and a matching one in another namespace.
    pods.create(&params, &pod("orphan", "web")?).await?;
    pods.create(&params, &pod("stranger", "db")?).await?;
    other.create(&params, &pod("elsewhere", "web")?).await?;

    let ctx = Context::new(client.clone(), "replicaset-controller", api.cancel.clone());
    let controller = tokio::spawn(replicaset::run(ctx));
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        }
    }))?;
    sets.create(&params, &rs).await?;

    let owned_by_web = |seen: &[(String, String)]| {
        seen.iter()
            .filter(|(_, owner)| owner == "web")
            .map(|(name, _)| name.clone())
            .collect::<Vec<_>>()
    };
    let seen = support::eventually("the orphan adopted and one pod created", || {
        let pods = pods.clone();
        async move {
            let seen = owners(&pods).await?;
            let web = owned_by_web(&seen);
            Ok(if web.len() == 2 && web.contains(&"orphan".to_string()) {
                Ok(seen)
            } else {
                Err(format!("{seen:?}"))
            })
        }
    })
    .await?;
    assert!(
        seen.contains(&("stranger".into(), "-".into())),
        "a pod outside the selector is not adopted: {seen:?}"
    );
    let elsewhere = other.get("elsewhere").await?;
    assert!(
        elsewhere.owner_references().is_empty(),
        "a pod of another namespace is not adopted"
    );

    // Relabelled out of the selector: released, and replaced.
    pods.patch(
        "orphan",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "moved"}}})),
    )
    .await?;
    support::eventually("the relabelled pod released and replaced", || {
        let pods = pods.clone();
        async move {
            let seen = owners(&pods).await?;
            let web = owned_by_web(&seen);
            let released = seen.contains(&("orphan".into(), "-".into()));
            Ok(if released && web.len() == 2 {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            })
        }
    })
    .await?;

    api.cancel.cancel();
    controller.await?;
    api.running.shutdown().await;
    Ok(())
}
