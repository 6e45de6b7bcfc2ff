//! Namespaces created in the federation get a Work in every member's execution namespace,
//! clusters joining later get them too, and the Works go with the namespace.

mod support;

use k8s_openapi::api::core::v1::Namespace;
use karmada_api::work::work::Work;
use karmada_propagation::namespace_sync;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use support::{cluster_of, federation, join, release_works, until};

/// Names of the Works carrying namespace `name`, as `cluster` names.
async fn carried_to(client: &Client, name: &str) -> anyhow::Result<Vec<String>> {
    let works = Api::<Work>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let mut clusters: Vec<String> = works
        .items
        .iter()
        .filter(|w| w.metadata.deletion_timestamp.is_none())
        .filter(|w| {
            w.spec.workload.manifests.iter().any(|m| {
                m.get("kind").and_then(|k| k.as_str()) == Some("Namespace")
                    && m["metadata"]["name"] == name
            })
        })
        .map(cluster_of)
        .collect();
    clusters.sort();
    Ok(clusters)
}

#[tokio::test]
async fn namespaces_reach_every_member_and_leave_with_their_namespace() -> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    tokio::spawn(namespace_sync::run(
        client.clone(),
        fed.cancel.child_token(),
    ));
    join(&client, "member1", &[]).await?;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    for (name, labels) in [
        ("team-a", json!({})),
        (
            "private",
            json!({namespace_sync::SKIP_AUTO_PROPAGATION_LABEL: "true"}),
        ),
    ] {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))?;
        namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
    }
    join(&client, "member2", &[]).await?;

    until("team-a carried to both members", || {
        let client = client.clone();
        async move {
            let clusters = carried_to(&client, "team-a").await?;
            Ok(if clusters == ["member1", "member2"] {
                Ok(())
            } else {
                Err(format!("{clusters:?}"))
            })
        }
    })
    .await?;
    assert!(carried_to(&client, "private").await?.is_empty());
    assert!(carried_to(&client, "default").await?.is_empty());

    // The Works are owned by the namespace, so they go with it. (No agent runs here to remove
    // the execution finalizer, so the test stands in for it.)
    namespaces
        .delete("team-a", &DeleteParams::default())
        .await?;
    until("team-a's Works gone", || {
        let client = client.clone();
        async move {
            let works = Api::<Work>::all(client.clone())
                .list(&ListParams::default())
                .await?;
            let stuck: Vec<Work> = works
                .items
                .iter()
                .filter(|w| {
                    w.name_any().starts_with("team-a-")
                        && w.metadata.deletion_timestamp.is_some()
                        && !w.finalizers().is_empty()
                })
                .cloned()
                .collect();
            release_works(&client, &stuck).await?;
            let remaining = works
                .items
                .iter()
                .filter(|w| w.name_any().starts_with("team-a-"));
            let remaining: Vec<String> = remaining.map(|w| w.name_any()).collect();
            Ok(if remaining.is_empty() {
                Ok(())
            } else {
                Err(format!("{remaining:?}"))
            })
        }
    })
    .await?;
    fed.cancel.cancel();
    Ok(())
}
