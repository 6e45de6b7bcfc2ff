//! `pods/binding`, as a scheduler uses it: bind once, never twice, and be found by node.

use anyhow::{bail, ensure};
use k8s_openapi::api::core::v1::Pod;
use karmada_apiserver::server::Backend;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

use crate::support::server::TestServer;

fn pod(name: &str) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]}
    }))?)
}

fn binding(pod: &str, node: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}
    })
}

#[tokio::test]
async fn pods_bind_to_one_node_only() -> anyhow::Result<()> {
    let server = TestServer::start(Backend::Memory).await?;
    let pods: Api<Pod> = Api::default_namespaced(server.client.clone());
    let pp = PostParams::default();
    pods.create(&pp, &pod("web")?).await?;
    pods.create(&pp, &pod("idle")?).await?;

    let _: serde_json::Value = pods
        .create_subresource("binding", "web", &pp, &binding("web", "node-1"))
        .await?;
    let bound = pods.get("web").await?;
    ensure!(
        bound.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some("node-1"),
        "pod not bound: {bound:?}"
    );

    match pods
        .create_subresource::<_, serde_json::Value>(
            "binding",
            "web",
            &pp,
            &binding("web", "node-2"),
        )
        .await
    {
        Err(kube::Error::Api(status)) => ensure!(
            status.code == 409
                && status
                    .message
                    .contains("already assigned to node \"node-1\""),
            "second binding answered {status:?}"
        ),
        other => bail!("a second binding must be refused, got {other:?}"),
    }
    match pods
        .create_subresource::<_, serde_json::Value>("binding", "idle", &pp, &binding("idle", ""))
        .await
    {
        Err(kube::Error::Api(status)) => {
            ensure!(status.code == 422, "empty target answered {status:?}");
        }
        other => bail!("a binding without a node must be refused, got {other:?}"),
    }

    let on_node = pods
        .list(&ListParams::default().fields("spec.nodeName=node-1"))
        .await?;
    let names: Vec<String> = on_node
        .items
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    ensure!(names == ["web"], "pods on node-1: {names:?}");
    let unbound = pods
        .list(&ListParams::default().fields("spec.nodeName="))
        .await?;
    let names: Vec<String> = unbound
        .items
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    ensure!(names == ["idle"], "unbound pods: {names:?}");
    server.shutdown().await;
    Ok(())
}
